package main

import (
	"slices"
	"testing"

	"github.com/caravan-consortium/caravan/consortium"
)

// What an admin reads before signing a proposal where they are: one line
// per change, an org key given apart from the member's other fields.
func TestRosterChangesSayWhatASignatureApproves(t *testing.T) {
	cur := &consortium.Roster{Version: 4, Admins: consortium.Admins{Threshold: 2},
		Members: []consortium.Member{{Org: "customs-cn", Name: "A"}, {Org: "customs-kz", Name: "B"}}}
	next := &consortium.Roster{Version: 5, Admins: consortium.Admins{Threshold: 3},
		Members: []consortium.Member{{Org: "customs-cn", Name: "A", OrgKey: "ed25519:K"}, {Org: "customs-uz", Name: "C", Country: "UZ"}}}
	got := rosterChanges(cur, next)
	want := []string{
		`gives member customs-cn the org key ed25519:K (was: none)`,
		`adds member customs-uz (C, UZ, ; roles: none; 0 node(s))`,
		`removes member customs-kz`,
		`sets the threshold from 2 to 3`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if got := rosterChanges(cur, cur); !slices.Equal(got, []string{"changes nothing but the version"}) {
		t.Fatalf("no change: %q", got)
	}
}
