package datadir_test

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/gateway/datadir"
)

var updateReference = flag.Bool("update-reference", false, "rewrite docs/configuration.md")

// configDocs reads config.go's struct types and their fields' doc comments.
func configDocs(t *testing.T) map[string]map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range g.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			fields := map[string]string{}
			var prev string
			for _, fl := range st.Fields.List {
				doc := strings.TrimSpace(fl.Doc.Text())
				if doc == "" && len(fl.Names) > 0 && prev != "" && strings.Contains(prev, fl.Names[0].Name) {
					doc = prev // a doc that covers the field before it and this one
				}
				for _, n := range fl.Names {
					fields[n.Name] = strings.Join(strings.Fields(doc), " ")
				}
				prev = doc
			}
			docs[ts.Name.Name] = fields
		}
	}
	return docs
}

// configReference is docs/configuration.md, made from the Config struct and
// its fields' doc comments, so that it cannot drift from them.
func configReference(t *testing.T) []byte {
	docs := configDocs(t)
	var b bytes.Buffer
	b.WriteString(`# Configuration reference

A gateway reads its configuration from ` + "`DIR/caravan.yaml`" + `, which ` + "`caravan init`" + `
writes, commented. Every field is optional but ` + "`org`" + `: a zero or missing
field takes its default. An error names the file, the line and the field,
e.g. ` + "`DIR/caravan.yaml:7: fetch.records_per_hour: -1 is negative`" + `.

This page is generated from the documentation of the configuration struct
(` + "`datadir.Config`" + `, ` + "`gateway/datadir/config.go`" + `); ` + "`go test ./gateway/datadir -run ConfigReference`" + ` fails when
they differ, and ` + "`-update-reference`" + ` rewrites it.

| key | type | meaning |
|---|---|---|
`)
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			key := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if key == "" || key == "-" {
				continue
			}
			doc := docs[typ.Name()][f.Name]
			if doc == "" {
				t.Errorf("%s.%s (%s%s) has no doc comment", typ.Name(), f.Name, prefix, key)
			}
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == typ.PkgPath() {
				fmt.Fprintf(&b, "| `%s%s` | section | %s |\n", prefix, key, doc)
				walk(prefix+key+".", f.Type)
				continue
			}
			fmt.Fprintf(&b, "| `%s%s` | %s | %s |\n", prefix, key, yamlType(f.Type), doc)
		}
	}
	walk("", reflect.TypeFor[datadir.Config]())
	return b.Bytes()
}

func yamlType(t reflect.Type) string {
	switch {
	case t.String() == "time.Duration":
		return "duration"
	case t.Kind() == reflect.Slice:
		return "list of " + yamlType(t.Elem())
	case t.Kind() == reflect.Int:
		return "integer"
	}
	return t.Kind().String()
}

// The configuration reference is the struct's documentation: every field
// has a doc comment, and docs/configuration.md says what they say.
func TestConfigReference(t *testing.T) {
	got := configReference(t)
	if *updateReference {
		if err := os.WriteFile("../../docs/configuration.md", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("../../docs/configuration.md")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("docs/configuration.md is not what datadir.Config's docs say (%v): go test ./gateway/datadir -run ConfigReference -update-reference", err)
	}
}
