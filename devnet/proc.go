package devnet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/caravan-consortium/caravan/api"
)

// proc is a gateway running as a child process.
type proc struct {
	cmd     *exec.Cmd
	log     *os.File
	started time.Time
	done    chan struct{} // closed when the process has exited
	err     error         // from Wait, valid after done
}

// Start runs every org's gateway as its own process of binary (the caravan
// executable), logging to DIR/ORG/gateway.log.
func (nt *Net) Start(binary string) error {
	for _, o := range nt.Orgs {
		if err := nt.StartOrg(binary, o); err != nil {
			return err
		}
	}
	return nil
}

// StartOrg starts one org's gateway.
func (nt *Net) StartOrg(binary string, o *Org) error {
	if o.proc != nil && !o.proc.exited() {
		return fmt.Errorf("%s is already running", o.Org)
	}
	logf, err := os.OpenFile(o.Log(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := []string{"run", "--dir", o.Dir}
	if o.standby != nil {
		args = append(args, o.standby.args()...)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group, so a Ctrl-C in the terminal reaches devnet alone and
	// devnet stops the gateways in order; Pdeathsig stops them should devnet
	// itself die.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", o.Org, err)
	}
	p := &proc{cmd: cmd, log: logf, started: time.Now(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	o.proc = p
	return nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Running reports whether the org's gateway process is alive.
func (o *Org) Running() bool { return o.proc != nil && !o.proc.exited() }

// PID returns the gateway's process id, or 0.
func (o *Org) PID() int {
	if o.proc == nil {
		return 0
	}
	return o.proc.cmd.Process.Pid
}

// Started returns when the gateway process was started.
func (o *Org) Started() time.Time {
	if o.proc == nil {
		return time.Time{}
	}
	return o.proc.started
}

// StopResult is how one gateway stopped.
type StopResult struct {
	Org      string
	Took     time.Duration
	ExitCode int
	Killed   bool // did not stop within the timeout and was killed
}

// Stop sends SIGTERM to the org's gateway and waits up to timeout for it to
// exit, then kills it.
func (o *Org) Stop(timeout time.Duration) StopResult {
	r := StopResult{Org: o.Org, ExitCode: -1}
	if o.proc == nil {
		return r
	}
	p := o.proc
	start := time.Now()
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(timeout):
			r.Killed = true
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	r.Took = time.Since(start)
	r.ExitCode = p.cmd.ProcessState.ExitCode()
	return r
}

// Kill stops the org's gateway with SIGKILL, as a crash would.
func (o *Org) Kill() {
	if o.Running() {
		_ = o.proc.cmd.Process.Kill()
		<-o.proc.done
	}
}

// Stop stops every gateway that runs, concurrently.
func (nt *Net) Stop(timeout time.Duration) []StopResult {
	res := make([]StopResult, len(nt.Orgs))
	done := make(chan struct{})
	for i, o := range nt.Orgs {
		go func() {
			res[i] = o.Stop(timeout)
			done <- struct{}{}
		}()
	}
	for range nt.Orgs {
		<-done
	}
	return res
}

// Status asks the org's gateway for its status.
func (o *Org) Status(ctx context.Context) (*api.Status, error) {
	cl, err := api.NewClient(o.Dir)
	if err != nil {
		return nil, err
	}
	return cl.Status(ctx)
}

// WaitReady waits until every gateway started answers on its control endpoint. A
// gateway that exits first is an error that points at its log.
func (nt *Net) WaitReady(ctx context.Context) error {
	for _, o := range append(append([]*Org{}, nt.Orgs...), nt.Nodes...) {
		if o.proc == nil {
			continue // never started (the hostile scenario's fourth org)
		}
		for {
			if !o.Running() {
				return fmt.Errorf("gateway %s exited (%v); see %s", o.Org, o.proc.err, o.Log())
			}
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			_, err := o.Status(sctx)
			cancel()
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("gateway %s did not answer (%v); see %s", o.Org, err, o.Log())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}
