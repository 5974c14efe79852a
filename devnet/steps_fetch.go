package devnet

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/caravan-consortium/caravan/api"
)

// fetchOutcome is one fetch of the demo, for the closing table.
type fetchOutcome struct {
	org, purpose string
	sum          *api.FetchSummary
}

// stepFetch: the partners fetch customs-cn's declarations. customs-kz (partner
// customs, customs-clearance) gets what its policy allows, the forwarder
// (transit-planning) fewer, and a purpose the dataset does not offer is
// denied. The first fetch goes through the CLI.
func stepFetch(ctx context.Context, e *Env) (string, error) {
	if len(e.Net.Orgs) < 3 {
		return "skipped: needs 3 orgs", nil
	}
	manifest := e.published[0]
	out := filepath.Join(e.Net.Dir, "customs-kz-declarations.jsonl")
	cmdOut, err := exec.CommandContext(ctx, e.Binary, "fetch", manifest, "--dir", e.Net.Orgs[1].Dir,
		"--purpose", "customs-clearance", "--out", out).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("caravan fetch: %v\n%s", err, cmdOut)
	}
	fmt.Fprintf(e.Out, "      $ caravan fetch %.16s… --dir customs-kz --purpose customs-clearance --out %s\n", manifest, filepath.Base(out))
	for _, l := range strings.Split(strings.TrimSpace(string(cmdOut)), "\n") {
		fmt.Fprintf(e.Out, "        %s\n", l)
	}
	for _, f := range []struct{ org, purpose string }{
		{"customs-kz", "customs-clearance"}, {"logistics-az", "transit-planning"}, {"customs-kz", "marketing"},
	} {
		o := e.Net.Org(f.org)
		cl, err := api.NewClient(o.Dir)
		if err != nil {
			return "", err
		}
		sum, err := cl.Fetch(ctx, api.FetchRequest{Manifest: manifest, Purpose: f.purpose}, nil)
		if err != nil {
			return "", fmt.Errorf("%s fetching for %s: %w", f.org, f.purpose, err)
		}
		e.fetches = append(e.fetches, fetchOutcome{f.org, f.purpose, sum})
	}
	kz, az, mk := e.fetches[0].sum, e.fetches[1].sum, e.fetches[2].sum
	switch {
	case kz.Permitted == 0 || kz.Received != kz.Permitted:
		return "", fmt.Errorf("customs-kz received %d of %d permitted", kz.Received, kz.Permitted)
	case az.Permitted >= kz.Permitted:
		return "", fmt.Errorf("logistics-az received %d, not fewer than customs-kz's %d", az.Permitted, kz.Permitted)
	case !mk.NotOffered || mk.Permitted != 0:
		return "", fmt.Errorf("a purpose the dataset does not offer was not denied: %+v", mk)
	}
	printFetches(e)
	return fmt.Sprintf("customs-kz received %d of %d declarations, logistics-az %d; purpose \"marketing\" denied (not offered)",
		kz.Permitted, kz.Permitted+kz.Withheld, az.Permitted), nil
}

func printFetches(e *Env) {
	tw := tabwriter.NewWriter(e.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "      requester\tpurpose\tpermitted\twithheld\tverified bytes\tprovider's decision entry")
	for _, f := range e.fetches {
		note := ""
		if f.sum.NotOffered {
			note = " (purpose not offered)"
		}
		fmt.Fprintf(tw, "      %s\t%s%s\t%d\t%d\t%d\t%s #%d\n", f.org, f.purpose, note, f.sum.Permitted, f.sum.Withheld, f.sum.Bytes,
			f.sum.Decision.Origin, f.sum.Decision.Index)
	}
	tw.Flush()
}
