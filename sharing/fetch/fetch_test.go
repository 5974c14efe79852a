package fetch_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/poll"
	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/fetch"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// requesterFetcher builds the low-level fetcher of gateway i of fn.
func requesterFetcher(t *testing.T, fn *testnet.FetchNet, i int) (*fetch.Client, store.Store) {
	t.Helper()
	st := fn.Nodes[i].Store()
	return &fetch.Client{Host: fn.Nodes[i].Host(), Key: fn.C.NodeKey(i), Org: fn.C.Net.Orgs[i].Org, Store: st}, st
}

func TestFetchReplayRefused(t *testing.T) {
	fn := testnet.NewFetchNet(t, 50)
	f, _ := requesterFetcher(t, fn, 1)
	id := fn.Manifest()
	req, err := manifest.SignStatement(fetch.Request{Type: fetch.TypeRequest, Manifest: fn.CID, Purpose: "customs-clearance",
		Org: "customs-kz", Node: fn.Nodes[1].PeerID().String(), Nonce: "0123456789abcdef0123", Time: time.Now().UTC()}, fn.C.NodeKey(1))
	if err != nil {
		t.Fatal(err)
	}
	provider := fn.Nodes[0].PeerID()
	if _, err := fetch.FetchSigned(context.Background(), f, provider, fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance"}, req.Marshal()); err != nil {
		t.Fatal(err)
	}
	_, err = fetch.FetchSigned(context.Background(), f, provider, fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance"}, req.Marshal())
	var re *fetch.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "replayed") {
		t.Fatalf("replay: %v", err)
	}
	// A request signed by one member but claiming another org is refused.
	forged, _ := manifest.SignStatement(fetch.Request{Type: fetch.TypeRequest, Manifest: fn.CID, Purpose: "customs-clearance",
		Org: "customs-cn", Node: fn.Nodes[1].PeerID().String(), Nonce: "fedcba9876543210fedc", Time: time.Now().UTC()}, fn.C.NodeKey(1))
	_, err = fetch.FetchSigned(context.Background(), f, provider, fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance"}, forged.Marshal())
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "not a member node") {
		t.Fatalf("forged org: %v", err)
	}
	// A stale request is refused.
	stale, _ := manifest.SignStatement(fetch.Request{Type: fetch.TypeRequest, Manifest: fn.CID, Purpose: "customs-clearance",
		Org: "customs-kz", Node: fn.Nodes[1].PeerID().String(), Nonce: "aaaabbbbccccddddeeee", Time: time.Now().Add(-time.Hour).UTC()}, fn.C.NodeKey(1))
	_, err = fetch.FetchSigned(context.Background(), f, provider, fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance"}, stale.Marshal())
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "window") {
		t.Fatalf("stale: %v", err)
	}
}

// flipper is a man in the middle: it flips one bit of the response once
// more than `after` bytes have gone by.
type flipper struct {
	s     network.Stream
	after int
	seen  int
}

func (f *flipper) Write(p []byte) (int, error) { return f.s.Write(p) }

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.s.Read(p)
	for i := 0; i < n; i++ {
		f.seen++
		if f.seen == f.after {
			p[i] ^= 0x20
		}
	}
	return n, err
}

func TestFetchTamperedRecordCaughtAndNothingKept(t *testing.T) {
	fn := testnet.NewFetchNet(t, 600)
	f, st := requesterFetcher(t, fn, 1)
	id := fn.Manifest()
	// Flip a byte well inside the record data of the second chunk.
	fetch.WrapStreams(f, func(s network.Stream) io.ReadWriter { return &flipper{s: s, after: 90_000} })
	_, err := f.Fetch(context.Background(), fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance"})
	fetch.WrapStreams(f, nil)
	var te *fetch.TamperError
	if !errors.As(err, &te) || !errors.Is(err, fetch.ErrTampered) {
		t.Fatalf("tampered stream: %v", err)
	}
	// The error shows both roots in hex, to compare with the manifest's.
	if !regexp.MustCompile(`give root [0-9a-f]{64}, the manifest's is ` + hex.EncodeToString(fn.M.Tree.Root)).MatchString(err.Error()) {
		t.Fatalf("the tamper error does not show the roots: %v", err)
	}
	kept := 0
	_ = st.Fetched(id, "customs-clearance", func(uint64, []byte) error { kept++; return nil })
	if kept != 0 {
		t.Fatalf("%d records of the tampered response were kept", kept)
	}
	// The same fetch, untouched, succeeds.
	if _, err := f.Fetch(context.Background(), fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance"}); err != nil {
		t.Fatal(err)
	}
}

// cutter ends the stream after n bytes, as a dropped connection would.
type cutter struct {
	s    network.Stream
	left int
}

func (c *cutter) Write(p []byte) (int, error) { return c.s.Write(p) }

func (c *cutter) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("connection lost")
	}
	n, err := c.s.Read(p[:min(len(p), c.left)])
	c.left -= n
	return n, err
}

func TestFetchResumesAfterInterruption(t *testing.T) {
	fn := testnet.NewFetchNet(t, 1500)
	f, st := requesterFetcher(t, fn, 1)
	id := fn.Manifest()
	fetch.WrapStreams(f, func(s network.Stream) io.ReadWriter { return &cutter{s: s, left: 200_000} })
	res, err := f.Fetch(context.Background(), fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance"})
	fetch.WrapStreams(f, nil)
	if err == nil || res == nil || res.Next == 0 || res.Received == 0 {
		t.Fatalf("interrupted fetch: %v %+v", err, res)
	}
	first := res.Received
	res2, err := f.Fetch(context.Background(), fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance", From: res.Next})
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	_ = st.Fetched(id, "customs-clearance", func(uint64, []byte) error { kept++; return nil })
	want := len(fn.Expected(t, fn.Org(1), "customs-clearance"))
	if kept != want || int(first+res2.Received) != want {
		t.Fatalf("after resume: %d kept (%d + %d), want %d", kept, first, res2.Received, want)
	}
	t.Logf("interrupted after %d records (next %d); resumed for %d more; %d in all", first, res.Next, res2.Received, kept)
}

// repeater is a man in the middle that passes every frame on, and the
// first chunk (the second frame) twice: each copy proves itself, but a
// record must not come twice.
type repeater struct {
	s   network.Stream
	r   *bufio.Reader
	out bytes.Buffer
	n   int
}

func (d *repeater) Write(p []byte) (int, error) { return d.s.Write(p) }

func (d *repeater) Read(p []byte) (int, error) {
	for d.out.Len() == 0 {
		f, err := p2p.ReadFrame(d.r, 64<<20)
		if err != nil {
			return 0, err
		}
		d.n++
		for range 1 + btoi(d.n == 2) {
			_ = p2p.WriteFrame(&d.out, f)
		}
	}
	return d.out.Read(p)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A chunk that repeats records is a protocol error; what was verified
// before it is kept, and the fetch resumes after it.
func TestFetchRefusesRepeatedChunk(t *testing.T) {
	fn := testnet.NewFetchNet(t, 1500)
	f, st := requesterFetcher(t, fn, 1)
	id := fn.Manifest()
	fetch.WrapStreams(f, func(s network.Stream) io.ReadWriter { return &repeater{s: s, r: bufio.NewReader(s)} })
	res, err := f.Fetch(context.Background(), fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance"})
	fetch.WrapStreams(f, nil)
	if !errors.Is(err, fetch.ErrFrame) || res == nil || res.Received == 0 {
		t.Fatalf("repeated chunk: %v %+v", err, res)
	}
	kept := 0
	_ = st.Fetched(id, "customs-clearance", func(uint64, []byte) error { kept++; return nil })
	if uint64(kept) != res.Received {
		t.Fatalf("%d records kept, %d received before the repeat", kept, res.Received)
	}
	res2, err := f.Fetch(context.Background(), fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance", From: res.Next})
	if err != nil {
		t.Fatal(err)
	}
	want := len(fn.Expected(t, fn.Org(1), "customs-clearance"))
	if int(res.Received+res2.Received) != want {
		t.Fatalf("%d + %d records, want %d", res.Received, res2.Received, want)
	}
}

// A request that names something that is not a CID in its selection is
// refused, and the refusal names the entry.
func TestFetchRefusesBadSelection(t *testing.T) {
	fn := testnet.NewFetchNet(t, 300)
	byCID := []string{fn.Expected(t, fn.Org(1), "customs-clearance")[0]}
	f, _ := requesterFetcher(t, fn, 1)
	bad, _ := manifest.SignStatement(fetch.Request{Type: fetch.TypeRequest, Manifest: fn.CID, Purpose: "customs-clearance",
		Org: "customs-kz", Node: fn.Nodes[1].PeerID().String(), Nonce: "selectselectselect01", Time: time.Now().UTC(),
		SelectCIDs: []string{byCID[0], "not-a-cid"}}, fn.C.NodeKey(1))
	_, err := fetch.FetchSigned(context.Background(), f, fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: fn.Manifest(), Purpose: "customs-clearance"}, bad.Marshal())
	var re *fetch.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "select_cids[1]") {
		t.Fatalf("a bad CID in the selection: %v", err)
	}
}

// A requester keeps only records that its registry's schema accepts: the
// owner signed them, but a response whose records a stricter schema
// refuses is refused as a tampered one is, and nothing of it is kept.
func TestFetchValidatesRecordsAgainstSchema(t *testing.T) {
	fn := testnet.NewFetchNet(t, 300)
	f, st := requesterFetcher(t, fn, 1)
	id := fn.Manifest()
	strict, err := schemas.Compile([]byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","required":["phyto_certificate_no"]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Fetch(context.Background(), fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance", Schema: strict})
	var te *fetch.TamperError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "phyto_certificate_no") {
		t.Fatalf("records a stricter schema refuses: %v", err)
	}
	kept := 0
	_ = st.Fetched(id, "customs-clearance", func(uint64, []byte) error { kept++; return nil })
	if kept != 0 {
		t.Fatalf("%d records of the refused response were kept", kept)
	}
	// Under the dataset's own schema, every permitted record is kept.
	own, ok := fn.Nodes[1].Registry().ForManifest(fn.M.Schema.ID, cid.MustParse(fn.M.Schema.CID))
	if !ok {
		t.Fatal("the dataset's schema is not in the requester's registry")
	}
	res, err := f.Fetch(context.Background(), fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: id, Purpose: "customs-clearance", Schema: own})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(fn.Expected(t, fn.Org(1), "customs-clearance")); int(res.Received) != want {
		t.Fatalf("%d records, want %d", res.Received, want)
	}
}

// The attack: a member asks with a 17 KB purpose. Before, the provider
// journaled it in its decision entry, and above 16 KiB that entry could
// never be decoded again, so 'journal verify' failed for ever. Now the
// request is refused before anything is journaled.
func TestOversizedPurposeCannotBreakTheJournal(t *testing.T) {
	fn := testnet.NewFetchNet(t, 20)
	f, _ := requesterFetcher(t, fn, 1)
	purpose := strings.Repeat("customs-clearance-", 1000)
	req, err := manifest.SignStatement(fetch.Request{Type: fetch.TypeRequest, Manifest: fn.CID, Purpose: purpose,
		Org: "customs-kz", Node: fn.Nodes[1].PeerID().String(), Nonce: "purposepurposepurpose", Time: time.Now().UTC()}, fn.C.NodeKey(1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = fetch.FetchSigned(context.Background(), f, fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: fn.Manifest(), Purpose: purpose}, req.Marshal())
	var re *fetch.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "purpose") {
		t.Fatalf("a 17 KB purpose: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // what would have been journaled is integrated by now
	if i, err := datadir.FindEntry(context.Background(), fn.C.Dir(0), "decision entry", func(e []byte) bool {
		ev, err := journal.Decode(e)
		return err != nil || ev.Type == journal.TypeDecision
	}); err == nil {
		t.Fatalf("the refused request was journaled (or an entry no longer decodes), entry %d", i)
	}
	for _, bad := range []string{"Customs", "customs clearance", "-x", strings.Repeat("a", 64)} {
		if manifest.ValidPurpose(bad) {
			t.Errorf("purpose %q accepted", bad)
		}
	}
}

// The attack: the owner allows small selections only (at most 5 records a
// request), and a member asks for 1 index plus 200 CIDs. Before, the
// policy saw selected = 1 (the indices alone) and 201 records were
// released. The count is now of the records actually selected, indices
// and CIDs together, each record once.
func TestSmallSelectionPolicyCountsCIDsToo(t *testing.T) {
	fn := testnet.NewFetchNet(t, 1500)
	permitted := fn.Expected(t, fn.Org(1), "customs-clearance")
	if len(permitted) < 201 {
		t.Fatalf("only %d records permitted; the test needs 201", len(permitted))
	}
	bundle := fn.Nodes[0].Policies().CID()
	small := `@id("small-selections-only")
forbid (principal, action == Action::"fetch", resource)
when { context.request.selected == 0 || context.request.selected > 5 };
`
	if err := os.WriteFile(filepath.Join(fn.C.Dir(0), "policies", "zz-small.cedar"), []byte(small), 0o600); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, func() bool { return fn.Nodes[0].Policies().CID() != bundle }, "the small-selections policy in force")
	f, _ := requesterFetcher(t, fn, 1)
	var byCID []cid.Cid
	for _, c := range permitted[1:201] {
		byCID = append(byCID, cid.MustParse(c))
	}
	index := -1
	for i, rec := range fn.Recs {
		if cids.OfJSON(rec).String() == permitted[0] {
			index = i
		}
	}
	res, err := f.Fetch(context.Background(), fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: fn.Manifest(), Purpose: "customs-clearance",
		Select: []uint64{uint64(index)}, SelectCIDs: byCID})
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != 0 {
		t.Fatalf("a policy allowing 5 records a request released %d to 1 index plus 200 CIDs", res.Received)
	}
	// The same index five times and four CIDs: five records, released.
	res, err = f.Fetch(context.Background(), fn.Nodes[0].PeerID(), fn.M, fetch.Options{Manifest: fn.Manifest(), Purpose: "customs-clearance",
		Select: []uint64{uint64(index), uint64(index), uint64(index), uint64(index), uint64(index)}, SelectCIDs: byCID[:4]})
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != 5 {
		t.Fatalf("5 distinct records selected, %d released", res.Received)
	}
}
