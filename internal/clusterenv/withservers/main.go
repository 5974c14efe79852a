// Command withservers starts MariaDB and VersityGW (package clusterenv) in a
// temporary directory, runs a command with their addresses in its
// environment, then stops them and removes the directory:
//
//	go run ./internal/clusterenv/withservers -- go test -tags cluster ./...
//
// make test-cluster runs the cluster tests this way.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/caravan-consortium/caravan/internal/clusterenv"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withservers -- COMMAND [ARG...]")
		os.Exit(2)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	dir, err := os.MkdirTemp("", "caravan-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "withservers:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	s, err := clusterenv.Start(context.Background(), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "withservers:", err)
		return 1
	}
	defer s.Stop()
	fmt.Fprintf(os.Stderr, "withservers: MariaDB on %s, VersityGW (S3) on %s, in %s\n", s.DBAddr, s.S3Endpoint, dir)

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), s.Export()...)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "withservers:", err)
		return 1
	}
	go func() {
		for sig := range sigs {
			_ = cmd.Process.Signal(sig)
		}
	}()
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "withservers:", err)
		return 1
	}
	return 0
}
