package keyfile_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/caravan-consortium/caravan/internal/keyfile"
)

func TestGenerateWritesOwnerOnlyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	priv, err := keyfile.Generate(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Fatalf("mode %#o, want 0600", perm)
	}
	got, err := keyfile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(priv) {
		t.Fatal("loaded key differs from generated key")
	}
}

func TestGenerateRefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	first, err := keyfile.Generate(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyfile.Generate(path); !errors.Is(err, keyfile.ErrExists) {
		t.Fatalf("second Generate: %v, want ErrExists", err)
	}
	got, err := keyfile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(first) {
		t.Fatal("the existing key was changed")
	}
}

func TestLoadRefusesOpenPermissions(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o666} {
		t.Run(mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.key")
			if _, err := keyfile.Generate(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			if _, err := keyfile.Load(path); !errors.Is(err, keyfile.ErrPermissions) {
				t.Fatalf("Load with mode %v: %v, want ErrPermissions", mode, err)
			}
		})
	}
}

func TestParseRejectsOtherContent(t *testing.T) {
	cases := map[string]string{
		"empty":      "",
		"not pem":    "hello",
		"wrong type": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		"bad der":    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := keyfile.Parse("k", []byte(data)); err == nil {
				t.Fatal("Parse accepted it")
			}
		})
	}
}

// testdata/openssl-ed25519.pem was made by `openssl genpkey -algorithm
// ed25519` (OpenSSL 3.0); its public key, from `openssl pkey -pubout`, is
// the one below. Our reader derives the same key: the format is the standard.
func TestParseOpenSSLKey(t *testing.T) {
	data, err := os.ReadFile("testdata/openssl-ed25519.pem")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := keyfile.Parse("openssl-ed25519.pem", data)
	if err != nil {
		t.Fatal(err)
	}
	const wantPub = "v4gjLp7HRvDYlOz7HeH0XZpJsFz0veSNDUlPRFq/xK0="
	if got := base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)); got != wantPub {
		t.Fatalf("public key %s, openssl says %s", got, wantPub)
	}
}
