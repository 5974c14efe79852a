package main

// caravan consortium delegate: an organization changes its own node list,
// signed by its org key, without a consortium vote.

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/keyfile"
)

func delegateCmd() *cobra.Command {
	var (
		dir, keyPath, remove string
		node                 nodeFlags
		addrs                []string
	)
	c := &cobra.Command{
		Use:   "delegate --dir DIR (--node-dir NODE | --peer ID) [--addr MA]... | --remove PEER [--key ORG.key]",
		Short: "Add, re-address or remove a node of this org, signed by its org key: no consortium vote",
		Long: `Change this organization's own list of nodes (a node delegation,
schemas/roster.md), signed by its org key (DIR/org.key, or --key), and hand
it to the gateway of DIR, which gossips it to every member. Under the
roster in force, an org's newest delegation replaces the nodes the roster
lists for it: the members admit, dial and fetch from the nodes it lists.
The roster must give the org an org key; a roster version that rotates the
org key or removes the org drops the delegation.

The list starts from the org's delegation in force, or else from the
nodes the roster lists for it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := datadir.LoadConfig(datadir.Dir(dir).Config())
			if err != nil {
				return err
			}
			d, err := currentDelegation(dir, cfg.Org)
			if err != nil {
				return err
			}
			id, err := node.id()
			switch {
			case err != nil:
				return err
			case (id == "") == (remove == ""):
				return fmt.Errorf("give a node to add (--peer or --node-dir, with --addr) or one to --remove")
			case remove != "":
				n := len(d.Nodes)
				d.Nodes = slices.DeleteFunc(d.Nodes, func(x consortium.Node) bool { return x.PeerID == remove })
				if len(d.Nodes) == n {
					return fmt.Errorf("--remove: %s is not a node of %s", remove, cfg.Org)
				}
			default:
				d.Nodes = slices.DeleteFunc(d.Nodes, func(x consortium.Node) bool { return x.PeerID == id })
				d.Nodes = append(d.Nodes, consortium.Node{PeerID: id, Addrs: addrs})
			}
			d.Sequence++
			key, err := keyfile.Load(cmp.Or(keyPath, datadir.Dir(dir).OrgKey()))
			if err != nil {
				return err
			}
			if err := d.Sign(key); err != nil {
				return err
			}
			data, err := d.Marshal()
			if err != nil {
				return err
			}
			cl, err := api.NewClient(dir)
			if err != nil {
				return err
			}
			got, err := cl.SubmitDelegation(cmd.Context(), data)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s's nodes, sequence %d, in force and gossiped:\n", got.Org, got.Sequence)
			for _, n := range got.Nodes {
				fmt.Fprintf(cmd.OutOrStdout(), "  node %s %v\n", n.PeerID, n.Addrs)
			}
			return nil
		},
	}
	dirFlag(c, &dir, gatewayDir)
	node.add(c)
	c.Flags().StringArrayVar(&addrs, "addr", nil, "a multiaddr where other members reach the node (repeat)")
	c.Flags().StringVar(&remove, "remove", "", "the PeerID of a node to remove")
	c.Flags().StringVar(&keyPath, "key", "", "the org key file (default DIR/org.key)")
	return c
}

// currentDelegation is the org's delegation in force in dir's gateway, or
// one of sequence 0 with the nodes its roster in force lists.
func currentDelegation(dir, org string) (*consortium.Delegation, error) {
	path := filepath.Join(datadir.Dir(dir).State(), "delegations", org+".yaml")
	if data, err := os.ReadFile(path); err == nil {
		return consortium.ParseDelegation(path, data)
	}
	r, err := consortium.Load(datadir.Dir(dir).TrustedRoster())
	if err != nil {
		return nil, err
	}
	m := r.Member(org)
	if m == nil {
		return nil, fmt.Errorf("the roster in force (version %d) does not list %s", r.Version, org)
	}
	return &consortium.Delegation{Consortium: r.Consortium, Org: org, Nodes: slices.Clone(m.Nodes)}, nil
}
