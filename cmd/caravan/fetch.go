package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/node"
)

func fetchCmd() *cobra.Command {
	var (
		dir, sel string
		o        node.FetchOptions
	)
	c := &cobra.Command{
		Use:   "fetch CID --dir DIR --purpose P [--select 0,5,10-20,RECORD-CID] [--out FILE]",
		Short: "Fetch a partner's dataset: the records its policy permits, each verified",
		Long: `Ask the publisher of manifest CID (see 'caravan catalog') for its records, for
a stated purpose. The publisher's gateway decides each record with its
policies, journals the decision, and streams the permitted records with
Merkle proofs against the signed manifest; this gateway verifies every one
before it keeps it (a record that fails is evidence: nothing of that response
is kept), journals a receipt, and writes the records as JSONL with --out.

An interrupted fetch keeps what it verified; running the same command again
resumes where it stopped.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Manifest = args[0]
			var err error
			if o.Select, o.SelectCIDs, err = parseSelection(sel); err != nil {
				return fmt.Errorf("--select: %w", err)
			}
			cl, err := node.NewClient(dir)
			if err != nil {
				return err
			}
			bar := newProgress(cmd.ErrOrStderr(), -1, "fetching")
			sum, err := cl.Fetch(cmd.Context(), o, func(ev node.FetchEvent) { bar.Set(int64(ev.Received)) })
			bar.Finish()
			if err != nil {
				return withNotRunningCode(err)
			}
			w := cmd.OutOrStdout()
			rate := float64(sum.Received) / max(sum.Took.Seconds(), 1e-9)
			fmt.Fprintf(w, "fetched %s from %s for %q\n", sum.Manifest, sum.Provider, sum.Purpose)
			fmt.Fprintf(w, "  permitted %d, withheld %d, received and verified %d (%d bytes) in %v: %.0f records/s\n",
				sum.Permitted, sum.Withheld, sum.Received, sum.Bytes, sum.Took.Round(1e6), rate)
			if sum.NotOffered {
				fmt.Fprintf(w, "  denied: the dataset does not offer purpose %q (it offers: %s)\n", sum.Purpose, strings.Join(sum.Offered, ", "))
			}
			if sum.Resumed > 0 {
				fmt.Fprintf(w, "  resumed at record %d\n", sum.Resumed)
			}
			fmt.Fprintf(w, "  decision: %s entry %d (bundle %s); our receipt: entry %d\n", sum.Decision.Origin, sum.Decision.Index, sum.Bundle, sum.Receipt)
			if sum.Out != "" {
				fmt.Fprintf(w, "  wrote %d records to %s\n", sum.Written, sum.Out)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", "", "gateway data directory (required)")
	f.StringVar(&o.Purpose, "purpose", "", "the purpose of the request, e.g. customs-clearance (required)")
	f.StringVar(&sel, "select", "", "records by index or CID, e.g. 0,5,10-20 or bagaaiera... (see caravan cid; default: all)")
	f.StringVar(&o.Out, "out", "", "write the records held for this purpose (with --select, the selected ones) as JSONL to FILE")
	_ = c.MarkFlagRequired("dir")
	_ = c.MarkFlagRequired("purpose")
	return c
}

// parseSelection parses "0,5,10-20,bagaaiera..." into ascending indices
// and record CIDs.
func parseSelection(s string) ([]uint64, []string, error) {
	if s == "" {
		return nil, nil, nil
	}
	var out []uint64
	var cids []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if c, err := cid.Decode(part); err == nil && part != "" && (part[0] < '0' || part[0] > '9') {
			cids = append(cids, c.String())
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%q is neither an index, a range nor a record CID", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a {
				return nil, nil, fmt.Errorf("%q is not a range", part)
			}
		}
		if b-a > 10_000_000 {
			return nil, nil, fmt.Errorf("%q is too large a range", part)
		}
		for i := a; i <= b; i++ {
			if len(out) > 0 && i <= out[len(out)-1] {
				return nil, nil, fmt.Errorf("indices must ascend (%d after %d)", i, out[len(out)-1])
			}
			out = append(out, i)
		}
	}
	return out, cids, nil
}
