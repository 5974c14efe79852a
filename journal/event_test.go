package journal_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/journal"
)

func TestEventDecode(t *testing.T) {
	good, err := os.ReadFile("testdata/event-publish.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := journal.Decode(good)
	if err != nil || e.Type != journal.TypePublish || e.Version != 1 {
		t.Fatalf("%v %+v", err, e)
	}
	bad := map[string]string{
		"not canonical (space)":  strings.Replace(string(good), `"org":`, `"org": `, 1),
		"not canonical (order)":  `{"v":1,"type":"roster","org":"a","time":"2026-11-27T10:00:00Z","roster_version":1,"roster_digest":"ab"}`,
		"unknown field":          strings.Replace(string(good), `"org":`, `"name":"x","org":`, 1),
		"duplicate member":       strings.Replace(string(good), `"org":"customs-cn"`, `"org":"customs-cn","org":"customs-kz"`, 1),
		"unknown type":           strings.Replace(string(good), `"type":"publish"`, `"type":"gossip"`, 1),
		"missing required field": strings.Replace(string(good), `"manifest":"bagaaieraexample",`, ``, 1),
		"other version":          strings.Replace(string(good), `"v":1`, `"v":2`, 1),
	}
	for name, data := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := journal.Decode([]byte(data)); !errors.Is(err, journal.ErrBadEvent) {
				t.Errorf("accepted %s: %v", data, err)
			}
		})
	}
}

// TestEvidenceVector: the committed evidence file verifies against the fixed
// test keys, so a change in our format or in a library is seen.
func TestEvidenceVector(t *testing.T) {
	data, err := os.ReadFile("testdata/evidence.tlog-proof")
	if err != nil {
		t.Fatal(err)
	}
	a, b := fixedMember("customs-cn", 1), fixedMember("customs-kz", 2)
	r, err := journal.VerifyProof(data, trustOf(t, 1, a, b))
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != 1 || r.Size != 3 || r.Event.Version != 2 || len(r.Cosigs) != 1 || r.Cosigs[0].Org != "customs-kz" {
		t.Errorf("%+v", r)
	}
}

// No event is encoded that Decode would refuse: an entry beyond
// MaxEventSize could never be read back, and 'journal verify' would fail
// for ever.
func TestEncodeRefusesWhatDecodeWouldRefuse(t *testing.T) {
	e := &journal.Event{Type: journal.TypeDecision, Org: "customs-cn", Time: time.Now(), Requester: "customs-kz",
		Manifest: "bagaaiera", Bundle: "b", Request: "r", Purpose: strings.Repeat("p", journal.MaxEventSize)}
	if _, err := e.Encode(); !errors.Is(err, journal.ErrBadEvent) {
		t.Fatalf("an oversized event encoded: %v", err)
	}
	e.Purpose = "customs-clearance"
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := journal.Decode(data); err != nil {
		t.Fatal(err)
	}
}

// An entry's time is written as the journal spec says: UTC, truncated to
// milliseconds, with the fewest fraction digits; another spelling of the
// same instant is not canonical and is refused.
func TestEventTimeIsWrittenAsTheSpecSays(t *testing.T) {
	for ns, want := range map[int]string{0: `"time":"2026-11-27T10:00:07Z"`, 500_000_000: `"time":"2026-11-27T10:00:07.5Z"`,
		123_456_789: `"time":"2026-11-27T10:00:07.123Z"`} {
		e := event("customs-cn", 7)
		e.Time = e.Time.Add(time.Duration(ns)).In(time.FixedZone("", 5*3600))
		data, err := e.Encode()
		if err != nil || !strings.Contains(string(data), want) {
			t.Fatalf("%d ns: %v %s, want %s", ns, err, data, want)
		}
		for _, other := range []string{".500Z", "+00:00", ".5000Z"} {
			bad := strings.Replace(string(data), `07.5Z"`, `07`+other+`"`, 1)
			if ns == 500_000_000 {
				if _, err := journal.Decode([]byte(bad)); err == nil {
					t.Errorf("%s was taken", bad)
				}
			}
		}
	}
}
