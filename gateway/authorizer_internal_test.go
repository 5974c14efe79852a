package gateway

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/configs"
	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/fetch"
)

// The attack: a record whose integer attribute Cedar's Long cannot hold
// (1e19, valid under its schema's "integer") made deciding fail, and with
// it every fetch of the dataset. Such a record is now denied alone, and
// the others are decided as usual.
func TestUnholdableIntegerDeniesOnlyItsRecord(t *testing.T) {
	reg, err := schemas.Demo()
	if err != nil {
		t.Fatal(err)
	}
	s, err := reg.Lookup("customs-declaration")
	if err != nil {
		t.Fatal(err)
	}
	vocab, err := policy.VocabularyOf(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := policy.LoadFS(configs.Policies(), ".", vocab)
	if err != nil {
		t.Fatal(err)
	}
	kz := policy.Org{ID: "customs-kz", Country: "KZ", Sector: "customs", Groups: []string{"customs-authorities", "belt-and-road"}}
	req := policy.Request{Org: kz, Purpose: "customs-clearance", Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Dataset: policy.Dataset{Owner: "customs-cn", Name: "d", Schema: "customs-declaration", Purposes: []string{"customs-clearance"}}}
	d := &decider{a: &authorizer{log: zap.NewNop()}, session: b.Fetch(req, nil), ex: vocab.ExtractorFor(s)}
	var recs []fetch.Record
	for i, data := range []string{
		`{"classification":"public","destination_country":"KZ","total_value_usd":10}`,
		`{"classification":"public","destination_country":"KZ","total_value_usd":1e19}`,
		`{"classification":"public","destination_country":"KZ","total_value_usd":12}`,
	} {
		recs = append(recs, fetch.Record{Index: uint64(i), CID: cids.OfJSON([]byte(data)), Data: []byte(data)})
	}
	out, err := d.Decide(recs, nil)
	if err != nil {
		t.Fatalf("one unreadable record failed the whole request: %v", err)
	}
	if len(out) != 3 || !out[0] || out[1] || !out[2] {
		t.Fatalf("decisions %v, want permit, deny (unreadable), permit", out)
	}
}
