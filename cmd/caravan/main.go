// Command caravan is the Caravan gateway and its administration tool.
//
// All logic lives in importable packages; this file only parses the command
// line (see the files beside it, one per command group) and maps errors to
// exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee exitError
		if !errors.As(err, &ee) || ee.msg != "" {
			fmt.Fprintln(os.Stderr, "caravan:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitError carries an exit code; an empty msg means the command has already
// said what went wrong.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func exitCode(err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// run executes the caravan command line args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:   "caravan",
		Short: "Caravan: a members-only data-sharing gateway for consortia",
		Long: `Caravan is the gateway that each organization of a consortium runs to share
datasets with its partners peer to peer, under per-record policies, with every
share recorded in a tamper-evident journal.

Start with 'caravan devnet --orgs 3' for a local consortium on loopback, or
'caravan init' to set up one gateway.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		initCmd(),
		runCmd(),
		statusCmd(),
		consortiumCmd(),
		devnetCmd(),
		genCmd(),
		cidCmd(),
		schemaCmd(),
		publishCmd(),
		retractCmd(),
		catalogCmd(),
		policyCmd(),
		journalCmd(),
		verifyCmd(),
		fetchCmd(),
		versionCmd(),
		tokenCmd(),
	)
	refuseUnknownSubcommands(root)
	return root.ExecuteContext(ctx)
}

// refuseUnknownSubcommands makes a command group (caravan consortium,
// caravan schema, ...) fail on a subcommand it does not have, naming it,
// instead of printing its help and exiting 0 as cobra does: a mistyped
// command in a script must not pass for a done one.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if c == c.Root() || !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return fmt.Errorf("unknown command %q for %q; see '%s --help'", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
}
