package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/api"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/policy"
)

func policyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "policy",
		Short: "Check, test and explain the Cedar access policies",
		Long: `A gateway decides, record by record, what each partner may discover and
fetch, with the Cedar policies (*.cedar) in its policy directory (config field
"policies", default DIR/policies). Policies are checked against a Cedar schema
generated from the consortium's schema registry ('caravan policy schema' prints
it): a policy that reads an attribute no registered schema declares is refused,
at the line of the expression. Each policy needs an @id annotation, which
decisions name. Default deny: a record is released only if a permit applies and
no forbid does.

The running gateway reloads the directory when a .cedar file changes; a bundle
with any error is refused and the old one stays in force. Check and test a
change before you put it in place, against your gateway's registry (--dir) or
schema files (--schema):

  caravan policy check configs/policies --dir /var/lib/caravan
  caravan policy test configs/policies configs/policies/tests.yaml --schema schemas/datasets`,
	}
	c.AddCommand(policyCheckCmd(), policyTestCmd(), policyExplainCmd(), policyShowCmd(), policySchemaCmd())
	return c
}

// loadBundle loads dir, checked against the vocabulary of src, and prints
// each problem as DIR/FILE:LINE: message.
func loadBundle(cmd *cobra.Command, src *registrySource, dir string) (*policy.Bundle, error) {
	v, what, err := src.vocabulary(cmd)
	if err != nil {
		return nil, err
	}
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "checking against %s\n", what)
	b, err := policy.Load(dir, v)
	var be *policy.BundleError
	if errors.As(err, &be) {
		for _, p := range be.Problems {
			if p.File != "" {
				p.File = filepath.Join(dir, p.File)
			}
			fmt.Fprintln(w, p)
		}
		return nil, exitError{code: 1, msg: fmt.Sprintf("%s: %d problem(s); the bundle is not valid", dir, len(be.Problems))}
	}
	return b, err
}

func policyCheckCmd() *cobra.Command {
	var src registrySource
	c := &cobra.Command{
		Use:   "check DIR [--dir GATEWAY | --schema PATH...]",
		Short: "Parse and type-check a policy directory; print its bundle CID",
		Long: `Parse every *.cedar file in DIR and check each policy against the Cedar
schema of a schema registry (strict mode): the registry of the gateway on
--dir, the schema documents given with --schema, or else the demo's schemas.
Problems are printed as FILE:LINE: message, and the exit status is 1. A valid
bundle prints its CID and its policies.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			b, err := loadBundle(cmd, &src, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s: valid: %d policies in %d files\nbundle %s\n", args[0], len(b.Policies()), len(b.Files()), b.CID())
			for _, p := range b.Policies() {
				fmt.Fprintf(w, "  %-7s %-32s %s:%d\n", p.Effect, p.ID, p.File, p.Line)
			}
			return nil
		},
	}
	src.flags(c)
	return c
}

func policyTestCmd() *cobra.Command {
	var (
		verbose bool
		src     registrySource
	)
	c := &cobra.Command{
		Use:   "test DIR CASES.yaml [--dir GATEWAY | --schema PATH...]",
		Short: "Run a decision table against a policy directory",
		Long: `Decide every case of CASES.yaml with the policies in DIR and compare with the
expected decision (and, where the case lists them, the deciding policies).
Mismatches are printed as a diff and the exit status is 1. The table format is
documented in configs/policies/tests.yaml.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			b, err := loadBundle(cmd, &src, args[0])
			if err != nil {
				return err
			}
			tbl, err := policy.LoadTable(args[1])
			if err != nil {
				return err
			}
			failed := 0
			for _, r := range tbl.Run(b) {
				if !r.Pass() {
					failed++
				}
				if verbose || !r.Pass() {
					fmt.Fprintln(w, r)
				}
			}
			fmt.Fprintf(w, "%d cases: %d passed, %d failed (bundle %s)\n", len(tbl.Cases), len(tbl.Cases)-failed, failed, b.CID())
			if failed > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "print passing cases too")
	src.flags(c)
	return c
}

func policySchemaCmd() *cobra.Command {
	var src registrySource
	c := &cobra.Command{
		Use:   "schema [--dir GATEWAY | --schema PATH...]",
		Short: "Print the Cedar schema that policies are checked against",
		Long: `Print the Cedar schema (human-readable format) that policies are checked
against: the entities and actions every consortium has, and Record's
attributes, generated from the schema registry of the gateway on --dir (or
from the schema documents given with --schema, or the demo's schemas). Each
attribute is a field that a registered schema marks x-caravan-policy-attribute;
the comment beside it names the schemas that declare it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, what, err := src.vocabulary(cmd)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "the Cedar schema of %s\n", what)
			_, err = cmd.OutOrStdout().Write(v.Text())
			return err
		},
	}
	src.flags(c)
	return c
}

func policyExplainCmd() *cobra.Command {
	var (
		dir, recordFile, at string
		req                 api.ExplainRequest
		asJSON              bool
	)
	c := &cobra.Command{
		Use:   "explain --dir DIR --org ORG --dataset D --record FILE --purpose P [--time T] [--json]",
		Short: "Ask the running gateway how it would decide one record, and why",
		Long: `Decide, with the policies in force on the gateway of DIR, whether ORG may
fetch the record in FILE (one JSON object; "-" for standard input) of dataset
D for purpose P, and print the decision, the policies that made it, and the
attributes they saw. D is a manifest CID, OWNER/NAME, or the name of one of
this org's datasets. released_today is this gateway's count for ORG today;
explain itself counts nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := readInput(cmd.InOrStdin(), recordFile)
			if err != nil {
				return err
			}
			req.Record = data
			if at != "" {
				if req.Time, err = time.Parse(time.RFC3339, at); err != nil {
					return fmt.Errorf("--time: %w (want RFC 3339, e.g. 2026-11-27T10:00:00Z)", err)
				}
			}
			cl, err := api.NewClient(dir)
			if err != nil {
				return err
			}
			res, err := cl.Explain(cmd.Context(), req)
			if err != nil {
				return withNotRunningCode(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			printExplain(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&req.Org, "org", "", "the requesting org (required)")
	f.StringVar(&req.Dataset, "dataset", "", "manifest CID, OWNER/NAME, or a name of this org's datasets (required)")
	f.StringVar(&recordFile, "record", "", "file holding the record as a JSON object, - for stdin (required)")
	f.StringVar(&req.Purpose, "purpose", "", "the purpose of the request (required)")
	f.StringVar(&at, "time", "", "time of the request, RFC 3339 (default now)")
	jsonFlag(c, &asJSON)
	dirFlag(c, &dir, gatewayDir)
	for _, r := range []string{"org", "dataset", "record", "purpose"} {
		_ = c.MarkFlagRequired(r)
	}
	return c
}

func readInput(stdin io.Reader, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(stdin, 4<<20))
	}
	return os.ReadFile(path)
}

func printExplain(w io.Writer, r *api.ExplainResult) {
	fmt.Fprintf(w, "decision: %s\n", strings.ToUpper(r.Decision))
	if len(r.Policies) == 0 {
		fmt.Fprintln(w, "  no policy permits it: default deny")
	}
	for _, p := range r.Policies {
		fmt.Fprintf(w, "  %s %s (%s:%d)\n", p.Effect, p.ID, p.File, p.Line)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  skipped, evaluation error: %s\n", e)
	}
	fmt.Fprintf(w, "bundle:   %s\n", r.Bundle)
	fmt.Fprintf(w, "request:  org %s (%s, %s; groups %s), purpose %q, %s, released today %d\n",
		r.Org.ID, r.Org.Country, r.Org.Sector, strings.Join(r.Org.Groups, ","), r.Purpose, r.Time.Format(time.RFC3339), r.ReleasedToday)
	fmt.Fprintf(w, "dataset:  %s (manifest %s, schema %s)\n", r.Dataset, r.Manifest, r.Schema)
	fmt.Fprintf(w, "record:   %s\n", r.Record)
	keys := make([]string, 0, len(r.Attributes))
	for k := range r.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, _ := json.Marshal(r.Attributes[k])
		fmt.Fprintf(w, "  %s: %s\n", k, v)
	}
}

func policyShowCmd() *cobra.Command {
	var (
		dir    string
		reload bool
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "show --dir DIR [--reload] [--json]",
		Short: "Print the policy bundle in force on a running gateway",
		Long: `Print the bundle in force on the gateway of DIR: its CID, files and policies,
and how many reloads were accepted and refused (with the last refusal's
reason). --reload first asks the gateway to reload its policy directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := api.NewClient(dir)
			if err != nil {
				return err
			}
			info, err := cl.Policy(cmd.Context())
			if reload {
				info, err = cl.ReloadPolicy(cmd.Context())
			}
			if err != nil {
				return withNotRunningCode(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), info)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "bundle %s (%d policies, %d files) in force since %s\n", info.Bundle, info.Count, len(info.Files), info.LoadedAt.Format(time.RFC3339))
			fmt.Fprintf(w, "directory %s; reloads accepted %d, refused %d\n", info.Dir, info.Accepted, info.Refused)
			if info.LastError != "" {
				fmt.Fprintf(w, "last reload refused:\n%s\n", info.LastError)
			}
			for _, p := range info.Policies {
				fmt.Fprintf(w, "  %-7s %-32s %s:%d\n", p.Effect, p.ID, p.File, p.Line)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&reload, "reload", false, "reload the policy directory first")
	jsonFlag(c, &asJSON)
	dirFlag(c, &dir, gatewayDir)
	return c
}
