package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/cedar-policy/cedar-go"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
	"github.com/cedar-policy/cedar-go/x/exp/schema"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"

	"github.com/caravan-consortium/caravan/schemas"
)

// Ext is the extension of policy files. Other files in a bundle directory
// (README, test tables) are ignored and are not part of the bundle's CID.
const Ext = ".cedar"

// MaxFileSize bounds one policy file; MaxFiles bounds a bundle.
const (
	MaxFileSize = 1 << 20
	MaxFiles    = 256
)

// ErrInvalid is wrapped by every error that Load and Parse return for a
// bundle that must not be used. Callers check it with errors.Is; a *BundleError
// (errors.As) lists each problem with its file and line.
var ErrInvalid = errors.New("invalid policy bundle")

// Problem is one error in a bundle, located in its file.
type Problem struct {
	File string
	Line int // 0 when the problem is about the whole file or bundle
	Msg  string
}

func (p Problem) String() string {
	switch {
	case p.File == "":
		return p.Msg
	case p.Line == 0:
		return p.File + ": " + p.Msg
	default:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
}

// BundleError lists the problems that make a bundle invalid.
type BundleError struct {
	Problems []Problem
}

func (e *BundleError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (e *BundleError) Unwrap() error { return ErrInvalid }

// Policy is one policy of a bundle.
type Policy struct {
	ID     string // its @id annotation, unique in the bundle
	File   string
	Line   int
	Effect string // "permit" or "forbid"
	Text   string // the policy as written in Cedar (normalized)
	policy *cedar.Policy
}

// Bundle is a validated, immutable set of policies. It is safe for concurrent
// use.
type Bundle struct {
	cid      string
	files    []File
	policies []*Policy // sorted by ID
	byID     map[string]*Policy
	list     policyList
	plan     memoPlan
}

// CID is the bundle's content identifier (see schemas/policy.md).
func (b *Bundle) CID() string { return b.cid }

// Files lists the bundle's files, sorted by name.
func (b *Bundle) Files() []File { return slices.Clone(b.files) }

// Policies lists the bundle's policies, sorted by id.
func (b *Bundle) Policies() []*Policy { return slices.Clone(b.policies) }

// Policy returns the policy with the given id, or nil.
func (b *Bundle) Policy(id string) *Policy { return b.byID[id] }

// Load reads every *.cedar file directly in dir (not in subdirectories) and
// returns the bundle, or an error wrapping ErrInvalid that names each problem's
// file and line. An empty directory is a valid bundle that denies everything.
func Load(dir string) (*Bundle, error) {
	return LoadFS(os.DirFS(dir), ".")
}

// LoadFS is Load on a file system.
func LoadFS(fsys fs.FS, dir string) (*Bundle, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != Ext {
			continue
		}
		if len(files) == MaxFiles {
			return nil, &BundleError{Problems: []Problem{{Msg: fmt.Sprintf("more than %d policy files", MaxFiles)}}}
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		if info.Size() > MaxFileSize {
			return nil, &BundleError{Problems: []Problem{{File: e.Name(), Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}}}
		}
		data, err := fs.ReadFile(fsys, filepath.ToSlash(filepath.Join(dir, e.Name())))
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		files[e.Name()] = data
	}
	return Parse(files)
}

// Parse builds a bundle from file names and contents. It parses every file,
// checks each policy against the Cedar schema (strict mode) and requires one
// unique @id per policy. It reports all problems it finds, not only the first.
func Parse(files map[string][]byte) (*Bundle, error) {
	v, err := validator()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)

	var probs []Problem
	b := &Bundle{byID: map[string]*Policy{}}
	for _, name := range names {
		data := files[name]
		if strings.ContainsAny(name, `/\`) || name == "" || !utf8.ValidString(name) {
			probs = append(probs, Problem{File: name, Msg: "a policy file name must be valid UTF-8, without path separators"})
			continue
		}
		b.files = append(b.files, newFile(name, data))
		list, err := cedar.NewPolicyListFromBytes(name, data)
		if err != nil {
			probs = append(probs, parseProblem(name, err))
			continue
		}
		for _, p := range list {
			probs = append(probs, b.add(v, name, p)...)
		}
	}
	if len(probs) > 0 {
		return nil, &BundleError{Problems: probs}
	}
	sort.Slice(b.policies, func(i, j int) bool { return b.policies[i].ID < b.policies[j].ID })
	b.list = make(policyList, len(b.policies))
	for i, p := range b.policies {
		b.list[i] = policyEntry{id: cedar.PolicyID(p.ID), policy: p.policy}
	}
	b.cid = bundleCID(b.files)
	b.plan = analyse(b.policies)
	return b, nil
}

// add checks one parsed policy and adds it to b.
func (b *Bundle) add(v *validate.Validator, file string, p *cedar.Policy) []Problem {
	line := p.Position().Line
	id, ok := p.Annotations()["id"]
	if !ok || strings.TrimSpace(string(id)) == "" {
		return []Problem{{File: file, Line: line, Msg: `policy has no @id("...") annotation; decisions name policies by it`}}
	}
	if prev, dup := b.byID[string(id)]; dup {
		return []Problem{{File: file, Line: line, Msg: fmt.Sprintf("duplicate @id %q (first at %s:%d)", id, prev.File, prev.Line)}}
	}
	var probs []Problem
	if err := v.Policy(string(id), (*xast.Policy)(p.AST())); err != nil {
		prefix := fmt.Sprintf("for policy `%s`, ", id)
		for _, e := range flatten(err) {
			msg := strings.TrimPrefix(e.Error(), prefix)
			p := Problem{File: file, Line: line, Msg: fmt.Sprintf("policy %q does not match the schema: %s", id, msg)}
			if !slices.Contains(probs, p) { // the checker repeats a problem per request type
				probs = append(probs, p)
			}
		}
	}
	effect := "permit"
	if p.Effect() == cedar.Forbid {
		effect = "forbid"
	}
	pol := &Policy{ID: string(id), File: file, Line: line, Effect: effect, Text: string(p.MarshalCedar()), policy: p}
	b.byID[pol.ID] = pol
	b.policies = append(b.policies, pol)
	return probs
}

// parseAt finds the position in a cedar parse error, which names its input
// "<input>" or the file.
var parseAt = regexp.MustCompile(`^(?:parser error: )?parse error at (?:<input>|[^:]*):(\d+):(\d+) (.*)$`)

// parseProblem turns a cedar parse error into a Problem at its line.
func parseProblem(file string, err error) Problem {
	msg := err.Error()
	if m := parseAt.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: line, Msg: fmt.Sprintf("syntax error at column %s: %s", m[2], m[3])}
	}
	return Problem{File: file, Msg: msg}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// Schema returns the resolved Cedar schema that bundles are checked against.
func Schema() (*resolved.Schema, error) {
	var s schema.Schema
	s.SetFilename("caravan.cedarschema")
	if err := s.UnmarshalCedar(schemas.CedarSchema); err != nil {
		return nil, fmt.Errorf("policy: cedar schema: %w", err)
	}
	r, err := s.Resolve()
	if err != nil {
		return nil, fmt.Errorf("policy: cedar schema: %w", err)
	}
	return r, nil
}

var resolvedSchema = sync.OnceValues(Schema)

func validator() (*validate.Validator, error) {
	r, err := resolvedSchema()
	if err != nil {
		return nil, err
	}
	return validate.New(r, validate.WithStrict()), nil
}
