package devnet

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/configs"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/internal/keyfile"
)

// Net is a local consortium laid out under one directory:
//
//	DIR/consortium.yaml       the roster as created (version 1), signed by a threshold of admins
//	DIR/ORG/                  each gateway's data directory
//	DIR/ORG/consortium.yaml   each gateway's own roster file: a copy at first, then
//	                          whatever versions the gateways adopt over the network
//	DIR/ORG/admin.key         each org's admin key
//	DIR/ORG/gateway.log       each gateway's log
type Net struct {
	Dir    string
	Roster string // path of the roster as created
	Orgs   []*Org
	// Nodes are further active nodes of orgs on cluster storage (AddNode),
	// each with a data directory of its own.
	Nodes []*Org
}

// Org is one organization of the local consortium.
type Org struct {
	consortium.Member
	Dir    string
	PeerID string
	Port   int
	proc   *proc
	// standby, if set, makes this a second node of the org, run on its
	// data directory as a hot standby (AddStandby).
	standby *standby
}

// Org returns the org with the given id, or nil.
func (nt *Net) Org(id string) *Org {
	for _, o := range nt.Orgs {
		if o.Org == id {
			return o
		}
	}
	return nil
}

// Log returns the path of the gateway's log file.
func (o *Org) Log() string {
	if o.standby != nil {
		return o.standby.log
	}
	return filepath.Join(o.Dir, "gateway.log")
}

// The demo's organizations; beyond these, orgs are named partner-N.
var demoOrgs = []consortium.Member{
	{Org: "customs-cn", Name: "Khorgos Customs Office (demo)", Country: "CN", Sector: "customs", Roles: []string{"publisher", "requester", "witness"},
		Groups: []string{"customs-authorities", "belt-and-road"}},
	{Org: "customs-kz", Name: "Kazakhstan State Revenue Committee (demo)", Country: "KZ", Sector: "customs", Roles: []string{"publisher", "requester", "witness"},
		Groups: []string{"customs-authorities", "eaeu", "belt-and-road"}},
	{Org: "logistics-az", Name: "Caspian Freight Forwarding LLC (demo)", Country: "AZ", Sector: "logistics", Roles: []string{"requester", "witness"},
		Groups: []string{"logistics-operators", "belt-and-road"}},
}

var partnerCountries = []string{"GE", "TR", "UZ", "PK", "RU", "IR", "BY", "PL"}

// ListenOn rewrites o's configuration to listen on one transport, "tcp" or
// "quic" (a gateway pinned to TCP gets QUIC on the same port: devnet gives
// both the same one).
func (o *Org) ListenOn(transport string) error {
	path := filepath.Join(o.Dir, datadir.ConfigFile)
	cfg, err := datadir.LoadConfig(path)
	if err != nil {
		return err
	}
	var keep []string
	for _, a := range cfg.Listen {
		if strings.Contains(a, "/quic") == (transport == "quic") {
			keep = append(keep, a)
		}
	}
	if len(keep) == 0 && transport == "quic" {
		for _, a := range cfg.Listen {
			if before, port, ok := strings.Cut(a, "/tcp/"); ok {
				keep = append(keep, before+"/udp/"+port+"/quic-v1")
			}
		}
	}
	if len(keep) == 0 {
		return fmt.Errorf("%s: no %s address in %v", path, transport, cfg.Listen)
	}
	cfg.Listen = keep
	data, err := cfg.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

func memberFor(i int) consortium.Member {
	if i < len(demoOrgs) {
		m := demoOrgs[i]
		m.Roles = append([]string(nil), m.Roles...)
		m.Groups = append([]string(nil), m.Groups...)
		return m
	}
	n := i + 1
	return consortium.Member{
		Org:     "partner-" + strconv.Itoa(n),
		Name:    fmt.Sprintf("Trade Partner %d (demo)", n),
		Country: partnerCountries[(i-len(demoOrgs))%len(partnerCountries)],
		Sector:  "trade",
		Roles:   []string{"requester", "witness"},
		Groups:  []string{"belt-and-road"},
	}
}

// Create lays out a new local consortium of n orgs under dir, on free
// loopback ports. It fails if dir already holds a roster.
func Create(dir string, n int) (*Net, error) {
	if n < 1 || n > 64 {
		return nil, fmt.Errorf("--orgs %d: want 1 to 64", n)
	}
	nt := &Net{Dir: dir, Roster: filepath.Join(dir, "consortium.yaml")}
	if _, err := os.Stat(nt.Roster); err == nil {
		return nil, fmt.Errorf("%s already exists: use another --dir, or remove it", nt.Roster)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	roster := &consortium.Roster{Consortium: "silk-road-devnet", Version: 1}
	roster.Admins.Threshold = n/2 + 1
	var admins []ed25519.PrivateKey
	for i := range n {
		o := &Org{Member: memberFor(i)}
		o.Dir = filepath.Join(dir, o.Org)
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		o.Port = port
		tcp := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)
		quic := fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port)
		res, err := datadir.Init(datadir.InitOptions{Dir: o.Dir, Config: datadir.Config{
			Org:    o.Org,
			Roster: RosterFile,
			Listen: []string{tcp, quic},
			Dial:   datadir.DialConfig{BackoffMin: 200 * time.Millisecond, BackoffMax: 5 * time.Second},
			// The API and console on a free loopback port (status tells which).
			API: datadir.APIConfig{Listen: "127.0.0.1:0"},
		}})
		if err != nil {
			return nil, err
		}
		o.PeerID = res.PeerID.String()
		if err := copyFS(filepath.Join(o.Dir, "policies"), configs.Policies()); err != nil {
			return nil, err
		}
		o.Nodes = []consortium.Node{{PeerID: o.PeerID, Addrs: []string{tcp, quic}}}
		o.OrgKey = consortium.EncodePublicKey(res.OrgKey)
		admin, err := keyfile.Generate(filepath.Join(o.Dir, "admin.key"))
		if err != nil {
			return nil, err
		}
		admins = append(admins, admin)
		roster.Admins.Keys = append(roster.Admins.Keys, consortium.AdminKey{
			Name: "admin-" + o.Org,
			Key:  consortium.EncodePublicKey(admin.Public().(ed25519.PublicKey)),
		})
		roster.Members = append(roster.Members, o.Member)
		nt.Orgs = append(nt.Orgs, o)
	}
	for _, a := range admins[:roster.Admins.Threshold] {
		if _, err := roster.Sign(a); err != nil {
			return nil, err
		}
	}
	data, err := roster.Marshal()
	if err != nil {
		return nil, err
	}
	for _, path := range append([]string{nt.Roster}, nt.rosterFiles()...) {
		if err := atomicfile.Write(path, data, 0o644); err != nil {
			return nil, err
		}
	}
	return nt, nil
}

// RosterFile is each org's roster file, in its data directory: each
// gateway has its own, as on separate machines, and roster versions reach
// it over the network.
const RosterFile = "consortium.yaml"

func (nt *Net) rosterFiles() []string {
	var out []string
	for _, o := range append(append([]*Org{}, nt.Orgs...), nt.Nodes...) {
		out = append(out, filepath.Join(o.Dir, RosterFile))
	}
	return out
}

// copyFS writes the files of fsys (one level) into dir.
func copyFS(dir string, fsys fs.FS) error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// freePort returns a port that is free on loopback for both TCP and UDP.
func freePort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port, nil
	}
	return 0, errors.New("no free loopback port for TCP and UDP")
}

// portFree reports whether port can be bound again on loopback, TCP and UDP.
func portFree(port int) bool {
	l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	u, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	u.Close()
	return true
}

// Open loads a local consortium that Create laid out under dir.
func Open(dir string) (*Net, error) {
	nt := &Net{Dir: dir, Roster: filepath.Join(dir, "consortium.yaml")}
	r, err := consortium.Load(nt.Roster)
	if err != nil {
		return nil, err
	}
	for _, m := range r.Members {
		if len(m.Nodes) == 0 {
			return nil, fmt.Errorf("%s: member %s has no node", nt.Roster, m.Org)
		}
		o := &Org{Member: m, Dir: filepath.Join(dir, m.Org), PeerID: m.Nodes[0].PeerID}
		for _, a := range m.Nodes[0].Addrs {
			if _, err := fmt.Sscanf(a, "/ip4/127.0.0.1/tcp/%d", &o.Port); err == nil {
				break
			}
		}
		nt.Orgs = append(nt.Orgs, o)
	}
	return nt, nil
}

// CreateOrOpen opens the consortium in dir if there is one, and creates one
// of n orgs otherwise.
func CreateOrOpen(dir string, n int) (*Net, error) {
	if _, err := os.Stat(filepath.Join(dir, "consortium.yaml")); err == nil {
		nt, err := Open(dir)
		if err != nil {
			return nil, err
		}
		if len(nt.Orgs) != n {
			return nil, fmt.Errorf("%s holds a consortium of %d orgs, not %d: use another --dir", dir, len(nt.Orgs), n)
		}
		return nt, nil
	}
	return Create(dir, n)
}

// ErrRunning is Lock's error when another devnet runs on the directory.
var ErrRunning = errors.New("another devnet is already running on this directory")

// Lock takes an exclusive lock on DIR/devnet.lock for this process's
// lifetime (the kernel drops it when the process dies, kill -9 included):
// two devnets on one directory would start each gateway twice. Call the
// returned function to unlock.
func Lock(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := atomicfile.TryLock(filepath.Join(dir, "devnet.lock"))
	if errors.Is(err, atomicfile.ErrHeld) {
		return nil, fmt.Errorf("%s: %w; stop it (Ctrl-C) or use another --dir", dir, ErrRunning)
	}
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}
