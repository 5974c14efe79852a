package policy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/policy"
)

// logisticsTransit is a record the demo bundle releases to logistics-az for
// transit planning, until the daily limit of 500.
var logisticsTransit = struct{ Attrs any }{Attrs: mustAttrs(map[string]any{
	"declaration_type": "transit", "classification": "public", "origin_country": "CN", "destination_country": "TR", "total_value_usd": 100,
})}

func mustAttrs(m map[string]any) map[string]any { return m }

// transitRecords are n records like logisticsTransit.
func transitRecords(t *testing.T, n int) []policy.Record {
	t.Helper()
	ex, err := policy.NewExtractor([]string{"declaration_type", "classification", "origin_country", "destination_country", "total_value_usd"})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := ex.Extract(logisticsTransit.Attrs.(map[string]any))
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]policy.Record, n)
	for i := range recs {
		recs[i] = policy.Record{ID: "r", Attrs: attrs}
	}
	return recs
}

func TestDailyVolumeLimitSurvivesRestart(t *testing.T) {
	b := loadDemo(t)
	path := filepath.Join(t.TempDir(), "volume.json")
	recs := transitRecords(t, 300)
	req := policy.Request{Org: logisticsAZ, Dataset: declarations, Purpose: "transit-planning", Time: demoTime}

	// First "process": 300 records, all released.
	l, err := policy.OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	s := b.Fetch(req, l)
	s.Decide(recs, nil)
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Counts(); p != 300 {
		t.Fatalf("permitted %d of 300", p)
	}

	// A restart: a new ledger from the file. 300 more: 200 fit under 500.
	l2, err := policy.OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := l2.Released("2026-11-27", "logistics-az"); got != 300 {
		t.Fatalf("after restart released_today = %d, want 300", got)
	}
	s2 := b.Fetch(req, l2)
	ds := s2.Decide(recs, nil)
	if err := s2.Commit(); err != nil {
		t.Fatal(err)
	}
	p, d := s2.Counts()
	if p != 200 || d != 100 {
		t.Fatalf("second session: permitted %d, denied %d; want 200 and 100", p, d)
	}
	if last := ds[len(ds)-1]; last.Permit || strings.Join(last.Policies, ",") != "logistics-daily-volume" {
		t.Errorf("last decision %+v, want a deny by logistics-daily-volume", last)
	}
	// Another org's count is its own; the next day starts from zero.
	if got, _ := l2.Released("2026-11-27", "customs-kz"); got != 0 {
		t.Errorf("customs-kz released %d", got)
	}
	next := req
	next.Time = demoTime.AddDate(0, 0, 1)
	s3 := b.Fetch(next, l2)
	s3.Decide(recs[:10], nil)
	if p, _ := s3.Counts(); p != 10 {
		t.Errorf("next day: permitted %d of 10", p)
	}
}

func TestLedgerRejectsCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "volume.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"released":{"yesterday":{}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := policy.OpenLedger(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v does not name the file", err)
	}
}

// countingVolume is an in-memory Volume that counts its updates.
type countingVolume struct {
	released int64
	updates  int
}

func (v *countingVolume) Released(day, org string) (int64, error) { return v.released, nil }
func (v *countingVolume) Commit() error                           { return nil }
func (v *countingVolume) Update(day, org string, fn func(int64) int64) error {
	v.updates++
	v.released = fn(v.released)
	return nil
}

// TestVolumeCountedOnceWhenTheBundleIgnoresIt: a bundle that never reads
// released_today decides without the ledger and counts its permits once,
// at Commit (before any record is released); one that reads it counts
// each chunk under the ledger, as a fetch on another node must see.
func TestVolumeCountedOnceWhenTheBundleIgnoresIt(t *testing.T) {
	recs := transitRecords(t, 100)
	req := policy.Request{Org: logisticsAZ, Dataset: declarations, Purpose: "transit-planning", Time: demoTime}
	uncapped, err := policy.Parse(map[string][]byte{"a.cedar": []byte(`@id("transit")
permit (principal in Group::"logistics-operators", action == Action::"fetch", resource)
when { context.purpose == "transit-planning" };
`)}, demoVocabulary)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name             string
		b                *policy.Bundle
		updatesBeforeEnd int
	}{{"ignores released_today", uncapped, 0}, {"reads released_today", loadDemo(t), 3}} {
		t.Run(c.name, func(t *testing.T) {
			v := &countingVolume{released: 7}
			s := c.b.Fetch(req, v)
			for range 3 {
				s.Decide(recs, nil)
			}
			if v.updates != c.updatesBeforeEnd {
				t.Errorf("%d ledger updates while deciding, want %d", v.updates, c.updatesBeforeEnd)
			}
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			if p, _ := s.Counts(); p != 300 {
				t.Fatalf("permitted %d of 300", p)
			}
			if v.released != 307 || v.updates != max(c.updatesBeforeEnd, 1) {
				t.Errorf("after Commit: released %d in %d updates, want 307 in %d", v.released, v.updates, max(c.updatesBeforeEnd, 1))
			}
		})
	}
}
