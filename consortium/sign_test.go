package consortium_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/consortium"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestVerify(t *testing.T) {
	cases := []struct {
		name    string
		roster  func(t *testing.T) *consortium.Roster
		wantErr error
		signers int
	}{
		{"threshold met", func(t *testing.T) *consortium.Roster { return sign(t, fixture(t), 1, 2) }, nil, 2},
		{"all admins", func(t *testing.T) *consortium.Roster { return sign(t, fixture(t), 1, 2, 3) }, nil, 3},
		{"unsigned", func(t *testing.T) *consortium.Roster { return fixture(t) }, consortium.ErrBelowThreshold, 0},
		{"under threshold", func(t *testing.T) *consortium.Roster { return sign(t, fixture(t), 3) }, consortium.ErrBelowThreshold, 1},
		{"same admin twice counts once", func(t *testing.T) *consortium.Roster {
			r := sign(t, fixture(t), 1)
			r.Signatures = append(r.Signatures, r.Signatures[0])
			return r
		}, consortium.ErrBelowThreshold, 1},
		{"tampered member", func(t *testing.T) *consortium.Roster {
			r := sign(t, fixture(t), 1, 2)
			r.Members[1].Country = "RU"
			return r
		}, consortium.ErrBadSignature, 0},
		{"tampered threshold", func(t *testing.T) *consortium.Roster {
			r := sign(t, fixture(t), 1)
			r.Admins.Threshold = 1
			return r
		}, consortium.ErrBadSignature, 0},
		{"member added after signing", func(t *testing.T) *consortium.Roster {
			r := sign(t, fixture(t), 1, 2)
			r.Members = append(r.Members, consortium.Member{Org: "intruder", Name: "X", Country: "AM", Sector: "x"})
			return r
		}, consortium.ErrBadSignature, 0},
		{"corrupt signature", func(t *testing.T) *consortium.Roster {
			r := sign(t, fixture(t), 1, 2)
			r.Signatures[0].Sig = "not base64!"
			return r
		}, consortium.ErrBadSignature, 0},
		{"unknown signer", func(t *testing.T) *consortium.Roster {
			r := sign(t, fixture(t), 1, 2)
			r.Signatures = append(r.Signatures, consortium.Signature{Admin: "mallory", Sig: r.Signatures[0].Sig})
			return r
		}, consortium.ErrUnknownSigner, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			signers, err := c.roster(t).Verify()
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Verify: %v, want %v", err, c.wantErr)
			}
			if len(signers) != c.signers {
				t.Fatalf("signers %v, want %d", signers, c.signers)
			}
			var te *consortium.ThresholdError
			if errors.As(err, &te) && (te.Have != c.signers || te.Need != 2) {
				t.Fatalf("ThresholdError %+v", te)
			}
		})
	}
}

func TestSignRejectsNonAdminKey(t *testing.T) {
	if _, err := fixture(t).Sign(seededKey(99)); !errors.Is(err, consortium.ErrNotAdmin) {
		t.Fatalf("Sign with a stranger's key: %v, want ErrNotAdmin", err)
	}
}

// What is signed is the content, not the YAML text: reordering keys,
// comments, quoting and indentation leave the signatures valid.
func TestSignaturesSurviveYAMLReformatting(t *testing.T) {
	r := sign(t, fixture(t), 1, 2)
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	text = strings.Replace(text, "consortium: silk-road-test\nversion: 1\n", "# reordered by hand\nversion: 1 # still one\nconsortium: \"silk-road-test\"\n", 1)
	text = strings.ReplaceAll(text, "    - publisher\n", "    - 'publisher'\n")
	re, err := consortium.Parse("reformatted.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := re.Verify(); err != nil {
		t.Fatalf("reformatted roster: %v", err)
	}
	if !consortium.Equal(r, re) {
		t.Fatal("reformatted roster is not Equal to the original")
	}
}

// The golden file pins the exact bytes admins sign (RFC 8785 JCS of the
// body after the context line), so that a change in encoding cannot slip
// in: it would invalidate every roster already signed.
func TestGoldenSigningBytes(t *testing.T) {
	r := sign(t, fixture(t), 1, 2)
	got, err := r.SigningBytes()
	if err != nil {
		t.Fatal(err)
	}
	file, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		os.WriteFile("testdata/roster-signed.yaml", file, 0o644)
		os.WriteFile("testdata/roster-signing-bytes.txt", got, 0o644)
	}
	want, err := os.ReadFile("testdata/roster-signing-bytes.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("signing bytes changed:\n got %s\nwant %s", got, want)
	}
	golden, err := consortium.Load("testdata/roster-signed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := golden.Verify(); err != nil {
		t.Fatalf("golden roster: %v", err)
	}
}
