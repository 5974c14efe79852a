package schemas

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// cedarTemplate is the Cedar schema (human-readable format) of entity
// types Org, Group, Dataset and Record and actions discover and fetch, with
// a marker where Record's attributes go. Spec: schemas/policy.md.
//
//go:embed caravan.cedarschema
var cedarTemplate string

const attributesMarker = "  // ATTRIBUTES: each policy attribute of the registry's schemas, generated\n"

// Vocabulary is the policy attributes of every schema in the registry: one
// Cedar type per name. Where schemas disagree on a name's type (Check
// refuses that, but two owners may register at once), the first schema in
// registry order decides it, and the others' attribute of that name is
// listed in conflicts and not shown to policies.
func (r *Registry) Vocabulary() (attrs []Attribute, declaredBy map[string][]string, conflicts []string) {
	declaredBy = map[string][]string{}
	types := map[string]AttrType{}
	for _, s := range r.All() {
		for _, a := range s.Attributes {
			t, seen := types[a.Name]
			switch {
			case !seen:
				types[a.Name] = a.Type
				attrs = append(attrs, a)
			case t != a.Type:
				conflicts = append(conflicts, fmt.Sprintf("%s: %s is %s, but %s elsewhere", s.Label(), a.Name, a.Type, t))
				continue
			}
			declaredBy[a.Name] = append(declaredBy[a.Name], s.Label())
		}
	}
	slices.SortFunc(attrs, func(a, b Attribute) int { return strings.Compare(a.Name, b.Name) })
	return attrs, declaredBy, conflicts
}

// CedarSchema is the Cedar schema that policies are checked against: the
// template's entities and actions, with Record's attributes generated from
// the registry.
func (r *Registry) CedarSchema() []byte {
	attrs, declaredBy, _ := r.Vocabulary()
	return CedarSchemaOf(attrs, declaredBy)
}

// CedarSchemaOf is the Cedar schema with the given Record attributes;
// declaredBy, if not nil, names the schemas that declare each, as comments.
func CedarSchemaOf(attrs []Attribute, declaredBy map[string][]string) []byte {
	var b strings.Builder
	if len(attrs) == 0 {
		b.WriteString("  // (no schema in the registry declares a policy attribute)\n")
	}
	for _, a := range attrs {
		fmt.Fprintf(&b, "  %s?: %s,", cedarName(a.Name), a.Type)
		if by := declaredBy[a.Name]; len(by) > 0 {
			fmt.Fprintf(&b, "  // %s", strings.Join(by, ", "))
		}
		b.WriteByte('\n')
	}
	return []byte(strings.Replace(cedarTemplate, attributesMarker, b.String(), 1))
}

var cedarIdent = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9]*$`)

// cedarReserved are identifiers Cedar does not take as attribute names.
var cedarReserved = map[string]bool{"true": true, "false": true, "if": true, "then": true, "else": true,
	"in": true, "is": true, "like": true, "has": true, "__cedar": true}

// cedarName writes an attribute name as Cedar's schema takes it: bare if it
// is an identifier, quoted otherwise.
func cedarName(name string) string {
	if cedarIdent.MatchString(name) && !cedarReserved[name] {
		return name
	}
	return fmt.Sprintf("%q", name)
}
