package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caravan-consortium/caravan/api"

	"github.com/spf13/cobra"
)

func catalogCmd() *cobra.Command {
	var (
		dir    string
		f      api.CatalogQuery
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "catalog --dir DIR [--org O] [--schema S] [--label L] [--all] [--as ORG] [--json]",
		Short: "List the datasets every member has published, as this gateway knows them",
		Long: `List the newest version of each dataset in the gateway's catalog: every
member's verified manifests. A new version supersedes the previous one; a
retracted dataset is hidden. --all lists every version, retracted ones too.

--as ORG shows this org's own datasets as ORG may see them: only those that
this gateway's policies let ORG discover (Cedar action "discover").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := api.NewClient(dir)
			if err != nil {
				return err
			}
			entries, err := cl.Catalog(cmd.Context(), f)
			if err != nil {
				return withNotRunningCode(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), entries)
			}
			printCatalog(cmd.OutOrStdout(), entries)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.Org, "org", "", "only this publisher")
	fl.StringVar(&f.Schema, "schema", "", "only this schema id")
	fl.StringVar(&f.Label, "label", "", "only datasets with this label")
	fl.BoolVar(&f.All, "all", false, "every version, and retracted datasets")
	jsonFlag(c, &asJSON)
	fl.StringVar(&f.As, "as", "", "only this org's datasets that ORG may discover under the policies in force")
	dirFlag(c, &dir, gatewayDir)

	var wait time.Duration
	show := &cobra.Command{
		Use:   "show --dir DIR CID",
		Short: "Print one manifest or retraction, as signed",
		Long: `Print one manifest or retraction, as signed. With --wait, wait up to that
long (at most 1m) for it to reach this gateway's catalog first: a script
that expects a partner's dataset need not poll.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := api.NewClient(dir)
			if err != nil {
				return err
			}
			var item *api.CatalogItem
			if wait > 0 {
				item, err = cl.AwaitCatalogItem(cmd.Context(), args[0], wait)
			} else {
				item, err = cl.CatalogItem(cmd.Context(), args[0])
			}
			if err != nil {
				return withNotRunningCode(err)
			}
			return printJSON(cmd.OutOrStdout(), item)
		},
	}
	dirFlag(show, &dir, gatewayDir)
	show.Flags().DurationVar(&wait, "wait", 0, "wait up to this long (at most 1m) for the statement to arrive")
	c.AddCommand(show)
	return c
}

func printCatalog(w io.Writer, entries []api.CatalogEntry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "the catalog is empty")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ORG\tDATASET\tVER\tRECORDS\tSCHEMA\tCREATED\tLABELS\tCID")
	for _, e := range entries {
		m := e.Manifest
		state := ""
		if e.Retracted {
			state = " (retracted)"
		} else if !e.Head {
			state = " (superseded)"
		}
		fmt.Fprintf(tw, "%s\t%s%s\t%d\t%d\t%s@%d\t%s\t%s\t%s\n", m.Publisher, m.Dataset, state, m.Version, m.Records,
			m.Schema.ID, m.Schema.Version, m.Created.Format("2006-01-02 15:04"), strings.Join(m.Labels, ","), e.CID)
	}
	tw.Flush()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
