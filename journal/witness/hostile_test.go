package witness_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/journal/witness"
	libp2phttp "github.com/libp2p/go-libp2p/p2p/http"
	"golang.org/x/mod/sumdb/note"
)

// The attack: a member re-gossips another org's real checkpoint with
// dozens of bogus signature lines. Every gateway merged them into its
// stored note; past 100 signatures the note no longer opened, the
// checkpoint could never count as witnessed, and proofs of its entries
// failed. Notes are now cleaned before they are merged or passed on: only
// the log's signature and one valid cosignature per witness stay.
func TestBogusSignatureLinesAreNeverMerged(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	a, b := c.Start(0), c.Start(1)
	poll.Until(t, func() bool { st := a.Services().Admin.Status().Journal; return st.Size >= 2 && len(st.Cosigs) >= 1 }, "customs-cn cosigned by customs-kz")
	size := a.Services().Admin.Status().Journal.Size
	held := func(n int) []byte {
		data, err := os.ReadFile(filepath.Join(datadir.Dir(c.Dir(n)).Witnessed(), "customs-cn", fmt.Sprint(size)))
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
	path := filepath.Join(datadir.Dir(c.Dir(1)).Witnessed(), "customs-cn", fmt.Sprint(size))
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

// The attack: a member's journal server answers with an endless body, or
// trickles one byte a second. The victim buffered the whole body (1.1 GB
// served took its heap to 2.1 GB in 20 s), and its one mirror loop waited
// on the slow member while every other member's log went unmirrored for
// 20-30 s a checkpoint. Reads are now bounded by the artifact's largest
// size and a deadline, and each member's log is mirrored on its own.
func TestHostileJournalServerCostsNeitherMemoryNorTime(t *testing.T) {
	c := testnet.NewCluster(t, 3)
	a, b := c.Start(0), c.Start(1)
	evil := c.Hostile(2, a, b)
	served := make(chan int64, 1)
	hs := &libp2phttp.Host{StreamHost: evil.Host}
	hs.SetHTTPHandlerAtPath(witness.JournalProtocol, "/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		if strings.Contains(r.URL.Path, "/tile/") { // trickle: one byte a second
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk[:1]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				time.Sleep(time.Second)
			}
			return
		}
		var n int64
		for r.Context().Err() == nil { // endless, as fast as it goes
			k, err := w.Write(chunk)
			n += int64(k)
			if err != nil {
				break
			}
		}
		select {
		case served <- n:
		default:
		}
	}))
	go hs.Serve()
	t.Cleanup(func() { hs.Close() })

	// A real-looking checkpoint of the hostile member's log, so that the
	// others try to mirror it (from the trickling server).
	priv := c.OrgKey(2)
	origin := journal.Origin(a.Roster().Consortium, "logistics-az")
	signer, err := journal.NewLogSigner(origin, priv)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := note.Sign(&note.Note{Text: origin + "\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	var peak atomic.Uint64
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	evil.Gossip(t, "journal", cp)

	// Meanwhile an honest member journals, and is mirrored at once.
	for range 3 {
		idx, err := b.Append(context.Background(), &journal.Event{Type: journal.TypePolicy, Bundle: "bagaaieraexample"})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		poll.Until(t, func() bool {
			for _, m := range a.Services().Admin.Status().Journal.Mirrors {
				if m.Org == "customs-kz" && m.Size > idx {
					return true
				}
			}
			return false
		}, "customs-kz's new entry mirrored by customs-cn")
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("customs-kz's entry took %v to be mirrored while logistics-az's server stalled", d)
		}
	}
	time.Sleep(7 * time.Second) // the others' catch-up reads the endless checkpoint now and then
	close(stop)
	<-done
	if grown := int64(peak.Load()) - int64(base.HeapInuse); grown > 200<<20 {
		t.Fatalf("the heap grew by %d MB while a member served endless bodies", grown>>20)
	}
	t.Logf("heap grew by at most %d MB", max(int64(peak.Load())-int64(base.HeapInuse), 0)>>20)
}
