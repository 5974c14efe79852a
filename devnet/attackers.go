package devnet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// attackers are the hostile scenario's two attacking processes, each
// apart from the devnet process that measures (and from the gateways): the
// member ('caravan devnet member', RunHostileMember) and the outsider
// ('caravan devnet outsider', HoldIdleConnections).
type attackers struct {
	bin     string
	victims []*Org

	member  *exec.Cmd
	toMem   io.WriteCloser
	fromMem *bufio.Reader

	outsider    *exec.Cmd // the running round's outsider, if any
	outsiderOut bytes.Buffer
	idle        int64 // connections the outsiders of past rounds opened

	final map[string]int64 // what the attacks did, once stopped
}

// startMember starts the hostile member (the consortium's last org)
// against victims, and returns once its host is connected to them. It
// attacks only when told (begin, until pause), so that the calm figures are
// taken with the same hosts in the mesh.
func startMember(ctx context.Context, bin string, nt *Net, victims []*Org, target, retracted string) (*attackers, error) {
	a := &attackers{bin: bin, victims: victims}
	a.member = exec.Command(bin, "devnet", "member", "--dir", nt.Dir, "--target", target, "--retracted", retracted)
	var stderr bytes.Buffer
	a.member.Stderr = &stderr
	var err error
	if a.toMem, err = a.member.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := a.member.StdoutPipe()
	if err != nil {
		return nil, err
	}
	a.fromMem = bufio.NewReader(out)
	if err := a.member.Start(); err != nil {
		return nil, err
	}
	ready := make(chan error, 1)
	go func() {
		line, err := a.fromMem.ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("said %q", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-time.After(30 * time.Second):
		err = errors.New("not ready after 30s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		a.toMem.Close()
		_ = a.member.Process.Kill()
		_ = a.member.Wait()
		return nil, fmt.Errorf("the hostile member: %w %s", err, strings.TrimSpace(stderr.String()))
	}
	return a, nil
}

// begin launches a round of every attack: the member's, and the
// outsider's idle connections unless CARAVAN_HOSTILE_ONLY leaves "idle"
// out.
func (a *attackers) begin() error {
	if _, err := fmt.Fprintln(a.toMem, "start"); err != nil {
		return fmt.Errorf("the hostile member: %w", err)
	}
	if !attackChosen("idle") || a.outsider != nil {
		return nil
	}
	var addrs []string
	for _, v := range a.victims {
		if addr := v.tcpAddr(); addr != "" {
			addrs = append(addrs, addr)
		}
	}
	a.outsiderOut.Reset()
	a.outsider = exec.Command(a.bin, append([]string{"devnet", "outsider"}, addrs...)...)
	a.outsider.Stdout = &a.outsiderOut
	if err := a.outsider.Start(); err != nil {
		a.outsider = nil
		return fmt.Errorf("the outsider: %w", err)
	}
	return nil
}

// pause ends the round of attacks, and returns once they stopped: the
// outsider's process is gone, and the member idles.
func (a *attackers) pause() error {
	if _, err := fmt.Fprintln(a.toMem, "pause"); err != nil {
		return fmt.Errorf("the hostile member: %w", err)
	}
	line, err := a.fromMem.ReadString('\n')
	if err == nil && strings.TrimSpace(line) != "paused" {
		err = fmt.Errorf("said %q", line)
	}
	if err != nil {
		return fmt.Errorf("the hostile member, told to pause: %w", err)
	}
	return a.stopOutsider()
}

// stopOutsider ends the running round's outsider, if any, and counts what
// it did.
func (a *attackers) stopOutsider() error {
	if a.outsider == nil {
		return nil
	}
	_ = a.outsider.Process.Signal(syscall.SIGTERM)
	err := a.outsider.Wait()
	a.outsider = nil
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil // stopped before its handler was set: it had opened few, if any
		}
	}
	n, perr := strconv.ParseInt(strings.TrimSpace(a.outsiderOut.String()), 10, 64)
	a.idle += n
	return errors.Join(err, perr)
}

// counted asks the member what its attacks did so far.
func (a *attackers) counted() (map[string]int64, error) {
	if a.final != nil {
		return a.final, nil
	}
	if _, err := fmt.Fprintln(a.toMem, "report"); err != nil {
		return nil, err
	}
	return a.readCounts()
}

func (a *attackers) readCounts() (map[string]int64, error) {
	line, err := a.fromMem.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("the hostile member's report: %w", err)
	}
	var counts map[string]int64
	if err := json.Unmarshal(line, &counts); err != nil {
		return nil, fmt.Errorf("the hostile member's report %q: %w", line, err)
	}
	return counts, nil
}

// stop ends both processes and keeps what their attacks did. It may be
// called again.
func (a *attackers) stop() error {
	if a.final != nil || a.member == nil {
		return nil
	}
	var errs []error
	a.toMem.Close() // the member stops at the end of its input, and reports
	counts, err := a.readCounts()
	errs = append(errs, err, a.member.Wait())
	if counts == nil {
		counts = map[string]int64{}
	}
	errs = append(errs, a.stopOutsider())
	if a.idle > 0 {
		counts["idle connections opened"] = a.idle
	}
	a.final = counts
	return errors.Join(errs...)
}

// kill ends both processes at once, if they still run (a failed scenario).
func (a *attackers) kill() {
	if a.final != nil {
		return
	}
	for _, c := range []*exec.Cmd{a.member, a.outsider} {
		if c != nil && c.Process != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	a.final = map[string]int64{}
}

// report is what each attack did, a sorted line each.
func report(counts map[string]int64) []string {
	var out []string
	for k, v := range counts {
		out = append(out, fmt.Sprintf("%s: %d", k, v))
	}
	slices.Sort(out)
	return out
}
