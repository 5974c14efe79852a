package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/api/console"
	"github.com/caravan-consortium/caravan/gateway"
	"github.com/caravan-consortium/caravan/internal/logging"
)

func runCmd() *cobra.Command {
	opts := gateway.Options{Console: console.Handler}
	c := &cobra.Command{
		Use:   "run --dir DIR",
		Short: "Run the gateway of a data directory until SIGINT or SIGTERM",
		Long: `Run the gateway: join the consortium's members-only libp2p network, keep
connected to every member listed in the roster, and serve the control
endpoint (DIR/control.sock) that 'caravan status' reads.

SIGHUP reloads the roster file and the policy directory, as does any change
to them. SIGINT or SIGTERM shut the gateway down within 5 seconds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.LogOutput = cmd.ErrOrStderr()
			return runGateway(cmd.Context(), opts)
		},
	}
	f := c.Flags()
	f.StringVar(&opts.LogFormat, "log-format", "", "console or json (overrides the config)")
	f.StringVar(&opts.LogLevel, "log-level", "", "debug, info, warn or error (overrides the config)")
	dirFlag(c, &opts.Dir, gatewayDir)
	return c
}

func runGateway(ctx context.Context, opts gateway.Options) error {
	n, err := gateway.Start(ctx, opts)
	if err == nil {
		// tessera (the journal) logs through klog: send it to the gateway's log.
		logging.RouteKlog(n.Logger().Named("tessera"))
	}
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			if err := n.Close(); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			return nil
		case <-hup:
			n.Logger().Info("SIGHUP: reloading the roster and the policies")
			_ = n.Services().Admin.ReloadRoster()      // the gateway logs the outcome
			_ = n.Services().Policies.ReloadPolicies() // likewise
		}
	}
}
