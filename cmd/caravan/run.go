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
to them. SIGINT or SIGTERM shut the gateway down within 5 seconds.

A second node of the org (listed under it in the roster) may run as a hot
standby on the same data directory, on a shared disk: with its own node key
and addresses, it waits while the first node holds the directory and takes
over when it stops or dies:

  caravan run --dir /shared/caravan --standby --node-key /etc/caravan/node-b.key \
    --listen /ip4/10.0.0.2/tcp/4001,/ip4/10.0.0.2/udp/4001/quic-v1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.LogOutput = cmd.ErrOrStderr()
			return runGateway(cmd.Context(), opts)
		},
	}
	f := c.Flags()
	f.StringVar(&opts.LogFormat, "log-format", "", "console or json (overrides the config)")
	f.StringVar(&opts.LogLevel, "log-level", "", "debug, info, warn or error (overrides the config)")
	f.BoolVar(&opts.Standby, "standby", false, "wait while another node of the org runs on DIR; take over when it stops")
	f.StringVar(&opts.NodeKey, "node-key", "", "this node's key file, in place of DIR/node.key (a second node of the org)")
	f.StringSliceVar(&opts.Listen, "listen", nil, "multiaddrs to listen on, in place of the config's (a second node of the org)")
	dirFlag(c, &opts.Dir, gatewayDir)
	return c
}

func runGateway(ctx context.Context, opts gateway.Options) error {
	// SIGHUP is caught before the gateway starts: its control socket
	// answers before Start returns, and a SIGHUP's default action would
	// kill the process (TestSIGHUPReloadsRoster lost that race once). One
	// that comes meanwhile reloads once the gateway runs.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	opts.RouteKlog = true // tessera logs through klog, from the journal's opening on
	n, err := gateway.Start(ctx, opts)
	if err != nil {
		return err
	}
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
