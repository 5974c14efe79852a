package gateway

import (
	"context"
	"fmt"

	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/gateway/metrics"
	"github.com/caravan-consortium/caravan/gateway/roster"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/journal"
)

// journalService is the API's journals: this org's own and its mirrors
// of the members', their evidence files, checkpoints and fork alerts.
type journalService struct {
	org     string
	dir     datadir.Dir
	log     *journal.Log // this org's, wherever it is stored
	roster  *roster.Keeper
	metrics *metrics.Metrics
}

// maxEntriesPage bounds one page of journal entries.
const maxEntriesPage = 1000

// JournalEntries lists up to limit entries of org's journal (this org's
// own if org is empty, or a member's mirror) from index from.
func (js *journalService) JournalEntries(ctx context.Context, org string, from, limit uint64) (*api.JournalPage, error) {
	logs, err := datadir.GatewayLogs(string(js.dir))
	if err != nil {
		return nil, err
	}
	var v *datadir.LogView
	for i := range logs {
		if org == "" && logs[i].Own || org != "" && logs[i].Org == org {
			v = &logs[i]
		}
	}
	if v == nil {
		return nil, api.Errorf(api.ErrNotFound, "org %q: not in the roster", org)
	}
	if limit == 0 || limit > maxEntriesPage {
		limit = maxEntriesPage
	}
	page := &api.JournalPage{Origin: v.Origin, Size: v.Size, Entries: []api.JournalEntry{}}
	from = min(from, v.Size)
	err = journal.Entries(ctx, v.Source, from, min(from+limit, v.Size), v.Size, func(i uint64, e []byte) error {
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
func (js *journalService) Evidence(ctx context.Context, entry int64, hash string) ([]byte, error) {
	if (entry < 0) == (hash == "") {
		return nil, api.Errorf(api.ErrInvalid, "give exactly one of entry and hash")
	}
	idx := uint64(entry)
	if hash != "" {
		var err error
		if idx, err = datadir.EntryByHash(ctx, string(js.dir), hash); err != nil {
			return nil, err
		}
	}
	p, err := datadir.ProveEntry(ctx, string(js.dir), idx)
	if err != nil {
		return nil, api.Errorf(api.ErrConflict, "entry %d: %v", idx, err)
	}
	return p, nil
}

// VerifyEvidence checks an evidence file against the roster in force, as
// caravan verify does offline.
func (js *journalService) VerifyEvidence(data []byte) (*api.EvidenceReport, error) {
	r := js.roster.Index().Members()
	t, err := journal.TrustOf(r.Consortium, r)
	if err != nil {
		return nil, err
	}
	rep, err := journal.VerifyProof(data, t)
	if err != nil {
		return nil, api.Errorf(api.ErrRefused, "the evidence does not verify: %v", err)
	}
	return reportOf(rep), nil
}

// JournalAlerts lists the fork alerts this gateway raised.
func (js *journalService) JournalAlerts() ([]api.ForkAlert, error) {
	alerts, err := journal.Alerts(js.dir.Alerts())
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return alertsOf(alerts), nil
}

// PolicyHistory lists the policy bundles this org put in force, oldest
// first, from its journal's policy entries.
func (js *journalService) PolicyHistory(ctx context.Context) ([]api.JournalEntry, error) {
	return js.entriesOfType(ctx, journal.TypePolicy)
}

// Receipts lists the receipts of this gateway's fetches, oldest first,
// from its journal's receipt entries (each names the decision it answers).
func (js *journalService) Receipts(ctx context.Context) ([]api.JournalEntry, error) {
	return js.entriesOfType(ctx, journal.TypeReceipt)
}

func (js *journalService) entriesOfType(ctx context.Context, typ string) ([]api.JournalEntry, error) {
	out := []api.JournalEntry{}
	for from := uint64(0); ; from += maxEntriesPage {
		page, err := js.JournalEntries(ctx, "", from, maxEntriesPage)
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

// WitnessTimes are the newest times from a checkpoint of this org's
// journal announced to witnessed, oldest first.
func (js *journalService) WitnessTimes() []api.WitnessSample { return js.metrics.WitnessTimes() }

// Checkpoint is the newest checkpoint this gateway holds of org's journal
// ("" for this org's own) with its cosignatures: a C2SP signed note. Before
// any is witnessed, this org's own is its log's checkpoint, signed by the
// org alone.
func (js *journalService) Checkpoint(org string) ([]byte, error) {
	if org == "" {
		org = js.org
	}
	if !js.roster.HasOrg(org) { // before org names a directory
		return nil, api.FieldErrorf(api.ErrNotFound, "org", "org %q: not in the roster", org)
	}
	w, err := journal.OpenWitnessed(js.dir.Witnessed())
	if err != nil {
		return nil, err
	}
	if sizes := w.Sizes(org); len(sizes) > 0 {
		return w.Get(org, sizes[len(sizes)-1])
	}
	if org == js.org {
		return js.log.Checkpoint(context.Background())
	}
	return nil, api.FieldErrorf(api.ErrNotFound, "org", "no cosigned checkpoint of %s's journal is held here", org)
}
