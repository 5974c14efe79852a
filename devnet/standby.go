package devnet

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/internal/keyfile"
)

// standby is a second node of an org that runs on the org's data
// directory as a hot standby (caravan run --standby): its own node key and
// addresses, its own log.
type standby struct {
	key    string // its node key file, outside the data directory
	listen []string
	log    string
}

// AddStandby gives org o a second node, listed under it in the roster
// (every roster file is rewritten, version 1 signed again: call it before
// any gateway starts), and returns it: an Org on o's data directory that
// StartOrg runs as a hot standby.
func (nt *Net) AddStandby(o *Org) (*Org, error) {
	dir := filepath.Join(nt.Dir, o.Org+"-standby")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key := filepath.Join(dir, datadir.KeyFile)
	priv, err := keyfile.Generate(key)
	if err != nil {
		return nil, err
	}
	id, err := datadir.PeerIDOf(priv)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port)}
	b := &Org{Member: o.Member, Dir: o.Dir, PeerID: id.String(), Port: port,
		standby: &standby{key: key, listen: listen, log: filepath.Join(dir, "gateway.log")}}
	r, err := consortium.Load(nt.Roster)
	if err != nil {
		return nil, err
	}
	m := r.Member(o.Org)
	if m == nil || r.Version != 1 {
		return nil, fmt.Errorf("%s: add a standby to an org of version 1 of the roster", nt.Roster)
	}
	m.Nodes = append(m.Nodes, consortium.Node{PeerID: b.PeerID, Addrs: listen})
	if err := nt.signAgain(r); err != nil {
		return nil, err
	}
	return b, nil
}

// signAgain signs r anew with a threshold of the orgs' admin keys and
// writes it over every roster file.
func (nt *Net) signAgain(r *consortium.Roster) error {
	r.Signatures = nil
	for _, o := range nt.Orgs[:r.Admins.Threshold] {
		admin, err := keyfile.Load(filepath.Join(o.Dir, "admin.key"))
		if err != nil {
			return err
		}
		if _, err := r.Sign(ed25519.PrivateKey(admin)); err != nil {
			return err
		}
	}
	data, err := r.Marshal()
	if err != nil {
		return err
	}
	for _, path := range append([]string{nt.Roster}, nt.rosterFiles()...) {
		if err := atomicfile.Write(path, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// args are the standby's own flags for caravan run.
func (s *standby) args() []string {
	return []string{"--standby", "--node-key", s.key, "--listen", s.listen[0] + "," + s.listen[1]}
}
