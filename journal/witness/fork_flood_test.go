package witness_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"golang.org/x/mod/sumdb/note"

	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/journal"
)

// A member that signs many checkpoints of one size cannot fill its
// partners' disks or bury a real fork: 150 forged checkpoints of one size
// made 149 files on every gateway, with no cap. Now they make one alert,
// which counts the conflicting roots; the alert count in status survives a
// restart; and a checkpoint seen again changes nothing.
func TestForkFloodIsOneAlertPerSize(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	a, b := c.Start(0), c.Start(1)
	poll.Until(t, func() bool { st := a.Services().Admin.Status().Journal; return st.Size >= 2 && len(st.Cosigs) >= 1 }, "customs-cn cosigned by customs-kz")
	size := a.Services().Admin.Status().Journal.Size
	a.Close() // customs-cn turns hostile with its own key

	signer, err := journal.NewLogSigner(journal.Origin(c.Roster().Consortium, "customs-cn"), c.OrgKey(0))
	if err != nil {
		t.Fatal(err)
	}
	evil := c.Hostile(0, b)
	forged := func() []byte {
		root := make([]byte, 32)
		_, _ = rand.Read(root)
		text := fmt.Sprintf("%s\n%d\n%s\n", journal.Origin(c.Roster().Consortium, "customs-cn"), size, base64.StdEncoding.EncodeToString(root))
		raw, err := note.Sign(&note.Note{Text: text}, signer)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	first := forged()
	const n = 150
	for i := range n {
		if i == 0 {
			evil.Gossip(t, "journal", first)
		} else {
			evil.Gossip(t, "journal", forged())
		}
		time.Sleep(10 * time.Millisecond) // within the journal topic's budget per peer
	}
	evil.Gossip(t, "journal", first) // seen again
	alerts := func() []journal.Alert {
		got, err := journal.Alerts(datadir.Dir(c.Dir(1)).Alerts())
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	poll.Until(t, func() bool { al := alerts(); return len(al) == 1 && al[0].Conflicts == n }, fmt.Sprintf("one alert counting %d conflicting roots", n))
	if got := b.Services().Admin.Status().Journal.Alerts; got != 1 {
		t.Fatalf("status counts %d alerts, want 1", got)
	}
	entries, _ := os.ReadDir(datadir.Dir(c.Dir(1)).Alerts())
	if len(entries) != 1 {
		t.Fatalf("%d files in the alerts directory", len(entries))
	}
	if fi, _ := os.Stat(alerts()[0].File); fi.Size() > 16<<10 {
		t.Fatalf("the alert grew to %d bytes", fi.Size())
	}
	b.Close()
	evil.Host.Close()
	if b = c.Start(1); b.Services().Admin.Status().Journal.Alerts != 1 {
		t.Fatalf("after a restart status counts %d alerts, want 1", b.Services().Admin.Status().Journal.Alerts)
	}
}
