package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/api"

	"github.com/spf13/cobra"
)

func fetchCmd() *cobra.Command {
	var (
		dir    string
		o      api.FetchRequest
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "fetch (CID | OWNER/DATASET[@VERSION]) --dir DIR --purpose P [--select 0,5,10-20,RECORD-CID] [--out FILE]",
		Short: "Fetch a partner's dataset: the records its policy permits, each verified",
		Long: `Ask the publisher of a dataset version for its records, for a stated
purpose. Name the version by its manifest CID (see 'caravan catalog'), or as
OWNER/DATASET (the newest version the catalog lists) or OWNER/DATASET@VERSION. The publisher's gateway decides each record with its
policies, journals the decision, and streams the permitted records with
Merkle proofs against the signed manifest; this gateway verifies every one
before it keeps it (a record that fails is evidence: nothing of that response
is kept), journals a receipt, and writes the records as JSONL with --out.

An interrupted fetch keeps what it verified; running the same command again
resumes where it stopped. Ctrl-C stops the fetch on the gateway too, and
says how many records were kept (exit status 130).

Exit status: 0 when records were received; 3 when the owner's policies
permitted none of the records asked for (the reason is printed, and the
decision is journaled by both sides all the same); 1 on any error,
including a gateway that is not running.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Manifest = args[0]
			cl, err := api.NewClient(dir)
			if err != nil {
				return err
			}
			bar := newProgress(cmd.ErrOrStderr(), -1, "fetching")
			var id string
			sum, err := cl.Fetch(cmd.Context(), o, func(ev api.FetchEvent) {
				if ev.ID != "" {
					id = ev.ID
				}
				bar.Set(int64(ev.Received))
			})
			bar.Finish()
			if err != nil && cmd.Context().Err() != nil && id != "" {
				return interruptedFetch(cl, id)
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(w, sum); err != nil {
					return err
				}
				return nothingPermitted(sum)
			}
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
			return nothingPermitted(sum)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Purpose, "purpose", "", "the purpose of the request, e.g. customs-clearance (required)")
	f.StringVar(&o.Select, "select", "", "records by index or CID, e.g. 0,5,10-20 or bagaaiera... (see caravan cid; default: all)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.StringVar(&o.Out, "out", "", "write the records held for this purpose (with --select, the selected ones) as JSONL to FILE")
	dirFlag(c, &dir, gatewayDir)
	_ = c.MarkFlagRequired("purpose")
	return c
}

// interruptedFetch says, after Ctrl-C, what the stopped fetch kept and how
// to go on: the gateway ends the fetch when the connection closes, and its
// last word names the records kept and where the same command resumes.
// Exit status 130, as for any command stopped by Ctrl-C.
func interruptedFetch(cl *api.Client, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := "fetch interrupted"
	info, err := cl.FetchEvents(ctx, id, nil)
	switch {
	case err != nil || info == nil:
		msg += " (its outcome could not be read: " + fmt.Sprint(err) + ")"
	case strings.Contains(info.Error, "kept"):
		msg += ": " + info.Error
	default:
		msg += fmt.Sprintf(": %d records received and verified are kept", info.Received)
	}
	return exitError{code: 130, msg: msg + ". Run the same command again to resume."}
}

// nothingPermitted is exit 3, with the reason, when the owner's policies
// permitted none of the records asked for.
func nothingPermitted(sum *api.FetchSummary) error {
	if sum.Permitted > 0 || sum.Withheld == 0 {
		return nil
	}
	why := fmt.Sprintf("%s's policies permit none of the %d records asked for, for purpose %q", sum.Provider, sum.Withheld, sum.Purpose)
	if sum.NotOffered {
		why = fmt.Sprintf("the dataset does not offer purpose %q (it offers: %s)", sum.Purpose, strings.Join(sum.Offered, ", "))
	}
	return exitError{code: 3, msg: "nothing received: " + why}
}
