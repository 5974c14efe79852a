package main

// The roster commands that change no roster file: show, admin-key, and submit
// (a proposal handed to a running gateway).

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/keyfile"
	"github.com/spf13/cobra"
)

func adminKeyCmd() *cobra.Command {
	var keyPath, path string
	c := &cobra.Command{
		Use:   "admin-key --key FILE [--roster FILE]",
		Short: "Print the public key line of an admin key file",
		Long: `Print an admin key file's public key, as 'consortium new --admin' and
'consortium rotate-admin --key' take it, and the admin's name if the roster
lists the key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			priv, err := keyfile.Load(keyPath)
			if err != nil {
				return err
			}
			pub := consortium.EncodePublicKey(priv.Public().(ed25519.PublicKey))
			name := ""
			if r, err := consortium.Load(path); err == nil {
				for _, k := range r.Admins.Keys {
					if k.Key == pub {
						name = k.Name
					}
				}
			}
			if name == "" {
				fmt.Fprintf(cmd.OutOrStdout(), "admin key: %s (not an admin of %s)\n", pub, path)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "admin key: --admin %s=%s\n", name, pub)
			return nil
		},
	}
	c.Flags().StringVar(&keyPath, "key", "", "the admin key file (required)")
	c.Flags().StringVar(&path, "roster", "consortium.yaml", "roster file, to name the admin")
	_ = c.MarkFlagRequired("key")
	return c
}

func showRosterCmd() *cobra.Command {
	var (
		path, dir string
		version   uint64
		asJSON    bool
	)
	c := &cobra.Command{
		Use:   "show [--roster FILE | --dir DIR [--version N]] [--json]",
		Short: "Show a roster: a file, or (--dir) the one a gateway has in force, or an earlier version it kept",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case version > 0 && dir == "":
				return fmt.Errorf("--version reads the versions a gateway kept: give its --dir")
			case version > 0:
				path = datadir.Dir(dir).RosterVersion(version)
			case dir != "":
				path = datadir.Dir(dir).TrustedRoster()
			}
			r, err := consortium.Load(path)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), r)
			}
			showRoster(cmd.OutOrStdout(), path, r)
			return nil
		},
	}
	jsonFlag(c, &asJSON)
	c.Flags().StringVar(&path, "roster", "consortium.yaml", "roster file")
	c.Flags().StringVar(&dir, "dir", "", "a gateway data directory: show the roster it has in force")
	c.Flags().Uint64Var(&version, "version", 0, "with --dir: a version the gateway put in force earlier")
	c.MarkFlagsMutuallyExclusive("roster", "dir")
	return c
}

// showRoster prints every field of r, for a person.
func showRoster(w io.Writer, path string, r *consortium.Roster) {
	signers, err := r.Verify()
	state := fmt.Sprintf("signed by %s (threshold %d)", strings.Join(signers, ", "), r.Admins.Threshold)
	if err != nil {
		state = "not valid: " + err.Error()
	}
	fmt.Fprintf(w, "%s: consortium %s, version %d, %s\n", path, r.Consortium, r.Version, state)
	switch {
	case r.Expired(time.Now()):
		fmt.Fprintf(w, "EXPIRED at %s\n", r.Expires)
	case r.Expires != "":
		fmt.Fprintf(w, "expires %s\n", r.Expires)
	}
	fmt.Fprintf(w, "admins (%d must sign):\n", r.Admins.Threshold)
	for _, k := range r.Admins.Keys {
		fmt.Fprintf(w, "  %-16s %s\n", k.Name, k.Key)
	}
	fmt.Fprintf(w, "members:\n")
	for _, m := range r.Members {
		fmt.Fprintf(w, "  %s: %s, %s, %s; roles: %s; groups: %s\n", m.Org, m.Name, m.Country, m.Sector,
			orNone(m.Roles), orNone(m.Groups))
		if m.OrgKey != "" {
			fmt.Fprintf(w, "    org key %s\n", m.OrgKey)
		}
		for _, n := range m.Nodes {
			fmt.Fprintf(w, "    node %s %s\n", n.PeerID, strings.Join(n.Addrs, " "))
		}
	}
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func submitRosterCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "submit FILE --dir DIR",
		Short: "Hand a proposed roster version, with the signatures it has, to a running gateway",
		Long: `Hand the gateway of DIR a proposed roster version (a proposal file from
'consortium propose', signed by one or more admins with 'consortium sign').
The gateway keeps the signatures each submission brings, merged, and puts
the version in force as soon as a threshold of its own admins and of the
admins in force have signed it; it then writes it to its roster file too.
'caravan status' shows the versions pending and who has not signed yet.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			cl, err := api.NewClient(dir)
			if err != nil {
				return err
			}
			p, err := cl.SubmitRoster(cmd.Context(), data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			switch p.State {
			case "pending":
				fmt.Fprintf(cmd.OutOrStdout(), "version %d pending: signed by %s; not yet by %s (%d of its admins and %d of those in force must sign)\n",
					p.Version, orNone(p.Signed), orNone(p.Unsigned), p.Threshold, p.InForceThreshold)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "version %d %s: signed by %s\n", p.Version, p.State, orNone(p.Signed))
			}
			return nil
		},
	}
	dirFlag(c, &dir, gatewayDir)
	return c
}
