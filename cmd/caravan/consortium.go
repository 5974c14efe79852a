package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/internal/keyfile"
	"github.com/caravan-consortium/caravan/p2p"
)

func consortiumCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "consortium",
		Short: "Create, edit, sign and verify the consortium roster",
		Long: `The roster (consortium.yaml) lists the consortium's members, their nodes, and
the admin keys that must sign it: k of n, the threshold. Gateways admit only
the nodes it lists, and accept a new version only when a threshold of the
current admins signed it.

A typical sequence:
  caravan consortium keygen --name admin-a --out admin-a.key      (each admin)
  caravan consortium new --name silk-road --threshold 2 \
      --admin admin-a=ed25519:... --admin admin-b=ed25519:... --admin admin-c=ed25519:...
  caravan consortium add-member --org customs-a --name "Customs A" --country CN \
      --sector customs --role publisher --node-dir ./customs-a --addr /ip4/10.0.0.1/tcp/4001
  caravan consortium sign --key admin-a.key      (then admin-b, ...)
  caravan consortium verify

Each edit (add-member, update-member, remove-member, add-node, remove-node,
rotate-admin, set-threshold) makes the next version, unsigned; 'show' prints
a roster, and 'admin-key' a key file's public key line. 'propose EDIT --dir
DIR' makes the next version from the roster a gateway has in force.`,
	}
	c.AddCommand(keygenCmd(), newRosterCmd(), signCmd(), verifyRosterCmd(), showRosterCmd(), adminKeyCmd(), pskCmd())
	c.AddCommand(rosterEditCmds(editFile)...)
	c.AddCommand(proposeCmd(), submitRosterCmd(), delegateCmd())
	return c
}

func keygenCmd() *cobra.Command {
	var name, out string
	c := &cobra.Command{
		Use:   "keygen --name NAME --out FILE",
		Short: "Create an admin signing key (Ed25519, PKCS#8 PEM, mode 0600)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			priv, err := keyfile.Generate(out)
			if err != nil {
				return err
			}
			pub := consortium.EncodePublicKey(priv.Public().(ed25519.PublicKey))
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\nadmin key: --admin %s=%s\n", out, name, pub)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "admin", "the admin's name, as it will stand in the roster")
	c.Flags().StringVar(&out, "out", "", "key file to create (required)")
	_ = c.MarkFlagRequired("out")
	return c
}

func newRosterCmd() *cobra.Command {
	var (
		r      consortium.Roster
		admins []string
		out    string
		valid  time.Duration
	)
	c := &cobra.Command{
		Use:   "new --name NAME --threshold K --admin NAME=ed25519:KEY... [--out FILE]",
		Short: "Start a new roster (version 1, no members, unsigned)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r.Version = 1
			if valid > 0 {
				r.Expires = expiryAfter(valid)
			}
			for _, a := range admins {
				name, key, ok := strings.Cut(a, "=")
				if !ok {
					return fmt.Errorf("--admin %q: want NAME=ed25519:BASE64", a)
				}
				r.Admins.Keys = append(r.Admins.Keys, consortium.AdminKey{Name: name, Key: key})
			}
			if err := r.Validate(); err != nil {
				return err
			}
			if _, err := os.Stat(out); err == nil {
				return fmt.Errorf("%s already exists; refusing to overwrite it", out)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := writeRoster(out, &r); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: consortium %s, version 1, threshold %d of %d admins\n",
				out, r.Consortium, r.Admins.Threshold, len(r.Admins.Keys))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&r.Consortium, "name", "", "the consortium's name (required)")
	f.IntVar(&r.Admins.Threshold, "threshold", 0, "how many admins must sign each version (required)")
	f.StringArrayVar(&admins, "admin", nil, "an admin key, NAME=ed25519:BASE64 (repeat; see 'keygen')")
	f.StringVar(&out, "out", "consortium.yaml", "roster file to create")
	f.DurationVar(&valid, "valid-for", 365*24*time.Hour, "how long this version is current (0: it does not expire); 'set-expiry' changes it")
	_ = c.MarkFlagRequired("name")
	_ = c.MarkFlagRequired("threshold")
	return c
}

func signCmd() *cobra.Command {
	var (
		path, keyPath, dir, digest string
		version                    uint64
	)
	c := &cobra.Command{
		Use:   "sign --key ADMIN.key [--roster FILE | --dir DIR [--version N] [--digest HEX]]",
		Short: "Sign a roster with an admin key: a file, or (--dir) the proposal a gateway holds",
		Long: `Sign a roster version with an admin key.

With --roster (the default, consortium.yaml), the file is signed in place,
offline.

With --dir, the proposal that the gateway of DIR holds (made on any
member's gateway and gossiped to every other) is shown as what it changes
of the roster in force, signed, and handed back to the gateway, which
gossips the signature on; every gateway adopts the version once a threshold
has signed. --version and --digest pick a proposal when the gateway holds
more than one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir != "" {
				return signPending(cmd.Context(), cmd.OutOrStdout(), dir, keyPath, version, digest)
			}
			r, err := consortium.Load(path)
			if err != nil {
				return err
			}
			priv, err := keyfile.Load(keyPath)
			if err != nil {
				return err
			}
			admin, err := r.Sign(priv)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := writeRoster(path, r); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: version %d signed by %s\n", path, r.Version, admin)
			if _, err := r.Verify(); err != nil {
				fmt.Fprintf(out, "not yet valid: %v\n", err)
				return nil
			}
			fmt.Fprintf(out, "the threshold is met (%d of %d): the roster is valid\n", len(r.Signatures), r.Admins.Threshold)
			return nil
		},
	}
	c.Flags().StringVar(&path, "roster", "consortium.yaml", "roster file")
	c.Flags().StringVar(&keyPath, "key", "", "admin key file (required)")
	c.Flags().StringVar(&dir, "dir", "", "a gateway data directory: sign the proposal it holds, and hand the signature back")
	c.Flags().Uint64Var(&version, "version", 0, "with --dir: the proposal's version")
	c.Flags().StringVar(&digest, "digest", "", "with --dir: the proposal's digest, or its first characters")
	c.MarkFlagsMutuallyExclusive("roster", "dir")
	_ = c.MarkFlagRequired("key")
	return c
}

func verifyRosterCmd() *cobra.Command {
	var (
		path, trustedPath string
		asJSON            bool
	)
	c := &cobra.Command{
		Use:   "verify [--roster FILE] [--trusted OLD]",
		Short: "Check the roster's signatures and threshold (and, with --trusted, that it may replace OLD)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := consortium.Load(path)
			if err != nil {
				return err
			}
			signers, err := r.Verify()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if trustedPath != "" {
				old, err := consortium.LoadVerified(trustedPath)
				if err != nil {
					return err
				}
				if err := consortium.CheckUpdate(old, r); err != nil && !errors.Is(err, consortium.ErrSameVersion) {
					return fmt.Errorf("%s may not replace %s: %w", path, trustedPath, err)
				}
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]any{"file": path, "valid": true, "consortium": r.Consortium,
					"version": r.Version, "signers": signers, "threshold": r.Admins.Threshold, "members": r.Members})
			}
			printRoster(cmd.OutOrStdout(), path, r, signers)
			return nil
		},
	}
	jsonFlag(c, &asJSON)
	c.Flags().StringVar(&path, "roster", "consortium.yaml", "roster file")
	c.Flags().StringVar(&trustedPath, "trusted", "", "a roster already trusted, to check the update rule against")
	return c
}

func printRoster(w io.Writer, path string, r *consortium.Roster, signers []string) {
	fmt.Fprintf(w, "%s: valid\n", path)
	fmt.Fprintf(w, "consortium %s, version %d\n", r.Consortium, r.Version)
	fmt.Fprintf(w, "signed by %d of %d admins (threshold %d): %s\n",
		len(signers), len(r.Admins.Keys), r.Admins.Threshold, strings.Join(signers, ", "))
	fmt.Fprintf(w, "%d member(s):\n", len(r.Members))
	for _, m := range r.Members {
		groups := ""
		if len(m.Groups) > 0 {
			groups = " groups: " + strings.Join(m.Groups, ",")
		}
		fmt.Fprintf(w, "  %-16s %s  %-12s %s (%d node(s)) roles: %s%s\n",
			m.Org, m.Country, m.Sector, m.Name, len(m.Nodes), strings.Join(m.Roles, ","), groups)
	}
}

func pskCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "psk --out swarm.key",
		Short: "Create a private-network key (TCP only) to share among all members",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := p2p.GeneratePSK(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s; set private_network_key in every member's caravan.yaml and remove QUIC listen addresses\n", out)
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "key file to create (required)")
	_ = c.MarkFlagRequired("out")
	return c
}

func writeRoster(path string, r *consortium.Roster) error {
	data, err := r.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}
