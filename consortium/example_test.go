package consortium_test

import (
	"crypto/ed25519"
	"fmt"

	"github.com/caravan-consortium/caravan/consortium"
)

func ExampleRoster_Sign() {
	seed := func(b byte) ed25519.PrivateKey {
		s := make([]byte, ed25519.SeedSize)
		s[0] = b
		return ed25519.NewKeyFromSeed(s)
	}
	alice, bob := seed(1), seed(2)
	r := &consortium.Roster{
		Consortium: "silk-road",
		Version:    1,
		Admins: consortium.Admins{Threshold: 2, Keys: []consortium.AdminKey{
			{Name: "alice", Key: consortium.EncodePublicKey(alice.Public().(ed25519.PublicKey))},
			{Name: "bob", Key: consortium.EncodePublicKey(bob.Public().(ed25519.PublicKey))},
		}},
	}
	r.Sign(alice)
	_, err := r.Verify()
	fmt.Println(err)
	r.Sign(bob)
	signers, err := r.Verify()
	fmt.Println(signers, err)
	// Output:
	// roster is signed by 1 of the 2 admins its threshold requires (signed by: alice)
	// [alice bob] <nil>
}
