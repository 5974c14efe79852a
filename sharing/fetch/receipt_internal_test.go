package fetch

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// The attack: a hostile provider signs a receipt whose request hash,
// requester, provider, purpose, counts, commitment or checkpoint are wrong.
// The requester accepted and journaled it as evidence. Each is refused now.
func TestLyingReceiptIsRefused(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	p, err := peer.Decode(manifest.SignerID(key.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	id := cids.OfJSON([]byte(`{"m":1}`))
	var received []byte
	var permitted []cid.Cid
	for _, rec := range []string{`{"a":1}`, `{"a":2}`} {
		c := cids.OfJSON([]byte(rec))
		permitted = append(permitted, c)
		received = append(received, c.Bytes()...)
	}
	salt := []byte("0123456789abcdef")
	h := sha256.New()
	h.Write(salt)
	for _, c := range permitted {
		h.Write(c.Bytes())
	}
	honest := Receipt{Type: TypeReceipt, Request: "ab12", Manifest: id.String(), Provider: "customs-cn", Requester: "customs-kz",
		Purpose: "customs-clearance", Permitted: 2, Denied: 3, Commitment: hex.EncodeToString(h.Sum(nil)),
		Origin: "caravan/silk/customs-cn", Index: 9, Checkpoint: "a checkpoint"}
	check := func(rc Receipt, saltHex string) error {
		st, err := manifest.SignStatement(rc, key)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(receiptFrame{Receipt: st.Marshal(), Salt: saltHex})
		rs := &response{
			c: &Client{Org: "customs-kz", VerifyCheckpoint: func(provider, origin string, index uint64, note []byte) error {
				if string(note) != "a checkpoint" || origin != "caravan/silk/customs-cn" || provider != "customs-cn" || index != 9 {
					return errors.New("not the provider's checkpoint")
				}
				return nil
			}},
			res: &Result{Request: "ab12", Permitted: 2, Denied: 3, Received: 2,
				Journaled: Journaled{Origin: "caravan/silk/customs-cn", Index: 9}},
			p: p, o: Options{Manifest: id, Purpose: "customs-clearance"}, publisher: "customs-cn", received: received,
		}
		return rs.checkReceipt(body)
	}
	if err := check(honest, hex.EncodeToString(salt)); err != nil {
		t.Fatalf("the honest receipt: %v", err)
	}
	for name, lie := range map[string]func(*Receipt) string{
		"another request":      func(r *Receipt) string { r.Request = "cd34"; return "request" },
		"another requester":    func(r *Receipt) string { r.Requester = "logistics-az"; return "not from" },
		"another provider":     func(r *Receipt) string { r.Provider = "customs-kz"; return "not from" },
		"another purpose":      func(r *Receipt) string { r.Purpose = "marketing"; return "purpose" },
		"a commitment to more": func(r *Receipt) string { r.Commitment = strings.Repeat("0", 64); return "commitment" },
		"a forged checkpoint":  func(r *Receipt) string { r.Checkpoint = "forged"; return "checkpoint" },
		"no checkpoint":        func(r *Receipt) string { r.Checkpoint = ""; return "carries no checkpoint" }, // it was accepted unchecked
		"other counts":         func(r *Receipt) string { r.Denied = 0; return "does not match" },
	} {
		rc := honest
		want := lie(&rc)
		if err := check(rc, hex.EncodeToString(salt)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := check(honest, hex.EncodeToString([]byte("fedcba9876543210"))); err == nil || !strings.Contains(err.Error(), "commitment") {
		t.Errorf("another salt: %v", err)
	}
}
