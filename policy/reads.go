package policy

import (
	"slices"

	"github.com/cedar-policy/cedar-go/types"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

// recordReads lists the record attributes a policy reads (resource.X,
// resource["X"], resource has X), sorted. Cedar's checker does not look
// into what a `has` guard makes unreachable, so `resource has X &&
// resource.X > 5` passes it whatever X is; Parse checks these names against
// the vocabulary itself, so that a typo is caught wherever it stands.
func recordReads(p *xast.Policy) []string {
	var out []string
	add := func(name types.String) {
		if name != attrDataset && !slices.Contains(out, string(name)) {
			out = append(out, string(name))
		}
	}
	visit := func(n xast.IsNode) bool {
		switch n := n.(type) {
		case xast.NodeTypeAccess:
			if isVar(n.Arg, varResource) {
				add(n.Value)
			}
		case xast.NodeTypeHas:
			if isVar(n.Arg, varResource) {
				add(n.Value)
			}
		}
		return true
	}
	for _, c := range p.Conditions {
		if c.Body != nil {
			xast.Inspect(xast.NewNode(c.Body), visit)
		}
	}
	slices.Sort(out)
	return out
}

// undeclaredReads lists the record attributes a policy that may decide a
// fetch reads and the vocabulary does not declare. A policy that may also
// decide discover (its resource a Dataset) may read Dataset's attributes.
func (v *Vocabulary) undeclaredReads(p *xast.Policy) []string {
	if !mayApplyToFetch(p.Action) {
		return nil
	}
	discover := mayApplyToDiscover(p.Action)
	var out []string
	for _, attr := range recordReads(p) {
		_, onRecord := v.record[types.String(attr)]
		_, onDataset := v.dataset[types.String(attr)]
		if !onRecord && !(discover && onDataset) {
			out = append(out, attr)
		}
	}
	return out
}

// mayApplyToDiscover reports whether an action scope can match
// Action::"discover".
func mayApplyToDiscover(s xast.IsActionScopeNode) bool {
	switch s := s.(type) {
	case xast.ScopeTypeEq:
		return s.Entity == ActionDiscover
	case xast.ScopeTypeInSet:
		return slices.Contains(s.Entities, ActionDiscover)
	}
	return true
}
