package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/journal"
)

// EntryByHash finds the entry of the gateway's own journal in dir whose
// event hash is hash, or starts with it (8 characters or more) if only one
// entry's does, such as the 12 that 'journal log' shows.
func EntryByHash(ctx context.Context, dir, hash string) (uint64, error) {
	hash = strings.ToLower(hash)
	if len(hash) < 8 {
		return 0, api.FieldErrorf(http.StatusBadRequest, "hash", "hash %q: give at least 8 hex characters of the event hash", hash)
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
		return 0, api.Errorf(http.StatusConflict, "hash %s: entries %v all start with it; give more characters", hash, matches)
	case err != nil && !errors.Is(err, ErrNoEntry):
		return 0, err
	}
	return 0, api.Errorf(http.StatusNotFound, "hash %s: no entry of this org's journal has an event hash that starts with it", hash)
}

// maxEntriesPage bounds one page of journal entries.
const maxEntriesPage = 1000

// JournalEntries lists up to limit entries of org's journal (this org's
// own if org is empty, or a member's mirror) from index from.
func (n *Node) JournalEntries(ctx context.Context, org string, from, limit uint64) (*api.JournalPage, error) {
	logs, err := GatewayLogs(string(n.dir))
	if err != nil {
		return nil, err
	}
	var v *LogView
	for i := range logs {
		if org == "" && logs[i].Own || org != "" && logs[i].Org == org {
			v = &logs[i]
		}
	}
	if v == nil {
		return nil, api.Errorf(http.StatusNotFound, "org %q: not in the roster", org)
	}
	if limit == 0 || limit > maxEntriesPage {
		limit = maxEntriesPage
	}
	page := &api.JournalPage{Origin: v.Origin, Size: v.Size, Entries: []api.JournalEntry{}}
	from = min(from, v.Size)
	err = journal.Entries(ctx, journal.DirSource(v.Dir), from, min(from+limit, v.Size), v.Size, func(i uint64, e []byte) error {
		je := api.JournalEntry{Index: i, Hash: journal.Hash(e)}
		if ev, err := journal.Decode(e); err != nil {
			je.Error = err.Error()
		} else {
			je.Event = ev
		}
		page.Entries = append(page.Entries, je)
		return nil
	})
	return page, err
}

// Evidence is the C2SP tlog-proof evidence file of an entry of this org's
// journal, named by index (entry >= 0) or by event hash or prefix.
func (n *Node) Evidence(ctx context.Context, entry int64, hash string) ([]byte, error) {
	if (entry < 0) == (hash == "") {
		return nil, api.Errorf(http.StatusBadRequest, "give exactly one of entry and hash")
	}
	idx := uint64(entry)
	if hash != "" {
		var err error
		if idx, err = EntryByHash(ctx, string(n.dir), hash); err != nil {
			return nil, err
		}
	}
	p, err := ProveEntry(ctx, string(n.dir), idx)
	if err != nil {
		return nil, api.Errorf(http.StatusConflict, "entry %d: %v", idx, err)
	}
	return p, nil
}

// VerifyEvidence checks an evidence file against the roster in force, as
// caravan verify does offline.
func (n *Node) VerifyEvidence(data []byte) (*journal.Report, error) {
	r := n.Roster()
	t, err := journal.TrustOf(r.Consortium, r)
	if err != nil {
		return nil, err
	}
	rep, err := journal.VerifyProof(data, t)
	if err != nil {
		return nil, api.Errorf(http.StatusUnprocessableEntity, "the evidence does not verify: %v", err)
	}
	return rep, nil
}

// JournalAlerts lists the fork alerts this gateway raised.
func (n *Node) JournalAlerts() ([]journal.Alert, error) {
	alerts, err := journal.Alerts(n.dir.Alerts())
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return append([]journal.Alert{}, alerts...), nil // [] rather than null
}

// PolicyHistory lists the policy bundles this org put in force, oldest
// first, from its journal's policy entries.
func (n *Node) PolicyHistory(ctx context.Context) ([]api.JournalEntry, error) {
	return n.entriesOfType(ctx, journal.TypePolicy)
}

// Receipts lists the receipts of this gateway's fetches, oldest first,
// from its journal's receipt entries (each names the decision it answers).
func (n *Node) Receipts(ctx context.Context) ([]api.JournalEntry, error) {
	return n.entriesOfType(ctx, journal.TypeReceipt)
}

func (n *Node) entriesOfType(ctx context.Context, typ string) ([]api.JournalEntry, error) {
	out := []api.JournalEntry{}
	for from := uint64(0); ; from += maxEntriesPage {
		page, err := n.JournalEntries(ctx, "", from, maxEntriesPage)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Entries {
			if e.Event != nil && e.Event.Type == typ {
				out = append(out, e)
			}
		}
		if from+maxEntriesPage >= page.Size {
			return out, nil
		}
	}
}

// RosterDocument is the signed roster this gateway follows, as the API
// gives it.
func (n *Node) RosterDocument() *api.Roster {
	r := n.Roster()
	out := &api.Roster{Consortium: r.Consortium, Version: r.Version, WitnessThreshold: r.WitnessThreshold,
		Admins: api.RosterAdmins{Threshold: r.Admins.Threshold, Keys: []api.RosterAdminKey{}}, Members: []api.RosterMember{}, Signatures: []api.RosterSig{}}
	for _, k := range r.Admins.Keys {
		out.Admins.Keys = append(out.Admins.Keys, api.RosterAdminKey{Name: k.Name, Key: k.Key})
	}
	for _, m := range r.Members {
		am := api.RosterMember{Org: m.Org, Name: m.Name, Country: m.Country, Sector: m.Sector,
			Roles: append([]string{}, m.Roles...), Groups: m.Groups, Nodes: []api.RosterNode{}}
		for _, nd := range m.Nodes {
			am.Nodes = append(am.Nodes, api.RosterNode{PeerID: nd.PeerID, Addrs: append([]string{}, nd.Addrs...)})
		}
		out.Members = append(out.Members, am)
	}
	for _, sg := range r.Signatures {
		out.Signatures = append(out.Signatures, api.RosterSig{Admin: sg.Admin, Sig: sg.Sig})
	}
	return out
}

// WitnessTimes are the newest times from a checkpoint of this org's
// journal announced to witnessed, oldest first.
func (n *Node) WitnessTimes() []api.WitnessSample { return n.metrics.witnessTimes() }

// Checkpoint is the newest checkpoint this gateway holds of org's journal
// ("" for this org's own) with its cosignatures: a C2SP signed note. Before
// any is witnessed, this org's own is its log's checkpoint, signed by the
// org alone.
func (n *Node) Checkpoint(org string) ([]byte, error) {
	if org == "" {
		org = n.cfg.Org
	}
	if !n.index.Load().HasOrg(org) { // before org names a directory
		return nil, api.FieldErrorf(http.StatusNotFound, "org", "org %q: not in the roster", org)
	}
	w, err := journal.OpenWitnessed(n.dir.Witnessed())
	if err != nil {
		return nil, err
	}
	if sizes := w.Sizes(org); len(sizes) > 0 {
		return w.Get(org, sizes[len(sizes)-1])
	}
	if org == n.cfg.Org {
		return os.ReadFile(journal.CheckpointPath(n.dir.JournalLog()))
	}
	return nil, api.FieldErrorf(http.StatusNotFound, "org", "no cosigned checkpoint of %s's journal is held here", org)
}
