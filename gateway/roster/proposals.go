package roster

import (
	"cmp"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// Proposals: the next version of the roster, and the admins' signatures
// on it, handed to the gateway (caravan consortium submit) one at a time,
// wherever each admin signed. The gateway keeps a version's signatures as
// they come (DIR/state/proposals) and puts it in force as soon as it may
// replace the roster in force: a threshold of its own admins and of the
// admins in force have signed it (consortium.CheckUpdate, the TUF rule).

// ErrProposal is wrapped by Submit's refusals.
var ErrProposal = errors.New("roster proposal refused")

// MaxProposals bounds the distinct proposals a gateway holds at once: a
// caller that submits content after content fills no disk.
const MaxProposals = 32

// Submit takes a proposed version with some of its signatures. Signatures
// of the same content already held are merged with its own; a signature
// that does not verify, or a version that may never replace the roster in
// force (an older one, another consortium's, another content under a
// version already in force), is refused. It returns the proposal's state:
// adopted (now in force) or pending, with who has signed.
func (rs *Keeper) Submit(p *consortium.Roster) (*api.RosterProposal, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	current := rs.Roster()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProposal, err)
	}
	switch err := consortium.CheckUpdate(current, unsignedCheck(p)); {
	case errors.Is(err, consortium.ErrSameVersion):
		return rs.proposalOf(p, "in force"), nil
	case errors.Is(err, consortium.ErrDowngrade), errors.Is(err, consortium.ErrConflict), errors.Is(err, consortium.ErrOtherConsortium):
		return nil, fmt.Errorf("%w: %w", ErrProposal, err)
	}
	if err := checkSignatures(p, current); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProposal, err)
	}
	path, err := rs.proposals.path(p)
	if err != nil {
		return nil, err
	}
	held := rs.proposals.all()
	if h, ok := held[path]; ok {
		if p = merge(h, p); slices.Equal(p.Signatures, h.Signatures) {
			return rs.proposalOf(h, "pending"), nil // nothing new
		}
	} else if n := len(held); n >= MaxProposals {
		return nil, fmt.Errorf("%w: %d proposals are held already, the most a gateway keeps; adopt or drop one first", ErrProposal, n)
	}
	if _, err := p.Verify(); err == nil {
		if err := consortium.CheckUpdate(current, p); err == nil {
			return rs.adopt(p, current)
		}
	}
	data, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return nil, err
	}
	held[path] = p
	rs.log.Info("roster proposal held", zap.Uint64("version", p.Version), zap.Strings("signed", signerNames(p)))
	return rs.proposalOf(p, "pending"), nil
}

// adopt puts p in force, as Reload does a file, and writes it to the roster
// file too, so that the file and the roster in force agree.
func (rs *Keeper) adopt(p, current *consortium.Roster) (*api.RosterProposal, error) {
	if err := rs.putInForce(p, true); err != nil { // drops the proposal held, with those it supersedes
		return nil, err
	}
	rs.log.Info("roster proposal adopted", zap.Uint64("from", current.Version), zap.Uint64("to", p.Version),
		zap.Strings("signed", signerNames(p)))
	return rs.proposalOf(p, "adopted"), nil
}

// Proposals lists the proposals held, pending; with documents, each with
// the proposed roster itself (what an admin signs), which a status leaves
// out.
func (rs *Keeper) Proposals(documents bool) []api.RosterProposal {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := []api.RosterProposal{}
	for _, p := range rs.proposals.all() {
		if p.Version <= rs.Roster().Version {
			continue
		}
		q := rs.proposalOf(p, "pending")
		if documents {
			if data, err := p.Marshal(); err == nil {
				q.Document = string(data)
			}
		}
		out = append(out, *q)
	}
	slices.SortFunc(out, func(a, b api.RosterProposal) int {
		return cmp.Or(cmp.Compare(a.Version, b.Version), strings.Compare(a.Digest, b.Digest))
	})
	return out
}

// proposals are the proposals held, by file: read from
// DIR/state/proposals once, then kept in memory, so that a status reads no
// file. The keeper's lock guards them.
type proposals struct {
	dir  string
	held map[string]*consortium.Roster // nil until read
}

// all is the proposals held, by file.
func (ps *proposals) all() map[string]*consortium.Roster {
	if ps.held == nil {
		ps.held = map[string]*consortium.Roster{}
		files, _ := filepath.Glob(filepath.Join(ps.dir, "*.yaml"))
		for _, f := range files {
			if p, err := consortium.Load(f); err == nil {
				ps.held[f] = p
			}
		}
	}
	return ps.held
}

// prune drops the proposals that version v, put in force, supersedes.
func (ps *proposals) prune(v uint64) {
	held := ps.all()
	for f, q := range held {
		if q.Version <= v {
			_ = os.Remove(f)
			delete(held, f)
		}
	}
}

// path is where the signatures of p's content are held.
func (ps *proposals) path(p *consortium.Roster) (string, error) {
	sum, err := p.Digest()
	if err != nil {
		return "", err
	}
	return filepath.Join(ps.dir, fmt.Sprintf("%d-%s.yaml", p.Version, hex.EncodeToString(sum[:8]))), nil
}

// proposalOf says who has signed p, and who must.
func (rs *Keeper) proposalOf(p *consortium.Roster, state string) *api.RosterProposal {
	sum, _ := p.Digest()
	current := rs.Roster()
	signed := signerNames(p)
	out := &api.RosterProposal{Version: p.Version, Digest: hex.EncodeToString(sum[:]), State: state, Signed: signed,
		Threshold: p.Admins.Threshold, InForceThreshold: current.Admins.Threshold, Expires: p.Expires}
	for _, k := range p.Admins.Keys {
		if !slices.Contains(signed, k.Name) {
			out.Unsigned = append(out.Unsigned, k.Name)
		}
	}
	return out
}

func signerNames(p *consortium.Roster) []string {
	names := []string{}
	for _, s := range p.Signatures {
		names = append(names, s.Admin)
	}
	return names
}

// unsignedCheck is p without its signatures, for CheckUpdate's version and
// consortium rules alone (its signature rule is checked once merged).
func unsignedCheck(p *consortium.Roster) *consortium.Roster {
	c := *p
	c.Signatures = nil
	return &c
}

// checkSignatures checks each of p's signatures against the key its admin
// has in p or in the roster in force: a proposal carries no signature that
// does not verify.
func checkSignatures(p, current *consortium.Roster) error {
	msg, err := p.SigningBytes()
	if err != nil {
		return err
	}
	for _, s := range p.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		ok := false
		for _, r := range []*consortium.Roster{p, current} {
			for _, k := range r.Admins.Keys {
				if pub, perr := consortium.ParsePublicKey(k.Key); k.Name == s.Admin && perr == nil && err == nil && ed25519.Verify(pub, msg, sig) {
					ok = true
				}
			}
		}
		if !ok {
			return fmt.Errorf("the signature of %q does not verify with any key of that admin", s.Admin)
		}
	}
	return nil
}

// merge is held with p's signatures added (both of the same content).
func merge(held, p *consortium.Roster) *consortium.Roster {
	out := *held
	out.Signatures = slices.Clone(held.Signatures)
	for _, s := range p.Signatures {
		if !slices.ContainsFunc(out.Signatures, func(h consortium.Signature) bool { return h.Admin == s.Admin && h.Sig == s.Sig }) {
			out.Signatures = slices.DeleteFunc(out.Signatures, func(h consortium.Signature) bool { return h.Admin == s.Admin })
			out.Signatures = append(out.Signatures, s)
		}
	}
	slices.SortFunc(out.Signatures, func(a, b consortium.Signature) int { return strings.Compare(a.Admin, b.Admin) })
	return &out
}
