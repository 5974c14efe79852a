package consortium_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/consortium"
)

// seededKey returns a deterministic Ed25519 key, so that golden files are
// stable.
func seededKey(b byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	return ed25519.NewKeyFromSeed(seed)
}

func peerOf(t testing.TB, b byte) string {
	k, err := crypto.UnmarshalEd25519PrivateKey(seededKey(b))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

func adminKey(name string, b byte) consortium.AdminKey {
	return consortium.AdminKey{Name: name, Key: consortium.EncodePublicKey(seededKey(b).Public().(ed25519.PublicKey))}
}

// fixture is an unsigned version-1 roster with admins a1..a3 (keys 1..3),
// threshold 2, and two members whose nodes have keys 101 and 102.
func fixture(t testing.TB) *consortium.Roster {
	return &consortium.Roster{
		Consortium: "silk-road-test",
		Version:    1,
		Admins: consortium.Admins{Threshold: 2, Keys: []consortium.AdminKey{
			adminKey("a1", 1), adminKey("a2", 2), adminKey("a3", 3),
		}},
		Members: []consortium.Member{
			{Org: "customs-cn", Name: "Customs CN", Country: "CN", Sector: "customs", Roles: []string{"publisher"},
				Nodes: []consortium.Node{{PeerID: peerOf(t, 101), Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}}}},
			{Org: "customs-kz", Name: "Customs KZ \u00e9\u4e2d", Country: "KZ", Sector: "customs",
				Nodes: []consortium.Node{{PeerID: peerOf(t, 102), Addrs: []string{"/ip4/127.0.0.1/udp/4002/quic-v1"}}}},
		},
	}
}

// sign signs r with the admin keys of the given seeds.
func sign(t testing.TB, r *consortium.Roster, seeds ...byte) *consortium.Roster {
	t.Helper()
	for _, s := range seeds {
		if _, err := r.Sign(seededKey(s)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// clone deep-copies r through its file format.
func clone(t testing.TB, r *consortium.Roster) *consortium.Roster {
	t.Helper()
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c, err := consortium.Parse("clone.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
