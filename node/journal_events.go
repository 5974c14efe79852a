package node

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/sharing"
)

// JournalTopic is the gossip topic of a consortium's journal checkpoints.
func JournalTopic(consortium string) string { return "/caravan/" + consortium + "/journal/1" }

// journalTimeout bounds one journal append made on behalf of another action.
const journalTimeout = 10 * time.Second

// journalStatement journals this org's publish or retraction before it is
// announced: the entry is durable before the world hears of the statement.
func (n *Node) journalStatement(st *sharing.Statement) error {
	e := &journal.Event{Manifest: st.CID().String()}
	switch st.BodyType() {
	case sharing.TypeManifest:
		m, err := st.Manifest()
		if err != nil {
			return err
		}
		e.Type, e.Dataset, e.Version, e.Records = journal.TypePublish, m.Dataset, m.Version, m.Records
		e.Root, e.Schema, e.Time = base64.StdEncoding.EncodeToString(m.Tree.Root), fmt.Sprintf("%s@%d", m.Schema.ID, m.Schema.Version), m.Created
	case sharing.TypeRetraction:
		r, err := st.Retraction()
		if err != nil {
			return err
		}
		e.Type, e.Dataset = journal.TypeRetract, r.Dataset
	default:
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	idx, err := n.Append(ctx, e)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	n.log.Named("journal").Debug("journaled", zap.String("type", e.Type), zap.Uint64("index", idx))
	return nil
}

// journalPolicy journals a policy bundle put in force (an OnPolicyChange hook).
// A restart on the same bundle is not a change.
func (n *Node) journalPolicy(ch PolicyChange) {
	if n.journal == nil || n.journalSeen("policy", ch.New) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	if _, err := n.Append(ctx, &journal.Event{Type: journal.TypePolicy, Bundle: ch.New, Previous: ch.Old, Time: ch.At}); err != nil {
		n.log.Named("journal").Error("policy change not journaled", zap.Error(err))
		return
	}
	n.markJournalSeen("policy", ch.New)
}

// journalRoster journals a roster version put in force, once per version.
func (n *Node) journalRoster(r *consortium.Roster) {
	v := fmt.Sprint(r.Version)
	if n.journal == nil || n.journalSeen("roster", v) {
		return
	}
	sum, err := r.Digest()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	if _, err := n.Append(ctx, &journal.Event{Type: journal.TypeRoster, RosterVersion: r.Version,
		RosterDigest: hex.EncodeToString(sum[:])}); err != nil {
		n.log.Named("journal").Error("roster change not journaled", zap.Error(err))
		return
	}
	n.markJournalSeen("roster", v)
}
