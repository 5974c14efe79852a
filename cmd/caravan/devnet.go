package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/devnet"
	"github.com/caravan-consortium/caravan/internal/logging"
)

func devnetCmd() *cobra.Command {
	var (
		orgs     int
		dir      string
		scenario string
		idle     time.Duration
		records  int
		smoke    bool
	)
	c := &cobra.Command{
		Use:   "devnet --orgs N --dir DIR [--scenario NAME]",
		Short: "Run a local consortium of N organizations on loopback, one OS process each",
		Long: `Create N organizations under DIR (node keys, configs, admin keys, and a roster
signed by a threshold of the admins) and run each gateway as its own process
on loopback. Each gateway logs to DIR/ORG/gateway.log (a scenario's own
journals to DIR/devnet.log); 'caravan status --dir DIR/ORG' shows one of them. Running devnet again on the same DIR restarts the
same consortium.

Without --scenario, devnet shows who is connected to whom and runs until
Ctrl-C. With --scenario, it runs a scripted scenario, prints each step and a
summary, and exits 0 only if every step was verified. Scenarios: ` + strings.Join(devnet.Scenarios(), ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			unlock, err := devnet.Lock(dir)
			if err != nil {
				return err
			}
			defer unlock()
			nt, err := devnet.CreateOrOpen(dir, orgs)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "local consortium of %d orgs in %s (roster %s)\n", len(nt.Orgs), nt.Dir, nt.Roster)
			for _, o := range nt.Orgs {
				fmt.Fprintf(out, "  %-14s %s  %s  port %d\n", o.Org, o.Country, o.PeerID, o.Port)
			}
			fmt.Fprintln(out)
			if scenario == "" {
				return watchDevnet(cmd.Context(), out, nt, bin)
			}
			// A scenario may open journals in this process (tessera logs
			// through klog): their errors go to DIR/devnet.log, not
			// between the steps.
			lf, err := os.OpenFile(filepath.Join(nt.Dir, "devnet.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			defer lf.Close()
			l, err := logging.New(lf, "info", logging.FormatJSON)
			if err != nil {
				return err
			}
			logging.RouteKlog(l)
			_, err = devnet.RunScenario(cmd.Context(), scenario, &devnet.Env{Net: nt, Binary: bin, Out: out, Idle: idle, Records: records, Smoke: smoke})
			return err
		},
	}
	c.AddCommand(outsiderCmd(), memberCmd())
	f := c.Flags()
	f.IntVar(&orgs, "orgs", 3, "number of organizations")
	f.StringVar(&scenario, "scenario", "", "run this scenario and exit ("+strings.Join(devnet.Scenarios(), ", ")+")")
	f.DurationVar(&idle, "idle", 30*time.Second, "how long the footprint scenario idles")
	f.BoolVar(&smoke, "smoke", false, "run the scenario at a small size, to check that it runs (its figures mean little)")
	f.IntVar(&records, "records", 0, "how many records the publish-bench and fetch-bench scenarios publish (0: 1,000,000 and 50,000)")
	dirFlag(c, &dir, "directory for the consortium's files (required)")
	return c
}

// watchDevnet runs the gateways and prints the connection matrix whenever it
// changes, until ctx ends.
func watchDevnet(ctx context.Context, out io.Writer, nt *devnet.Net, bin string) error {
	if err := nt.Start(bin); err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "stopping the gateways...")
		for _, r := range nt.Stop(10 * time.Second) {
			fmt.Fprintf(out, "  %s stopped in %v (exit %d)\n", r.Org, r.Took.Round(time.Millisecond), r.ExitCode)
		}
	}()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := nt.WaitReady(rctx)
	cancel()
	if err != nil {
		return err
	}
	if err := registerDemoSchemas(ctx, out, nt); err != nil {
		return err
	}
	fmt.Fprintln(out, "running; press Ctrl-C to stop")
	last := ""
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		var b strings.Builder
		if err := nt.PrintMatrix(ctx, &b); err == nil && b.String() != last {
			last = b.String()
			fmt.Fprintf(out, "\n%s\n", time.Now().Format(time.TimeOnly))
			fmt.Fprint(out, last)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// registerDemoSchemas registers the demo's dataset schemas at the first org
// (unless its registry holds them already), as the demo does: the demo
// policies that every org starts with read their attributes, and wait for
// them until then.
func registerDemoSchemas(ctx context.Context, out io.Writer, nt *devnet.Net) error {
	cl, err := api.NewClient(nt.Orgs[0].Dir)
	if err != nil {
		return err
	}
	if err := devnet.RegisterDemoSchemas(ctx, cl); err != nil {
		return fmt.Errorf("registering the demo's schemas at %s: %w", nt.Orgs[0].Org, err)
	}
	fmt.Fprintf(out, "the demo's dataset schemas are registered (by %s); 'caravan schema list --dir %s' lists them\n",
		nt.Orgs[0].Org, nt.Orgs[0].Dir)
	return nil
}

// outsiderCmd is the hostile scenario's outsider, run by the scenario as a
// process of its own: it holds idle connections to each ADDR until stopped
// (SIGTERM or Ctrl-C), then prints how many it opened.
func outsiderCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "outsider HOST:PORT...",
		Short:  "Hold 100 idle TCP connections to each address from 127.0.0.2 until stopped (the hostile scenario's outsider)",
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), devnet.HoldIdleConnections(cmd.Context(), args, 100))
			return nil
		},
	}
}

// memberCmd is the hostile scenario's member, run by the scenario as a
// process of its own: the last org of the consortium in DIR, connected to
// the others, attacking them once told "start" on standard input, until
// the input ends.
func memberCmd() *cobra.Command {
	var dir, target, retracted string
	c := &cobra.Command{
		Use:    "member --dir DIR --target CID --retracted CID",
		Short:  "Run the hostile scenario's member: the consortium's last org, attacking the others while its input says so",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return devnet.RunHostileMember(cmd.Context(), dir, target, retracted, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	dirFlag(c, &dir, "directory of the consortium (required)")
	c.Flags().StringVar(&target, "target", "", "manifest CID of the first org's dataset that the fetch attacks ask for")
	c.Flags().StringVar(&retracted, "retracted", "", "manifest CID of the first org's retracted dataset")
	_ = c.MarkFlagRequired("target")
	_ = c.MarkFlagRequired("retracted")
	return c
}
