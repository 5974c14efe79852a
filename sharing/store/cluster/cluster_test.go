//go:build cluster

package cluster_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/caravan-consortium/caravan/internal/clusterenv"
	"github.com/caravan-consortium/caravan/sharing/store"
	"github.com/caravan-consortium/caravan/sharing/store/cluster"
	"github.com/caravan-consortium/caravan/sharing/store/storetest"
)

func open(t testing.TB) *cluster.Store {
	t.Helper()
	s, err := cluster.Open(context.Background(), clusterenv.NewSpace(t).Conn(), cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestClusterConforms runs the store's conformance suite on MariaDB and S3.
func TestClusterConforms(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// TestClusterNodesShareOneStore: what one node publishes, another reads;
// a nonce one node marked is a replay at the other.
func TestClusterNodesShareOneStore(t *testing.T) {
	conn := clusterenv.NewSpace(t).Conn()
	a, err := cluster.Open(context.Background(), conn, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := cluster.Open(context.Background(), conn, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st := storetest.Publish(t, a, 3000)
	n := 0
	if err := b.Records(st.CID(), func(i uint64, canonical []byte) error {
		want, _, _ := storetest.Record(int(i))
		if string(canonical) != string(want) {
			t.Fatalf("record %d differs on the other node", i)
		}
		n++
		return nil
	}); err != nil || n != 3000 {
		t.Fatalf("the other node read %d records: %v", n, err)
	}
	if _, err := b.Statement(st.CID()); err != nil {
		t.Fatalf("the other node does not hold the manifest: %v", err)
	}
	exp := time.Now().Add(time.Minute)
	if ok, err := a.MarkNonce("0123456789abcdef-replay", exp); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := b.MarkNonce("0123456789abcdef-replay", exp); ok || err != nil {
		t.Fatalf("a nonce marked on one node was taken on the other: %v %v", ok, err)
	}
}

// TestClusterDeadPublishIsSwept: a publish whose node died (it neither
// committed nor aborted) is removed by another node once stale: its
// objects and its row. Nothing of it was ever visible, and its node, if it
// comes back, cannot commit it.
func TestClusterDeadPublishIsSwept(t *testing.T) {
	ctx := context.Background()
	sp := clusterenv.NewSpace(t)
	a, err := cluster.Open(ctx, sp.Conn(), cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ss, err := a.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2100 {
		canon, c, attrs := storetest.Record(i)
		if err := ss.Put(uint64(i), c, canon, attrs); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := a.Stats(); st.Pending != 1 || st.Records != 0 {
		t.Fatalf("during the publish: %+v", st)
	}
	time.Sleep(300 * time.Millisecond)
	b, err := cluster.Open(ctx, sp.Conn(), cluster.Options{StaleSession: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if st, _ := b.Stats(); st != (store.Stats{}) {
		t.Fatalf("after the sweep: %+v", st)
	}
	objs, err := sp.Conn().S3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &sp.Bucket, Prefix: aws.String("data/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Contents) != 0 {
		t.Fatalf("%d objects of the dead publish are left, e.g. %s", len(objs.Contents), *objs.Contents[0].Key)
	}
	if err := ss.Commit(storetest.Statement(t, "manifest", 1)); err == nil {
		t.Fatal("a swept publish committed")
	}
	if st, _ := b.Stats(); st != (store.Stats{}) {
		t.Fatalf("after the late commit: %+v", st)
	}
}

// TestClusterSchemaIsMigratedOnce: nodes starting together migrate the
// database once; a database newer than the build is refused.
func TestClusterSchemaIsMigratedOnce(t *testing.T) {
	ctx := context.Background()
	conn := clusterenv.NewSpace(t).Conn()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			s, err := cluster.Open(ctx, conn, cluster.Options{})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	db, err := conn.OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, v int
	if err := db.QueryRow("SELECT COUNT(*), MAX(version) FROM caravan_schema").Scan(&n, &v); err != nil || n != cluster.SchemaVersion() || v != cluster.SchemaVersion() {
		t.Fatalf("schema rows %d, version %d (%v); want %d", n, v, err, cluster.SchemaVersion())
	}
	if _, err := db.Exec("INSERT INTO caravan_schema (version, applied) VALUES (?, 0)", v+1); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Open(ctx, conn, cluster.Options{}); err == nil || !strings.Contains(err.Error(), "newer than this build") {
		t.Fatalf("a newer schema: %v", err)
	}
}

// TestClusterVolumeIsExactAcrossNodes: fetches counting on two nodes at
// once lose no count: released_today is the sum of every release.
func TestClusterVolumeIsExactAcrossNodes(t *testing.T) {
	conn := clusterenv.NewSpace(t).Conn()
	var vols []*cluster.Volume
	for range 2 {
		s, err := cluster.Open(context.Background(), conn, cluster.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		vols = append(vols, s.Volume())
	}
	day := time.Now().UTC().Format(time.DateOnly)
	var wg sync.WaitGroup
	for _, v := range vols {
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 25 {
					if err := v.Update(day, "logistics-az", func(n int64) int64 { return n + 3 }); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	if got, err := vols[1].Released(day, "logistics-az"); got != 2*6*25*3 || err != nil {
		t.Fatalf("released %d (%v), want %d", got, err, 2*6*25*3)
	}
	if got, _ := vols[0].Released(day, "customs-kz"); got != 0 {
		t.Fatalf("another org's count is %d", got)
	}
}
