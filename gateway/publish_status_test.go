package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/api/server"
	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/internal/testnet"
)

// A publish through the API that publishes nothing answers with an error
// status when the caller asked for no progress stream (it answered 200 with
// an error event inside); one that publishes answers 200 with the summary
// and its rejected records.
func TestPublishWithoutAStreamAnswersItsStatus(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	c.RegisterDemoSchemasOffline(0)
	c.OpenAPI(0)
	n := c.Start(0)
	rm := testnet.NewRemote(t, c.Dir(0), n.Services().Admin.Status().API.Listen, "publisher", server.ScopePublish)
	good := strings.TrimSpace(string(testkit.JSONL(t, "shipment-event", 3, 1)))
	bad := strings.Replace(good, `"mode":"`, `"mode":"camel-`, -1)
	route := "/v1/publish?schema=shipment-event&purpose=tracking"
	cases := []struct {
		name, query, body string
		code              int
		want              string
	}{
		{"every record invalid", "&dataset=rail", bad, 422, "nothing was published"},
		{"every record invalid, with rejects", "&dataset=rail&reject=true", bad, 422, "no record is valid"},
		{"no record", "&dataset=rail", "", 422, "holds no record"},
		{"an unknown encoding", "&dataset=rail&encoding=martian", good, 400, "encoding"},
		{"a bad dataset name", "&dataset=Bad%20Name", good, 400, "not a valid name"},
		{"not UTF-8", "&dataset=rail", good[:20] + "\xff" + good[20:], 422, "not UTF-8"},
	}
	for _, tc := range cases {
		code, body := rm.Call("POST", route+tc.query, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) || !strings.Contains(body, `"status":`) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, code, body, tc.code, tc.want)
		}
	}
	code, body := rm.Call("POST", route+"&dataset=rail&reject=true", good+"\n"+strings.SplitN(bad, "\n", 2)[0])
	var res api.PublishSummary
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil || res.Manifest.Records != 3 || res.Rejected != 1 || len(res.Rejects) != 1 || res.Rejects[0].Line != 4 {
		t.Fatalf("a publish with one reject: %d %s", code, body)
	}
}
