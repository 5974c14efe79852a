package main

// caravan verify: an evidence file checked offline, against the roster
// versions a verifier is given.

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/spf13/cobra"
)

func verifyCmd() *cobra.Command {
	var (
		rosters     []string
		delegations string
		asJSON      bool
	)
	c := &cobra.Command{
		Use:   "verify FILE --roster consortium.yaml [--roster OLDER.yaml | --roster DIR/state/rosters]...",
		Short: "Check an evidence file offline, with nothing but the roster",
		Long: `Check a c2sp.org/tlog-proof evidence file written by 'caravan journal proof':
the roster's signatures, the checkpoint's signature by the org's key, the
entry's inclusion under the checkpoint's root, the entry's format, and the
witnesses' cosignatures against the roster's witness threshold. No network and
no data directory are used. Prints what the file proves; exit 1 if it does
not verify.

A key is trusted for what it signed while it was in force: evidence signed
before an org key was rotated (or before the org had one) verifies against
the roster versions of that time. Give them with more --roster flags, each
a file or a directory of kept versions (a gateway's DIR/state/rosters); the
file verifies if one version verifies it, and the report names which.

A witness cosigns with any of its nodes; a node that only an org's own
node list (a delegation) names counts with --delegations DIR (a gateway's
DIR/state/delegations).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			versions, err := loadRosters(rosters)
			if err != nil {
				return err
			}
			ds, err := loadDelegations(delegations)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			r, rep, err := verifyUnder(data, versions, ds)
			if asJSON {
				out := map[string]any{"file": args[0], "verified": err == nil, "consortium": r.Consortium, "roster_version": r.Version}
				if err != nil {
					out["error"] = err.Error()
				} else {
					out["report"] = rep
				}
				if perr := printJSON(cmd.OutOrStdout(), out); perr != nil {
					return perr
				}
			}
			if err != nil {
				return exitError{code: 1, msg: fmt.Sprintf("%s: %v", args[0], err)}
			}
			if !asJSON {
				printReport(cmd.OutOrStdout(), args[0], r, rep)
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&rosters, "roster", nil, "a roster version, or a directory of them (required; repeat)")
	c.Flags().StringVar(&delegations, "delegations", "", "a directory of the orgs' node delegations (a gateway's DIR/state/delegations): their nodes' cosignatures count")
	_ = c.MarkFlagRequired("roster")
	jsonFlag(c, &asJSON)
	return c
}

// loadRosters reads the roster versions that paths name (files, or
// directories of versions), each verified, newest first.
func loadRosters(paths []string) ([]*consortium.Roster, error) {
	var out []*consortium.Roster
	for _, p := range paths {
		files := []string{p}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			files, _ = filepath.Glob(filepath.Join(p, "*.yaml"))
			if len(files) == 0 {
				return nil, fmt.Errorf("roster: %s holds no roster version", p)
			}
		}
		for _, f := range files {
			r, err := consortium.LoadVerified(f)
			if err != nil {
				return nil, fmt.Errorf("roster: %w", err)
			}
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *consortium.Roster) int { return cmp.Compare(b.Version, a.Version) })
	return out, nil
}

// loadDelegations reads the node delegations in dir ("" for none).
func loadDelegations(dir string) ([]*consortium.Delegation, error) {
	if dir == "" {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []*consortium.Delegation
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		d, err := consortium.ParseDelegation(f, data)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// verifyUnder verifies evidence against each roster version, newest first,
// with the delegations that version allows, and returns the first that
// verifies it; or the newest's error.
func verifyUnder(data []byte, versions []*consortium.Roster, ds []*consortium.Delegation) (*consortium.Roster, *journal.Report, error) {
	var first error
	for _, r := range versions {
		allowed := map[string]*consortium.Delegation{}
		for _, d := range ds {
			if r.CheckDelegation(d, nil) == nil && (allowed[d.Org] == nil || d.Sequence > allowed[d.Org].Sequence) {
				allowed[d.Org] = d
			}
		}
		m := consortium.NewDelegatedIndex(r, allowed).Members()
		t, err := journal.TrustOf(m.Consortium, m)
		if err == nil {
			var rep *journal.Report
			if rep, err = journal.VerifyProof(data, t); err == nil {
				return r, rep, nil
			}
		}
		if first == nil {
			first = err
		}
	}
	return versions[0], nil, first
}

func printReport(w io.Writer, file string, r *consortium.Roster, rep *journal.Report) {
	name := rep.Org
	if m := r.Member(rep.Org); m != nil {
		name = fmt.Sprintf("%s (%s, %s)", m.Org, m.Name, m.Country)
	}
	fmt.Fprintf(w, "%s: VERIFIED\n", file)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "who\t%s\n", name)
	fmt.Fprintf(tw, "what\t%s\n", rep.Event.Summary())
	fmt.Fprintf(tw, "when\t%s (the entry's time)\n", rep.Event.Time.Format(time.RFC3339))
	fmt.Fprintf(tw, "entry\t#%d of %s, event hash %s\n", rep.Index, rep.Origin, rep.EventHash)
	fmt.Fprintf(tw, "checkpoint\tsize %d, root %s, signed by %s\n", rep.Size, base64.StdEncoding.EncodeToString(rep.Root), rep.Org)
	for _, c := range rep.Cosigs {
		fmt.Fprintf(tw, "witness\t%s cosigned at %s\n", c.Org, c.Time.Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "witnessed\t%d of the %d required, consortium %s roster version %d\n", len(rep.Cosigs), rep.Threshold, r.Consortium, r.Version)
	tw.Flush()
}
