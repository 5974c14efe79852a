package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cedar-policy/cedar-go"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"
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
	// Undeclared is the record attribute the problem is about when it is
	// that no schema in the registry declares it; "" otherwise.
	Undeclared string
	// Vocabulary says the policy does not check against the vocabulary
	// (the Cedar schema made from the registry): a problem that a change
	// of the registry may cause or mend, unlike a syntax error.
	Vocabulary bool
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

// OnlyUndeclared reports whether every problem is a record attribute that
// no schema declares: a bundle that a registry which has not caught up yet
// refuses, and that a fuller one may accept.
func (e *BundleError) OnlyUndeclared() bool {
	for _, p := range e.Problems {
		if p.Undeclared == "" {
			return false
		}
	}
	return len(e.Problems) > 0
}

// OnlyVocabulary reports whether every problem is one of checking against
// the vocabulary: a bundle that is well written, but that the registry as
// it stands does not fit.
func (e *BundleError) OnlyVocabulary() bool {
	for _, p := range e.Problems {
		if !p.Vocabulary {
			return false
		}
	}
	return len(e.Problems) > 0
}

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
	vocab    *Vocabulary
	cid      string
	files    []File
	policies []*Policy // sorted by ID
	byID     map[string]*Policy
	list     policyList
	plan     memoPlan
}

// Vocabulary is the vocabulary the bundle was checked against.
func (b *Bundle) Vocabulary() *Vocabulary { return b.vocab }

// CID is the bundle's content identifier (see schemas/policy.md).
func (b *Bundle) CID() string { return b.cid }

// Files lists the bundle's files, sorted by name.
func (b *Bundle) Files() []File { return slices.Clone(b.files) }

// Policies lists the bundle's policies, sorted by id.
func (b *Bundle) Policies() []*Policy { return slices.Clone(b.policies) }

// Policy returns the policy with the given id, or nil.
func (b *Bundle) Policy(id string) *Policy { return b.byID[id] }

// Load reads every *.cedar file directly in dir (not in subdirectories, not
// hidden: IsBundleFile),
// checks it against v, and returns the bundle, or an error wrapping
// ErrInvalid that names each problem's file and line. An empty directory is
// a valid bundle that denies everything.
func Load(dir string, v *Vocabulary) (*Bundle, error) {
	return LoadFS(os.DirFS(dir), ".", v)
}

// LoadFS is Load on a file system.
func LoadFS(fsys fs.FS, dir string, v *Vocabulary) (*Bundle, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if !IsBundleFile(e) {
			continue
		}
		if len(files) == MaxFiles {
			return nil, &BundleError{Problems: []Problem{{Msg: fmt.Sprintf("more than %d policy files", MaxFiles)}}}
		}
		data, err := readPolicyFile(fsys, filepath.ToSlash(filepath.Join(dir, e.Name())))
		if err != nil {
			return nil, &BundleError{Problems: []Problem{{File: e.Name(), Msg: err.Error()}}}
		}
		files[e.Name()] = data
	}
	return Parse(files, v)
}

// IsBundleFile reports whether a directory entry is a file of the bundle:
// a name ending in .cedar that does not start with '.' (editors' lock and
// backup files do), and not a directory. A link is followed when read.
// Whatever replaces a bundle's files must replace exactly these.
func IsBundleFile(e fs.DirEntry) bool {
	return !e.IsDir() && filepath.Ext(e.Name()) == Ext && !strings.HasPrefix(e.Name(), ".")
}

// readPolicyFile reads a policy file, through a link if it is one: what it
// names must be a regular file of at most MaxFileSize bytes, and is read no
// further than that (a link to /dev/zero or to a FIFO would otherwise hang
// a reload).
func readPolicyFile(fsys fs.FS, name string) ([]byte, error) {
	info, err := fs.Stat(fsys, name) // follows a link
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", info.Mode().Type())
	}
	if info.Size() > MaxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes", MaxFileSize)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err == nil && len(data) > MaxFileSize {
		err = fmt.Errorf("file is larger than %d bytes", MaxFileSize)
	}
	return data, err
}

// Parse builds a bundle from file names and contents. It parses every file,
// checks each policy against the vocabulary's Cedar schema (strict mode) and
// requires one unique @id per policy. It reports all problems it finds, not
// only the first, each at the line of the expression it is about where the
// checker names one (an attribute), else at the policy's.
func Parse(files map[string][]byte, v *Vocabulary) (*Bundle, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)

	var probs []Problem
	b := &Bundle{vocab: v, byID: map[string]*Policy{}}
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
		for i, p := range list {
			end := len(data)
			if i+1 < len(list) {
				end = list[i+1].Position().Offset
			}
			src := source{file: name, data: data, start: p.Position().Offset, end: end}
			probs = append(probs, b.add(v.validator, src, p)...)
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

// source is where a policy is written: its file, and its span of the file.
type source struct {
	file       string
	data       []byte
	start, end int
}

// add checks one parsed policy and adds it to b.
func (b *Bundle) add(v *validate.Validator, src source, p *cedar.Policy) []Problem {
	file, line := src.file, p.Position().Line
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
			p := Problem{File: file, Line: src.lineOf(msg, line), Vocabulary: true, Msg: fmt.Sprintf("policy %q does not match the schema: %s", id, msg)}
			if m := undeclared.FindStringSubmatch(msg); m != nil {
				p.Undeclared = m[1]
			}
			if !slices.Contains(probs, p) { // the checker repeats a problem per request type
				probs = append(probs, p)
			}
		}
	}
	for _, attr := range b.vocab.undeclaredReads((*xast.Policy)(p.AST())) {
		msg := fmt.Sprintf("attribute `%s` on entity type `%s` not found", attr, TypeRecord)
		p := Problem{File: file, Line: src.lineOf(msg, line), Undeclared: attr, Vocabulary: true,
			Msg: fmt.Sprintf("policy %q does not match the schema: %s (no registered schema declares it)", id, msg)}
		if !slices.ContainsFunc(probs, func(q Problem) bool { return q.Undeclared == attr }) {
			probs = append(probs, p)
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

// undeclared matches the checker's error for an attribute Record lacks.
var undeclared = regexp.MustCompile("^attribute `([^`]+)` on entity type `" + string(TypeRecord) + "` not found$")

// attrInError finds the attribute a checker error is about.
var attrInError = regexp.MustCompile("attribute `([^`]+)`")

// lineOf returns the line of the first place in the policy that reads the
// attribute msg is about (resource.ATTR, has ATTR, ["ATTR"]), or def.
func (s source) lineOf(msg string, def int) int {
	m := attrInError.FindStringSubmatch(msg)
	if m == nil || s.start < 0 || s.end > len(s.data) || s.start >= s.end {
		return def
	}
	attr := m[1]
	if i := strings.LastIndexByte(attr, '.'); i >= 0 {
		attr = attr[i+1:] // a path: the last step is what was read
	}
	q := regexp.QuoteMeta(attr)
	at := regexp.MustCompile(`(?:\.\s*` + q + `\b|\bhas\s+` + q + `\b|\[\s*"` + q + `"\s*\])`).FindIndex(s.data[s.start:s.end])
	if at == nil {
		return def
	}
	return 1 + bytes.Count(s.data[:s.start+at[0]], []byte("\n"))
}
