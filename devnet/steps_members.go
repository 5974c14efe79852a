package devnet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/configs"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

// The demo's consortium administration: a fourth member is admitted by a
// roster proposal made and signed on one gateway and signed on a second,
// which every gateway adopts over the network, and later removed the same
// way and refused. No roster file is copied between the members.

// newcomer is the member the demo admits.
var newcomer = consortium.Member{Org: "customs-uz", Name: "Uzbekistan State Customs Committee (demo)", Country: "UZ",
	Sector: "customs", Roles: []string{"publisher", "requester"}, Groups: []string{"customs-authorities", "belt-and-road"}}

const newcomerDataset = "uz-declarations"

// stepAdmit: customs-uz's operator creates its data directory; customs-cn's
// admin proposes it as a member and signs; customs-kz's admin signs the
// proposal its own gateway received by gossip; every gateway adopts
// version N+1. customs-uz starts, publishes, and fetches customs-cn's
// declarations.
func stepAdmit(ctx context.Context, e *Env) (string, error) {
	cn, kz := e.Net.Org("customs-cn"), e.Net.Org("customs-kz")
	if cn == nil || kz == nil || len(e.Net.Orgs) != 3 {
		return "skipped: needs the demo's three orgs", nil
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	o := &Org{Member: newcomer, Dir: filepath.Join(e.Net.Dir, newcomer.Org), Port: port}
	tcp, quic := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port)
	out, err := e.caravan(ctx, "init", "--org", o.Org, "--dir", o.Dir, "--listen", tcp+","+quic)
	if err != nil {
		return "", err
	}
	if _, id, ok := strings.Cut(out, "peer id: "); ok {
		o.PeerID, _, _ = strings.Cut(id, "\n")
	}
	inForce, err := rosterVersion(ctx, cn)
	if err != nil {
		return "", err
	}
	proposal := filepath.Join(e.Net.Dir, "admit-"+o.Org+".yaml")
	if _, err := e.caravan(ctx, "consortium", "propose", "add-member", "--dir", cn.Dir, "--out", proposal,
		"--org", o.Org, "--name", o.Name, "--country", o.Country, "--sector", o.Sector, "--role", "publisher", "--role", "requester",
		"--group", "customs-authorities", "--group", "belt-and-road", "--peer", o.PeerID, "--addr", tcp, "--addr", quic); err != nil {
		return "", err
	}
	if err := signOn(ctx, e, cn, proposal, inForce+1); err != nil {
		return "", err
	}
	start := time.Now()
	if _, err := e.caravan(ctx, "consortium", "sign", "--dir", kz.Dir, "--key", filepath.Join(kz.Dir, "admin.key")); err != nil {
		return "", err
	}
	if err := awaitVersion(ctx, e.Net.Orgs, inForce+1); err != nil {
		return "", err
	}
	adopted := time.Since(start)
	e.figure("roster version adopted by every gateway, after the signature that completes it", adopted.Round(time.Millisecond).String(), "")

	if err := startNewcomer(ctx, e, o, cn); err != nil {
		return "", err
	}
	received, err := newcomerWorks(ctx, e, o, cn)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("version %d adopted by all three %v after customs-kz signed; %s published %s (listed by every member) and received the %d declarations that concern UZ, verified",
		inForce+1, adopted.Round(time.Millisecond), o.Org, newcomerDataset, received), nil
}

// startNewcomer starts the admitted member's gateway: its operator takes
// the version in force from a member it trusts (trust on first use).
func startNewcomer(ctx context.Context, e *Env, o, from *Org) error {
	data, err := os.ReadFile(filepath.Join(from.Dir, RosterFile))
	if err == nil {
		err = os.WriteFile(filepath.Join(o.Dir, RosterFile), data, 0o644)
	}
	if err != nil {
		return err
	}
	// The consortium's demo policies, as every demo member has.
	if err := copyFS(filepath.Join(o.Dir, "policies"), configs.Policies()); err != nil {
		return err
	}
	if err := e.Net.StartOrg(e.Binary, o); err != nil {
		return err
	}
	e.newcomer = o
	e.onEnd(func() { o.Stop(gateway.ShutdownTimeout) })
	if err := until(ctx, 30*time.Second, func() (bool, error) {
		st, err := o.Status(ctx)
		return err == nil && connectedCount(st) == len(e.Net.Orgs), err
	}); err != nil {
		return fmt.Errorf("%s connected to every member: %w", o.Org, err)
	}
	return nil
}

// newcomerWorks has the admitted member publish a dataset that every
// member lists, and fetch cn's declarations; it returns how many it received.
func newcomerWorks(ctx context.Context, e *Env, o, cn *Org) (uint64, error) {
	cl, err := api.NewClient(o.Dir)
	if err != nil {
		return 0, err
	}
	if err := until(ctx, 30*time.Second, func() (bool, error) { // catch-up brings the consortium's schemas
		list, err := cl.Schemas(ctx)
		return err == nil && len(list) >= e.schemas, err
	}); err != nil {
		return 0, fmt.Errorf("%s caught up the %d schemas registered: %w", o.Org, e.schemas, err)
	}
	records := filepath.Join(e.Net.Dir, newcomerDataset+".jsonl")
	if err := writeSample(records, "customs-declaration", 200, 7); err != nil {
		return 0, err
	}
	if _, err := e.caravan(ctx, "publish", records, "--dir", o.Dir, "--dataset", newcomerDataset, "--schema", "customs-declaration",
		"--purpose", "customs-clearance", "--label", "customs"); err != nil {
		return 0, err
	}
	head, err := headOf(ctx, o, newcomerDataset)
	if err != nil {
		return 0, err
	}
	if err := waitListed(ctx, e.Net.Orgs, head); err != nil {
		return 0, err
	}
	declarations, err := headOf(ctx, cn, "khorgos-declarations") // the newest version: the policies withhold older ones
	if err != nil {
		return 0, err
	}
	got, err := cl.Fetch(ctx, api.FetchRequest{Manifest: declarations, Purpose: "customs-clearance"}, nil)
	if err != nil {
		return 0, fmt.Errorf("%s fetching from customs-cn: %w", o.Org, err)
	}
	if got.Received == 0 || got.Received != got.Permitted {
		return 0, fmt.Errorf("%s received %d of the %d records permitted: %+v", o.Org, got.Received, got.Permitted, *got)
	}
	return got.Received, nil
}

// stepRemove: customs-kz's admin proposes customs-uz's removal, and
// logistics-az's admin signs it where they are; every gateway adopts it,
// disconnects customs-uz and refuses it, and lists its dataset no more.
func stepRemove(ctx context.Context, e *Env) (string, error) {
	o, kz, az := e.newcomer, e.Net.Org("customs-kz"), e.Net.Org("logistics-az")
	if o == nil || kz == nil || az == nil || e.Net.Org("customs-cn") == nil {
		return "skipped: no member was admitted", nil
	}
	inForce, err := rosterVersion(ctx, kz)
	if err != nil {
		return "", err
	}
	proposal := filepath.Join(e.Net.Dir, "remove-"+o.Org+".yaml")
	if _, err := e.caravan(ctx, "consortium", "propose", "remove-member", "--dir", kz.Dir, "--out", proposal, "--org", o.Org); err != nil {
		return "", err
	}
	if err := signOn(ctx, e, kz, proposal, inForce+1); err != nil {
		return "", err
	}
	if _, err := e.caravan(ctx, "consortium", "sign", "--dir", az.Dir, "--key", filepath.Join(az.Dir, "admin.key")); err != nil {
		return "", err
	}
	if err := awaitVersion(ctx, e.Net.Orgs, inForce+1); err != nil {
		return "", err
	}
	if err := until(ctx, 20*time.Second, func() (bool, error) {
		st, err := o.Status(ctx)
		return err == nil && connectedCount(st) == 0, err
	}); err != nil {
		return "", fmt.Errorf("%s still connected: %w", o.Org, err)
	}
	for _, m := range e.Net.Orgs {
		cl, err := api.NewClient(m.Dir)
		if err != nil {
			return "", err
		}
		items, err := cl.Catalog(ctx, api.CatalogQuery{Org: o.Org})
		if err != nil {
			return "", err
		}
		if len(items) != 0 {
			return "", fmt.Errorf("%s still lists %d datasets of %s", m.Org, len(items), o.Org)
		}
	}
	cl, err := api.NewClient(o.Dir)
	if err != nil {
		return "", err
	}
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	declarations, err := headOf(ctx, e.Net.Org("customs-cn"), "khorgos-declarations")
	if err != nil {
		return "", err
	}
	if _, err := cl.Fetch(fctx, api.FetchRequest{Manifest: declarations, Purpose: "customs-clearance"}, nil); err == nil {
		return "", fmt.Errorf("%s, removed, still fetched from customs-cn", o.Org)
	} else {
		fmt.Fprintf(e.Out, "      %s fetching, removed: %v\n", o.Org, err)
	}
	return fmt.Sprintf("version %d adopted by all three; %s is disconnected and refused, its fetch fails and no member lists its dataset", inForce+1, o.Org), nil
}

// writeSample writes count generated records of schema to path (JSONL).
func writeSample(path, schema string, count int, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := sample.Write(f, schema, count, seed, nil); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// signOn signs the proposal file with o's admin key and submits it to o's
// gateway, where it waits for a second signature.
func signOn(ctx context.Context, e *Env, o *Org, proposal string, version uint64) error {
	if _, err := e.caravan(ctx, "consortium", "sign", "--roster", proposal, "--key", filepath.Join(o.Dir, "admin.key")); err != nil {
		return err
	}
	out, err := e.caravan(ctx, "consortium", "submit", proposal, "--dir", o.Dir)
	if err != nil {
		return err
	}
	if !strings.Contains(out, fmt.Sprintf("version %d pending", version)) {
		return fmt.Errorf("the proposal is not pending after one signature: %s", out)
	}
	// Every gateway holds it before anyone else signs.
	return until(ctx, 10*time.Second, func() (bool, error) {
		for _, m := range e.Net.Orgs {
			st, err := m.Status(ctx)
			if err != nil || len(st.RosterProposals) == 0 || st.RosterProposals[0].Version != version {
				return false, err
			}
		}
		return true, nil
	})
}

func rosterVersion(ctx context.Context, o *Org) (uint64, error) {
	st, err := o.Status(ctx)
	if err != nil {
		return 0, err
	}
	return st.RosterVersion, nil
}

// awaitVersion waits until every org's gateway has version v in force.
func awaitVersion(ctx context.Context, orgs []*Org, v uint64) error {
	return until(ctx, 20*time.Second, func() (bool, error) {
		for _, o := range orgs {
			if got, err := rosterVersion(ctx, o); err != nil || got != v {
				return false, err
			}
		}
		return true, nil
	})
}
