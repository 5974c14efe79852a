//go:build cluster

package journal_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/internal/clusterenv"
)

// TestClusterIdleLogSparesTheDatabase: an idle log on cluster storage
// sends the database what tessera's integration and checkpoints need, not
// 20 statements a second more for its metrics loop (two sizes read every
// 100 ms); and an entry just appended is still covered by a checkpoint as
// soon as it is integrated (the journal reads the sizes undamped for
// itself).
func TestClusterIdleLogSparesTheDatabase(t *testing.T) {
	ctx := context.Background()
	sp := clusterenv.NewSpace(t)
	conn := sp.Conn()
	m := newMember(t, "customs-tj")
	l := openClusterLog(t, m, conn)
	idx, err := l.Append(ctx, event(m.org, 0))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := l.CheckpointCovering(ctx, idx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a checkpoint covering entry %d after %v; tessera integrates every second", idx, d)
	}

	// The space's database user is its own: count its statements with
	// MariaDB's user statistics.
	root, err := sql.Open("mysql", "root@tcp("+clusterenv.Env().DBAddr+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := root.Exec("SET GLOBAL userstat = 1"); err != nil {
		t.Fatal(err)
	}
	user := sp.DSN[:strings.IndexByte(sp.DSN, ':')]
	statements := func() int64 {
		var sel, upd, other sql.NullInt64
		err := root.QueryRow("SELECT SELECT_COMMANDS, UPDATE_COMMANDS, OTHER_COMMANDS FROM information_schema.USER_STATISTICS WHERE USER = ?", user).Scan(&sel, &upd, &other)
		if err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		return sel.Int64 + upd.Int64 + other.Int64
	}
	before := statements()
	const idle = 4 * time.Second
	time.Sleep(idle)
	n := statements() - before
	perSecond := float64(n) / idle.Seconds()
	t.Logf("an idle log: %d statements in %v (%.1f a second)", n, idle, perSecond)
	// Tessera's integration and checkpoint loops poll in transactions of
	// three or four statements, about once a second each: 12 a second
	// here (measured); its metrics loop added 20 more (29 in all).
	if perSecond > 18 {
		t.Fatalf("an idle log sent the database %.1f statements a second; want at most 18", perSecond)
	}
}
