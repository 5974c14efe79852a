package jcs_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// FuzzFieldsAgrees: on any valid JSON object, Fields finds exactly the
// top-level members Parse finds, with the same values.
func FuzzFieldsAgrees(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"c":[1,"}",{"d":"\""}]},"e":"x\\"}`))
	f.Add([]byte(` { "k\u00e9y" : [ ] , "n" : -1.5e3 , "t" : true } `))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := jcs.Parse(data)
		if err != nil {
			return
		}
		obj, ok := v.(map[string]any)
		if !ok {
			if jcs.Fields(data, func(string) bool { return true }, func(string, []byte) error { return nil }) == nil && bytes.TrimSpace(data)[0] != '{' {
				t.Fatalf("Fields accepted a non-object %q", data)
			}
			return
		}
		got := map[string]any{}
		err = jcs.Fields(data, func(string) bool { return true }, func(k string, raw []byte) error {
			x, err := jcs.Parse(raw)
			if err != nil {
				return err
			}
			got[k] = x
			return nil
		})
		if err != nil {
			t.Fatalf("Fields on %q: %v", data, err)
		}
		a, _ := json.Marshal(obj)
		b, _ := json.Marshal(got)
		if !bytes.Equal(a, b) {
			t.Fatalf("Fields %s, Parse %s", b, a)
		}
	})
}
