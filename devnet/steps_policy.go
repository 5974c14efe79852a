package devnet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caravan-consortium/caravan/api"

	"github.com/caravan-consortium/caravan/schemas/sample"
)

// policySample is how many of the published records the policy step asks
// the owner's gateway to decide for each partner.
const policySample = 300

// stepPolicies shows the owner's policies at work on the dataset that was
// just published: every gateway runs the same bundle, customs-cn's decides
// sample records for each partner and explains one denial, discovery hides a
// restricted-catalog dataset from the logistics operator, and a broken
// policy file is refused while the bundle in force stays.
func stepPolicies(ctx context.Context, e *Env) (string, error) {
	owner := e.Net.Orgs[0]
	cl, err := api.NewClient(owner.Dir)
	if err != nil {
		return "", err
	}
	bundle, err := sameBundleEverywhere(ctx, e)
	if err != nil {
		return "", err
	}
	if err := decideSamples(ctx, e, cl); err != nil {
		return "", err
	}
	if err := discoverRestricted(ctx, e); err != nil {
		return "", err
	}
	if err := refuseBrokenPolicy(ctx, e, cl, bundle); err != nil {
		return "", err
	}
	return fmt.Sprintf("one bundle everywhere; %s decides per record and explains; the broken file left bundle %s in force", owner.Org, short(bundle)), nil
}

// sameBundleEverywhere checks that every gateway has the demo bundle in
// force, and returns its CID.
func sameBundleEverywhere(ctx context.Context, e *Env) (string, error) {
	bundles := map[string]bool{}
	var bundle string
	for _, o := range e.Net.Orgs {
		st, err := o.Status(ctx)
		if err != nil {
			return "", err
		}
		bundles[st.Policy.Bundle] = true
		bundle = st.Policy.Bundle
		fmt.Fprintf(e.Out, "      %-13s policy bundle %s (%d policies)\n", o.Org, st.Policy.Bundle, st.Policy.Count)
	}
	if len(bundles) != 1 {
		return "", fmt.Errorf("the gateways have %d different policy bundles", len(bundles))
	}
	return bundle, nil
}

// decideSamples has the owner decide sample records of its dataset for each
// partner, and explain one denial.
func decideSamples(ctx context.Context, e *Env, cl *api.Client) error {
	type ask struct{ org, purpose string }
	asks := []ask{{"customs-kz", "customs-clearance"}, {"logistics-az", "transit-planning"}, {"customs-kz", "marketing"}}
	permitted := make([]int, len(asks))
	var denial *api.ExplainResult
	for i := range policySample {
		rec, err := sample.Record("customs-declaration", 1, i)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		for j, a := range asks {
			if a.org == "logistics-az" && len(e.Net.Orgs) < 3 {
				continue
			}
			res, err := cl.Explain(ctx, api.ExplainRequest{Org: a.org, Dataset: "khorgos-declarations", Purpose: a.purpose, Record: raw})
			if err != nil {
				return fmt.Errorf("explain for %s: %w", a.org, err)
			}
			if res.Decision == "permit" {
				permitted[j]++
			} else if denial == nil && len(res.Policies) > 0 && a.org == "customs-kz" {
				denial = res
			}
		}
	}
	tw := tabwriter.NewWriter(e.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "      requester\tpurpose\tpermitted of %d\n", policySample)
	for j, a := range asks {
		fmt.Fprintf(tw, "      %s\t%s\t%d\n", a.org, a.purpose, permitted[j])
	}
	tw.Flush()
	if permitted[0] == 0 || permitted[2] != 0 || (len(e.Net.Orgs) >= 3 && permitted[1] >= permitted[0]) {
		return fmt.Errorf("unexpected decisions: %v", permitted)
	}
	if denial != nil {
		var by []string
		for _, p := range denial.Policies {
			by = append(by, fmt.Sprintf("%s %s (%s:%d)", p.Effect, p.ID, p.File, p.Line))
		}
		fmt.Fprintf(e.Out, "      e.g. record %s: %s for customs-kz, by %s\n", short(denial.Record), denial.Decision, strings.Join(by, ", "))
	}
	return nil
}

// discoverRestricted publishes a restricted-catalog dataset. Not every
// member may discover it, so it is announced sealed: customs-kz's gateway
// gets the manifest from customs-cn and lists it, logistics-az's holds only
// the sealed statement, and no name.
func discoverRestricted(ctx context.Context, e *Env) error {
	res, err := publish(ctx, e.Net.Orgs[0], "enforcement-cases", "customs-declaration", 20, 9,
		[]string{"restricted-catalog"}, []string{"risk-analysis"})
	if err != nil {
		return err
	}
	e.published = append(e.published, res.CID)
	for _, as := range []string{"customs-kz", "logistics-az"} {
		o := e.Net.Org(as)
		if o == nil {
			continue
		}
		ocl, err := api.NewClient(o.Dir)
		if err != nil {
			return err
		}
		listed := func() ([]string, bool, error) {
			entries, err := ocl.Catalog(ctx, api.CatalogQuery{All: true})
			var names []string
			found := false
			for _, en := range entries {
				names = append(names, en.Manifest.Dataset)
				found = found || en.Manifest.Dataset == "enforcement-cases"
			}
			return names, found, err
		}
		if as == "customs-kz" {
			if err := until(ctx, 10*time.Second, func() (bool, error) { _, found, err := listed(); return found, err }); err != nil {
				return fmt.Errorf("customs-kz never got the sealed manifest: %w", err)
			}
		} else {
			time.Sleep(500 * time.Millisecond) // a reveal would have come by now
		}
		names, found, err := listed()
		if err != nil {
			return err
		}
		if as == "logistics-az" && found {
			return fmt.Errorf("logistics-az lists enforcement-cases, which its discover policy excludes")
		}
		fmt.Fprintf(e.Out, "      %s's own catalog lists: %s\n", as, strings.Join(names, ", "))
	}
	return nil
}

// refuseBrokenPolicy writes a broken policy file into the owner's policy
// directory and checks that it is refused and bundle stays in force.
func refuseBrokenPolicy(ctx context.Context, e *Env, cl *api.Client, bundle string) error {
	broken := filepath.Join(e.Net.Orgs[0].Dir, "policies", "zz-broken.cedar")
	if err := os.WriteFile(broken, []byte("@id(\"oops\")\npermit (principal, action, resource)\nwhen { resource.colour == };\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(broken)
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := cl.Policy(ctx)
		if err != nil {
			return err
		}
		if info.Refused > 0 {
			if info.Bundle != bundle {
				return fmt.Errorf("a broken file changed the bundle in force to %s", info.Bundle)
			}
			fmt.Fprintf(e.Out, "      a broken policy file was refused: %s\n", strings.ReplaceAll(info.LastError, "\n", "; "))
			return os.Remove(broken)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the broken policy file was not refused within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func short(cid string) string {
	if len(cid) > 16 {
		return cid[:8] + "…" + cid[len(cid)-6:]
	}
	return cid
}
