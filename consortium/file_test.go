package consortium_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/yamlfile"
)

// Each bad roster's error names the file, the line and the field.
func TestParseErrorsNameTheField(t *testing.T) {
	good, err := sign(t, fixture(t), 1, 2).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"bad country", "country: KZ", "country: Kazakhstan", "members[1].country"},
		{"bad peer id", "peer_id: " + peerOf(t, 101), "peer_id: 12D3KooWnotapeer", "members[0].nodes[0].peer_id"},
		{"bad multiaddr", "/ip4/127.0.0.1/tcp/4001", "/ip4/300.0.0.1/tcp/4001", "members[0].nodes[0].addrs[0]"},
		{"threshold too high", "threshold: 2", "threshold: 4", "admins.threshold"},
		{"bad admin key", adminKey("a2", 2).Key, "ed25519:AAAA", "admins.keys[1].key"},
		{"duplicate org", "org: customs-kz", "org: customs-cn", "members[1].org"},
		{"version zero", "version: 1", "version: 0", "version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := strings.Replace(string(good), c.old, c.new, 1)
			if data == string(good) {
				t.Fatalf("the case did not change the file (%q not found)", c.old)
			}
			_, err := consortium.Parse("roster.yaml", []byte(data))
			var ye *yamlfile.Error
			if !errors.As(err, &ye) {
				t.Fatalf("err = %v, want a *yamlfile.Error", err)
			}
			if ye.Field != c.want || ye.Line == 0 || ye.File != "roster.yaml" {
				t.Fatalf("err = %q (field %q, line %d), want field %q with a line", err, ye.Field, ye.Line, c.want)
			}
			wantLine := 1 + strings.Count(data[:strings.Index(data, c.new)], "\n")
			if c.want != "members[1].org" && ye.Line != wantLine {
				t.Fatalf("line %d, want %d (%q)", ye.Line, wantLine, err)
			}
		})
	}
}

func TestParseRejectsUnknownField(t *testing.T) {
	_, err := consortium.Parse("r.yaml", []byte("consortium: x\nversion: 1\nadmins: {threshold: 1, keys: []}\nmembres: []\n"))
	if err == nil || !strings.Contains(err.Error(), "r.yaml:4") {
		t.Fatalf("err = %v, want the unknown field on r.yaml:4", err)
	}
}

func TestLoadVerifiedNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consortium.yaml")
	data, _ := sign(t, fixture(t), 1).Marshal()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := consortium.LoadVerified(path)
	if !errors.Is(err, consortium.ErrBelowThreshold) || !strings.HasPrefix(err.Error(), path+": ") {
		t.Fatalf("err = %v, want ErrBelowThreshold prefixed by the path", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/roster-signed.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("consortium: x\nversion: 1\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := consortium.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		// Whatever parses must survive a round trip through the file
		// format with the same signed content.
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed roster: %v", err)
		}
		r2, err := consortium.Parse("again.yaml", out)
		if err != nil {
			t.Fatalf("re-Parse: %v\n%s", err, out)
		}
		if !consortium.Equal(r, r2) {
			t.Fatalf("round trip changed the content:\n%s", out)
		}
		_, _ = r.Verify()
	})
}
