package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/api"

	"github.com/spf13/cobra"
)

func publishCmd() *cobra.Command {
	var (
		asJSON          bool
		dir, rejectFile string
		o               api.PublishRequest
	)
	c := &cobra.Command{
		Use:   "publish --dir DIR --dataset NAME --schema SCHEMA [flags] FILE",
		Short: "Publish a dataset (JSONL or CSV; '-' for standard input) as a signed manifest",
		Long: `Hand FILE to the gateway running on DIR, which validates every record
against the schema, canonicalizes it (RFC 8785), gives it a CID, builds the
record tree, signs the manifest with the org's key, stores it with the
records and announces it to the consortium.

By default nothing is published if any record is invalid, and the error names
the line and the field. With --reject-file F, the valid records are published
and the invalid ones are written to F with their errors. --dry-run prints the
manifest as JSON and stores and announces nothing.

A FILE ending in .csv is read as CSV (a header row of field paths such as
declarant.name); anything else as JSON Lines. Files are UTF-8 (Excel's
"CSV UTF-8", with its byte-order mark, included); a file in another
encoding is refused at the first byte that is not UTF-8 unless --encoding
names its encoding (windows-1251, gb18030, gbk, koi8-r, iso-8859-5, ...).
A CSV file exported by a European or Russian Excel separates cells with
';': say --delimiter ';' (or tab for a tab-separated file).

A record is at most 1 MiB. Values of fields the schema marks sensitive are
never shown: not in errors, and not in the reject file, which holds each
rejected record (those values replaced) with its line and errors, and is
readable by you alone (0600).

The gateway reads a regular FILE itself when it can open it (it runs as the
same user, on the same file system), which spares copying every byte
through the control socket; otherwise, and for '-', the file is streamed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return publishFile(cmd, dir, rejectFile, o, args[0], asJSON)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Dataset, "dataset", "", "dataset name, e.g. khorgos-declarations (required)")
	f.StringVar(&o.Schema, "schema", "", "a registered schema (NAME, NAME@VERSION, OWNER/NAME), or a schema file to register first, e.g. ./plant-cert.json (required)")
	f.StringVar(&o.Format, "format", "", "jsonl or csv (default: from the file name)")
	f.StringVar(&o.Encoding, "encoding", "", "the file's character encoding if not UTF-8, e.g. windows-1251, gb18030, gbk, koi8-r, iso-8859-5")
	f.StringVar(&o.Delimiter, "delimiter", "", "CSV cell delimiter: ',' (default), ';', 'tab' or '|'")
	f.StringArrayVar(&o.Labels, "label", nil, "a label (repeat)")
	f.StringArrayVar(&o.Purposes, "purpose", nil, "a purpose the dataset is offered for, e.g. customs-clearance (repeat)")
	f.StringVar(&o.Description, "description", "", "a description")
	f.StringVar(&rejectFile, "reject-file", "", "publish the valid records; write the invalid ones, with their errors, to this file")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the manifest; store and announce nothing")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	dirFlag(c, &dir, gatewayDir)
	for _, r := range []string{"dataset", "schema"} {
		_ = c.MarkFlagRequired(r)
	}
	return c
}

// publishFile hands file to the gateway on dir and prints what it
// published.
func publishFile(cmd *cobra.Command, dir, rejectFile string, o api.PublishRequest, file string, asJSON bool) error {
	cl, err := api.NewClient(dir)
	if err != nil {
		return err
	}
	if isSchemaFile(o.Schema) {
		// A schema file: register it first (nothing changes if it is
		// registered already), then publish with it.
		info, err := registerFile(cmd, dir, api.SchemaRequest{}, o.Schema)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "schema %s is registered as %s/%s@%s, document CID %s\n", o.Schema, info.Owner, info.Name, info.Version, info.CID)
		o.Schema = info.Owner + "/" + info.Name + "@" + info.Version
	}
	in, closeIn, err := openInput(cmd, file)
	if err != nil {
		return err
	}
	defer closeIn()
	if o.Format == "" {
		o.Format = "jsonl"
		if strings.EqualFold(filepath.Ext(file), ".csv") {
			o.Format = "csv"
		}
	}
	rejects, err := createRejects(rejectFile)
	if err != nil {
		return err
	}
	defer rejects.abandon()
	o.Rejects = rejects != nil
	var size int64 = -1
	if f, ok := in.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
	}
	bar := newByteProgress(cmd.ErrOrStderr(), size, "publishing "+o.Dataset)
	start := time.Now()
	onEvent := func(ev api.PublishEvent) {
		if ev.Bytes > 0 {
			bar.Set(ev.Bytes)
		}
		if ev.Reject != nil {
			rejects.add(ev.Reject)
		}
	}
	var res *api.PublishSummary
	if size >= 0 {
		// A regular file: the gateway reads it itself if it can,
		// instead of receiving every byte through the socket.
		res, err = cl.PublishFile(cmd.Context(), o, file, onEvent)
	}
	if size < 0 || errors.Is(err, api.ErrUnreadableHere) {
		res, err = cl.Publish(cmd.Context(), o, bar.reader(in), onEvent)
	}
	bar.Finish()
	if err == nil {
		err = rejects.close()
	}
	if err != nil {
		return withNotRunningCode(err)
	}
	if asJSON {
		return printJSON(cmd.OutOrStdout(), res)
	}
	if err := printPublished(cmd.OutOrStdout(), res, time.Since(start), rejectFile, rejects.shown()); err != nil {
		return err
	}
	if len(o.Purposes) == 0 && !res.DryRun {
		fmt.Fprintln(cmd.ErrOrStderr(), "note: no --purpose was given, so no partner can fetch this dataset yet: a fetch states a purpose, and only a purpose the dataset is offered for is served. Publish a new version with --purpose (e.g. --purpose customs-clearance)")
	}
	return nil
}

// shownRejects is how many rejected records the summary shows.
const shownRejects = 5

// rejectFile is the --reject-file being written: every rejected record, and
// the first few kept for the summary. A nil *rejectFile takes nothing.
type rejectFile struct {
	f     *os.File
	first []string
	err   error // the first write error
}

// createRejects creates the reject file at path (none if path is ""), mode
// 0600 even if a file was there: a rejected record is the agency's data.
func createRejects(path string) (*rejectFile, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return &rejectFile{f: f}, nil
}

func (r *rejectFile) add(rec *api.RejectedRecord) {
	if r == nil {
		return
	}
	if len(r.first) < shownRejects {
		r.first = append(r.first, rejectLine(rec))
	}
	line, _ := json.Marshal(rec)
	if _, err := r.f.Write(append(line, '\n')); err != nil && r.err == nil {
		r.err = err
	}
}

func (r *rejectFile) shown() []string {
	if r == nil {
		return nil
	}
	return r.first
}

// close closes the file and reports whether every rejected record is in it.
func (r *rejectFile) close() error {
	if r == nil || r.f == nil {
		return nil
	}
	name, err := r.f.Name(), r.f.Close()
	r.f = nil
	if r.err != nil {
		err = r.err
	}
	if err != nil {
		return fmt.Errorf("reject file %s: %w (the dataset was published; its rejected records are not all in the file)", name, err)
	}
	return nil
}

// abandon closes the file if close was not called (a failed publish).
func (r *rejectFile) abandon() {
	if r != nil && r.f != nil {
		r.f.Close()
	}
}

// rejectLine is a rejected record as the summary shows it.
func rejectLine(r *api.RejectedRecord) string {
	s := fmt.Sprintf("line %d: ", r.Line)
	if r.Field != "" {
		s += r.Field + ": "
	}
	return s + r.Error
}

// isSchemaFile reports whether a --schema argument names a file rather than
// a registered schema.
func isSchemaFile(ref string) bool {
	if !strings.ContainsAny(ref, `/\`) && !strings.HasSuffix(ref, ".json") {
		return false
	}
	fi, err := os.Stat(ref)
	return err == nil && fi.Mode().IsRegular()
}

// printPublished says what a publish made: the manifest as JSON for a dry
// run.
func printPublished(out io.Writer, res *api.PublishSummary, took time.Duration, rejectFile string, first []string) error {
	if res.DryRun {
		return printJSON(out, res.Manifest)
	}
	m := res.Manifest
	fmt.Fprintf(out, "published %s version %d: %d records in %v\n", m.Dataset, m.Version, m.Records, took.Round(time.Millisecond))
	fmt.Fprintf(out, "manifest %s\n", res.CID)
	fmt.Fprintf(out, "record tree size %d root %x\n", m.Tree.Size, m.Tree.Root)
	if res.Rejected > 0 {
		fmt.Fprintf(out, "%d invalid record(s) left out, all written to %s; the first:\n", res.Rejected, rejectFile)
		for _, l := range first {
			fmt.Fprintf(out, "  %s\n", l)
		}
		if res.Rejected > len(first) {
			fmt.Fprintf(out, "  ... and %d more\n", res.Rejected-len(first))
		}
	}
	return nil
}

func retractCmd() *cobra.Command {
	var dir, dataset, reason string
	c := &cobra.Command{
		Use:   "retract --dir DIR --dataset NAME [--reason TEXT]",
		Short: "Retract one of your datasets: a signed tombstone every catalog honours",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := api.NewClient(dir)
			if err != nil {
				return err
			}
			if _, err := cl.Retract(cmd.Context(), dataset, reason); err != nil {
				return withNotRunningCode(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "retracted %s\n", dataset)
			return nil
		},
	}
	c.Flags().StringVar(&dataset, "dataset", "", "dataset name (required)")
	c.Flags().StringVar(&reason, "reason", "", "why, for the record")
	dirFlag(c, &dir, gatewayDir)
	_ = c.MarkFlagRequired("dataset")
	return c
}
