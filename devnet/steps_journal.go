package devnet

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api"

	"github.com/caravan-consortium/caravan/journal"
)

// stepJournals waits until every org's journal is mirrored by every other
// org and its newest checkpoint is witnessed, prints the table, measures
// the time from a publish to its checkpoint being cosigned, and writes and
// verifies one evidence file with the CLI, offline.
func stepJournals(ctx context.Context, e *Env) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	sts, err := waitJournals(ctx, e, 0)
	if err != nil {
		return "", err
	}
	tw := tabwriter.NewWriter(e.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "      journal\tentries\tcheckpoint cosigned by\tmirrored by (size)")
	for _, o := range e.Net.Orgs {
		st := sts[o.Org]
		var cos, mir []string
		for _, c := range st.Journal.Cosigs {
			cos = append(cos, c.Org)
		}
		for _, other := range e.Net.Orgs {
			for _, m := range sts[other.Org].Journal.Mirrors {
				if m.Org == o.Org {
					mir = append(mir, fmt.Sprintf("%s (%d)", other.Org, m.Size))
				}
			}
		}
		fmt.Fprintf(tw, "      %s\t%d\t%s\t%s\n", st.Journal.Origin, st.Journal.Size, strings.Join(cos, ", "), strings.Join(mir, ", "))
	}
	tw.Flush()

	// Time from a publish returning to its checkpoint cosigned by the others.
	a := e.Net.Orgs[0]
	before := sts[a.Org].Journal.Size
	start := time.Now()
	if _, err := publish(ctx, a, "journal-probe", "shipment-event", 10, 99, nil, []string{"logistics"}); err != nil {
		return "", err
	}
	if _, err := waitJournals(ctx, e, before+1); err != nil {
		return "", err
	}
	took := time.Since(start)
	e.figure(fmt.Sprintf("publish to its journal checkpoint cosigned by the %d others", len(e.Net.Orgs)-1),
		took.Round(time.Millisecond).String(), "<= 2s")

	// Evidence of customs-cn's first fetch decision (its first publish if
	// there was no fetch), written and checked with the CLI.
	typ := journal.TypeDecision
	if len(e.fetches) == 0 {
		typ = journal.TypePublish
	}
	idx, err := firstEntry(ctx, a.Dir, typ)
	if err != nil {
		return "", err
	}
	file := filepath.Join(e.Net.Dir, "evidence.tlog-proof")
	if out, err := exec.CommandContext(ctx, e.Binary, "journal", "proof", "--dir", a.Dir, "--entry", fmt.Sprint(idx), "--out", file).CombinedOutput(); err != nil {
		return "", fmt.Errorf("journal proof: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, e.Binary, "verify", file, "--roster", e.Net.Roster).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("verify: %v\n%s", err, out)
	}
	fmt.Fprintf(e.Out, "      $ caravan verify %s --roster %s\n", filepath.Base(file), filepath.Base(e.Net.Roster))
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fmt.Fprintf(e.Out, "        %s\n", l)
	}
	if len(e.fetches) > 0 {
		fmt.Fprintln(e.Out, "      fetches, as the requesters' receipts record them:")
		printFetches(e)
	}
	return fmt.Sprintf("every journal mirrored and witnessed by the others; a publish was cosigned %v after it returned; evidence for %s entry %d verified offline",
		took.Round(time.Millisecond), a.Org, idx), nil
}

// waitJournals waits until every org's newest checkpoint has at least min
// entries (for the first org) and is witnessed, and every org mirrors every
// other org's journal at the size its owner reports.
func waitJournals(ctx context.Context, e *Env, min uint64) (map[string]*api.Status, error) {
	for {
		sts := map[string]*api.Status{}
		ok := true
		for _, o := range e.Net.Orgs {
			st, err := o.Status(ctx)
			if err != nil {
				return nil, err
			}
			sts[o.Org] = st
		}
		for i, o := range e.Net.Orgs {
			j := sts[o.Org].Journal
			ok = ok && j.Witness && (i != 0 || j.Size >= min)
			for _, other := range e.Net.Orgs {
				for _, m := range sts[other.Org].Journal.Mirrors {
					if m.Org == o.Org && m.Size < j.Size {
						ok = false
					}
				}
			}
		}
		if ok {
			return sts, nil
		}
		select {
		case <-ctx.Done():
			var b strings.Builder
			for org, st := range sts {
				fmt.Fprintf(&b, "%s: %+v; ", org, st.Journal)
			}
			return nil, fmt.Errorf("journals not all witnessed and mirrored: %s", b.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// firstEntry returns the index of the first entry of a type in dir's own journal.
func firstEntry(ctx context.Context, dir, typ string) (uint64, error) {
	return datadir.FindEntry(ctx, dir, typ+" entry", func(e []byte) bool {
		ev, err := journal.Decode(e)
		return err == nil && ev.Type == typ
	})
}
