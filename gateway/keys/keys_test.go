package keys_test

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/gateway/keys"
	"github.com/caravan-consortium/caravan/internal/keyfile"
)

func roster(orgKey string) *consortium.Roster {
	return &consortium.Roster{Consortium: "c", Version: 3, Members: []consortium.Member{{Org: "customs-cn", OrgKey: orgKey}}}
}

// The org signs with the key the roster in force names: the node key
// without one, DIR/org.key with one; a roster naming a key the gateway
// does not hold fails the start and says where the key goes; a rotation
// read from DIR/org.key switches the next statement.
func TestTheOrgSignsWithTheKeyTheRosterNames(t *testing.T) {
	dir := datadir.Dir(t.TempDir())
	_, node, _ := ed25519.GenerateKey(nil)
	s, err := keys.Load(dir, node, "customs-cn", roster(""), zap.NewNop())
	if err != nil || !s.Statement().Equal(node) {
		t.Fatalf("without an org key: %v", err)
	}
	_, org, _ := ed25519.GenerateKey(nil)
	line := consortium.EncodePublicKey(org.Public().(ed25519.PublicKey))
	if _, err := keys.Load(dir, node, "customs-cn", roster(line), zap.NewNop()); err == nil || !strings.Contains(err.Error(), "org.key") {
		t.Fatalf("an org key the gateway lacks: %v", err)
	}
	if err := keyfile.Write(dir.OrgKey(), org); err != nil {
		t.Fatal(err)
	}
	s, err = keys.Load(dir, node, "customs-cn", roster(line), zap.NewNop())
	if err != nil || !s.Statement().Equal(org) || !s.Log().Public().Equal(org.Public()) {
		t.Fatalf("with the org key: %v", err)
	}
	// A rotation: the new key is put in place, then the version naming it.
	_, rotated, _ := ed25519.GenerateKey(nil)
	if err := keyfile.Write(filepath.Join(string(dir), "new.key"), rotated); err != nil {
		t.Fatal(err)
	}
	s.OnRoster(roster(consortium.EncodePublicKey(rotated.Public().(ed25519.PublicKey))))
	if !s.Statement().Equal(org) {
		t.Fatal("switched to a key the gateway does not hold")
	}
	if err := removeAndWrite(dir.OrgKey(), rotated); err != nil {
		t.Fatal(err)
	}
	s.OnRoster(roster(consortium.EncodePublicKey(rotated.Public().(ed25519.PublicKey))))
	if !s.Statement().Equal(rotated) || !s.Log().Public().Equal(rotated.Public()) {
		t.Fatal("the rotated key does not sign")
	}
}

func removeAndWrite(path string, k ed25519.PrivateKey) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	return keyfile.Write(path, k)
}
