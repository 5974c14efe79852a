package node_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/node"
	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/schemas/sample"
	"github.com/caravan-consortium/caravan/sharing"
)

type fetchNet struct {
	c     *cluster
	nodes []*node.Node
	cid   string
	m     *sharing.Manifest
	recs  [][]byte // canonical records, in order
}

// newFetchNet starts 3 gateways; customs-cn publishes n declarations.
func newFetchNet(t *testing.T, n int) *fetchNet {
	t.Helper()
	c := newCluster(t, 3)
	fn := &fetchNet{c: c}
	for i := range 3 {
		fn.nodes = append(fn.nodes, c.start(i))
	}
	var body bytes.Buffer
	if err := sample.Write(&body, "customs-declaration", n, 3, nil); err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(body.Bytes()), []byte("\n")) {
		canon, err := jcs.Canonicalize(line)
		if err != nil {
			t.Fatal(err)
		}
		fn.recs = append(fn.recs, canon)
	}
	cl, err := node.NewClient(c.dir(0))
	if err != nil {
		t.Fatal(err)
	}
	res, err := cl.Publish(context.Background(), node.PublishOptions{Dataset: "declarations", Schema: "customs-declaration",
		Format: "jsonl", Purposes: []string{"customs-clearance", "transit-planning"}}, &body, nil)
	if err != nil {
		t.Fatal(err)
	}
	fn.cid, fn.m = res.CID, res.Manifest
	for i := 1; i < 3; i++ {
		waitFor(t, func() bool { _, ok := fn.nodes[i].Sharing().Catalog.Statement(cid.MustParse(fn.cid)); return ok }, "the manifest listed")
		waitFor(t, func() bool { return connectedTo(fn.nodes[i], "customs-cn") }, "connected")
	}
	return fn
}

// expected decides the records directly with the demo bundle.
func (fn *fetchNet) expected(t *testing.T, org policy.Org, purpose string) []string {
	t.Helper()
	b := fn.nodes[0].Policies()
	reg, _ := schemas.Default()
	s, _ := reg.Lookup("customs-declaration")
	ex, err := policy.NewExtractor(s.PolicyAttributes)
	if err != nil {
		t.Fatal(err)
	}
	owner := node.OrgEntity(fn.nodes[0].Roster().Member("customs-cn"))
	sess := b.Fetch(policy.Request{Org: org, Dataset: policy.Dataset{Owner: "customs-cn", Name: "declarations",
		Schema: "customs-declaration", Labels: []string{}, Purposes: fn.m.Purposes}, Owner: &owner, Purpose: purpose, Time: time.Now()}, nil)
	var out []string
	var parser jcs.Parser
	for _, data := range fn.recs {
		v, err := parser.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ex.RecordValue(cids.OfJSON(data).String(), &v)
		if err != nil {
			t.Fatal(err)
		}
		if sess.Decide([]policy.Record{r}, nil)[0].Permit {
			out = append(out, r.ID)
		}
	}
	sort.Strings(out)
	return out
}

func received(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) > 0 {
			out = append(out, cids.OfJSON(line).String())
		}
	}
	sort.Strings(out)
	return out
}

func TestFetchDeliversExactlyThePermittedRecords(t *testing.T) {
	fn := newFetchNet(t, 600)
	for i, tc := range []struct {
		purpose string
	}{{"customs-clearance"}, {"transit-planning"}} {
		requester := fn.nodes[i+1]
		org := node.OrgEntity(requester.Roster().Member(fn.c.net.Orgs[i+1].Org))
		out := t.TempDir() + "/out.jsonl"
		sum, err := requester.Fetch(context.Background(), node.FetchOptions{Manifest: fn.cid, Purpose: tc.purpose, Out: out})
		if err != nil {
			t.Fatal(err)
		}
		want := fn.expected(t, org, tc.purpose)
		got := received(t, out)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("%s/%s: received %d records, the policy permits %d", org.ID, tc.purpose, len(got), len(want))
		}
		if sum.Permitted != uint64(len(want)) || sum.Withheld != uint64(600-len(want)) || len(want) == 0 {
			t.Errorf("%s: summary %+v, want %d permitted", org.ID, sum, len(want))
		}
		t.Logf("%s for %s: %d of 600 permitted, exactly the policy's", org.ID, tc.purpose, len(want))
	}
	// The same org fetching for another purpose, then a selection: each
	// output holds what that fetch was permitted, not everything the
	// gateway keeps of the dataset.
	requester := fn.nodes[1]
	org := node.OrgEntity(requester.Roster().Member(fn.c.net.Orgs[1].Org))
	out := t.TempDir() + "/other.jsonl"
	if _, err := requester.Fetch(context.Background(), node.FetchOptions{Manifest: fn.cid, Purpose: "transit-planning", Out: out}); err != nil {
		t.Fatal(err)
	}
	want, kept := fn.expected(t, org, "transit-planning"), fn.expected(t, org, "customs-clearance")
	if got := received(t, out); strings.Join(got, ",") != strings.Join(want, ",") || len(want) == len(kept) {
		t.Fatalf("%s/transit-planning after customs-clearance: wrote %d records, permitted %d (%d for customs-clearance)", org.ID, len(got), len(want), len(kept))
	}
	if _, err := requester.Fetch(context.Background(), node.FetchOptions{Manifest: fn.cid, Purpose: "customs-clearance", Select: []uint64{0, 1, 2, 3, 4, 5}, Out: out}); err != nil {
		t.Fatal(err)
	}
	var sel []string
	for _, c := range kept {
		for i := range 6 {
			if cids.OfJSON(fn.recs[i]).String() == c {
				sel = append(sel, c)
			}
		}
	}
	sort.Strings(sel)
	if got := received(t, out); strings.Join(got, ",") != strings.Join(sel, ",") {
		t.Fatalf("a selection of 6 after the whole dataset: wrote %d records, want %d", len(got), len(sel))
	}
	// A purpose the dataset does not offer: everything denied, and said so.
	sum, err := fn.nodes[1].Fetch(context.Background(), node.FetchOptions{Manifest: fn.cid, Purpose: "marketing"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Permitted != 0 || sum.Withheld != 600 || !sum.NotOffered {
		t.Errorf("purpose not offered: %+v", sum)
	}
}

// A selection by indices and CIDs gets exactly the permitted records among
// those named; a selection naming something that is not a CID is refused.
func TestFetchSelectsByIndexAndCID(t *testing.T) {
	fn := newFetchNet(t, 300)
	requester := fn.nodes[1]
	permitted := map[string]bool{}
	for _, id := range fn.expected(t, node.OrgEntity(requester.Roster().Member("customs-kz")), "customs-clearance") {
		permitted[id] = true
	}
	var byCID []string
	named := map[string]bool{}
	for i := 0; i < 300; i += 7 {
		c := cids.OfJSON(fn.recs[i]).String()
		byCID = append(byCID, c)
		named[c] = true
	}
	byIndex := []uint64{1, 2, 3, 250}
	for _, i := range byIndex {
		named[cids.OfJSON(fn.recs[i]).String()] = true
	}
	var want []string
	for c := range named {
		if permitted[c] {
			want = append(want, c)
		}
	}
	sort.Strings(want)
	out := t.TempDir() + "/out.jsonl"
	sum, err := requester.Fetch(context.Background(), node.FetchOptions{Manifest: fn.cid, Purpose: "customs-clearance",
		Select: byIndex, SelectCIDs: byCID, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	got := received(t, out)
	if strings.Join(got, ",") != strings.Join(want, ",") || len(want) == 0 || len(want) == len(named) {
		t.Fatalf("received %d records, want the %d permitted of the %d named", len(got), len(want), len(named))
	}
	if sum.Permitted+sum.Withheld != uint64(len(named)) {
		t.Errorf("summary %+v: %d named", sum, len(named))
	}

	f, _ := fn.requesterFetcher(t, 1)
	bad, _ := sharing.SignStatement(sharing.FetchRequest{Type: sharing.TypeFetchRequest, Manifest: fn.cid, Purpose: "customs-clearance",
		Org: "customs-kz", Node: requester.PeerID().String(), Nonce: "selectselectselect01", Time: time.Now().UTC(),
		SelectCIDs: []string{byCID[0], "not-a-cid"}}, mustKey(t, fn.c.dir(1)))
	_, err = f.FetchSigned(context.Background(), fn.nodes[0].PeerID(), fn.m, sharing.FetchOptions{Manifest: cid.MustParse(fn.cid), Purpose: "customs-clearance"}, bad.Marshal())
	var re *sharing.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "select_cids[1]") {
		t.Fatalf("a bad CID in the selection: %v", err)
	}
}

// requesterFetcher builds the low-level fetcher of gateway i.
func (fn *fetchNet) requesterFetcher(t *testing.T, i int) (*sharing.Fetcher, *sharing.Store) {
	t.Helper()
	key, err := node.LoadNodeKey(fn.c.dir(i))
	if err != nil {
		t.Fatal(err)
	}
	st := fn.nodes[i].Store()
	return &sharing.Fetcher{Host: fn.nodes[i].Host(), Key: key, Org: fn.c.net.Orgs[i].Org, Store: st}, st
}

func TestFetchReplayRefused(t *testing.T) {
	fn := newFetchNet(t, 50)
	f, _ := fn.requesterFetcher(t, 1)
	id := cid.MustParse(fn.cid)
	req, err := sharing.SignStatement(sharing.FetchRequest{Type: sharing.TypeFetchRequest, Manifest: fn.cid, Purpose: "customs-clearance",
		Org: "customs-kz", Node: fn.nodes[1].PeerID().String(), Nonce: "0123456789abcdef0123", Time: time.Now().UTC()}, mustKey(t, fn.c.dir(1)))
	if err != nil {
		t.Fatal(err)
	}
	provider := fn.nodes[0].PeerID()
	if _, err := f.FetchSigned(context.Background(), provider, fn.m, sharing.FetchOptions{Manifest: id, Purpose: "customs-clearance"}, req.Marshal()); err != nil {
		t.Fatal(err)
	}
	_, err = f.FetchSigned(context.Background(), provider, fn.m, sharing.FetchOptions{Manifest: id, Purpose: "customs-clearance"}, req.Marshal())
	var re *sharing.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "replayed") {
		t.Fatalf("replay: %v", err)
	}
	// A request signed by one member but claiming another org is refused.
	forged, _ := sharing.SignStatement(sharing.FetchRequest{Type: sharing.TypeFetchRequest, Manifest: fn.cid, Purpose: "customs-clearance",
		Org: "customs-cn", Node: fn.nodes[1].PeerID().String(), Nonce: "fedcba9876543210fedc", Time: time.Now().UTC()}, mustKey(t, fn.c.dir(1)))
	_, err = f.FetchSigned(context.Background(), provider, fn.m, sharing.FetchOptions{Manifest: id, Purpose: "customs-clearance"}, forged.Marshal())
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "not a member node") {
		t.Fatalf("forged org: %v", err)
	}
	// A stale request is refused.
	stale, _ := sharing.SignStatement(sharing.FetchRequest{Type: sharing.TypeFetchRequest, Manifest: fn.cid, Purpose: "customs-clearance",
		Org: "customs-kz", Node: fn.nodes[1].PeerID().String(), Nonce: "aaaabbbbccccddddeeee", Time: time.Now().Add(-time.Hour).UTC()}, mustKey(t, fn.c.dir(1)))
	_, err = f.FetchSigned(context.Background(), provider, fn.m, sharing.FetchOptions{Manifest: id, Purpose: "customs-clearance"}, stale.Marshal())
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
	fn := newFetchNet(t, 600)
	f, st := fn.requesterFetcher(t, 1)
	id := cid.MustParse(fn.cid)
	// Flip a byte well inside the record data of the second chunk.
	_, err := f.Fetch(context.Background(), fn.nodes[0].PeerID(), fn.m, sharing.FetchOptions{Manifest: id, Purpose: "customs-clearance",
		Stream: func(s network.Stream) io.ReadWriter { return &flipper{s: s, after: 90_000} }})
	var te *sharing.TamperError
	if !errors.As(err, &te) || !errors.Is(err, sharing.ErrTampered) {
		t.Fatalf("tampered stream: %v", err)
	}
	kept := 0
	_ = st.Fetched(id, "customs-clearance", func(uint64, []byte) error { kept++; return nil })
	if kept != 0 {
		t.Fatalf("%d records of the tampered response were kept", kept)
	}
	// The same fetch, untouched, succeeds.
	if _, err := f.Fetch(context.Background(), fn.nodes[0].PeerID(), fn.m, sharing.FetchOptions{Manifest: id, Purpose: "customs-clearance"}); err != nil {
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
	fn := newFetchNet(t, 1500)
	f, st := fn.requesterFetcher(t, 1)
	id := cid.MustParse(fn.cid)
	res, err := f.Fetch(context.Background(), fn.nodes[0].PeerID(), fn.m, sharing.FetchOptions{Manifest: id, Purpose: "customs-clearance",
		Stream: func(s network.Stream) io.ReadWriter { return &cutter{s: s, left: 200_000} }})
	if err == nil || res == nil || res.Next == 0 || res.Received == 0 {
		t.Fatalf("interrupted fetch: %v %+v", err, res)
	}
	first := res.Received
	res2, err := f.Fetch(context.Background(), fn.nodes[0].PeerID(), fn.m, sharing.FetchOptions{Manifest: id, Purpose: "customs-clearance", From: res.Next})
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	_ = st.Fetched(id, "customs-clearance", func(uint64, []byte) error { kept++; return nil })
	want := len(fn.expected(t, node.OrgEntity(fn.nodes[1].Roster().Member("customs-kz")), "customs-clearance"))
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
	fn := newFetchNet(t, 1500)
	f, st := fn.requesterFetcher(t, 1)
	id := cid.MustParse(fn.cid)
	res, err := f.Fetch(context.Background(), fn.nodes[0].PeerID(), fn.m, sharing.FetchOptions{Manifest: id, Purpose: "customs-clearance",
		Stream: func(s network.Stream) io.ReadWriter { return &repeater{s: s, r: bufio.NewReader(s)} }})
	if !errors.Is(err, sharing.ErrFrame) || res == nil || res.Received == 0 {
		t.Fatalf("repeated chunk: %v %+v", err, res)
	}
	kept := 0
	_ = st.Fetched(id, "customs-clearance", func(uint64, []byte) error { kept++; return nil })
	if uint64(kept) != res.Received {
		t.Fatalf("%d records kept, %d received before the repeat", kept, res.Received)
	}
	res2, err := f.Fetch(context.Background(), fn.nodes[0].PeerID(), fn.m, sharing.FetchOptions{Manifest: id, Purpose: "customs-clearance", From: res.Next})
	if err != nil {
		t.Fatal(err)
	}
	want := len(fn.expected(t, node.OrgEntity(fn.nodes[1].Roster().Member("customs-kz")), "customs-clearance"))
	if int(res.Received+res2.Received) != want {
		t.Fatalf("%d + %d records, want %d", res.Received, res2.Received, want)
	}
}

func mustKey(t *testing.T, dir string) crypto.PrivKey {
	t.Helper()
	k, err := node.LoadNodeKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestFetchResumeAcrossProviderRestart: the provider's gateway stops in the
// middle of a fetch; the requester keeps what it verified and records where
// to resume; after the provider restarts, the same fetch continues from
// there and ends with exactly the permitted set.
func TestFetchResumeAcrossProviderRestart(t *testing.T) {
	fn := newFetchNet(t, 6000)
	requester := fn.nodes[1]
	stopped := make(chan struct{})
	var once sync.Once
	_, err := requester.Fetch(context.Background(), node.FetchOptions{Manifest: fn.cid, Purpose: "customs-clearance",
		Progress: func(received, _ uint64) {
			if received > 0 {
				once.Do(func() {
					fn.nodes[0].Close() // the provider goes away mid-stream
					close(stopped)
				})
			}
		}})
	select {
	case <-stopped:
	default:
		t.Fatalf("the fetch ended before the provider stopped: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "resumes at record") {
		t.Fatalf("interrupted fetch: %v", err)
	}
	fn.nodes[0] = fn.c.start(0)
	waitFor(t, func() bool { return connectedTo(requester, "customs-cn") }, "the provider back")
	out := t.TempDir() + "/all.jsonl"
	sum, err := requester.Fetch(context.Background(), node.FetchOptions{Manifest: fn.cid, Purpose: "customs-clearance", Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Resumed == 0 {
		t.Errorf("the second fetch did not resume: %+v", sum)
	}
	want := fn.expected(t, node.OrgEntity(requester.Roster().Member("customs-kz")), "customs-clearance")
	if got := received(t, out); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after the resume %d records, want exactly the %d permitted", len(got), len(want))
	}
	t.Logf("resumed at record %d; %d records in all, as the policy permits", sum.Resumed, len(want))
}
