package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/schemas/sample"
)

func genCmd() *cobra.Command {
	var (
		schemaID string
		count    int
		seed     uint64
		out      string
	)
	c := &cobra.Command{
		Use:   "gen --schema ID --count N [--seed S] [--out FILE]",
		Short: "Write deterministic, realistic sample records (JSONL) for a schema",
		Long: `Write N synthetic records of a dataset schema as JSON Lines. The same schema,
seed and count always give the same bytes; record i depends only on the seed
and i. Schemas with a generator: ` + fmt.Sprint(sample.Schemas()) + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 0 {
				return fmt.Errorf("--count %d: must not be negative", count)
			}
			var w io.Writer = cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			bar := newProgress(cmd.ErrOrStderr(), int64(count), "generating "+schemaID)
			err := sample.Write(w, schemaID, count, seed, func(n int) { bar.Set(int64(n)) })
			bar.Finish()
			if err != nil {
				return err
			}
			if f, ok := w.(*os.File); ok && out != "" {
				return f.Sync()
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&schemaID, "schema", "", "schema id, e.g. customs-declaration (required)")
	f.IntVar(&count, "count", 1000, "number of records")
	f.Uint64Var(&seed, "seed", 1, "seed; the same seed gives the same records")
	f.StringVar(&out, "out", "", "output file (default standard output)")
	_ = c.MarkFlagRequired("schema")
	return c
}
