package main

import (
	"fmt"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/spf13/cobra"
)

func initCmd() *cobra.Command {
	var (
		dir      string
		cfg      datadir.Config
		listen   []string
		noOrgKey bool
	)
	c := &cobra.Command{
		Use:   "init --org ORG --dir DIR",
		Short: "Create a gateway data directory: a node key and a commented config",
		Long: `Create DIR with a new Ed25519 node key (node.key, mode 0600, PKCS#8 PEM) and a
commented configuration (caravan.yaml), and print the node's PeerID. Give the
PeerID and the addresses other members can reach to your consortium's admins,
who add it to the roster with 'caravan consortium add-member'.

init also makes the organization's key (org.key, mode 0600), which signs
the org's catalog statements and journal checkpoints; give its public key
line to the admins too (add-member --org-key). A further node of an org
that has a key already: --no-org-key, and copy the org's org.key in.

init never overwrites an existing key or config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Listen = listen
			res, err := datadir.Init(datadir.InitOptions{Dir: dir, Config: cfg, NoOrgKey: noOrgKey})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created %s and %s\n", res.KeyPath, res.ConfigPath)
			fmt.Fprintf(out, "peer id: %s\n", res.PeerID)
			if res.OrgKey != nil {
				fmt.Fprintf(out, "org key: %s (in %s; give it to the admins with the peer id: add-member --org-key)\n",
					consortium.EncodePublicKey(res.OrgKey), datadir.Dir(dir).OrgKey())
			}
			fmt.Fprintf(out, "API certificate (self-signed, for api.listen): SHA-256 %s\n", res.APIFingerprint)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Org, "org", "", "this gateway's organization id, as in the roster (required)")
	f.StringSliceVar(&listen, "listen", nil, "multiaddrs to listen on (default TCP and QUIC on port 4001)")
	f.StringVar(&cfg.Roster, "roster", "", "path of the roster file, relative to DIR (default consortium.yaml)")
	f.BoolVar(&noOrgKey, "no-org-key", false, "make no org key: a further node of an org, whose org.key is copied in")
	_ = c.MarkFlagRequired("org")
	dirFlag(c, &dir, "data directory to create (required)")
	return c
}
