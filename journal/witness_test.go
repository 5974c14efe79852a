package journal_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/journal"
)

// Prune keeps the newest sizes and, when none of them is witnessed yet,
// the newest witnessed note before them.
func TestWitnessedPrune(t *testing.T) {
	w, err := journal.OpenWitnessed(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	add := func(size uint64, witnessed bool) {
		t.Helper()
		sig := "— log sig\n"
		if witnessed {
			sig += "— witness cosig\n"
		}
		if _, err := w.Add("customs-cn", "origin", size, fmt.Appendf(nil, "origin\n%d\nroot\n\n%s", size, sig), asIs); err != nil {
			t.Fatal(err)
		}
	}
	isWitnessed := func(raw []byte) bool { return strings.Contains(string(raw), "witness cosig") }
	for size := uint64(1); size <= 20; size++ {
		add(size, size == 3 || size == 7)
	}
	add(5, false) // a second note of size 5, no new signature: still one file
	check := func(removed, wantRemoved int, want ...uint64) {
		t.Helper()
		if got := w.Sizes("customs-cn"); removed != wantRemoved || !slices.Equal(got, want) {
			t.Fatalf("removed %d, kept %v; want %d removed, %v kept", removed, got, wantRemoved, want)
		}
	}
	n, err := w.Prune("customs-cn", 5, isWitnessed)
	if err != nil {
		t.Fatal(err)
	}
	check(n, 14, 7, 16, 17, 18, 19, 20) // 7: the newest witnessed

	add(21, true)
	n, err = w.Prune("customs-cn", 5, isWitnessed)
	if err != nil {
		t.Fatal(err)
	}
	check(n, 2, 17, 18, 19, 20, 21) // 21 is witnessed: 7 goes

	n, _ = w.Prune("customs-cn", 5, isWitnessed)
	check(n, 0, 17, 18, 19, 20, 21)
	if orgs := w.Orgs(); !slices.Equal(orgs, []string{"customs-cn"}) {
		t.Fatalf("orgs %v", orgs)
	}
}

func asIs(raw []byte) ([]byte, error) { return raw, nil }
