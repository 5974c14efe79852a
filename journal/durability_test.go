package journal_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/internal/logging"
	"github.com/caravan-consortium/caravan/journal"
)

const childEnv = "CARAVAN_JOURNAL_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		appendForever(spec)
		return
	}
	logging.RouteKlog(zap.NewNop())
	os.Exit(m.Run())
}

// appendForever is the child: it appends events from 64 goroutines and
// prints "ack INDEX HASH" for each one Append acknowledged, until killed.
func appendForever(spec string) {
	dir, seedHex, _ := strings.Cut(spec, ",")
	seed, _ := hex.DecodeString(seedHex)
	priv := ed25519.NewKeyFromSeed(seed)
	origin := journal.Origin(consortium, "customs-cn")
	s, err := journal.NewLogSigner(origin, priv)
	if err != nil {
		panic(err)
	}
	l, err := journal.Open(context.Background(), journal.LogConfig{Dir: dir, Origin: origin, Signer: s, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := 0; ; i++ {
				e := event("customs-cn", i)
				e.Dataset = fmt.Sprintf("g%d-%d", g, i)
				data, err := e.Encode()
				if err != nil {
					panic(err)
				}
				idx, err := l.AppendRaw(context.Background(), data)
				if err != nil {
					panic(err)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %s\n", idx, journal.Hash(data))
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestKill9LosesNoAcknowledgedEntry kills a child process that appends,
// with SIGKILL, and checks after a restart that every entry it had
// acknowledged is in the log, unchanged, and that the log verifies.
func TestKill9LosesNoAcknowledgedEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 7
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir+","+hex.EncodeToString(seed))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && len(acked) < 2000 {
		var idx uint64
		var hash string
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %s", &idx, &hash); err == nil {
			acked[idx] = hash
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 2000 {
		t.Fatalf("the child acknowledged only %d entries", len(acked))
	}

	// Restart: the log opens, publishes a checkpoint, and holds every
	// acknowledged entry.
	a := member{org: "customs-cn", priv: ed25519.NewKeyFromSeed(seed), origin: journal.Origin(consortium, "customs-cn")}
	l := openLog(t, a, dir)
	var maxIdx uint64
	for idx := range acked {
		maxIdx = max(maxIdx, idx)
	}
	cp := waitCheckpoint(t, l, a.logVerifier(t), maxIdx+1)
	var size uint64
	if _, err := fmtSscan(string(cp), &size); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for idx, hash := range acked {
		e, err := journal.ReadEntry(ctx, journal.DirSource(dir), idx, size)
		if err != nil {
			t.Fatalf("acknowledged entry %d: %v", idx, err)
		}
		if journal.Hash(e) != hash {
			t.Fatalf("acknowledged entry %d changed", idx)
		}
	}
	// The whole log verifies: every entry, hashed, gives the signed root.
	m, err := journal.OpenMirror(t.TempDir(), a.origin, a.logVerifier(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Update(ctx, journal.DirSource(dir), cp); err != nil {
		t.Fatalf("the log does not verify after kill -9: %v", err)
	}
	t.Logf("%d entries acknowledged before kill -9 (highest index %d); log size after restart %d; all present", len(acked), maxIdx, size)
}
