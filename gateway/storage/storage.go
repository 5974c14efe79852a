// Package storage opens where a gateway keeps its state, as its config
// says (datadir.Config.Storage): embedded, in the data directory, or
// cluster, on the organization's database and bucket, shared by all its
// nodes. The assembly gets the same parts either way.
package storage

import (
	"context"
	"encoding/json"
	"os"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/gateway/policies"
	"github.com/caravan-consortium/caravan/gateway/roster"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/internal/clusterconn"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/sharing/store"
	"github.com/caravan-consortium/caravan/sharing/store/cluster"
)

// Marks remember the last value of each kind that was journaled (the
// roster version and the policy bundle in force), so that neither a
// restart nor another node of the org journals it again.
type Marks interface {
	// Once runs fn unless value is kind's mark, then marks it.
	Once(kind, value string, fn func() error) error
}

// The backends (datadir.Config.Storage).
const (
	Embedded = "embedded"
	Cluster  = "cluster"
)

// Backend is what the gateway keeps its state in.
type Backend struct {
	// Kind is Embedded or Cluster.
	Kind  string
	Store store.Store
	// Volume is the count behind released_today; nil: the ledger file.
	Volume policy.Volume
	// Journal is where the org's log is: Dir or Cluster is set; the caller
	// adds the origin and the signer.
	Journal journal.LogConfig
	Marks   Marks
	// Policies is where the org's nodes share their policy files, and
	// Delegations their node delegations; nil on embedded storage.
	Policies    policies.Shared
	Delegations roster.SharedDelegations
}

// Open opens the backend cfg names.
func Open(ctx context.Context, cfg *datadir.Config, dir datadir.Dir, log *zap.Logger) (*Backend, error) {
	switch cfg.Storage {
	case Cluster:
		conn, err := clusterconn.Load(cfg.ClusterEnv)
		if err != nil {
			return nil, err
		}
		s, err := cluster.Open(ctx, conn, cluster.Options{Log: log})
		if err != nil {
			return nil, err
		}
		shared := s.Shared()
		return &Backend{Kind: cfg.Storage, Store: s, Volume: s.Volume(), Journal: journal.LogConfig{Cluster: &conn},
			Marks: shared, Policies: shared, Delegations: shared}, nil
	default:
		s, err := store.OpenEmbedded(dir.Store(), log)
		if err != nil {
			return nil, err
		}
		return &Backend{Kind: Embedded, Store: s, Journal: journal.LogConfig{Dir: dir.JournalLog()},
			Marks: fileMarks(dir.JournalSeen())}, nil
	}
}

// Close closes the store.
func (b *Backend) Close() error {
	if b == nil || b.Store == nil {
		return nil
	}
	return b.Store.Close()
}

// fileMarks keeps the marks in a JSON file (datadir.Dir.JournalSeen).
type fileMarks string

func (f fileMarks) read() map[string]string {
	m := map[string]string{}
	if data, err := os.ReadFile(string(f)); err == nil {
		_ = json.Unmarshal(data, &m)
	}
	return m
}

func (f fileMarks) Once(kind, value string, fn func() error) error {
	m := f.read()
	if m[kind] == value {
		return nil
	}
	if err := fn(); err != nil {
		return err
	}
	// A mark that cannot be written costs one entry journaled again at
	// the next start; it does not undo what fn did.
	m[kind] = value
	if data, err := json.Marshal(m); err == nil {
		_ = atomicfile.Write(string(f), data, 0o600)
	}
	return nil
}
