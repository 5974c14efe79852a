package devnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/caravan-consortium/caravan/api"

	"github.com/caravan-consortium/caravan/gateway"
)

func init() {
	register(demoScenario)
	register(footprintScenario)
	register(consoleScenario)
}

func demoScenario() Scenario {
	return Scenario{
		Name:        "demo",
		Description: "a members-only consortium on loopback that publishes, decides, journals and converges",
		Steps: []Step{
			{"start every gateway as its own OS process", stepStart},
			{"the gateways form a full mesh", stepMesh},
			{"a node that is not in the roster is refused by every gateway", stepOutsider},
			{"customs-cn registers the demo's four dataset schemas; every gateway holds them and puts its policies in force", stepRegisterSchemas},
			{"customs-cn publishes a generated dataset of customs declarations", stepPublish},
			{"the other gateways list it", stepOthersList},
			{"customs-cn's policies decide per record, explain, filter discovery, and survive a broken edit", stepPolicies},
			{"partners fetch the declarations: each receives what customs-cn's policy allows, verified", stepFetch},
			{"logistics-az is stopped", stepStopLast},
			{"customs-cn publishes two more versions and a second dataset", stepPublishWhileOffline},
			{"customs-kz registers its own phytosanitary-certificate schema, publishes certificates from a CSV and adds a policy on them; customs-cn fetches exactly the permitted ones", stepOwnSchema},
			{"logistics-az restarts and its catalog converges", stepConverge},
			{"customs-uz is admitted by a roster proposal signed on two gateways, no file copied; it publishes and fetches", stepAdmit},
			{"customs-uz is removed by a second proposal; every gateway disconnects and refuses it", stepRemove},
			{"every journal is witnessed by the others; the evidence of a fetch decision verifies offline", stepJournals},
			{"every gateway serves its web console over TLS: an address and a token each", stepConsoles},
			{"a clean shutdown leaves nothing running", stepShutdown},
		},
	}
}

func footprintScenario() Scenario {
	return Scenario{
		Name:        "footprint",
		Description: "time to mesh and the memory of idle gateways (make bench)",
		Steps: []Step{
			{"start every gateway as its own OS process", stepStart},
			{"the gateways form a full mesh", stepMesh},
			{"the gateways idle, staying connected", stepIdle},
			{"a clean shutdown leaves nothing running", stepShutdown},
		},
	}
}

// stepStart starts the gateways and waits until each answers on its control
// endpoint.
func stepStart(ctx context.Context, e *Env) (string, error) {
	if err := e.Net.Start(e.Binary); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e.Net.WaitReady(ctx); err != nil {
		return "", err
	}
	var pids []string
	for _, o := range e.Net.Orgs {
		pids = append(pids, fmt.Sprintf("%s=%d", o.Org, o.PID()))
	}
	return "pids " + strings.Join(pids, " "), nil
}

// stepMesh waits until every gateway reports every other member connected,
// and records how long each took from the start of its process.
func stepMesh(ctx context.Context, e *Env) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	meshAt := map[string]time.Duration{}
	var last map[string]*api.Status
	for len(meshAt) < len(e.Net.Orgs) {
		last = map[string]*api.Status{}
		for _, o := range e.Net.Orgs {
			st, err := o.Status(ctx)
			if err != nil {
				return "", fmt.Errorf("%s: %w", o.Org, err)
			}
			last[o.Org] = st
			if _, done := meshAt[o.Org]; !done && connectedCount(st) == len(e.Net.Orgs)-1 {
				meshAt[o.Org] = time.Since(o.Started())
			}
		}
		if len(meshAt) == len(e.Net.Orgs) {
			break
		}
		select {
		case <-ctx.Done():
			printMatrix(e.Out, e.Net, last)
			return "", fmt.Errorf("no full mesh within 30s: %d of %d gateways connected to all others", len(meshAt), len(e.Net.Orgs))
		case <-time.After(20 * time.Millisecond):
		}
	}
	printMatrix(e.Out, e.Net, last)
	var slowest time.Duration
	var each []string
	for _, o := range e.Net.Orgs {
		slowest = max(slowest, meshAt[o.Org])
		each = append(each, fmt.Sprintf("%s %v", o.Org, meshAt[o.Org].Round(time.Millisecond)))
	}
	e.figure(fmt.Sprintf("time from 'caravan run' to connected with the %d other members", len(e.Net.Orgs)-1),
		strings.Join(each, ", "), "")
	return fmt.Sprintf("every gateway connected to the %d others; slowest %v after its start", len(e.Net.Orgs)-1, slowest.Round(time.Millisecond)), nil
}

func connectedCount(st *api.Status) int {
	n := 0
	for _, m := range st.Members {
		if !m.Self && m.Connected() {
			n++
		}
	}
	return n
}

func printMatrix(w io.Writer, nt *Net, sts map[string]*api.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "      connected to:")
	for _, o := range nt.Orgs {
		fmt.Fprintf(tw, "\t%s", o.Org)
	}
	fmt.Fprintln(tw)
	for _, o := range nt.Orgs {
		fmt.Fprintf(tw, "      %s", o.Org)
		st := sts[o.Org]
		for _, other := range nt.Orgs {
			cell := "-"
			if st != nil && other.Org != o.Org {
				cell = "no"
				for _, m := range st.Members {
					if m.Org == other.Org && m.Connected() {
						cell = "yes"
					}
				}
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// stepOutsider makes libp2p hosts with keys that the roster does not list,
// and has each dial every gateway over TCP and over QUIC. Every attempt must
// fail to open a stream, every gateway must count the refusals, and none may
// list the outsider as connected.
func stepOutsider(ctx context.Context, e *Env) (string, error) {
	before := map[string]uint64{}
	for _, o := range e.Net.Orgs {
		st, err := o.Status(ctx)
		if err != nil {
			return "", err
		}
		before[o.Org] = st.Refused
	}
	attempts, err := probeOutsider(ctx, e.Net)
	if err != nil {
		return "", err
	}
	// The gateway refuses right after the handshake; give its counter a
	// moment to be read.
	deadline := time.Now().Add(5 * time.Second)
	for _, o := range e.Net.Orgs {
		for {
			st, err := o.Status(ctx)
			if err != nil {
				return "", err
			}
			got := st.Refused - before[o.Org]
			if got >= uint64(attempts) {
				break
			}
			if time.Now().After(deadline) {
				return "", fmt.Errorf("%s counted %d refusals, want at least %d", o.Org, got, attempts)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return fmt.Sprintf("%d attempts per gateway (TCP and QUIC) failed, and all %d gateways logged the refusals", attempts, len(e.Net.Orgs)), nil
}

// stepIdle lets the gateways idle for e.Idle, checks that they stayed
// connected, and reads each one's peak resident memory.
func stepIdle(ctx context.Context, e *Env) (string, error) {
	idle := e.Idle
	if idle <= 0 {
		idle = 30 * time.Second
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(idle):
	}
	const goalMB = 100
	var each []string
	var worst float64
	for _, o := range e.Net.Orgs {
		st, err := o.Status(ctx)
		if err != nil {
			return "", err
		}
		if n := connectedCount(st); n != len(e.Net.Orgs)-1 {
			return "", fmt.Errorf("%s lost members while idle: %d of %d connected", o.Org, n, len(e.Net.Orgs)-1)
		}
		hwm, rss, err := memoryOf(o.PID())
		if err != nil {
			return "", err
		}
		worst = max(worst, hwm)
		each = append(each, fmt.Sprintf("%s %.1f MB (now %.1f)", o.Org, hwm, rss))
	}
	e.figure(fmt.Sprintf("idle gateway peak RSS (VmHWM) after %v", idle), strings.Join(each, ", "), fmt.Sprintf("goal <= %d MB", goalMB))
	if worst > goalMB {
		return "", fmt.Errorf("peak RSS %.1f MB is over the %d MB goal", worst, goalMB)
	}
	return fmt.Sprintf("idled %v; peak RSS at most %.1f MB", idle, worst), nil
}

// memoryOf reads VmHWM (peak) and VmRSS (current) of pid, in MB.
func memoryOf(pid int) (hwm, rss float64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		var kb float64
		if _, err := fmt.Sscanf(line, "VmHWM: %f kB", &kb); err == nil {
			hwm = kb / 1024
		}
		if _, err := fmt.Sscanf(line, "VmRSS: %f kB", &kb); err == nil {
			rss = kb / 1024
		}
	}
	return hwm, rss, nil
}

// cpuOf reads the CPU time (user + system) pid has used so far. On this
// shared machine wall-clock figures vary from run to run; CPU time varies
// less, and says how much of the cores the work took.
func cpuOf(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14 and stime 15 (proc(5)).
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var utime, stime int64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, err
	}
	const ticks = 100 // USER_HZ, 100 on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// machineCPU is the machine's CPU time so far, in USER_HZ ticks summed over
// its cores: all of it, and what the hypervisor took for other guests
// (steal), from /proc/stat.
type machineCPU struct{ total, steal int64 }

func readMachineCPU() (machineCPU, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}, fmt.Errorf("/proc/stat: %q", line)
	}
	var m machineCPU
	for i, v := range f[1:] {
		var n int64
		if _, err := fmt.Sscan(v, &n); err != nil {
			return machineCPU{}, fmt.Errorf("/proc/stat: %q", line)
		}
		if i < 8 { // guest time is counted in user time already
			m.total += n
		}
		if i == 7 {
			m.steal = n
		}
	}
	return m, nil
}

// stepShutdown sends SIGTERM to every gateway and checks that each exited 0
// within gateway.ShutdownTimeout, removed its control socket, freed its ports
// and left no process behind.
func stepShutdown(ctx context.Context, e *Env) (string, error) {
	pids := map[string]int{}
	var started []*Org // not the hostile scenario's fourth org, which runs no gateway
	for _, o := range e.Net.Orgs {
		if o.proc != nil {
			pids[o.Org] = o.PID()
			started = append(started, o)
		}
	}
	var slowest time.Duration
	for _, r := range e.Net.Stop(gateway.ShutdownTimeout) {
		if _, ok := pids[r.Org]; !ok {
			continue
		}
		if r.Killed {
			return "", fmt.Errorf("%s did not stop within %v and was killed", r.Org, gateway.ShutdownTimeout)
		}
		if r.ExitCode != 0 {
			return "", fmt.Errorf("%s exited with status %d", r.Org, r.ExitCode)
		}
		slowest = max(slowest, r.Took)
	}
	for _, o := range started {
		if err := syscall.Kill(pids[o.Org], 0); !errors.Is(err, syscall.ESRCH) {
			return "", fmt.Errorf("%s: process %d still exists", o.Org, pids[o.Org])
		}
		if _, err := os.Stat(filepath.Join(o.Dir, api.SocketFile)); !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s left its control socket behind", o.Org)
		}
		if !portFree(o.Port) {
			return "", fmt.Errorf("%s: port %d is still bound", o.Org, o.Port)
		}
	}
	e.figure("graceful shutdown (SIGTERM to exit)", fmt.Sprintf("slowest %v", slowest.Round(time.Millisecond)), fmt.Sprintf("goal <= %v", gateway.ShutdownTimeout))
	return fmt.Sprintf("all exited 0 within %v (slowest); sockets removed, ports free, no process left", slowest.Round(time.Millisecond)), nil
}

// PrintMatrix prints who is connected to whom, as each gateway reports it.
func (nt *Net) PrintMatrix(ctx context.Context, w io.Writer) error {
	sts := map[string]*api.Status{}
	for _, o := range nt.Orgs {
		if st, err := o.Status(ctx); err == nil {
			sts[o.Org] = st
		}
	}
	printMatrix(w, nt, sts)
	return nil
}
