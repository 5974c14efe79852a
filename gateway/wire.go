package gateway

import (
	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/policy"
)

// The API's wire types of the journal and policy values: the api package
// imports neither (so that its client stays light), and these convert.

func cosigsOf(cs []journal.Cosig) []api.Cosig {
	out := make([]api.Cosig, len(cs))
	for i, c := range cs {
		out[i] = api.Cosig(c)
	}
	return out
}

func journalStatusOf(s journal.Status) api.JournalStatus {
	out := api.JournalStatus{Origin: s.Origin, Size: s.Size, Cosigs: cosigsOf(s.Cosigs), Witness: s.Witness, Alerts: s.Alerts,
		Mirrors: make([]api.MirrorStatus, len(s.Mirrors))}
	for i, m := range s.Mirrors {
		out.Mirrors[i] = api.MirrorStatus(m)
	}
	return out
}

func reportOf(r *journal.Report) *api.EvidenceReport {
	return &api.EvidenceReport{Org: r.Org, Origin: r.Origin, Index: r.Index, Size: r.Size, Root: r.Root, Event: r.Event,
		EventHash: r.EventHash, Cosigs: cosigsOf(r.Cosigs), Threshold: r.Threshold, Witnessed: r.Witnessed,
		LeafHash: r.LeafHash, ProofDepth: r.ProofDepth}
}

func alertsOf(as []journal.Alert) []api.ForkAlert {
	out := make([]api.ForkAlert, len(as)) // [] rather than null
	for i, a := range as {
		out[i] = api.ForkAlert(a)
	}
	return out
}

func policyFilesOf(fs []policy.File) []api.PolicyFile {
	out := make([]api.PolicyFile, len(fs))
	for i, f := range fs {
		out[i] = api.PolicyFile(f)
	}
	return out
}
