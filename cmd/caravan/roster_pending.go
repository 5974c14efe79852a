package main

// Signing a proposal where the admin is: 'caravan consortium sign --dir'
// takes the proposal the local gateway holds (gossiped from wherever it
// was made), shows what it changes, signs it and hands the signature back.

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/keyfile"
)

// signPending signs the proposal of version (0: the only one) or digest
// prefix held by the gateway of dir with the key at keyPath, and submits
// the signature.
func signPending(ctx context.Context, w io.Writer, dir, keyPath string, version uint64, digest string) error {
	cl, err := api.NewClient(dir)
	if err != nil {
		return err
	}
	all, err := cl.RosterProposals(ctx)
	if err != nil {
		return err
	}
	var picked []api.RosterProposal
	for _, p := range all {
		if (version == 0 || p.Version == version) && strings.HasPrefix(p.Digest, digest) {
			picked = append(picked, p)
		}
	}
	switch {
	case len(picked) == 0:
		return fmt.Errorf("the gateway of %s holds no proposal%s ('caravan status' lists those pending)", dir, which(version, digest))
	case len(picked) > 1:
		var ds []string
		for _, p := range picked {
			ds = append(ds, fmt.Sprintf("version %d digest %s", p.Version, p.Digest[:16]))
		}
		return fmt.Errorf("the gateway of %s holds %d proposals%s: %s; name one with --version and --digest", dir, len(picked), which(version, digest), strings.Join(ds, "; "))
	}
	p, err := consortium.Parse("the proposal", []byte(picked[0].Document))
	if err != nil {
		return err
	}
	priv, err := keyfile.Load(keyPath)
	if err != nil {
		return err
	}
	if inForce, err := consortium.Load(datadir.Dir(dir).TrustedRoster()); err == nil {
		fmt.Fprintf(w, "version %d (digest %s) changes version %d:\n", p.Version, picked[0].Digest[:16], inForce.Version)
		for _, c := range rosterChanges(inForce, p) {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	admin, err := p.Sign(priv)
	if err != nil {
		return err
	}
	data, err := p.Marshal()
	if err != nil {
		return err
	}
	got, err := cl.SubmitRoster(ctx, data)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "signed by %s: version %d %s; signed by %s", admin, got.Version, got.State, orNone(got.Signed))
	if got.State == "pending" {
		fmt.Fprintf(w, "; not yet by %s", orNone(got.Unsigned))
	}
	fmt.Fprintln(w)
	return nil
}

func which(version uint64, digest string) string {
	var out []string
	if version > 0 {
		out = append(out, fmt.Sprintf("of version %d", version))
	}
	if digest != "" {
		out = append(out, "with digest "+digest)
	}
	if len(out) == 0 {
		return ""
	}
	return " " + strings.Join(out, " ")
}

// rosterChanges says, one line each, what next changes of cur: what an
// admin reads before signing.
func rosterChanges(cur, next *consortium.Roster) []string {
	var out []string
	for _, m := range next.Members {
		old := cur.Member(m.Org)
		switch {
		case old == nil:
			out = append(out, fmt.Sprintf("adds member %s (%s, %s, %s; roles: %s; %d node(s))", m.Org, m.Name, m.Country, m.Sector, orNone(m.Roles), len(m.Nodes)))
		default:
			if old.OrgKey != m.OrgKey {
				out = append(out, fmt.Sprintf("gives member %s the org key %s (was: %s)", m.Org, m.OrgKey, cmp.Or(old.OrgKey, "none")))
			}
			rest := *old
			rest.OrgKey = m.OrgKey
			if !memberEqual(rest, m) {
				out = append(out, fmt.Sprintf("changes member %s", m.Org))
			}
		}
	}
	for _, m := range cur.Members {
		if next.Member(m.Org) == nil {
			out = append(out, "removes member "+m.Org)
		}
	}
	if !slices.Equal(cur.Admins.Keys, next.Admins.Keys) {
		out = append(out, "changes the admins' keys")
	}
	if cur.Admins.Threshold != next.Admins.Threshold {
		out = append(out, fmt.Sprintf("sets the threshold from %d to %d", cur.Admins.Threshold, next.Admins.Threshold))
	}
	if cur.Expires != next.Expires {
		out = append(out, fmt.Sprintf("sets the expiry from %q to %q", cur.Expires, next.Expires))
	}
	if cur.WitnessThreshold != next.WitnessThreshold {
		out = append(out, fmt.Sprintf("sets the witness threshold from %d to %d", cur.WitnessThreshold, next.WitnessThreshold))
	}
	if len(out) == 0 {
		out = append(out, "changes nothing but the version")
	}
	return out
}

func memberEqual(a, b consortium.Member) bool {
	x := &consortium.Roster{Members: []consortium.Member{a}}
	y := &consortium.Roster{Members: []consortium.Member{b}}
	return consortium.Equal(x, y)
}
