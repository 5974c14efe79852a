package main

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/consortium/edit"
	"github.com/caravan-consortium/caravan/gateway/datadir"
	"github.com/caravan-consortium/caravan/internal/keyfile"
)

// The roster's edits, one command each: each reads the roster file, makes
// one edit.Edit as the next version (unsigned), checks the result,
// and writes it back only if it checks.

// editMode says where an edit command starts from and where it writes: a
// roster file, edited in place; or (propose) the roster a gateway has in
// force, written as the next version to a proposal file for admins to sign.
type editMode bool

const (
	editFile editMode = false
	propose  editMode = true
)

func rosterEditCmds(mode editMode) []*cobra.Command {
	return []*cobra.Command{addMemberCmd(mode), updateMemberCmd(mode), removeMemberCmd(mode), addNodeCmd(mode), removeNodeCmd(mode),
		rotateAdminCmd(mode), setThresholdCmd(mode), setExpiryCmd(mode)}
}

// editCmd completes c: it applies the edit that makeEdit builds from the
// flags to the roster file named by --roster.
func editCmd(c *cobra.Command, mode editMode, makeEdit func(cmd *cobra.Command) (edit.Edit, error)) *cobra.Command {
	var path, dir string
	c.Args = cobra.NoArgs
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		from := path
		if mode == propose {
			from = datadir.Dir(dir).TrustedRoster()
		}
		r, err := consortium.LoadVerified(from)
		if mode == editFile {
			r, err = consortium.Load(from) // a file being edited need not be signed yet
		}
		if err != nil {
			return err
		}
		e, err := makeEdit(cmd)
		if err != nil {
			return err
		}
		if err := edit.Revise(r, e); err != nil {
			return fmt.Errorf("%s: %w", from, err)
		}
		if mode == propose && path == "" {
			path = fmt.Sprintf("%s-v%d.proposal.yaml", r.Consortium, r.Version)
		}
		if mode == propose {
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s already exists; refusing to overwrite it (name another with --out)", path)
			}
		}
		if err := writeRoster(path, r); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %s; roster version %d is unsigned: %d admin signature(s) needed\n",
			path, e, r.Version, r.Admins.Threshold)
		return nil
	}
	if mode == propose {
		c.Flags().StringVar(&dir, "dir", "", "the gateway data directory whose roster in force the proposal starts from (required)")
		c.Flags().StringVar(&path, "out", "", "the proposal file to write (default CONSORTIUM-vVERSION.proposal.yaml)")
		_ = c.MarkFlagRequired("dir")
		return c
	}
	c.Flags().StringVar(&path, "roster", "consortium.yaml", "roster file")
	return c
}

func proposeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "propose EDIT --dir DIR [--out FILE] [flags]",
		Short: "Make the next roster version from the one a gateway has in force and one edit",
		Long: `Make the next version of the roster that the gateway of DIR has in force,
changed by one edit, and write it to a proposal file (unsigned): admins sign
it with 'consortium sign --roster FILE' where they are, and it is put in
place of the roster file once a threshold has. The edits are those of
'caravan consortium' itself:

  caravan consortium propose update-member --dir /var/lib/caravan --org customs-kz --role requester
  caravan consortium sign --roster silk-road-v3.proposal.yaml --key admin-a.key`,
	}
	c.AddCommand(rosterEditCmds(propose)...)
	return c
}

// nodeFlags are the flags that name a node: its data directory (whose
// key gives its PeerID) or its PeerID.
type nodeFlags struct{ dir, peerID string }

func (n *nodeFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&n.dir, "node-dir", "", "a gateway data directory whose node key gives the PeerID")
	c.Flags().StringVar(&n.peerID, "peer", "", "the node's PeerID (instead of --node-dir)")
	c.MarkFlagsMutuallyExclusive("node-dir", "peer")
}

// id is the node's PeerID, or "" if neither flag is given.
func (n *nodeFlags) id() (string, error) {
	if n.dir == "" {
		return n.peerID, nil
	}
	priv, err := keyfile.Load(datadir.Dir(n.dir).Key())
	if err != nil {
		return "", err
	}
	id, err := datadir.PeerIDOf(priv)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

func addMemberCmd(mode editMode) *cobra.Command {
	var (
		m      consortium.Member
		node   nodeFlags
		addrs  []string
		orgKey string
	)
	c := &cobra.Command{
		Use:   "add-member --org ORG --name NAME --country CC --sector S [--role R]... [--group G]... [--node-dir DIR | --peer ID] [--addr MA]... [--org-key KEY]",
		Short: "Add a new member, with a node; the roster must be signed again",
		Long: `Add a new member to the roster, with the node that --node-dir or --peer names.
A member that is already listed is refused: change it with update-member, and
add a node with add-node. On a signed roster, this starts the next version:
the version number goes up by one and the signatures are dropped, so admins
must sign again.

Roles: ` + strings.Join(consortium.Roles, ", ") + `. The country is an ISO 3166-1
alpha-2 code (CN, KZ, AZ...).`,
	}
	editCmd(c, mode, func(*cobra.Command) (edit.Edit, error) {
		id, err := node.id()
		if err != nil {
			return nil, err
		}
		if id != "" {
			m.Nodes = []consortium.Node{{PeerID: id, Addrs: addrs}}
		}
		if m.OrgKey, err = orgKeyArg(orgKey); err != nil {
			return nil, err
		}
		return edit.AddMember{Member: m}, nil
	})
	f := c.Flags()
	f.StringVar(&m.Org, "org", "", "org id, e.g. customs-a (required)")
	f.StringVar(&m.Name, "name", "", "display name (required)")
	f.StringVar(&m.Country, "country", "", "ISO 3166-1 alpha-2 country code, e.g. CN (required)")
	f.StringVar(&m.Sector, "sector", "", "sector, e.g. customs, logistics, registry (required)")
	f.StringArrayVar(&m.Roles, "role", nil, "a role: "+strings.Join(consortium.Roles, ", ")+" (repeat)")
	f.StringArrayVar(&m.Groups, "group", nil, "a group that policies name, e.g. customs-authorities (repeat)")
	f.StringArrayVar(&addrs, "addr", nil, "a multiaddr where other members reach the node (repeat)")
	f.StringVar(&orgKey, "org-key", "", "the org key, as 'caravan init' prints it (ed25519:...) or an org.key file")
	node.add(c)
	for _, req := range []string{"org", "name", "country", "sector"} {
		_ = c.MarkFlagRequired(req)
	}
	return c
}

func updateMemberCmd(mode editMode) *cobra.Command {
	var (
		org, name, country, sector, orgKey string
		roles, groups                      []string
	)
	c := &cobra.Command{
		Use:   "update-member --org ORG [--name NAME] [--country CC] [--sector S] [--role R]... [--group G]... [--org-key KEY]",
		Short: "Change a member's fields: only those given; the others stay as they are",
		Long: `Change the fields of a member that the flags give, and only them. --role and
--group replace the member's roles or groups with those given (repeat the flag
for several; --role "" for none).`,
	}
	editCmd(c, mode, func(cmd *cobra.Command) (edit.Edit, error) {
		e := edit.UpdateMember{Org: org}
		changed := cmd.Flags().Changed
		if changed("name") {
			e.Name = &name
		}
		if changed("country") {
			e.Country = &country
		}
		if changed("sector") {
			e.Sector = &sector
		}
		if changed("role") {
			rs := nonEmpty(roles)
			e.Roles = &rs
		}
		if changed("group") {
			gs := nonEmpty(groups)
			e.Groups = &gs
		}
		if changed("org-key") {
			k, err := orgKeyArg(orgKey)
			if err != nil {
				return nil, err
			}
			e.OrgKey = &k
		}
		return e, nil
	})
	f := c.Flags()
	f.StringVar(&org, "org", "", "the member's org id (required)")
	f.StringVar(&name, "name", "", "a new display name")
	f.StringVar(&country, "country", "", "a new ISO 3166-1 alpha-2 country code")
	f.StringVar(&sector, "sector", "", "a new sector")
	f.StringArrayVar(&roles, "role", nil, "the member's roles, replacing its own: "+strings.Join(consortium.Roles, ", ")+" (repeat)")
	f.StringArrayVar(&groups, "group", nil, "the member's groups, replacing its own (repeat)")
	f.StringVar(&orgKey, "org-key", "", "a new org key (ed25519:... or an org.key file): gives the member one, or rotates it")
	_ = c.MarkFlagRequired("org")
	return c
}

// orgKeyArg is an --org-key flag's key line: given as one, or read from a
// key file (its public half).
func orgKeyArg(s string) (string, error) {
	if s == "" || strings.HasPrefix(s, "ed25519:") {
		return s, nil
	}
	priv, err := keyfile.Load(s)
	if err != nil {
		return "", fmt.Errorf("--org-key: %w", err)
	}
	return consortium.EncodePublicKey(priv.Public().(ed25519.PublicKey)), nil
}

// nonEmpty drops empty strings: --role "" names no role.
func nonEmpty(xs []string) []string {
	out := []string{}
	for _, x := range xs {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

func removeMemberCmd(mode editMode) *cobra.Command {
	var org string
	c := &cobra.Command{
		Use:   "remove-member --org ORG",
		Short: "Remove a member and its nodes; the roster must be signed again",
		Long: `Remove a member and its nodes. Once the version is in force, every gateway
closes the member's connections and refuses them; its journal stays
verifiable, as far as it went, with the earlier versions of the roster.`,
	}
	editCmd(c, mode, func(*cobra.Command) (edit.Edit, error) { return edit.RemoveMember{Org: org}, nil })
	c.Flags().StringVar(&org, "org", "", "the member's org id (required)")
	_ = c.MarkFlagRequired("org")
	return c
}

func addNodeCmd(mode editMode) *cobra.Command {
	var (
		org   string
		node  nodeFlags
		addrs []string
	)
	c := &cobra.Command{
		Use:   "add-node --org ORG (--node-dir DIR | --peer ID) [--addr MA]...",
		Short: "List a node under a member, or change the addresses of one it lists",
	}
	editCmd(c, mode, func(*cobra.Command) (edit.Edit, error) {
		id, err := node.id()
		if err != nil {
			return nil, err
		}
		if id == "" {
			return nil, fmt.Errorf("name the node with --node-dir or --peer")
		}
		return edit.AddNode{Org: org, Node: consortium.Node{PeerID: id, Addrs: addrs}}, nil
	})
	c.Flags().StringVar(&org, "org", "", "the member's org id (required)")
	c.Flags().StringArrayVar(&addrs, "addr", nil, "a multiaddr where other members reach the node (repeat)")
	node.add(c)
	_ = c.MarkFlagRequired("org")
	return c
}

func removeNodeCmd(mode editMode) *cobra.Command {
	var org, peerID string
	c := &cobra.Command{
		Use:   "remove-node --org ORG --peer ID",
		Short: "Remove a node from a member; the others close its connections once the version is in force",
	}
	editCmd(c, mode, func(*cobra.Command) (edit.Edit, error) {
		return edit.RemoveNode{Org: org, PeerID: peerID}, nil
	})
	c.Flags().StringVar(&org, "org", "", "the member's org id (required)")
	c.Flags().StringVar(&peerID, "peer", "", "the node's PeerID (required)")
	_ = c.MarkFlagRequired("org")
	_ = c.MarkFlagRequired("peer")
	return c
}

func rotateAdminCmd(mode editMode) *cobra.Command {
	var name, key string
	c := &cobra.Command{
		Use:   "rotate-admin --name NAME --key ed25519:KEY",
		Short: "Replace one admin's key (print a key file's with 'consortium admin-key')",
		Long: `Replace the key of admin NAME with a new one (make it with 'consortium keygen',
print it with 'consortium admin-key'). The new version must be signed by a
threshold of the admins in force before it, which gateways check when they
take it, and by a threshold of its own admins: the new key's holder signs it
too.`,
	}
	editCmd(c, mode, func(*cobra.Command) (edit.Edit, error) {
		return edit.RotateAdmin{Name: name, Key: key}, nil
	})
	c.Flags().StringVar(&name, "name", "", "the admin's name in the roster (required)")
	c.Flags().StringVar(&key, "key", "", "the new public key, ed25519:BASE64 (required)")
	_ = c.MarkFlagRequired("name")
	_ = c.MarkFlagRequired("key")
	return c
}

func setThresholdCmd(mode editMode) *cobra.Command {
	var n int
	c := &cobra.Command{
		Use:   "set-threshold --admins K",
		Short: "Set how many admins must sign each version of the roster",
	}
	editCmd(c, mode, func(*cobra.Command) (edit.Edit, error) { return edit.SetThreshold{Threshold: n}, nil })
	c.Flags().IntVar(&n, "admins", 0, "how many admins must sign, 1 to the number of admin keys (required)")
	_ = c.MarkFlagRequired("admins")
	return c
}

func setExpiryCmd(mode editMode) *cobra.Command {
	var (
		at    string
		valid time.Duration
		never bool
	)
	c := &cobra.Command{
		Use:   "set-expiry (--expires TIME | --valid-for DURATION | --never)",
		Short: "Set when this version of the roster expires",
		Long: `Set when this version expires. A gateway whose newest roster has expired says
so (status, metrics, log) and keeps serving under it until the admins sign a
new version.`,
	}
	editCmd(c, mode, func(*cobra.Command) (edit.Edit, error) {
		switch {
		case never:
			return edit.SetExpiry{}, nil
		case valid > 0:
			return edit.SetExpiry{Expires: expiryAfter(valid)}, nil
		}
		return edit.SetExpiry{Expires: at}, nil
	})
	c.Flags().StringVar(&at, "expires", "", "when, in UTC to the second, e.g. 2027-12-31T00:00:00Z")
	c.Flags().DurationVar(&valid, "valid-for", 0, "how long from now, e.g. 8760h")
	c.Flags().BoolVar(&never, "never", false, "the version does not expire")
	c.MarkFlagsMutuallyExclusive("expires", "valid-for", "never")
	c.MarkFlagsOneRequired("expires", "valid-for", "never")
	return c
}

// expiryAfter is the time d from now, as a roster's expiry.
func expiryAfter(d time.Duration) string {
	return time.Now().UTC().Add(d).Truncate(time.Second).Format(time.RFC3339)
}
