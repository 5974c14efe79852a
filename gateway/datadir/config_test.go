package datadir_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/keyfile"
	"github.com/caravan-consortium/caravan/internal/yamlfile"
)

func initDir(t *testing.T) (string, *datadir.InitResult) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gw")
	res, err := datadir.Init(datadir.InitOptions{Dir: dir, Config: datadir.Config{Org: "customs-cn"}})
	if err != nil {
		t.Fatal(err)
	}
	return dir, res
}

func TestInit(t *testing.T) {
	dir, res := initDir(t)
	st, err := os.Stat(res.KeyPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("node key: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	key, err := datadir.LoadNodeKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := peer.IDFromPrivateKey(key); id != res.PeerID {
		t.Fatalf("printed PeerID %s is not the key's %s", res.PeerID, id)
	}
	if key.Type() != crypto.Ed25519 {
		t.Fatalf("key type %v", key.Type())
	}
	// The key file is standard PKCS#8.
	data, _ := os.ReadFile(res.KeyPath)
	block, _ := pem.Decode(data)
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Fatal(err)
	}

	// The generated config is commented and loads with every default.
	cfgText, _ := os.ReadFile(res.ConfigPath)
	if !strings.Contains(string(cfgText), "# ") {
		t.Fatal("the config has no comments")
	}
	cfg, err := datadir.LoadConfig(res.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Org != "customs-cn" || len(cfg.Listen) != 2 || cfg.Log.Level != "info" || cfg.Limits.Conns == 0 || cfg.Dial.BackoffMin == 0 {
		t.Fatalf("loaded config %+v", cfg)
	}
	if cfg.Roster != filepath.Join(dir, "consortium.yaml") {
		t.Fatalf("roster path %q is not resolved against the config's directory", cfg.Roster)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir, res := initDir(t)
	before, _ := os.ReadFile(res.KeyPath)
	for _, remove := range []string{"", datadir.KeyFile, datadir.ConfigFile} {
		t.Run("without "+remove, func(t *testing.T) {
			if remove != "" {
				// Only one of the two files left: still refused.
				saved, _ := os.ReadFile(filepath.Join(dir, remove))
				os.Remove(filepath.Join(dir, remove))
				defer os.WriteFile(filepath.Join(dir, remove), saved, 0o600)
			}
			_, err := datadir.Init(datadir.InitOptions{Dir: dir, Config: datadir.Config{Org: "customs-cn"}})
			if !errors.Is(err, datadir.ErrExists) {
				t.Fatalf("Init over an existing gateway: %v, want ErrExists", err)
			}
		})
	}
	after, _ := os.ReadFile(res.KeyPath)
	if string(before) != string(after) {
		t.Fatal("the node key was changed")
	}
}

func TestNodeKeyPermissionsChecked(t *testing.T) {
	dir, res := initDir(t)
	os.Chmod(res.KeyPath, 0o644)
	if _, err := datadir.LoadNodeKey(dir); !errors.Is(err, keyfile.ErrPermissions) {
		t.Fatalf("LoadNodeKey of a 0644 key: %v, want ErrPermissions", err)
	}
}

// Each bad value is reported with the file, its line and the field.
func TestConfigValidationNamesTheField(t *testing.T) {
	cases := []struct {
		name, old, new, field string
	}{
		{"org", "org: customs-cn", "org: Customs CN", "org"},
		{"listen address", "  - /ip4/0.0.0.0/udp/4001/quic-v1", "  - /ip4/0.0.0.0/udp/4001/quic-v2", "listen[1]"},
		{"QUIC with a private network key", `private_network_key: ""`, `private_network_key: swarm.key`, "listen[1]"},
		{"log level", "level: info", "level: loud", "log.level"},
		{"log format", "format: console", "format: xml", "log.format"},
		{"negative limit", "streams: 2048", "streams: -1", "limits.streams"},
		{"per-peer above total", "streams_per_peer: 256", "streams_per_peer: 4096", "limits.streams_per_peer"},
		{"backoff inverted", "backoff_max: 30s", "backoff_max: 100ms", "dial.backoff_max"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, res := initDir(t)
			data, _ := os.ReadFile(res.ConfigPath)
			text := strings.Replace(string(data), c.old, c.new, 1)
			if text == string(data) {
				t.Fatalf("%q is not in the generated config", c.old)
			}
			os.WriteFile(res.ConfigPath, []byte(text), 0o600)
			_, err := datadir.LoadConfig(res.ConfigPath)
			var ye *yamlfile.Error
			if !errors.As(err, &ye) {
				t.Fatalf("err = %v, want a *yamlfile.Error", err)
			}
			line := 1 + strings.Count(text[:strings.Index(text, c.new)], "\n")
			if c.field == "listen[1]" && c.name != "listen address" {
				line = 1 + strings.Count(text[:strings.Index(text, "/quic-v1")], "\n")
			}
			want := fmt.Sprintf("%s:%d: %s: ", res.ConfigPath, line, c.field)
			if !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("err = %q, want prefix %q", err, want)
			}
		})
	}
}

func TestConfigSyntaxErrors(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"unknown field", "org: a\nlisten: []\nlimts:\n  conns: 1\n", ":3: "},
		{"wrong type", "org: a\nlimits:\n  conns: many\n", ":3: "},
		{"bad duration", "org: a\ndial:\n  backoff_min: soon\n", ":3: "},
		{"empty", "", "the file is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "caravan.yaml")
			os.WriteFile(path, []byte(c.text), 0o600)
			_, err := datadir.LoadConfig(path)
			if err == nil || !strings.HasPrefix(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q after the path", err, c.want)
			}
		})
	}
}

// The example shipped in configs/ stays loadable.
func TestShippedExampleConfigLoads(t *testing.T) {
	cfg, err := datadir.LoadConfig("../../configs/gateway.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Org != "customs-cn" {
		t.Fatalf("org %q", cfg.Org)
	}
}
