package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/api/server"
)

func tokenCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the API tokens of the gateway's TCP listener",
		Long: `The gateway's API on its TCP listener (api.listen in caravan.yaml) needs a
token on every call: 'Authorization: Bearer TOKEN'. Each token has a name,
scopes (` + strings.Join(server.Scopes, ", ") + `) and an expiry. The gateway keeps
only the tokens' SHA-256 hashes, in DIR/api-tokens.json, and reads the file
again when it changes: a token created or revoked applies at once. The Unix
socket needs no token (only the gateway's user can reach it).`,
	}
	c.AddCommand(tokenCreateCmd(), tokenListCmd(), tokenRevokeCmd())
	return c
}

func tokenCreateCmd() *cobra.Command {
	var (
		dir, name string
		scopes    []string
		expires   time.Duration
		asJSON    bool
	)
	c := &cobra.Command{
		Use:   "create --dir DIR --name NAME --scope SCOPE... [--expires 720h]",
		Short: "Create a token and print it, once: it is kept nowhere",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var flat []string
			for _, s := range scopes {
				flat = append(flat, strings.Split(s, ",")...)
			}
			secret, t, err := server.OpenTokens(datadir.Dir(dir).APITokens()).Create(name, flat, expires, time.Now())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, map[string]any{"token": secret, "name": t.Name, "scopes": t.Scopes, "expires": t.Expires})
			}
			fmt.Fprintln(w, secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %s: scopes %s, expires %s; it is shown once\n", t.Name, strings.Join(t.Scopes, ","), t.Expires.Format(time.RFC3339))
			return nil
		},
	}
	dirFlag(c, &dir, gatewayDir)
	c.Flags().StringVar(&name, "name", "", "a name for the token, logged with every call it makes (required)")
	c.Flags().StringSliceVar(&scopes, "scope", nil, "a scope: "+strings.Join(server.Scopes, ", ")+" (repeat, or comma-separated)")
	c.Flags().DurationVar(&expires, "expires", 30*24*time.Hour, "how long the token is valid")
	jsonFlag(c, &asJSON)
	_ = c.MarkFlagRequired("name")
	return c
}

func tokenListCmd() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "list --dir DIR",
		Short: "List the tokens: names, scopes, expiry, revoked (never the secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tokens, err := server.OpenTokens(datadir.Dir(dir).APITokens()).List()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, append([]server.Token{}, tokens...))
			}
			if len(tokens) == 0 {
				fmt.Fprintln(w, "no tokens")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSCOPES\tEXPIRES\tSTATE")
			for _, t := range tokens {
				state := "in force"
				switch {
				case t.Revoked:
					state = "revoked"
				case !time.Now().Before(t.Expires):
					state = "expired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, strings.Join(t.Scopes, ","), t.Expires.Format(time.RFC3339), state)
			}
			return tw.Flush()
		},
	}
	dirFlag(c, &dir, gatewayDir)
	jsonFlag(c, &asJSON)
	return c
}

func tokenRevokeCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "revoke --dir DIR NAME",
		Short: "Revoke a token: calls with it are refused at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := server.OpenTokens(datadir.Dir(dir).APITokens()).Revoke(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}
	dirFlag(c, &dir, gatewayDir)
	return c
}
