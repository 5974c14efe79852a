package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas"
)

// registrySource is where a command takes the schema registry from: a
// running gateway's (--dir), schema documents (--schema, files or
// directories of *.json), or else the demo's.
type registrySource struct {
	dir   string
	paths []string
}

func (s *registrySource) flags(c *cobra.Command) {
	c.Flags().StringVar(&s.dir, "dir", "", "take the schema registry of the gateway on this data directory")
	c.Flags().StringArrayVar(&s.paths, "schema", nil, "take the registry from schema documents: a file, or a directory of *.json (repeat)")
}

// vocabulary is the policy vocabulary of the source, and what it is.
func (s *registrySource) vocabulary(cmd *cobra.Command) (*policy.Vocabulary, string, error) {
	switch {
	case s.dir != "" && len(s.paths) > 0:
		return nil, "", fmt.Errorf("give --dir or --schema, not both")
	case s.dir != "":
		cl, err := api.NewClient(s.dir)
		if err != nil {
			return nil, "", err
		}
		text, err := cl.PolicySchema(cmd.Context())
		if err != nil {
			return nil, "", withNotRunningCode(err)
		}
		v, err := policy.NewVocabulary(text)
		return v, "the registry of the gateway on " + s.dir, err
	case len(s.paths) > 0:
		r, err := registryOf(s.paths)
		if err != nil {
			return nil, "", err
		}
		v, err := policy.VocabularyOf(r)
		return v, "the schemas in " + strings.Join(s.paths, ", "), err
	}
	v, err := policy.DemoVocabulary()
	return v, "the demo's schemas (give --dir or --schema for your consortium's registry)", err
}

// registryOf compiles the schema documents at paths (files, or
// directories of *.json) into a registry.
func registryOf(paths []string) (*schemas.Registry, error) {
	r := schemas.NewRegistry()
	for _, p := range paths {
		files := []string{p}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			files, _ = filepath.Glob(filepath.Join(p, "*.json"))
		}
		for _, f := range files {
			s, err := compileFile(f)
			if err != nil {
				return nil, err
			}
			r.Add(s)
		}
	}
	return r, nil
}

// compileFile compiles a schema document; problems name the file.
func compileFile(path string) (*schemas.Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := schemas.Compile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, indentProblems(err))
	}
	return s, nil
}

// indentProblems puts each problem of a *LintError on a line of its own.
func indentProblems(err error) error {
	if le, ok := err.(*schemas.LintError); ok && len(le.Problems) > 1 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d problems:", len(le.Problems))
		for _, p := range le.Problems {
			b.WriteString("\n  " + p.String())
		}
		return fmt.Errorf("%s", b.String())
	}
	return err
}

// offlineSchema is a schema for the offline tools: the document in file
// ref, or else the demo schema ref names.
func offlineSchema(ref string) (*schemas.Schema, error) {
	if _, err := os.Stat(ref); err == nil {
		return compileFile(ref)
	}
	demo, err := schemas.Demo()
	if err != nil {
		return nil, err
	}
	s, err := demo.Lookup(ref)
	if err != nil {
		return nil, fmt.Errorf("%w (or give a schema file)", err)
	}
	return s, nil
}
