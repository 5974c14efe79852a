package devnet

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"golang.org/x/sync/errgroup"

	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

// publish generates count records of schema and publishes them from org.
func publish(ctx context.Context, o *Org, dataset, schema string, count int, seed uint64, labels, purposes []string) (*api.PublishSummary, error) {
	cl, err := api.NewClient(o.Dir)
	if err != nil {
		return nil, err
	}
	// Every demo schema, not only this one: the demo policies read their
	// attributes, and are in force only once all are registered.
	if err := RegisterDemoSchemas(ctx, cl); err != nil {
		return nil, fmt.Errorf("%s registering the demo's schemas: %w", o.Org, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(sample.Write(pw, schema, count, seed, nil)) }()
	res, err := cl.Publish(ctx, api.PublishRequest{Dataset: dataset, Schema: schema, Labels: labels, Purposes: purposes,
		Description: fmt.Sprintf("%d generated %s records (seed %d)", count, schema, seed)}, pr, nil)
	pr.Close()
	if err != nil {
		return nil, fmt.Errorf("%s publishing %s: %w", o.Org, dataset, err)
	}
	return res, nil
}

// waitListed waits until every org in orgs lists the manifest.
func waitListed(ctx context.Context, orgs []*Org, cid string) error {
	var g errgroup.Group
	for _, o := range orgs {
		g.Go(func() error {
			cl, err := api.NewClient(o.Dir)
			if err != nil {
				return err
			}
			// The gateway answers as its catalog takes the statement: no
			// polling, whose interval and load would be in the figure.
			if _, err := cl.AwaitCatalogItem(ctx, cid, 20*time.Second); err != nil {
				return fmt.Errorf("%s does not list %s after 20s: %w", o.Org, cid, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// pollInterval is how long a wait that times things by polling (until)
// sleeps between looks: 2 ms in its first half second, so that a figure of
// a few milliseconds is not rounded up to the interval, then 25 ms.
func pollInterval(start time.Time) time.Duration {
	if time.Since(start) < 500*time.Millisecond {
		return 2 * time.Millisecond
	}
	return 25 * time.Millisecond
}

func stepPublish(ctx context.Context, e *Env) (string, error) {
	a := e.Net.Orgs[0]
	res, err := publish(ctx, a, "khorgos-declarations", "customs-declaration", 2000, 1,
		[]string{"customs", "2026"}, []string{"customs-clearance", "risk-analysis", "transit-planning"})
	if err != nil {
		return "", err
	}
	e.published = append(e.published, res.CID)
	return fmt.Sprintf("%s published khorgos-declarations v%d: %d records, manifest %s", a.Org, res.Manifest.Version, res.Manifest.Records, res.CID), nil
}

func stepOthersList(ctx context.Context, e *Env) (string, error) {
	start := time.Now()
	cid := e.published[len(e.published)-1]
	if err := waitListed(ctx, e.Net.Orgs[1:], cid); err != nil {
		return "", err
	}
	var names []string
	for _, o := range e.Net.Orgs[1:] {
		names = append(names, o.Org)
	}
	e.figure("manifest gossip, publish to listed by all", time.Since(start).Round(time.Millisecond).String(), "")
	return fmt.Sprintf("%s list it (%v after the publish returned)", strings.Join(names, " and "), time.Since(start).Round(time.Millisecond)), nil
}

func stepStopLast(ctx context.Context, e *Env) (string, error) {
	c := e.Net.Orgs[len(e.Net.Orgs)-1]
	r := c.Stop(gateway.ShutdownTimeout)
	if r.Killed || r.ExitCode != 0 {
		return "", fmt.Errorf("%s did not stop cleanly: %+v", c.Org, r)
	}
	return fmt.Sprintf("%s stopped (exit 0 in %v)", c.Org, r.Took.Round(time.Millisecond)), nil
}

func stepPublishWhileOffline(ctx context.Context, e *Env) (string, error) {
	a := e.Net.Orgs[0]
	var made []string
	for i, step := range []struct {
		dataset, schema string
		count           int
	}{
		{"khorgos-declarations", "customs-declaration", 2500},
		{"khorgos-declarations", "customs-declaration", 3000},
		{"khorgos-rail-events", "shipment-event", 5000},
	} {
		res, err := publish(ctx, a, step.dataset, step.schema, step.count, uint64(10+i), []string{"customs"}, []string{"customs-clearance", "logistics"})
		if err != nil {
			return "", err
		}
		e.published = append(e.published, res.CID)
		made = append(made, fmt.Sprintf("%s v%d", step.dataset, res.Manifest.Version))
	}
	return fmt.Sprintf("%s published %s while %s was offline", a.Org, strings.Join(made, ", "), e.Net.Orgs[len(e.Net.Orgs)-1].Org), nil
}

// stepConverge restarts the last org and waits until every catalog is
// equal, then prints each gateway's catalog.
func stepConverge(ctx context.Context, e *Env) (string, error) {
	c := e.Net.Orgs[len(e.Net.Orgs)-1]
	start := time.Now()
	if err := e.Net.StartOrg(e.Binary, c); err != nil {
		return "", err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e.Net.WaitReady(rctx); err != nil {
		return "", err
	}
	var digests map[string]string
	for {
		digests = map[string]string{}
		same := true
		var first string
		for _, o := range e.Net.Orgs {
			st, err := o.Status(ctx)
			if err != nil {
				return "", err
			}
			digests[o.Org] = fmt.Sprintf("%d statements, digest %s", st.Catalog.Statements, st.Catalog.Digest)
			if first == "" {
				first = st.Catalog.Digest
			}
			same = same && st.Catalog.Digest == first && st.Catalog.Statements == len(e.published)+e.schemas
		}
		if same {
			break
		}
		if rctx.Err() != nil {
			return "", fmt.Errorf("catalogs did not converge within 30s: %v", digests)
		}
		time.Sleep(25 * time.Millisecond)
	}
	took := time.Since(start)
	if err := waitListed(ctx, []*Org{c}, e.published[len(e.published)-1]); err != nil {
		return "", err
	}
	for _, o := range e.Net.Orgs {
		cl, _ := api.NewClient(o.Dir)
		if list, err := cl.Schemas(ctx); err != nil || len(list) != e.schemas {
			return "", fmt.Errorf("%s's registry holds %d schemas, want %d (%v)", o.Org, len(list), e.schemas, err)
		}
		entries, err := cl.Catalog(ctx, api.CatalogQuery{All: true})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(e.Out, "      catalog of %s (%s):\n", o.Org, digests[o.Org])
		tw := tabwriter.NewWriter(e.Out, 0, 0, 2, ' ', 0)
		for _, en := range entries {
			state := "head"
			if !en.Head {
				state = "superseded"
			}
			fmt.Fprintf(tw, "        %s\t%s\tv%d\t%d records\t%s\t%s\n", en.Manifest.Publisher, en.Manifest.Dataset, en.Manifest.Version, en.Manifest.Records, state, en.CID[:20]+"...")
		}
		tw.Flush()
	}
	e.figure(fmt.Sprintf("catch-up: %s restart to an equal catalog", c.Org), took.Round(time.Millisecond).String(), "")
	return fmt.Sprintf("%s restarted and converged in %v; all %d catalogs are equal (%d statements, %d of them schemas)",
		c.Org, took.Round(time.Millisecond), len(e.Net.Orgs), len(e.published)+e.schemas, e.schemas), nil
}
