package witness_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/node"
)

// The attack: a member re-gossips another org's real checkpoint with
// dozens of bogus signature lines. Every gateway merged them into its
// stored note; past 100 signatures the note no longer opened, the
// checkpoint could never count as witnessed, and proofs of its entries
// failed. Notes are now cleaned before they are merged or passed on: only
// the log's signature and one valid cosignature per witness stay.
func TestBogusSignatureLinesAreNeverMerged(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	a, b := c.Start(0), c.Start(1)
	poll.Until(t, func() bool { st := a.Status().Journal; return st.Size >= 2 && len(st.Cosigs) >= 1 }, "customs-cn cosigned by customs-kz")
	size := a.Status().Journal.Size
	held := func(n int) []byte {
		data, err := os.ReadFile(filepath.Join(node.DataDir(c.Dir(n)).Witnessed(), "customs-cn", fmt.Sprint(size)))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	real := held(0)
	evil := c.Hostile(2, a, b)
	// Each message stays under signed-note's 100 signatures, so that each
	// alone still opens; merged, they would not.
	for m := range 3 {
		var bogus strings.Builder
		bogus.Write(real)
		for i := range 45 {
			sig := make([]byte, 4+64)
			_, _ = rand.Read(sig)
			fmt.Fprintf(&bogus, "\u2014 fake-witness-%d-%d %s\n", m, i, base64.StdEncoding.EncodeToString(sig))
		}
		evil.Gossip(t, "journal", []byte(bogus.String()))
	}
	time.Sleep(time.Second) // delivered and handled long before

	r := a.Roster()
	trust, err := journal.TrustOf(r.Consortium, r)
	if err != nil {
		t.Fatal(err)
	}
	// The honest gateways keep checking, cosigning and storing the
	// checkpoint, and their notes still open, without a bogus line.
	for i := range 2 {
		poll.Until(t, func() bool {
			data := held(i)
			_, cosigs, _, err := trust.Check(data)
			return err == nil && len(cosigs) >= 1 && !strings.Contains(string(data), "fake-witness")
		}, c.Net.Orgs[i].Org+"'s note of customs-cn's checkpoint, clean and cosigned")
	}
	// A flood of such notes writes nothing: each adds nothing once
	// cleaned (and each peer's notes are rate-limited before that).
	path := filepath.Join(node.DataDir(c.Dir(1)).Witnessed(), "customs-cn", fmt.Sprint(size))
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		sig := make([]byte, 4+64)
		_, _ = rand.Read(sig)
		evil.Gossip(t, "journal", fmt.Appendf(append([]byte{}, real...), "\u2014 flood-%d %s\n", i, base64.StdEncoding.EncodeToString(sig)))
	}
	time.Sleep(time.Second)
	if after, err := os.Stat(path); err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("customs-kz rewrote its note during a flood of notes that add nothing (%v)", err)
	}
}
