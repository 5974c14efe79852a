package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/journal"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// Sealed datasets: a dataset that not every member may discover (the
// owner's discover policies, on its first version's manifest) is announced
// by a sealed statement (owner, CID, time) in place of its manifests and
// retractions; the members the policies permit get each statement from
// the owner on request, a disclosure the owner journals
// (catalog-protocol.md).

// sealManifest is the publisher's Seal hook: whether m's dataset is hidden
// from some member. A dataset sealed once stays sealed: its next versions
// are sealed too, whatever the policies say of them now.
func (n *Node) sealManifest(m *manifest.Manifest) bool {
	if prev, err := cid.Decode(m.Previous); err == nil && n.catalog.Hidden(prev) {
		return true
	}
	b, now := n.Policies(), time.Now()
	d := n.datasetEntity(m, cid.Undef)
	for _, mem := range n.Roster().Members {
		if mem.Org == n.cfg.Org {
			continue
		}
		org := OrgEntity(&mem)
		if !b.Discover(org, []policy.Dataset{d}, now, n.orgEntity)[0].Permit {
			return true
		}
	}
	return false
}

// mayDiscover reports whether org may discover the dataset of st (a
// manifest, or a retraction of a dataset whose head manifest this gateway
// holds).
func (n *Node) mayDiscover(org string, st *manifest.Statement) bool {
	who, ok := n.orgEntity(org)
	if !ok {
		return false
	}
	var m *manifest.Manifest
	switch st.BodyType() {
	case manifest.TypeManifest:
		m, _ = st.Manifest()
	case manifest.TypeRetraction:
		r, err := st.Retraction()
		if err != nil {
			return false
		}
		_, m, _ = n.catalog.Head(r.Publisher, r.Dataset)
	}
	if m == nil {
		return false
	}
	return n.Policies().Discover(who, []policy.Dataset{n.datasetEntity(m, st.CID())}, time.Now(), n.orgEntity)[0].Permit
}

// disclose is the catalog's Disclose hook: it reveals one of this org's
// sealed statements to org if the discover policies permit it, and
// journals the disclosure first.
func (n *Node) disclose(org string, st *manifest.Statement) error {
	if !n.mayDiscover(org, st) {
		return errors.New("the discover policies do not permit it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	if _, err := n.Append(ctx, &journal.Event{Type: journal.TypeDisclose, Requester: org, Manifest: st.CID().String()}); err != nil {
		return fmt.Errorf("journaling the disclosure: %w", err)
	}
	return nil
}

// datasetName is what a journal entry about manifest may say of its
// dataset: its name, unless it is sealed (every member mirrors the
// journal).
func (n *Node) datasetName(manifest cid.Cid, name string) string {
	if n.catalog.Hidden(manifest) {
		return ""
	}
	return name
}
