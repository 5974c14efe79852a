package datadir

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/clusterconn"
	"github.com/caravan-consortium/caravan/journal"
)

// Offline access to a gateway's journal, for the CLI: it reads the files in
// the data directory and works whether or not the gateway runs.

// gatewayRoster returns the roster a gateway's data directory trusts: the
// copy it last accepted (DIR/state/roster.yaml), or the configured file.
// Either must verify.
func gatewayRoster(dir string) (*Config, *consortium.Roster, error) {
	cfg, err := LoadConfig(Dir(dir).Config())
	if err != nil {
		return nil, nil, err
	}
	r, err := consortium.LoadVerified(Dir(dir).TrustedRoster())
	if errors.Is(err, fs.ErrNotExist) {
		r, err = consortium.LoadVerified(cfg.Roster)
	}
	if err != nil {
		return nil, nil, err
	}
	return cfg, r, nil
}

// gatewayTrust returns the config of the gateway in dir and the journal
// trust of the roster it trusts.
func gatewayTrust(dir string) (*Config, *journal.Trust, error) {
	cfg, r, err := gatewayRoster(dir)
	if err != nil {
		return nil, nil, err
	}
	t, err := journal.TrustOf(r.Consortium, r)
	return cfg, t, err
}

// JournalKeys are an org's journal verifier keys in the signed-note format.
type JournalKeys struct {
	Origin  string // the log's origin
	Log     string // verifies the log's checkpoints (Ed25519, 0x01)
	Witness string // verifies its cosignatures (cosignature/v1, 0x04)
}

// GatewayJournalKeys returns the verifier keys of the gateway in dir's
// org, from the roster it has in force: the log's (the org key, or the
// first node's in a roster without one) and this node's cosigner key.
func GatewayJournalKeys(dir string) (*JournalKeys, error) {
	cfg, r, err := gatewayRoster(dir)
	if err != nil {
		return nil, err
	}
	m := r.Member(cfg.Org)
	if m == nil {
		return nil, fmt.Errorf("the roster in force (version %d) does not list %s", r.Version, cfg.Org)
	}
	logKey, err := m.JournalKey()
	if err != nil {
		return nil, err
	}
	key, err := LoadNodeKey(dir)
	if err != nil {
		return nil, err
	}
	raw, err := key.GetPublic().Raw()
	if err != nil {
		return nil, err
	}
	k := &JournalKeys{Origin: journal.Origin(r.Consortium, cfg.Org)}
	if k.Log, err = journal.LogVerifierKey(k.Origin, logKey); err != nil {
		return nil, err
	}
	if k.Witness, err = journal.CosignerVerifierKey(journal.WitnessName(r.Consortium, cfg.Org), ed25519.PublicKey(raw)); err != nil {
		return nil, err
	}
	return k, nil
}

// LogView is one log a gateway holds: its own or a mirror.
type LogView struct {
	Org    string
	Origin string
	Dir    string // a mirror's directory, or the own log's on embedded storage
	// Source reads the log: its directory, or the cluster's bucket for the
	// own log on cluster storage.
	Source     journal.Source
	Own        bool
	Checkpoint []byte // newest checkpoint note on disk, nil if none
	Size       uint64
}

// GatewayLogs lists the logs in a data directory: its own first, then the
// mirrors of the roster's other members.
func GatewayLogs(dir string) ([]LogView, error) {
	cfg, r, err := gatewayRoster(dir)
	if err != nil {
		return nil, err
	}
	d := Dir(dir)
	own, err := ownLog(cfg, d)
	if err != nil {
		return nil, err
	}
	var out []LogView
	for _, m := range r.Members {
		v := LogView{Org: m.Org, Origin: journal.Origin(r.Consortium, m.Org), Dir: d.Mirror(m.Org), Own: m.Org == cfg.Org}
		v.Source = journal.DirSource(v.Dir)
		if v.Own {
			v.Dir, v.Source = "", own
			if cfg.Storage == storageEmbedded {
				v.Dir = d.JournalLog()
			}
		}
		if raw, err := v.Source.ReadCheckpoint(context.Background()); err == nil {
			v.Checkpoint = raw
			if cp, err := journal.ParseCheckpoint(raw); err == nil {
				v.Size = cp.Size
			}
		}
		if v.Own {
			out = append([]LogView{v}, out...)
		} else {
			out = append(out, v)
		}
	}
	return out, nil
}

// ownLog reads the gateway's own log where its storage keeps it: in the
// data directory, or in the cluster's bucket (reached as the config's
// cluster_env and the environment say).
func ownLog(cfg *Config, d Dir) (journal.Source, error) {
	if cfg.Storage != storageCluster {
		return journal.DirSource(d.JournalLog()), nil
	}
	conn, err := clusterconn.Load(cfg.ClusterEnv)
	if err != nil {
		return nil, err
	}
	return journal.ClusterSource(conn), nil
}

// ProveEntry writes the tlog-proof of entry index of the gateway's own log,
// under the smallest witnessed checkpoint that covers it.
func ProveEntry(ctx context.Context, dir string, index uint64) ([]byte, error) {
	cfg, t, err := gatewayTrust(dir)
	if err != nil {
		return nil, err
	}
	w, err := journal.OpenWitnessed(Dir(dir).Witnessed())
	if err != nil {
		return nil, err
	}
	best := 0
	for _, size := range w.Sizes(cfg.Org) {
		if size <= index {
			continue
		}
		raw, err := w.Get(cfg.Org, size)
		if err != nil {
			continue
		}
		if _, cosigs, ok, err := t.Check(raw); err == nil {
			if ok {
				own, err := ownLog(cfg, Dir(dir))
				if err != nil {
					return nil, err
				}
				return journal.BuildProof(ctx, own, index, raw)
			}
			best = max(best, len(cosigs))
		}
	}
	return nil, fmt.Errorf("no checkpoint covering entry %d is witnessed yet (best: %d of %d cosignatures); is the gateway running and connected to the witnesses?",
		index, best, t.Required(cfg.Org))
}

// FindEntry returns the index of the first entry of the gateway's own log
// that match accepts (a linear scan). what names the entry sought, for the
// error that says there is none.
func FindEntry(ctx context.Context, dir, what string, match func(entry []byte) bool) (uint64, error) {
	logs, err := GatewayLogs(dir)
	if err != nil {
		return 0, err
	}
	own := logs[0]
	found := uint64(0)
	errFound := errors.New("found")
	err = journal.Entries(ctx, own.Source, 0, own.Size, own.Size, func(i uint64, e []byte) error {
		if match(e) {
			found = i
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		return found, nil
	}
	if err != nil {
		return 0, err
	}
	return 0, noEntryError(fmt.Sprintf("no %s in the %d entries of %s", what, own.Size, own.Origin))
}

// errNoEntry is what FindEntry's error is (errors.Is) when no entry
// matches.
var errNoEntry = errors.New("no entry matches")

type noEntryError string

func (e noEntryError) Error() string        { return string(e) }
func (e noEntryError) Is(target error) bool { return target == errNoEntry }

// LogCheck is the result of a full check of one log.
type LogCheck struct {
	LogView
	Entries   uint64 // entries hashed and decoded
	BadEvents []string
	Err       error // nil: every entry hashes to the signed root
}

// VerifyJournals fully checks every log in a data directory: the newest
// checkpoint's signature, every entry hashed up to its signed root (so the
// log is consistent with itself and complete), and every entry's event
// format.
func VerifyJournals(ctx context.Context, dir string) ([]LogCheck, error) {
	_, t, err := gatewayTrust(dir)
	if err != nil {
		return nil, err
	}
	logs, err := GatewayLogs(dir)
	if err != nil {
		return nil, err
	}
	var out []LogCheck
	for _, v := range logs {
		c := LogCheck{LogView: v}
		if v.Checkpoint == nil {
			out = append(out, c)
			continue
		}
		lk, _ := t.Log(v.Origin)
		tmp, err := os.MkdirTemp("", "caravan-verify-")
		if err != nil {
			return nil, err
		}
		m, err := journal.OpenMirror(tmp, v.Origin, lk.Verifier)
		if err == nil {
			_, _, err = m.Update(ctx, v.Source, v.Checkpoint)
		}
		os.RemoveAll(tmp)
		c.Err = err
		if err == nil {
			c.Err = journal.Entries(ctx, v.Source, 0, v.Size, v.Size, func(i uint64, e []byte) error {
				c.Entries++
				if _, err := journal.Decode(e); err != nil {
					c.BadEvents = append(c.BadEvents, fmt.Sprintf("entry %d: %v", i, err))
				}
				return nil
			})
		}
		out = append(out, c)
	}
	return out, nil
}

// EntryByHash finds the entry of the gateway's own journal in dir whose
// event hash is hash, or starts with it (8 characters or more) if only one
// entry's does, such as the 12 that 'journal log' shows.
func EntryByHash(ctx context.Context, dir, hash string) (uint64, error) {
	hash = strings.ToLower(hash)
	if len(hash) < 8 {
		return 0, api.FieldErrorf(api.ErrInvalid, "hash", "hash %q: give at least 8 hex characters of the event hash", hash)
	}
	var matches []uint64
	i := uint64(0)
	_, err := FindEntry(ctx, dir, "entry", func(e []byte) bool {
		if strings.HasPrefix(journal.Hash(e), hash) {
			matches = append(matches, i)
		}
		i++
		return false // every entry: a prefix must be unique
	})
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) > 1:
		return 0, api.Errorf(api.ErrConflict, "hash %s: entries %v all start with it; give more characters", hash, matches)
	case err != nil && !errors.Is(err, errNoEntry):
		return 0, err
	}
	return 0, api.Errorf(api.ErrNotFound, "hash %s: no entry of this org's journal has an event hash that starts with it", hash)
}
