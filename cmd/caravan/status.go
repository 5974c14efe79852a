package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caravan-consortium/caravan/api"

	"github.com/spf13/cobra"
)

func statusCmd() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "status --dir DIR",
		Short: "Show a running gateway's PeerID, addresses and connected members",
		Long: `Ask the gateway running on DIR, through its control socket DIR/control.sock,
for its PeerID, addresses, roster version and which members it is connected
to. Exits with status 3 if no gateway is running on DIR.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := api.NewClient(dir)
			if err != nil {
				return err
			}
			st, err := cl.Status(cmd.Context())
			if err != nil {
				return withNotRunningCode(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	dirFlag(c, &dir, gatewayDir)
	return c
}

func withNotRunningCode(err error) error {
	if errors.Is(err, api.ErrNotRunning) {
		return exitError{code: 3, msg: err.Error()}
	}
	return err
}

func printStatus(w io.Writer, st *api.Status) {
	fmt.Fprintf(w, "org:         %s\n", st.Org)
	fmt.Fprintf(w, "peer id:     %s\n", st.PeerID)
	fmt.Fprintf(w, "consortium:  %s (roster version %d)\n", st.Consortium, st.RosterVersion)
	switch {
	case st.RosterExpired:
		fmt.Fprintf(w, "roster:      EXPIRED at %s: the gateway keeps serving under it; ask the admins to sign a new version\n", st.RosterExpires)
	case st.RosterExpires != "":
		fmt.Fprintf(w, "roster:      expires %s\n", st.RosterExpires)
	}
	fmt.Fprintf(w, "running:     pid %d, up %s\n", st.PID, time.Since(st.StartedAt).Round(time.Second))
	fmt.Fprintf(w, "listening:\n")
	for _, a := range st.Addrs {
		fmt.Fprintf(w, "  %s\n", a)
	}
	fmt.Fprintf(w, "refused:     %d connection(s) from non-members\n", st.Refused)
	for _, p := range st.RosterProposals {
		fmt.Fprintf(w, "roster:      version %d proposed: signed by %s; not yet by %s (%d of its admins and %d of those in force must sign)\n",
			p.Version, orNone(p.Signed), orNone(p.Unsigned), p.Threshold, p.InForceThreshold)
	}
	if st.RosterRejected > 0 {
		fmt.Fprintf(w, "roster:      %d roster file(s) refused; see the gateway log\n", st.RosterRejected)
	}
	for _, a := range st.SchemasSetAside {
		fmt.Fprintf(w, "schema set aside: %s (%s): %s\n", a.Schema, a.CID, firstLine(a.Reason))
	}
	fmt.Fprintln(w, "members:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ORG\tCOUNTRY\tNAME\tSTATE")
	for _, m := range st.Members {
		state := "not connected"
		switch {
		case m.Self:
			state = "this gateway"
		case m.Connected():
			state = "connected"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", m.Org, m.Country, m.Name, state)
	}
	tw.Flush()
}

// firstLine is s up to its first line break.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
