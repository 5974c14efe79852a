package fetch_test

import (
	"fmt"
	"testing"

	"github.com/caravan-consortium/caravan/sharing/fetch"
)

func TestParseSelection(t *testing.T) {
	const c = "bagaaierapoz56smxdzyzy2iwm5dvtysjplyx3l2nu5ycq76ixaa7yeurwfia"
	idx, cids, err := fetch.ParseSelection("0, 5,10-12," + c)
	if err != nil || fmt.Sprint(idx) != "[0 5 10 11 12]" || len(cids) != 1 || cids[0].String() != c {
		t.Fatalf("%v %v %v", idx, cids, err)
	}
	for _, bad := range []string{"5,3", "x1", "4-2", "bagaaieranot"} {
		if _, _, err := fetch.ParseSelection(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// Two spellings of one selection share a resume key; different selections
// and the whole dataset do not.
func TestSelectionKey(t *testing.T) {
	key := func(s string) string {
		idx, named, err := fetch.ParseSelection(s)
		if err != nil {
			t.Fatal(err)
		}
		return fetch.NewSelection(idx, named).Key()
	}
	if key("") != "all" || key("0-2") != key("0,1,2") || key("0-2") == key("0-3") || key("0-2") == "all" {
		t.Fatalf("keys: %q %q %q %q", key(""), key("0-2"), key("0,1,2"), key("0-3"))
	}
}
