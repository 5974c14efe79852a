package policy

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/caravan-consortium/caravan/internal/yamlfile"
)

// Table is a decision table: requests with the decisions a bundle must give.
// `caravan policy test DIR CASES.yaml` runs one. Format:
//
//	orgs:                      # principals, keyed by org id
//	  customs-kz: {name: ..., country: KZ, sector: customs, roles: [...], groups: [...]}
//	datasets:                  # resources' datasets, keyed by an alias
//	  declarations: {owner: customs-cn, name: ..., schema: ..., labels: [...], purposes: [...]}
//	time: 2026-11-27T10:00:00Z # default request time
//	cases:
//	  - name: partner customs gets a declaration bound for its country
//	    org: customs-kz
//	    action: fetch          # fetch (default) or discover
//	    dataset: declarations
//	    purpose: customs-clearance
//	    time: ...              # optional; the table's time otherwise
//	    released_today: 0      # optional
//	    record: {classification: internal, destination_country: KZ}
//	    expect: permit         # permit or deny
//	    policies: [customs-partner-clearance]  # optional; if given, must match
type Table struct {
	Orgs     map[string]Org     `yaml:"orgs"`
	Datasets map[string]Dataset `yaml:"datasets"`
	Time     time.Time          `yaml:"time"`
	Cases    []Case             `yaml:"cases"`

	file string
}

// Case is one row of a Table.
type Case struct {
	Name          string         `yaml:"name"`
	Org           string         `yaml:"org"`
	Action        string         `yaml:"action"`
	Dataset       string         `yaml:"dataset"`
	Purpose       string         `yaml:"purpose"`
	Time          time.Time      `yaml:"time"`
	ReleasedToday int64          `yaml:"released_today"`
	Node          string         `yaml:"node"`
	Record        map[string]any `yaml:"record"`
	Expect        string         `yaml:"expect"`
	Policies      []string       `yaml:"policies"`

	Line int `yaml:"-"`
}

// LoadTable reads and checks a decision table. Errors name the file, the line
// and the field.
func LoadTable(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t := &Table{file: path}
	if err := yamlfile.Decode(path, data, t); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil {
		markLines(&doc, t.Cases)
	}
	for id, o := range t.Orgs {
		o.ID = id
		t.Orgs[id] = o
	}
	for i := range t.Cases {
		if err := t.check(&t.Cases[i]); err != nil {
			return nil, &yamlfile.Error{File: path, Line: t.Cases[i].Line, Field: fmt.Sprintf("cases[%d]", i), Err: err}
		}
	}
	return t, nil
}

// markLines records each case's line from the document's node tree.
func markLines(doc *yaml.Node, cases []Case) {
	if len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "cases" {
			for j, c := range root.Content[i+1].Content {
				if j < len(cases) {
					cases[j].Line = c.Line
				}
			}
		}
	}
}

func (t *Table) check(c *Case) error {
	if c.Action == "" {
		c.Action = "fetch"
	}
	if c.Time.IsZero() {
		c.Time = t.Time
	}
	switch {
	case c.Name == "":
		return fmt.Errorf("name is missing")
	case c.Action != "fetch" && c.Action != "discover":
		return fmt.Errorf("action %q: want fetch or discover", c.Action)
	case c.Expect != "permit" && c.Expect != "deny":
		return fmt.Errorf("expect %q: want permit or deny", c.Expect)
	case c.Time.IsZero():
		return fmt.Errorf("time is missing (give it in the case or at the top of the table)")
	}
	if _, ok := t.Orgs[c.Org]; !ok {
		return fmt.Errorf("org %q is not in the table's orgs", c.Org)
	}
	if _, ok := t.Datasets[c.Dataset]; !ok {
		return fmt.Errorf("dataset %q is not in the table's datasets", c.Dataset)
	}
	return nil
}

// Result is the outcome of one case.
type Result struct {
	Case *Case
	Got  Decision
	Err  error // the case could not be evaluated (e.g. a bad record attribute)
}

// Pass reports whether the bundle decided as the case expects.
func (r Result) Pass() bool {
	if r.Err != nil || r.Got.Permit != (r.Case.Expect == "permit") {
		return false
	}
	return r.Case.Policies == nil || slices.Equal(sorted(r.Case.Policies), r.Got.Policies)
}

// String is a one-line report; for a failure, a readable diff.
func (r Result) String() string {
	c := r.Case
	if r.Err != nil {
		return fmt.Sprintf("ERROR line %d %q: %v", c.Line, c.Name, r.Err)
	}
	if r.Pass() {
		return fmt.Sprintf("ok    line %d %q: %s", c.Line, c.Name, describe(r.Got))
	}
	want := c.Expect
	if c.Policies != nil {
		want += " by " + list(sorted(c.Policies))
	}
	return fmt.Sprintf("FAIL  line %d %q\n      - want: %s\n      + got:  %s", c.Line, c.Name, want, describe(r.Got))
}

func describe(d Decision) string {
	switch {
	case d.Permit:
		return "permit by " + list(d.Policies)
	case len(d.Policies) == 0:
		return "deny (no policy permits: default deny)"
	default:
		return "deny by " + list(d.Policies)
	}
}

func list(ids []string) string { return "[" + strings.Join(ids, ", ") + "]" }

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// Run decides every case with b.
func (t *Table) Run(b *Bundle) []Result {
	out := make([]Result, len(t.Cases))
	for i := range t.Cases {
		c := &t.Cases[i]
		out[i] = Result{Case: c}
		org, ds := t.Orgs[c.Org], t.Datasets[c.Dataset]
		var owner *Org
		if o, ok := t.Orgs[ds.Owner]; ok {
			owner = &o
		}
		if c.Action == "discover" {
			out[i].Got = b.Discover(org, []Dataset{ds}, c.Time, func(id string) (Org, bool) {
				o, ok := t.Orgs[id]
				return o, ok
			})[0]
			continue
		}
		names := make([]string, 0, len(c.Record))
		for k := range c.Record {
			names = append(names, k)
		}
		ex, err := b.vocab.Extractor(names)
		if err != nil {
			out[i].Err = err
			continue
		}
		attrs, err := ex.Extract(c.Record)
		if err != nil {
			out[i].Err = fmt.Errorf("record: %w", err)
			continue
		}
		s := b.Fetch(Request{Org: org, Dataset: ds, Owner: owner, Purpose: c.Purpose, Time: c.Time,
			Node: c.Node, ReleasedToday: c.ReleasedToday}, nil)
		out[i].Got = s.Decide([]Record{{ID: fmt.Sprintf("case-%d", i+1), Attrs: attrs}}, nil)[0]
	}
	return out
}
