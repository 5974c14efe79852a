package rules_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The house budgets (DESIGN.md, house style 10).
const (
	maxFileLines = 500
	maxFuncLines = 80
	maxExported  = 60
	// maxAssembly bounds the assembling package's non-test lines: it
	// joins the flows and serves them, it does not hold them.
	maxAssembly   = 2500
	repositoryTop = "../.."
)

// Exceptions, each named, with why it stands. The budget test fails when
// an exception is no longer needed, so the list cannot go stale.
var (
	fileExceptions     = map[string]string{}
	funcExceptions     = map[string]string{}
	exportedExceptions = map[string]string{
		"api":           "160: the API's contract: 40 route names, about 60 wire types, the client's calls and the error kinds",
		"consortium":    "68: the roster (format, signing, validation, updates), the index that the network and journal trust consult, and the orgs' node delegations, as DESIGN.md places them",
		"journal":       "101: logs, events, mirrors, witness rules and evidence (the C2SP family), as DESIGN.md places them",
		"schemas":       "66: the schema language, the registry and the Cedar vocabulary, as DESIGN.md places them",
		"policy":        "74: bundles, entities, decisions, explain and decision tables, as DESIGN.md places them",
		"sharing/fetch": "74: both sides of the fetch protocol (wire frames, Client, Server, the provider's ports) and the requester's Order, Summary and jobs",
		"p2p":           "79: host, gater, limits, GossipSub and framing, with the limits' constants exported for the attack tests",
	}
)

func TestBudgets(t *testing.T) {
	fset := token.NewFileSet()
	exported := map[string]int{}
	assembly := 0
	seenFile, seenFunc := map[string]bool{}, map[string]bool{}
	var problems []string
	err := filepath.WalkDir(repositoryTop, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repositoryTop, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "bench" || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" || rel == "artifacts" || rel == "bin" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if filepath.Dir(rel) == "gateway" {
			assembly += strings.Count(string(src), "\n")
		}
		if n := strings.Count(string(src), "\n"); n > maxFileLines {
			seenFile[rel] = true
			if _, ok := fileExceptions[rel]; !ok {
				problems = append(problems, fmt.Sprintf("%s: %d lines (at most %d)", rel, n, maxFileLines))
			}
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(rel))
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				name := d.Name.Name
				if d.Recv != nil {
					name = recvName(d.Recv.List[0].Type) + "." + name
				}
				// A method counts if its type is exported: a method of an
				// unexported type (a service implementing an interface) is
				// not part of the package's surface.
				if d.Name.IsExported() && (d.Recv == nil || ast.IsExported(recvName(d.Recv.List[0].Type))) {
					exported[pkg]++
				}
				lines := fset.Position(d.End()).Line - fset.Position(d.Pos()).Line + 1
				key := rel + ":" + name
				if lines > maxFuncLines {
					seenFunc[key] = true
					if _, ok := funcExceptions[key]; !ok {
						problems = append(problems, fmt.Sprintf("%s: %d lines (at most %d)", key, lines, maxFuncLines))
					}
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							exported[pkg]++
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								exported[pkg]++
							}
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for p := range exported {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		_, excepted := exportedExceptions[p]
		switch {
		case exported[p] > maxExported && !excepted:
			problems = append(problems, fmt.Sprintf("package %s: %d exported names (at most about %d)", p, exported[p], maxExported))
		case exported[p] <= maxExported && excepted:
			problems = append(problems, fmt.Sprintf("package %s: %d exported names, within the budget: drop its exception", p, exported[p]))
		}
		t.Logf("%-20s %3d exported names", p, exported[p])
	}
	for f := range fileExceptions {
		if !seenFile[f] {
			problems = append(problems, f+": within the budget now: drop its exception")
		}
	}
	for f := range funcExceptions {
		if !seenFunc[f] {
			problems = append(problems, f+": within the budget now: drop its exception")
		}
	}
	if assembly > maxAssembly {
		problems = append(problems, fmt.Sprintf("package gateway: %d non-test lines (at most %d): a new part gets a package of its own", assembly, maxAssembly))
	}
	t.Logf("gateway: %d non-test lines", assembly)
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

func recvName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return recvName(x.X)
	case *ast.IndexExpr:
		return recvName(x.X)
	case *ast.IndexListExpr:
		return recvName(x.X)
	case *ast.Ident:
		return x.Name
	}
	return "?"
}
