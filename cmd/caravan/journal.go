package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/journal"
)

func journalCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "journal",
		Short: "Read, check and prove entries of the transparency journal",
		Long: `Every gateway keeps its org's journal: an append-only log of its publishes,
retractions, policy and roster changes, and (with fetching) its decisions and
receipts, in the C2SP tlog-tiles layout under DIR/journal/log. Its checkpoints
are signed notes; the other members mirror the log, check each new checkpoint
against what they verified before, and cosign it.

These commands read the data directory; they work whether the gateway runs or
not.`,
	}
	c.AddCommand(journalCheckpointCmd(), journalVkeyCmd(), journalLogCmd(), journalTailCmd(),
		journalVerifyCmd(), journalProofCmd(), journalAlertsCmd())
	return c
}

func journalCheckpointCmd() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "checkpoint --dir DIR",
		Short: "Print the newest checkpoint of this org's journal (a C2SP signed note)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			own, err := pickLog(dir, "")
			if err != nil {
				return err
			}
			raw := own.Checkpoint
			if raw == nil {
				return errors.New("no checkpoint yet")
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), checkpointJSON(raw))
			}
			_, err = cmd.OutOrStdout().Write(raw)
			return err
		},
	}
	dirFlag(c, &dir, gatewayDir)
	jsonFlag(c, &asJSON)
	return c
}

func journalVkeyCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "vkey --dir DIR",
		Short: "Print this org's journal verifier keys (signed-note format)",
		Long: `Print the verifier key of this org's journal checkpoints (Ed25519, as
golang.org/x/mod/sumdb/note reads it) and of its cosignatures as a witness
(C2SP tlog-cosignature, cosignature/v1). Both derive from the node key that
the roster lists, so anyone with the roster can derive them too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := datadir.GatewayJournalKeys(dir)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k.Log)
			fmt.Fprintf(cmd.ErrOrStderr(), "witness (cosignature/v1): %s\n", k.Witness)
			return nil
		},
	}
	dirFlag(c, &dir, gatewayDir)
	return c
}

// pickLog returns the log of org in dir ("" for this org's own).
func pickLog(dir, org string) (*datadir.LogView, error) {
	logs, err := datadir.GatewayLogs(dir)
	if err != nil {
		return nil, err
	}
	for i := range logs {
		if org == "" && logs[i].Own || logs[i].Org == org {
			return &logs[i], nil
		}
	}
	return nil, fmt.Errorf("org %q is not in the roster", org)
}

// entryJSON is one entry as log and tail print it with --json (a line
// each).
type entryJSON struct {
	Origin string         `json:"origin"`
	Index  uint64         `json:"index"`
	Hash   string         `json:"hash"` // hex SHA-256 of the entry
	Event  *journal.Event `json:"event,omitempty"`
	Error  string         `json:"error,omitempty"` // the entry does not decode
}

func printEntries(ctx context.Context, w io.Writer, v *datadir.LogView, from, to uint64, asJSON bool) error {
	enc := json.NewEncoder(w)
	return journal.Entries(ctx, v.Source, from, to, v.Size, func(i uint64, e []byte) error {
		ev, err := journal.Decode(e)
		if asJSON {
			line := entryJSON{Origin: v.Origin, Index: i, Hash: journal.Hash(e), Event: ev}
			if err != nil {
				line.Error = err.Error()
			}
			return enc.Encode(line)
		}
		if err != nil {
			fmt.Fprintf(w, "%6d  (undecodable: %v)\n", i, err)
			return nil
		}
		fmt.Fprintf(w, "%6d  %s  %-8s  %s  [%.12s]\n", i, ev.Time.Format(time.RFC3339), ev.Type, ev.Summary(), journal.Hash(e))
		return nil
	})
}

func journalLogCmd() *cobra.Command {
	var (
		dir, org string
		from     uint64
		asJSON   bool
	)
	c := &cobra.Command{
		Use:   "log --dir DIR [--org ORG] [--from N]",
		Short: "List the entries of this org's journal, or of a member's mirrored journal",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := pickLog(dir, org)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if !asJSON {
				fmt.Fprintf(w, "%s: %d entries (checkpoint on disk)\n", v.Origin, v.Size)
			}
			return printEntries(cmd.Context(), w, v, min(from, v.Size), v.Size, asJSON)
		},
	}
	dirFlag(c, &dir, gatewayDir)
	c.Flags().StringVar(&org, "org", "", "a member whose mirrored journal to list (default: this org's)")
	c.Flags().Uint64Var(&from, "from", 0, "first entry")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON, an entry a line")
	return c
}

func journalTailCmd() *cobra.Command {
	var (
		dir, org string
		n        uint64
		asJSON   bool
	)
	c := &cobra.Command{
		Use:   "tail --dir DIR [--org ORG] [-n N]",
		Short: "Print the newest entries, then follow the journal until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			v, err := pickLog(dir, org)
			if err != nil {
				return err
			}
			next := v.Size - min(n, v.Size)
			for {
				if v.Size > next {
					if err := printEntries(ctx, w, v, next, v.Size, asJSON); err != nil {
						return err
					}
					next = v.Size
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(500 * time.Millisecond):
				}
				if v, err = pickLog(dir, org); err != nil {
					return err
				}
			}
		},
	}
	dirFlag(c, &dir, gatewayDir)
	c.Flags().StringVar(&org, "org", "", "a member whose mirrored journal to follow")
	c.Flags().Uint64VarP(&n, "lines", "n", 10, "how many of the newest entries to print first")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON, an entry a line")
	return c
}

func journalVerifyCmd() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "verify --dir DIR",
		Short: "Check every journal this gateway holds, entry by entry",
		Long: `For this org's journal and every mirrored one: check the newest checkpoint's
signature against the roster, hash every entry up to its signed root, and
decode every entry. Exit 1 on any failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks, err := datadir.VerifyJournals(cmd.Context(), dir)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			failed := 0
			var out []logCheckJSON
			for _, c := range checks {
				out = append(out, logCheckJSONOf(c))
				if c.Checkpoint != nil && (c.Err != nil || len(c.BadEvents) > 0) {
					failed++
				}
				if asJSON {
					continue
				}
				kind := "mirror"
				if c.Own {
					kind = "own"
				}
				switch {
				case c.Checkpoint == nil:
					fmt.Fprintf(w, "%-6s %-40s no checkpoint yet\n", kind, c.Origin)
				case c.Err != nil || len(c.BadEvents) > 0:
					fmt.Fprintf(w, "%-6s %-40s FAILED: %v %s\n", kind, c.Origin, c.Err, strings.Join(c.BadEvents, "; "))
				default:
					fmt.Fprintf(w, "%-6s %-40s ok: %d entries hash to the signed root; all decode\n", kind, c.Origin, c.Entries)
				}
			}
			if asJSON {
				if err := printJSON(w, out); err != nil {
					return err
				}
			}
			if failed > 0 {
				return exitError{code: 1, msg: fmt.Sprintf("%d journal(s) failed", failed)}
			}
			return nil
		},
	}
	dirFlag(c, &dir, gatewayDir)
	jsonFlag(c, &asJSON)
	return c
}

func journalProofCmd() *cobra.Command {
	var (
		dir, hash, out string
		entry          int64
		asJSON         bool
	)
	c := &cobra.Command{
		Use:   "proof --dir DIR (--entry N | --hash H) --out FILE",
		Short: "Write an evidence file (C2SP tlog-proof) for one entry of this org's journal",
		Long: `Write a c2sp.org/tlog-proof file for one entry: the entry itself (as the
proof's extra data), its inclusion proof, and the smallest checkpoint covering
it that a threshold of witnesses has cosigned. Anyone can check it offline
with 'caravan verify FILE --roster consortium.yaml'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if (entry < 0) == (hash == "") {
				return fmt.Errorf("give exactly one of --entry and --hash")
			}
			idx := uint64(entry)
			if hash != "" {
				var err error
				if idx, err = datadir.EntryByHash(ctx, dir, hash); err != nil {
					return err
				}
			}
			p, err := datadir.ProveEntry(ctx, dir, idx)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, p, 0o644); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]any{"out": out, "entry": idx})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: entry %d\n", out, idx)
			return nil
		},
	}
	dirFlag(c, &dir, gatewayDir)
	c.Flags().Int64Var(&entry, "entry", -1, "entry index")
	c.Flags().StringVar(&hash, "hash", "", "event hash (hex SHA-256 of the entry), or a prefix of it that only one entry has, such as the 12 characters 'journal log' shows")
	c.Flags().StringVar(&out, "out", "", "evidence file to write, e.g. entry.tlog-proof (required)")
	_ = c.MarkFlagRequired("out")
	jsonFlag(c, &asJSON)
	return c
}

func journalAlertsCmd() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "alerts --dir DIR",
		Short: "List fork alerts: members' checkpoints that contradicted verified ones",
		Long: `A member whose journal shows two checkpoints that cannot both be true has
forked its log (or served data that does not match what it signed). The
gateway logs an error, counts it (caravan_journal_fork_alerts_total), and keeps
both signed checkpoints in DIR/journal/alerts: evidence for a third party.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alerts, err := journal.Alerts(datadir.Dir(dir).Alerts())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch {
			case asJSON:
				if err := printJSON(w, append([]journal.Alert{}, alerts...)); err != nil {
					return err
				}
			case len(alerts) == 0:
				fmt.Fprintln(w, "no fork alerts")
			}
			if len(alerts) == 0 {
				return nil
			}
			for _, a := range alerts {
				if !asJSON {
					fmt.Fprintf(w, "%s  %s: %s\n  evidence: %s\n", a.At, a.Origin, a.Reason, a.File)
					if a.Conflicts > 1 {
						fmt.Fprintf(w, "  %d distinct checkpoints contradict the one held at size %s\n", a.Conflicts, a.Size)
					}
				}
			}
			return exitError{code: 2, msg: fmt.Sprintf("%d fork alert(s)", len(alerts))}
		},
	}
	dirFlag(c, &dir, gatewayDir)
	jsonFlag(c, &asJSON)
	return c
}

// jsonFlag adds --json to c.
// checkpointJSON is a checkpoint note as journal checkpoint --json prints
// it: its body's lines (C2SP tlog-checkpoint) and the whole note.
func checkpointJSON(note []byte) map[string]any {
	out := map[string]any{"note": string(note)}
	if cp, err := journal.ParseCheckpoint(note); err == nil {
		out["origin"], out["size"], out["root"] = cp.Origin, cp.Size, hex.EncodeToString(cp.Hash)
	}
	return out
}

// logCheckJSON is one log's check as journal verify --json prints it.
type logCheckJSON struct {
	Origin     string   `json:"origin"`
	Org        string   `json:"org"`
	Own        bool     `json:"own"`
	Checkpoint bool     `json:"checkpoint"` // there is one to check
	Size       uint64   `json:"size"`
	Entries    uint64   `json:"entries"` // hashed and decoded
	OK         bool     `json:"ok"`
	Error      string   `json:"error,omitempty"`
	BadEvents  []string `json:"bad_events,omitempty"`
}

func logCheckJSONOf(c datadir.LogCheck) logCheckJSON {
	j := logCheckJSON{Origin: c.Origin, Org: c.Org, Own: c.Own, Checkpoint: c.Checkpoint != nil, Size: c.Size,
		Entries: c.Entries, OK: c.Checkpoint != nil && c.Err == nil && len(c.BadEvents) == 0, BadEvents: c.BadEvents}
	if c.Err != nil {
		j.Error = c.Err.Error()
	}
	return j
}
