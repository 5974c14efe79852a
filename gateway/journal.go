package gateway

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/caravan-consortium/caravan/gateway/policies"
	"github.com/caravan-consortium/caravan/gateway/storage"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// journalTimeout bounds one journal append made on behalf of another action.
const journalTimeout = 10 * time.Second

// journaler appends this org's events to its log: the publisher's
// statements, the policy bundles and roster versions put in force, the
// disclosures of sealed statements, and the fetches' receipts.
type journaler struct {
	org   string
	log   *journal.Log
	marks storage.Marks // what was journaled last, across restarts and nodes
	zlog  *zap.Logger
}

// openJournal opens this org's log where the backend keeps it. Its network
// side (package witness) starts later, once GossipSub runs.
func openJournal(b *storage.Backend, org string, signer *journal.LogSigner, log *zap.Logger) (*journaler, error) {
	cfg := b.Journal
	cfg.Origin, cfg.Signer = signer.Name(), signer
	l, err := journal.Open(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	return &journaler{org: org, log: l, marks: b.Marks, zlog: log}, nil
}

// Append journals an event of this org; it returns once the entry is durable.
func (j *journaler) Append(ctx context.Context, e *journal.Event) (uint64, error) {
	if j == nil {
		return 0, errors.New("the journal is not open")
	}
	e.Org = j.org
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	return j.log.Append(ctx, e)
}

// journalStatement journals this org's publish, retraction or schema
// registration before it is stored (the publisher's Journal hook): the
// entry is durable before the statement can reach anyone.
func (j *journaler) statement(st *manifest.Statement) error {
	e := &journal.Event{Manifest: st.CID().String()}
	switch st.BodyType() {
	case manifest.TypeManifest:
		m, err := st.Manifest()
		if err != nil {
			return err
		}
		e.Type, e.Dataset, e.Version, e.Records = journal.TypePublish, m.Dataset, m.Version, m.Records
		e.Root, e.Schema, e.Time = base64.StdEncoding.EncodeToString(m.Tree.Root), fmt.Sprintf("%s@%d", m.Schema.ID, m.Schema.Version), m.Created
	case manifest.TypeRetraction:
		r, err := st.Retraction()
		if err != nil {
			return err
		}
		e.Type, e.Dataset = journal.TypeRetract, r.Dataset
	case manifest.TypeRegistration:
		r, err := st.Registration()
		if err != nil {
			return err
		}
		e.Type, e.Schema, e.Document, e.Time = journal.TypeSchema, r.Name+"@"+r.Version, r.DocumentCID().String(), r.Created
	case manifest.TypeSealed:
		// Every member mirrors this journal: a sealed dataset's entry names
		// only the statements' CIDs, never its name or counts.
		sl, err := st.Sealed()
		if err != nil {
			return err
		}
		e.Type, e.Manifest, e.Sealed, e.Time = journal.TypeSealed, sl.Statement, st.CID().String(), sl.Created
	default:
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	idx, err := j.Append(ctx, e)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.zlog.Debug("journaled", zap.String("type", e.Type), zap.Uint64("index", idx))
	return nil
}

// journalPolicy journals a policy bundle before it is put in force (a
// restart on the same bundle is not a change): a bundle that cannot be
// journaled is not put in force.
func (j *journaler) policy(ch policies.Change) error {
	if j == nil {
		return nil
	}
	return j.marks.Once("policy", ch.New, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
		defer cancel()
		if _, err := j.Append(ctx, &journal.Event{Type: journal.TypePolicy, Bundle: ch.New, Previous: ch.Old, Time: ch.At}); err != nil {
			return fmt.Errorf("journaling the policy bundle %s: %w", ch.New, err)
		}
		return nil
	})
}

// journalRoster journals a roster version put in force, once per version.
func (j *journaler) roster(r *consortium.Roster) {
	if j == nil {
		return
	}
	sum, err := r.Digest()
	if err != nil {
		return
	}
	err = j.marks.Once("roster", fmt.Sprint(r.Version), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
		defer cancel()
		_, err := j.Append(ctx, &journal.Event{Type: journal.TypeRoster, RosterVersion: r.Version,
			RosterDigest: hex.EncodeToString(sum[:])})
		return err
	})
	if err != nil {
		j.zlog.Error("roster change not journaled", zap.Error(err))
	}
}
