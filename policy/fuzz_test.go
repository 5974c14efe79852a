package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/policy"
)

// FuzzLoad feeds arbitrary bytes to the bundle loader as a policy file. It
// must never panic, must either accept or return ErrInvalid, and an accepted
// bundle must have a deterministic CID and decide without panicking.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(demoPolicies, "*.cedar"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`@id("x") permit (principal, action, resource) when { 1 + };`))
	f.Add([]byte("@id(\"\xff\") forbid (principal, action, resource);"))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("%d bytes took %v", len(data), d)
			}
		}()
		b, err := policy.Parse(map[string][]byte{"fuzz.cedar": data}, demoVocabulary)
		if err != nil {
			if !errors.Is(err, policy.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		b2, err := policy.Parse(map[string][]byte{"fuzz.cedar": data}, demoVocabulary)
		if err != nil || b2.CID() != b.CID() {
			t.Fatalf("accepted once, then %v / CID %s vs %s", err, b2.CID(), b.CID())
		}
		s := b.Fetch(policy.Request{Org: customsKZ, Dataset: declarations, Purpose: "customs-clearance", Time: demoTime}, nil)
		s.Decide([]policy.Record{{ID: "r"}}, nil)
	})
}
