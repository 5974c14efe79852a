package node

import (
	"context"
	"crypto/ed25519"
	"os"
	"testing"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/policy"
)

// A policy bundle was put in force even when its journal entry could not be
// written, so decisions were made under a bundle the journal never
// recorded. policyEngine.put now journals first and refuses a bundle it cannot
// journal. (The test closes the journal: breaking its files on disk makes
// tessera's POSIX driver panic, which is noted for the planners.)
func TestPolicyNotInForceUnlessJournaled(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(nil)
	signer, err := journal.NewLogSigner("caravan/test/customs-cn", priv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := journal.Open(context.Background(), journal.LogConfig{Dir: dir + "/log", Origin: "caravan/test/customs-cn", Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	dd := DataDir(dir)
	if err := os.MkdirAll(dd.path("journal"), 0o700); err != nil {
		t.Fatal(err)
	}
	j := &journaler{org: "customs-cn", log: l, seen: dd.JournalSeen(), zlog: zap.NewNop()}
	pe := &policyEngine{dir: t.TempDir(), log: zap.NewNop(), metrics: newMetrics(), journal: j.policy}
	vocab, err := policy.DemoVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	first, err := policy.Parse(map[string][]byte{"a.cedar": []byte(`@id("a") permit (principal, action, resource);`)}, vocab)
	if err != nil {
		t.Fatal(err)
	}
	if err := pe.put(first, "", nil); err != nil {
		t.Fatal(err)
	}
	l.Close()
	second, err := policy.Parse(map[string][]byte{"b.cedar": []byte(`@id("b") permit (principal, action, resource);`)}, vocab)
	if err != nil {
		t.Fatal(err)
	}
	if err := pe.put(second, first.CID(), nil); err == nil {
		t.Fatal("a bundle that could not be journaled was put in force")
	}
	if got := pe.Bundle().CID(); got != first.CID() {
		t.Fatalf("bundle %s in force, want %s", got, first.CID())
	}
}
