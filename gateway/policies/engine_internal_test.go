package policies

import (
	"context"
	"crypto/ed25519"
	"testing"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/policy"
)

// A policy bundle was put in force even when its journal entry could not be
// written, so decisions were made under a bundle the journal never
// recorded. Engine.put now journals first and refuses a bundle it cannot
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
	journalIt := func(ch Change) error {
		_, err := l.Append(context.Background(), &journal.Event{Type: journal.TypePolicy, Org: "customs-cn", Bundle: ch.New,
			Previous: ch.Old, Time: ch.At})
		return err
	}
	pe := &Engine{dir: t.TempDir(), log: zap.NewNop(), cfg: Config{Journal: journalIt}}
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
