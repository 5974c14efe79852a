package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/schemas"
)

func schemaCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "schema",
		Short: "Register, list, show, lint and compare dataset schemas",
		Long: `A dataset schema is a JSON Schema 2020-12 document that an org registers with
the consortium: a signed statement, gossiped and journaled like a manifest,
that every gateway holds in its registry. Its fields marked
x-caravan-policy-attribute become attributes that policies may read; fields
marked x-caravan-sensitive never do. The rules are in schemas/registry.md.

  caravan schema lint phytosanitary-certificate.v1.json
  caravan schema add --dir DIR phytosanitary-certificate.v1.json
  caravan schema list --dir DIR
  caravan publish --dir DIR --dataset plant-certs --schema phytosanitary-certificate certs.csv`,
	}
	c.AddCommand(schemaAddCmd(), schemaListCmd(), schemaShowCmd(), schemaLintCmd(), schemaDiffCmd())
	return c
}

func schemaAddCmd() *cobra.Command {
	var (
		dir    string
		req    api.SchemaRequest
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "add --dir DIR FILE [--name NAME] [--version MAJOR.MINOR]",
		Short: "Register a schema document as one of your org's schemas",
		Long: `Check FILE against the registry's rules and register it: the gateway on DIR
signs a registration, stores it, journals it and gossips it, and every member's
registry holds it from then on. The name and version default to the document's
"x-caravan-schema": {"id", "version"}. A new version of a name must be higher;
a minor version must be compatible with the one before it (only optional
properties added, nothing narrowed), an incompatible change takes a new major
version. Registering what is registered already changes nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := registerFile(cmd, dir, req, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), info)
			}
			printSchema(cmd.OutOrStdout(), info)
			return nil
		},
	}
	dirFlag(c, &dir, gatewayDir)
	c.Flags().StringVar(&req.Name, "name", "", "the schema's name (default: the document's x-caravan-schema id)")
	c.Flags().StringVar(&req.Version, "version", "", "the schema's version, MAJOR.MINOR (default: the document's)")
	jsonFlag(c, &asJSON)
	return c
}

// registerFile registers the schema document in file with the gateway on dir.
func registerFile(cmd *cobra.Command, dir string, req api.SchemaRequest, file string) (*api.SchemaInfo, error) {
	doc, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	cl, err := api.NewClient(dir)
	if err != nil {
		return nil, err
	}
	info, err := cl.RegisterSchema(cmd.Context(), req, doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, withNotRunningCode(err))
	}
	return info, nil
}

func printSchema(w io.Writer, s *api.SchemaInfo) {
	if s.Owner != "" {
		fmt.Fprintf(w, "%s/", s.Owner)
	}
	fmt.Fprintf(w, "%s@%s", s.Name, s.Version)
	if s.Title != "" {
		fmt.Fprintf(w, "  %s", s.Title)
	}
	fmt.Fprintf(w, "\ndocument CID %s\n", s.CID)
	if s.Statement != "" {
		fmt.Fprintf(w, "registered by statement %s\n", s.Statement)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, a := range s.Attributes {
		fmt.Fprintf(tw, "  policy attribute\t%s\t%s\n", a.Name, a.Type)
	}
	for _, f := range s.Sensitive {
		fmt.Fprintf(tw, "  sensitive\t%s\t\n", f)
	}
	tw.Flush()
	if !s.Compiled {
		fmt.Fprintf(w, "  validated by jsonschema/v6, not the compiled validator (%s)\n", s.Fallback)
	}
}

func schemaListCmd() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "list --dir DIR",
		Short: "List the schemas in the gateway's registry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := api.NewClient(dir)
			if err != nil {
				return err
			}
			list, err := cl.Schemas(cmd.Context())
			if err != nil {
				return withNotRunningCode(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), list)
			}
			w := cmd.OutOrStdout()
			if len(list) == 0 {
				fmt.Fprintln(w, "the registry is empty: register a schema with 'caravan schema add'")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "OWNER\tNAME\tVERSION\tPOLICY ATTRIBUTES\tCID")
			for _, s := range list {
				var attrs []string
				for _, a := range s.Attributes {
					attrs = append(attrs, a.Name)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Owner, s.Name, s.Version, strings.Join(attrs, ","), s.CID)
			}
			return tw.Flush()
		},
	}
	dirFlag(c, &dir, gatewayDir)
	jsonFlag(c, &asJSON)
	return c
}

func schemaShowCmd() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "show --dir DIR NAME[@VERSION]",
		Short: "Print one schema of the registry and its document",
		Long: `Print a schema of the gateway's registry, by NAME (the newest version),
NAME@MAJOR (its newest minor version) or NAME@MAJOR.MINOR, each optionally
OWNER/NAME when two orgs registered the same name.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := api.NewClient(dir)
			if err != nil {
				return err
			}
			s, err := cl.Schema(cmd.Context(), args[0])
			if err != nil {
				return withNotRunningCode(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), s)
			}
			doc := s.Document
			s.Document = nil
			printSchema(cmd.OutOrStdout(), s)
			var v any
			if err := json.Unmarshal(doc, &v); err == nil {
				return printJSON(cmd.OutOrStdout(), v)
			}
			return nil
		},
	}
	dirFlag(c, &dir, gatewayDir)
	jsonFlag(c, &asJSON)
	return c
}

func schemaLintCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "lint FILE...",
		Short: "Check schema documents against the registry's rules, offline",
		Long: `Check each FILE as 'caravan schema add' would, without a gateway: valid JSON
Schema 2020-12, every $ref inside the document, every policy attribute of a
type that maps onto Cedar, no sensitive field a policy attribute. Each problem
is printed with its JSON pointer; the exit status is 1 if any file has one.
A good file prints its name, version, CID and attributes.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			type result struct {
				File   string          `json:"file"`
				OK     bool            `json:"ok"`
				Error  string          `json:"error,omitempty"`
				Schema *api.SchemaInfo `json:"schema,omitempty"`
			}
			var results []result
			for _, f := range args {
				s, err := compileFile(f)
				if err != nil {
					failed++
					results = append(results, result{File: f, Error: err.Error()})
					if !asJSON {
						fmt.Fprintln(cmd.ErrOrStderr(), err)
					}
					continue
				}
				results = append(results, result{File: f, OK: true, Schema: infoOf(s)})
				if !asJSON {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", f)
					printSchema(cmd.OutOrStdout(), infoOf(s))
				}
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), results); err != nil {
					return err
				}
			}
			if failed > 0 {
				return exitError{code: 1, msg: fmt.Sprintf("%d of %d file(s) failed", failed, len(args))}
			}
			return nil
		},
	}
	jsonFlag(c, &asJSON)
	return c
}

func schemaDiffCmd() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "diff A B [--dir DIR]",
		Short: "Compare two schema versions: what changed, and may B follow A as a minor version",
		Long: `Compare schema A with schema B. Each is a file, or, with --dir, a schema of
the gateway's registry (NAME@VERSION). Prints the properties and policy
attributes added and removed, then whether B is compatible with A (every record
valid under A stays valid, and policies read A's attributes the same way):
then B may follow A as a minor version; if not, each problem is printed at its
JSON pointer in B, and the exit status is 1 (B takes a new major version).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := schemaArg(cmd, dir, args[0])
			if err != nil {
				return err
			}
			b, err := schemaArg(cmd, dir, args[1])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				d := diffOf(a, b)
				if err := schemas.Compatible(a, b); err != nil {
					d.Problems = []string{}
					for _, p := range err.(*schemas.LintError).Problems {
						d.Problems = append(d.Problems, p.String())
					}
				} else {
					d.Compatible = true
				}
				if err := printJSON(w, d); err != nil {
					return err
				}
				if !d.Compatible {
					return exitError{code: 1}
				}
				return nil
			}
			printChanges(w, a, b)
			if err := schemas.Compatible(a, b); err != nil {
				fmt.Fprintf(w, "not compatible: %s cannot follow %s as a minor version:\n", args[1], args[0])
				for _, p := range err.(*schemas.LintError).Problems {
					fmt.Fprintf(w, "  %s\n", p)
				}
				return exitError{code: 1}
			}
			fmt.Fprintf(w, "compatible: %s may follow %s as a minor version\n", args[1], args[0])
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "read NAME@VERSION arguments from the registry of the gateway on this data directory")
	jsonFlag(c, &asJSON)
	return c
}

// schemaArg is a file, or a schema of the gateway's registry.
func schemaArg(cmd *cobra.Command, dir, arg string) (*schemas.Schema, error) {
	if _, err := os.Stat(arg); err == nil || dir == "" {
		return compileFile(arg)
	}
	cl, err := api.NewClient(dir)
	if err != nil {
		return nil, err
	}
	info, err := cl.Schema(cmd.Context(), arg)
	if err != nil {
		return nil, withNotRunningCode(err)
	}
	return schemas.Compile(info.Document)
}

// schemaDiff is what b changes from a, as schema diff --json prints it.
type schemaDiff struct {
	AddedProperties   []string              `json:"added_properties"`
	RemovedProperties []string              `json:"removed_properties"`
	AddedAttributes   []api.SchemaAttribute `json:"added_attributes"`
	RemovedAttributes []api.SchemaAttribute `json:"removed_attributes"`
	Compatible        bool                  `json:"compatible"` // b may follow a as a minor version
	Problems          []string              `json:"problems,omitempty"`
}

// diffOf lists the top-level properties and the policy attributes that b
// adds to and drops from a.
func diffOf(a, b *schemas.Schema) *schemaDiff {
	d := &schemaDiff{AddedProperties: []string{}, RemovedProperties: []string{},
		AddedAttributes: []api.SchemaAttribute{}, RemovedAttributes: []api.SchemaAttribute{}}
	pa, pb := topProperties(a), topProperties(b)
	for _, p := range pb {
		if !slices.Contains(pa, p) {
			d.AddedProperties = append(d.AddedProperties, p)
		}
	}
	for _, p := range pa {
		if !slices.Contains(pb, p) {
			d.RemovedProperties = append(d.RemovedProperties, p)
		}
	}
	for _, x := range b.Attributes {
		if !slices.Contains(a.Attributes, x) {
			d.AddedAttributes = append(d.AddedAttributes, api.SchemaAttribute{Name: x.Name, Type: string(x.Type)})
		}
	}
	for _, x := range a.Attributes {
		if !slices.Contains(b.Attributes, x) {
			d.RemovedAttributes = append(d.RemovedAttributes, api.SchemaAttribute{Name: x.Name, Type: string(x.Type)})
		}
	}
	return d
}

// printChanges prints diffOf(a, b) as + and - lines.
func printChanges(w io.Writer, a, b *schemas.Schema) {
	d := diffOf(a, b)
	for _, p := range d.AddedProperties {
		fmt.Fprintf(w, "+ property %s\n", p)
	}
	for _, p := range d.RemovedProperties {
		fmt.Fprintf(w, "- property %s\n", p)
	}
	for _, x := range d.AddedAttributes {
		fmt.Fprintf(w, "+ policy attribute %s (%s)\n", x.Name, x.Type)
	}
	for _, x := range d.RemovedAttributes {
		fmt.Fprintf(w, "- policy attribute %s (%s)\n", x.Name, x.Type)
	}
}

func topProperties(s *schemas.Schema) []string {
	var doc struct {
		Properties map[string]any `json:"properties"`
	}
	_ = json.Unmarshal(s.Canonical, &doc)
	var out []string
	for p := range doc.Properties {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// infoOf describes a schema that no gateway registered.
func infoOf(s *schemas.Schema) *api.SchemaInfo {
	info := &api.SchemaInfo{Name: s.Name, Version: s.Version.String(), CID: s.CID.String(),
		Title: s.Title, Sensitive: s.Sensitive, Compiled: s.Compiled(), Fallback: s.Fallback()}
	if info.Name == "" {
		info.Name = "(no x-caravan-schema id)"
	}
	for _, a := range s.Attributes {
		info.Attributes = append(info.Attributes, api.SchemaAttribute{Name: a.Name, Type: string(a.Type)})
	}
	return info
}
