package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/sharing/publish"
)

func cidCmd() *cobra.Command {
	var (
		tree, quiet bool
		schemaID    string
	)
	c := &cobra.Command{
		Use:   "cid FILE",
		Short: "Print the CID of each record of a JSONL file ('-' for standard input)",
		Long: `Print each record's CID, one line per record, in file order. A record's CID
is CIDv1, multicodec json, sha2-256 over its RFC 8785 canonical form, so any
multiformats implementation derives the same CID from the canonical bytes:
{"hello":"world"} is bagaaierasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea.
With --tree, also print the record tree's size and RFC 6962 root, as a
manifest would hold them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, closeIn, err := openInput(cmd, args[0])
			if err != nil {
				return err
			}
			defer closeIn()
			var opts publish.BuildOptions
			if schemaID != "" {
				var err error
				if opts.Schema, err = offlineSchema(schemaID); err != nil {
					return err
				}
			}
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<16)
			res, err := publish.Build(cmd.Context(), publish.JSONLines(in), opts, func(recs []publish.Record) error {
				if quiet {
					return nil
				}
				for _, r := range recs {
					if _, err := fmt.Fprintln(out, r.CID); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if tree || quiet {
				fmt.Fprintf(out, "tree size %d root %x\n", res.Tree.Size, res.Tree.Root)
			}
			return out.Flush()
		},
	}
	c.Flags().BoolVar(&tree, "tree", false, "also print the record tree's size and root")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the tree's size and root (to check a file against a manifest)")
	c.Flags().StringVar(&schemaID, "schema", "", "also validate every record against this schema (a file, or a demo schema's name); the first invalid one is an error")
	return c
}

// openInput opens a file argument, or standard input for "-".
func openInput(cmd *cobra.Command, name string) (io.Reader, func(), error) {
	if name == "-" {
		return cmd.InOrStdin(), func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}
