package devnet

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/clusterconn"
)

// ClusterEnvFile is the cluster connection file UseCluster writes in an
// org's data directory (datadir.Config.ClusterEnv).
const ClusterEnvFile = "cluster.env"

// UseCluster puts org o on cluster storage: its database and bucket as
// conn says, written to DIR/cluster.env (mode 0600), never to the config.
func (nt *Net) UseCluster(o *Org, conn clusterconn.Conn) error {
	if err := conn.Write(filepath.Join(o.Dir, ClusterEnvFile)); err != nil {
		return err
	}
	cfg := filepath.Join(o.Dir, datadir.ConfigFile)
	data, err := os.ReadFile(cfg)
	if err != nil {
		return err
	}
	old := []byte("\nstorage: embedded\n")
	if !bytes.Contains(data, old) {
		return fmt.Errorf("%s: no storage: embedded line to change", cfg)
	}
	data = bytes.Replace(data, old, []byte("\nstorage: cluster\ncluster_env: "+ClusterEnvFile+"\n"), 1)
	return os.WriteFile(cfg, data, 0o600)
}

// AddNode adds an active node to org o, which must be on cluster storage:
// a data directory of its own (DIR/ORG-NAME) with a new node key, the
// org's key, config (on a port of its own), cluster connection and
// policies. The roster (version 1, signed again) lists the node, so the
// members admit it. Start it with StartOrg; it serves what the org's
// other nodes published, from the same database and bucket.
func (nt *Net) AddNode(o *Org, name string) (*Org, error) {
	n, err := nt.NewNodeDir(o, name)
	if err != nil {
		return nil, err
	}
	r, err := consortium.Load(nt.Roster)
	if err != nil {
		return nil, err
	}
	m := r.Member(o.Org)
	if m == nil || r.Version != 1 {
		return nil, fmt.Errorf("%s: add a node to an org of version 1 of the roster", nt.Roster)
	}
	m.Nodes = append(m.Nodes, consortium.Node{PeerID: n.PeerID, Addrs: n.Addrs()})
	nt.Nodes = append(nt.Nodes, n)
	if err := nt.signAgain(r); err != nil {
		return nil, err
	}
	return n, nil
}

// Addrs are the node's listen addresses (TCP, then QUIC).
func (o *Org) Addrs() []string {
	return []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", o.Port), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", o.Port)}
}

// NewNodeDir makes the data directory of a further node of org o (on
// cluster storage), as AddNode does, without listing it anywhere: the org
// lists it itself, by a delegation (caravan consortium delegate). It has
// the roster file of the net; the org's other nodes are not told of it.
func (nt *Net) NewNodeDir(o *Org, name string) (*Org, error) {
	dir := filepath.Join(nt.Dir, o.Org+"-"+name)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tcp, quic := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port)
	res, err := datadir.Init(datadir.InitOptions{Dir: dir, NoOrgKey: true, Config: datadir.Config{
		Org: o.Org, Roster: RosterFile, Listen: []string{tcp, quic},
		Dial: datadir.DialConfig{BackoffMin: 200 * time.Millisecond, BackoffMax: 5 * time.Second},
		API:  datadir.APIConfig{Listen: "127.0.0.1:0"},
	}})
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"org.key", ClusterEnvFile} {
		data, err := os.ReadFile(filepath.Join(o.Dir, f))
		if err != nil {
			return nil, fmt.Errorf("%s is not on cluster storage: %w", o.Org, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			return nil, err
		}
	}
	if err := copyFS(filepath.Join(dir, "policies"), os.DirFS(filepath.Join(o.Dir, "policies"))); err != nil {
		return nil, err
	}
	n := &Org{Member: o.Member, Dir: dir, PeerID: res.PeerID.String(), Port: port}
	if err := nt.UseClusterConfig(n); err != nil {
		return nil, err
	}
	roster, err := os.ReadFile(nt.Roster)
	if err != nil {
		return nil, err
	}
	return n, os.WriteFile(filepath.Join(dir, RosterFile), roster, 0o644)
}

// UseClusterConfig switches o's config to cluster storage with the
// cluster.env already in its directory.
func (nt *Net) UseClusterConfig(o *Org) error {
	conn, err := clusterconn.Load(filepath.Join(o.Dir, ClusterEnvFile))
	if err != nil {
		return err
	}
	return nt.UseCluster(o, conn)
}
