package main

import (
	"fmt"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/spf13/cobra"
)

func initCmd() *cobra.Command {
	var (
		dir    string
		cfg    datadir.Config
		listen []string
	)
	c := &cobra.Command{
		Use:   "init --org ORG --dir DIR",
		Short: "Create a gateway data directory: a node key and a commented config",
		Long: `Create DIR with a new Ed25519 node key (node.key, mode 0600, PKCS#8 PEM) and a
commented configuration (caravan.yaml), and print the node's PeerID. Give the
PeerID and the addresses other members can reach to your consortium's admins,
who add it to the roster with 'caravan consortium add-member'.

init never overwrites an existing key or config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Listen = listen
			res, err := datadir.Init(datadir.InitOptions{Dir: dir, Config: cfg})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created %s and %s\n", res.KeyPath, res.ConfigPath)
			fmt.Fprintf(out, "peer id: %s\n", res.PeerID)
			fmt.Fprintf(out, "API certificate (self-signed, for api.listen): SHA-256 %s\n", res.APIFingerprint)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Org, "org", "", "this gateway's organization id, as in the roster (required)")
	f.StringSliceVar(&listen, "listen", nil, "multiaddrs to listen on (default TCP and QUIC on port 4001)")
	f.StringVar(&cfg.Roster, "roster", "", "path of the roster file, relative to DIR (default consortium.yaml)")
	_ = c.MarkFlagRequired("org")
	dirFlag(c, &dir, "data directory to create (required)")
	return c
}
