package publish_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/internal/testkit"

	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/publish"
	"github.com/caravan-consortium/caravan/sharing/store"
)

type testGateway struct {
	dir     string
	store   *store.Embedded
	catalog *catalog.Catalog
	pub     *publish.Publisher
	sent    []*manifest.Statement
}

func newTestGateway(t *testing.T, dir string) *testGateway {
	t.Helper()
	st, err := store.OpenEmbedded(filepath.Join(dir, "store"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.Open(st)
	if err != nil {
		t.Fatal(err)
	}
	g := &testGateway{dir: dir, store: st, catalog: cat}
	g.pub = publish.New(publish.Config{Store: st, Catalog: cat, Key: testkit.Key(t), Org: "customs-cn",
		Now:      func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) },
		Announce: func(st *manifest.Statement) error { g.sent = append(g.sent, st); return nil }})
	return g
}

func (g *testGateway) stats(t *testing.T) store.Stats {
	t.Helper()
	st, err := g.store.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPublishVersionsAndRetraction(t *testing.T) {
	g := newTestGateway(t, t.TempDir())
	data := testkit.JSONL(t, "customs-declaration", 500, 3)
	req := publish.Request{Dataset: "khorgos-declarations", Schema: testkit.Schema(t, "customs-declaration"),
		Labels: []string{"customs", "2026", "customs"}, Purposes: []string{"customs-clearance"}}
	v1, err := g.pub.Publish(context.Background(), req, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if v1.Manifest.Version != 1 || v1.Manifest.Records != 500 || len(g.sent) != 1 {
		t.Fatalf("v1 %+v, announced %d", v1.Manifest, len(g.sent))
	}
	if got := v1.Manifest.Labels; len(got) != 2 || got[0] != "2026" {
		t.Fatalf("labels %v, want a sorted set", got)
	}
	// The stored records are the canonical records, in order, and their
	// CIDs give the manifest's root.
	recs, _, _ := build(t, data, publish.BuildOptions{})
	n := 0
	err = g.store.Records(v1.Statement.CID(), func(i uint64, canon []byte) error {
		if i != uint64(n) || !bytes.Equal(canon, recs[n].Canonical) {
			t.Fatalf("record %d differs", i)
		}
		n++
		return nil
	})
	if err != nil || n != 500 {
		t.Fatalf("read %d records: %v", n, err)
	}

	// The same file again: version 2, chained, same root.
	v2, err := g.pub.Publish(context.Background(), req, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if v2.Manifest.Version != 2 || v2.Manifest.Previous != v1.Statement.CID().String() || !bytes.Equal(v2.Manifest.Tree.Root, v1.Manifest.Tree.Root) {
		t.Fatalf("v2 %+v", v2.Manifest)
	}
	list := g.catalog.List(catalog.Filter{})
	if len(list) != 1 || list[0].CID != v2.Statement.CID().String() {
		t.Fatalf("catalog lists %+v, want only v2", list)
	}
	if all := g.catalog.List(catalog.Filter{All: true}); len(all) != 2 {
		t.Fatalf("catalog --all lists %d", len(all))
	}

	// A dry run signs a manifest but stores and announces nothing.
	before := g.stats(t)
	dry, err := g.pub.Publish(context.Background(), publish.Request{Dataset: "khorgos-declarations", Schema: req.Schema, DryRun: true}, bytes.NewReader(data))
	if err != nil || dry.Manifest.Version != 3 {
		t.Fatalf("dry run: %v %+v", err, dry)
	}
	if after := g.stats(t); after != before || len(g.sent) != 2 {
		t.Fatalf("dry run changed the store: %+v -> %+v", before, after)
	}

	if _, err := g.pub.Retract("khorgos-declarations", "superseded by the new registry"); err != nil {
		t.Fatal(err)
	}
	if list := g.catalog.List(catalog.Filter{}); len(list) != 0 {
		t.Fatalf("a retracted dataset is still listed: %+v", list)
	}

	// Everything survives a restart.
	g.store.Close()
	g2 := newTestGateway(t, g.dir)
	if g2.catalog.Len() != 3 || len(g2.catalog.List(catalog.Filter{All: true})) != 2 {
		t.Fatalf("after reopening: %d statements", g2.catalog.Len())
	}
}

// An invalid record fails the publish with its line and field, and nothing
// of it is stored.
func TestPublishInvalidStoresNothing(t *testing.T) {
	g := newTestGateway(t, t.TempDir())
	lines := strings.Split(string(testkit.JSONL(t, "shipment-event", 2000, 1)), "\n")
	lines[1500] = strings.Replace(lines[1500], `"mode":"`, `"mode":"x`, 1)
	_, err := g.pub.Publish(context.Background(), publish.Request{Dataset: "events", Schema: testkit.Schema(t, "shipment-event")},
		strings.NewReader(strings.Join(lines, "\n")))
	var re *publish.RecordError
	if !errors.As(err, &re) || re.Line != 1501 || re.Field != "mode" {
		t.Fatalf("err = %v, want line 1501 field mode", err)
	}
	if st := g.stats(t); st != (store.Stats{}) || g.catalog.Len() != 0 || len(g.sent) != 0 {
		t.Fatalf("a failed publish left %+v", st)
	}
	// A reader that breaks half-way leaves nothing either.
	_, err = g.pub.Publish(context.Background(), publish.Request{Dataset: "events", Schema: testkit.Schema(t, "shipment-event")},
		io.MultiReader(strings.NewReader(strings.Join(lines[:1000], "\n")+"\n"), errReader{}))
	if err == nil {
		t.Fatal("a broken reader did not fail the publish")
	}
	if st := g.stats(t); st != (store.Stats{}) {
		t.Fatalf("a broken publish left %+v", st)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// A publish in which no record is valid publishes nothing, rejects kept or
// not; an empty input neither.
func TestPublishNothingValidRefused(t *testing.T) {
	g := newTestGateway(t, t.TempDir())
	lines := strings.Split(strings.TrimSpace(string(testkit.JSONL(t, "shipment-event", 5, 1))), "\n")
	for i := range lines {
		lines[i] = strings.Replace(lines[i], `"mode":"`, `"mode":"x`, 1)
	}
	var rejected int
	_, err := g.pub.Publish(context.Background(), publish.Request{Dataset: "events", Schema: testkit.Schema(t, "shipment-event"),
		Reject: func([]byte, *publish.RecordError) error { rejected++; return nil }}, strings.NewReader(strings.Join(lines, "\n")))
	if !errors.Is(err, publish.ErrNothingValid) || rejected != 5 || !strings.Contains(err.Error(), "all 5 rejected") {
		t.Fatalf("all invalid: %v (%d rejected)", err, rejected)
	}
	if _, err := g.pub.Publish(context.Background(), publish.Request{Dataset: "events", Schema: testkit.Schema(t, "shipment-event")},
		strings.NewReader("\n\n")); !errors.Is(err, publish.ErrNothingValid) {
		t.Fatalf("empty input: %v", err)
	}
	if st := g.stats(t); st != (store.Stats{}) || g.catalog.Len() != 0 || len(g.sent) != 0 {
		t.Fatalf("a publish of nothing valid left %+v", st)
	}
}

// A rejected record is told every error it has, not the first alone.
func TestRecordErrorListsEveryError(t *testing.T) {
	s := testkit.Schema(t, "shipment-event")
	line := strings.TrimSpace(string(testkit.JSONL(t, "shipment-event", 1, 1)))
	line = strings.Replace(line, `"mode":"`, `"mode":"x`, 1)
	line = strings.Replace(line, `"country":"`, `"country":"xx`, 1)
	line = strings.Replace(line, `"carrier":"`, `"colour":"red","carrier":"`, 1)
	_, _, err := build(t, []byte(line), publish.BuildOptions{Schema: s})
	var re *publish.RecordError
	if !errors.As(err, &re) || len(re.Others) != 2 {
		t.Fatalf("%v: want 3 errors", err)
	}
	fields := []string{re.Field}
	for _, o := range re.Others {
		fields = append(fields, o.Field)
	}
	slices.Sort(fields)
	if strings.Join(fields, ",") != ",country,mode" {
		t.Fatalf("fields %v in %v", fields, err)
	}
}

// An integer policy attribute that Cedar's Long cannot hold is refused at
// publish, named; one written as 1e3 is an integer like any other.
func TestIntegerAttributeOutOfLongRange(t *testing.T) {
	s := testkit.Schema(t, "customs-declaration")
	line := strings.TrimSpace(string(testkit.JSONL(t, "customs-declaration", 1, 1)))
	i := strings.Index(line, `"total_value_usd":`)
	if i < 0 {
		t.Fatal("no total_value_usd")
	}
	j := i + len(`"total_value_usd":`)
	k := j + strings.IndexAny(line[j:], ",}")
	for value, ok := range map[string]bool{"1e19": false, "18446744073709551616": false, "9223372036854775807": true, "1e3": true} {
		rec := line[:j] + value + line[k:]
		_, _, err := build(t, []byte(rec), publish.BuildOptions{Schema: s})
		var re *publish.RecordError
		switch {
		case ok && err != nil:
			t.Errorf("%s: %v", value, err)
		case !ok && (!errors.As(err, &re) || re.Field != "total_value_usd" || !strings.Contains(re.Msg, "Cedar Long")):
			t.Errorf("%s: %v, want a refusal of total_value_usd", value, err)
		}
	}
}

// A publish whose journal entry failed left its statement stored, and it
// spread by catch-up with no journal entry. The entry is now written
// first: when it fails, nothing is stored or announced.
func TestPublishThatCannotBeJournaledStoresNothing(t *testing.T) {
	dir := t.TempDir()
	g := newTestGateway(t, dir)
	journalErr := errors.New("disk full")
	g.pub = publish.New(publish.Config{Store: g.store, Catalog: g.catalog, Key: testkit.Key(t), Org: "customs-cn",
		Journal:  func(*manifest.Statement) error { return journalErr },
		Announce: func(st *manifest.Statement) error { g.sent = append(g.sent, st); return nil }})
	req := publish.Request{Dataset: "d", Schema: testkit.Schema(t, "customs-declaration")}
	_, err := g.pub.Publish(context.Background(), req, bytes.NewReader(testkit.JSONL(t, "customs-declaration", 20, 1)))
	if !errors.Is(err, journalErr) {
		t.Fatalf("publish: %v", err)
	}
	if _, err := g.pub.Register(testkit.Schema(t, "shipment-event")); !errors.Is(err, journalErr) {
		t.Fatalf("register: %v", err)
	}
	if n := len(g.catalog.List(catalog.Filter{All: true})); n != 0 || len(g.catalog.Registrations()) != 0 || len(g.sent) != 0 {
		t.Fatalf("%d entries and %d registrations stored, %d announced, though nothing was journaled", n, len(g.catalog.Registrations()), len(g.sent))
	}
	if st := g.stats(t); st.Statements != 0 || st.Records != 0 {
		t.Fatalf("the store holds %+v", st)
	}
}
