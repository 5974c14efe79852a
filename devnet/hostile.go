package devnet

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/ipfs/go-cid"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2phttp "github.com/libp2p/go-libp2p/p2p/http"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/mod/sumdb/note"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/keyfile"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/journal/witness"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/fetch"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// attacker is the hostile member of the hostile scenario: the last org,
// whose gateway does not run, driven with its node key against the honest
// gateways. It runs in a process of its own (RunHostileMember), as the
// outsider does (HoldIdleConnections): in the devnet process, its floods
// shared one Go scheduler with the scenario's measurements.
type attacker struct {
	nt      *Net
	self    *Org // the hostile member
	victims []*Org
	key     ed25519.PrivateKey // its node key
	logKey  ed25519.PrivateKey // what signs its journal: its org key (its node key in a roster without one)
	h       host.Host
	ps      *pubsub.PubSub
	topics  map[string]*pubsub.Topic
	store   *store.Embedded
	http    *libp2phttp.Host

	// Targets the fetch attacks use: a dataset of the first victim, and
	// one it retracted.
	dataset, retracted *manifest.Manifest
	datasetID, retID   cid.Cid

	stop      context.CancelFunc // ends the running round of attacks, if any
	closeOnce sync.Once
	wg        sync.WaitGroup
	counts    sync.Map // attack -> *atomic.Int64, what each attack did

	flooded     atomic.Int64 // flood statements made, across rounds (their datasets' names)
	checkpoints atomic.Int64 // own checkpoints signed, across rounds (their sizes)
	attacking   atomic.Bool  // whether the journal server answers endlessly
	serveOnce   sync.Once
}

func (a *attacker) count(what string, n int64) {
	v, _ := a.counts.LoadOrStore(what, new(atomic.Int64))
	v.(*atomic.Int64).Add(n)
}

// newAttacker starts the hostile member's host, joined to the consortium's
// topics and connected to the victims.
func newAttacker(ctx context.Context, nt *Net, self *Org, victims []*Org) (*attacker, error) {
	key, err := keyfile.Load(datadir.Dir(self.Dir).Key())
	if err != nil {
		return nil, err
	}
	var allowed []peer.ID
	for _, o := range nt.Orgs {
		id, _ := peer.Decode(o.PeerID)
		allowed = append(allowed, id)
	}
	m, err := JoinAsMember(ctx, key, consortiumOf(nt), allowed)
	if err != nil {
		return nil, err
	}
	h := m.Host
	a := &attacker{nt: nt, self: self, victims: victims, key: key, logKey: key, h: h, ps: m.PubSub, topics: m.Topics}
	if self.OrgKey != "" {
		if a.logKey, err = keyfile.Load(datadir.Dir(self.Dir).OrgKey()); err != nil {
			h.Close()
			return nil, err
		}
	}
	if a.store, err = store.OpenEmbedded(self.Dir+"/attacker-store", nil); err != nil {
		h.Close()
		return nil, err
	}
	for _, v := range victims {
		if err := h.Connect(ctx, v.addrInfo()); err != nil {
			a.close()
			return nil, fmt.Errorf("connecting to %s: %w", v.Org, err)
		}
	}
	return a, nil
}

func consortiumOf(nt *Net) string {
	r, err := consortium.Load(nt.Roster)
	if err != nil {
		return ""
	}
	return r.Consortium
}

// close stops the attacks and the member's host; it may be called again.
func (a *attacker) close() {
	a.closeOnce.Do(func() {
		a.pause()
		if a.http != nil {
			a.http.Close()
		}
		a.h.Close()
		if a.store != nil {
			a.store.Close()
		}
	})
}

// start launches a round of every attack; it runs until pause or close.
// A round already running goes on.
func (a *attacker) start() {
	if a.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	a.attacking.Store(true)
	attacks := map[string]func(context.Context){
		"cosign":   a.bogusCosignatures, // 2
		"journal":  a.endlessJournal,    // 3
		"catch-up": a.catchUpFlood,      // 6
		"catalog":  a.catalogFlood,      // 7
		"fetch":    a.fetchAbuse,        // 9-12
	}
	for name, f := range attacks {
		if attackChosen(name) {
			a.wg.Go(func() { f(ctx) })
		}
	}
}

// pause ends the running round of attacks, and returns once they stopped.
func (a *attacker) pause() {
	if a.stop == nil {
		return
	}
	a.attacking.Store(false)
	a.stop()
	a.wg.Wait()
	a.stop = nil
}

// attackChosen says whether an attack runs: all do, unless
// CARAVAN_HOSTILE_ONLY=catalog,fetch (say) names some (to tell which attack
// costs what). The outsider's is "idle".
func attackChosen(name string) bool {
	only := os.Getenv("CARAVAN_HOSTILE_ONLY")
	return only == "" || slices.Contains(strings.Split(only, ","), name)
}

// bogusCosignatures (attack 2): every checkpoint note it hears, gossiped
// back with 40 signature lines of keys no one knows.
func (a *attacker) bogusCosignatures(ctx context.Context) {
	sub, err := a.topics["journal"].Subscribe()
	if err != nil {
		return
	}
	defer sub.Cancel()
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == a.h.ID() {
			continue
		}
		var b strings.Builder
		b.Write(m.Data)
		for i := range 40 {
			sig := make([]byte, 68)
			_, _ = rand.Read(sig)
			fmt.Fprintf(&b, "\u2014 bogus-%d %s\n", i, base64.StdEncoding.EncodeToString(sig))
		}
		if a.topics["journal"].Publish(ctx, []byte(b.String())) == nil {
			a.count("bogus cosignature notes", 1)
		}
	}
}

// endlessJournal (attack 3): its journal server answers a checkpoint with
// an endless body and a tile one byte a second, and it gossips a
// checkpoint of its log so that the victims try to mirror it.
func (a *attacker) endlessJournal(ctx context.Context) {
	a.serveOnce.Do(func() {
		a.http = &libp2phttp.Host{StreamHost: a.h}
		a.http.SetHTTPHandlerAtPath(witness.JournalProtocol, "/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !a.attacking.Load() { // between rounds, as a log that is gone
				http.NotFound(w, r)
				return
			}
			a.count("journal requests answered endlessly", 1)
			chunk := make([]byte, 64<<10)
			for r.Context().Err() == nil && a.attacking.Load() {
				n := len(chunk)
				if strings.Contains(r.URL.Path, "/tile/") {
					n = 1
				}
				if _, err := w.Write(chunk[:n]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				if n == 1 {
					time.Sleep(time.Second)
				}
			}
		}))
		go a.http.Serve()
	})
	origin := journal.Origin(consortiumOf(a.nt), a.self.Org)
	signer, err := journal.NewLogSigner(origin, a.logKey)
	if err != nil {
		return
	}
	for ctx.Err() == nil {
		size := 4 + a.checkpoints.Add(1) // a new one each time, across rounds
		cp, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", origin, size)}, signer)
		if err == nil && a.topics["journal"].Publish(ctx, cp) == nil {
			a.count("own checkpoints gossiped", 1)
		}
		sleepCtx(ctx, 2*time.Second)
	}
}

// catchUpFlood (attack 6): 20 catch-up streams at once to each victim,
// again and again, each sending a summary and reading nothing.
func (a *attacker) catchUpFlood(ctx context.Context) {
	summary, _ := json.Marshal(map[string]any{"summary": map[string]any{}})
	for ctx.Err() == nil {
		var wg sync.WaitGroup
		for _, v := range a.victims {
			for range 20 {
				wg.Go(func() {
					sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					defer cancel()
					str, err := a.h.NewStream(sctx, v.peerID(), catalog.CatalogProtocol)
					if err != nil {
						return
					}
					defer str.Reset()
					if p2p.WriteFrame(str, summary) == nil {
						a.count("catch-up streams opened", 1)
					}
					<-sctx.Done()
				})
			}
		}
		wg.Wait()
	}
}

// catalogFlood (attack 7): statements of 60 KiB, each newly signed, at
// floodEvery.
func (a *attacker) catalogFlood(ctx context.Context) {
	for ctx.Err() == nil {
		i := a.flooded.Add(1)
		m := &manifest.Manifest{Type: manifest.TypeManifest, Dataset: fmt.Sprintf("flood-%d", i), Version: 1,
			Schema:    manifest.SchemaRef{ID: "customs-declaration", Version: 1, CID: "bagaaiera5xekmnuzg4dwdbpu43niod6yqag2r7wqnin7542oke3zz7edepwq"},
			Publisher: a.self.Org, Created: time.Now().UTC().Truncate(time.Second), Records: 1,
			Tree: manifest.TreeHead{Size: 1, Root: make([]byte, 32)}, Labels: []string{}, Purposes: []string{},
			Description: strings.Repeat("x", 60<<10)}
		st, err := manifest.SignStatement(m, a.key)
		if err != nil {
			return
		}
		if a.topics["catalog"].Publish(ctx, st.Marshal()) == nil {
			a.count("60 KiB statements gossiped", 1)
		}
		sleepCtx(ctx, floodEvery)
	}
}

// floodEvery paces the catalog flood at 40 statements (2.4 MB) a second,
// over twice what each victim reads of a peer's gossip (p2p's
// GossipBytesPerSecond, 1 MiB/s: 17 such statements a second), so that
// the victims' throttle, not the flood, sets how much of it they see. The
// flood once signed a statement every 5 ms: the victims saw no more of it
// (about 17 a second each, in their gossip verdicts), and the signing took
// over a quarter of a core of this machine, which the gateways share with
// the attacker here, as they would not with a member on its own machine.
const floodEvery = 25 * time.Millisecond

// fetchAbuse (attacks 9-12) asks the first victim, in turn: 1 index and 200
// CIDs under a small-selection policy (9), a retracted dataset (10), a
// 17 KB purpose (11), and requests beyond its budget (12).
func (a *attacker) fetchAbuse(ctx context.Context) {
	v := a.victims[0]
	f := &fetch.Client{Host: a.h, Key: a.key, Org: a.self.Org, Store: a.store}
	var many []cid.Cid
	for i := range 200 {
		many = append(many, cids.OfJSON(fmt.Appendf(nil, `{"n":%d}`, i)))
	}
	for i := 0; ctx.Err() == nil; i++ {
		var err error
		switch i % 4 {
		case 0:
			_, err = f.Fetch(ctx, v.peerID(), a.dataset, fetch.Options{Manifest: a.datasetID, Purpose: "bench", Select: []uint64{0}, SelectCIDs: many})
			a.count("fetches: 1 index and 200 CIDs", 1)
		case 1:
			_, err = f.Fetch(ctx, v.peerID(), a.retracted, fetch.Options{Manifest: a.retID, Purpose: "bench"})
			a.count("fetches: a retracted dataset", 1)
		case 2:
			_, err = f.Fetch(ctx, v.peerID(), a.dataset, fetch.Options{Manifest: a.datasetID, Purpose: strings.Repeat("bench-", 3000)})
			a.count("fetches: a 17 KB purpose", 1)
		case 3:
			_, err = f.Fetch(ctx, v.peerID(), a.dataset, fetch.Options{Manifest: a.datasetID, Purpose: "bench", Select: []uint64{uint64(i)}})
			a.count("fetches: one record, over and over", 1)
		}
		if err != nil {
			a.count("fetches refused or failed", 1)
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// counted is what each attack did so far.
func (a *attacker) counted() map[string]int64 {
	out := map[string]int64{}
	a.counts.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// tcpAddr is the org's TCP listen address on loopback ("" if none).
func (o *Org) tcpAddr() string {
	for _, s := range o.Nodes[0].Addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil || p2p.IsQUIC(a) {
			continue
		}
		if na, err := manet.ToNetAddr(a); err == nil {
			return na.String()
		}
	}
	return ""
}

func (o *Org) peerID() peer.ID { id, _ := peer.Decode(o.PeerID); return id }

func (o *Org) addrInfo() peer.AddrInfo {
	var addrs []ma.Multiaddr
	for _, s := range o.Nodes[0].Addrs {
		if a, err := ma.NewMultiaddr(s); err == nil {
			addrs = append(addrs, a)
		}
	}
	return peer.AddrInfo{ID: o.peerID(), Addrs: addrs}
}

// RunHostileMember is the hostile scenario's member, run by the scenario
// as 'caravan devnet member' in a process of its own. It takes the last
// org of the consortium in dir as itself and every other org as a victim,
// connects to them, and writes "ready" to out. Then it obeys one command
// a line from in: "start" launches a round of every attack, "pause" ends
// it (and answers "paused" once the attacks stopped), "report" writes what
// the attacks did so far as one JSON object; at the end of in (or of ctx)
// it stops them and writes that object once more. target and retracted are
// the CIDs of the first victim's datasets that the fetch attacks ask for.
func RunHostileMember(ctx context.Context, dir, target, retracted string, in io.Reader, out io.Writer) error {
	nt, err := Open(dir)
	if err != nil {
		return err
	}
	if len(nt.Orgs) < 2 {
		return fmt.Errorf("%s: the hostile member needs a victim", dir)
	}
	self, victims := nt.Orgs[len(nt.Orgs)-1], nt.Orgs[:len(nt.Orgs)-1]
	cl, err := api.NewClient(victims[0].Dir)
	if err != nil {
		return err
	}
	a, err := newAttacker(ctx, nt, self, victims)
	if err != nil {
		return err
	}
	defer a.close()
	// The fetch attacks' targets: as any member, it has their signed
	// manifests from the catalog.
	for _, t := range []struct {
		ref string
		m   **manifest.Manifest
		id  *cid.Cid
	}{{target, &a.dataset, &a.datasetID}, {retracted, &a.retracted, &a.retID}} {
		item, err := cl.CatalogItem(ctx, t.ref)
		if err != nil {
			return fmt.Errorf("the fetch attacks' target %s: %w", t.ref, err)
		}
		st, err := manifest.DecodeStatement(item.Statement)
		if err != nil {
			return err
		}
		if *t.m, err = st.Manifest(); err != nil {
			return err
		}
		*t.id = st.CID()
	}
	enc := json.NewEncoder(out)
	fmt.Fprintln(out, "ready")
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			a.close()
			return enc.Encode(a.counted())
		case line, ok := <-lines:
			switch {
			case !ok:
				a.close()
				return enc.Encode(a.counted())
			case line == "start":
				a.start()
			case line == "pause":
				a.pause()
				fmt.Fprintln(out, "paused")
			case line == "report":
				if err := enc.Encode(a.counted()); err != nil {
					return err
				}
			}
		}
	}
}
