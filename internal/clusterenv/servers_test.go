//go:build cluster

package clusterenv_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/caravan-consortium/caravan/internal/clusterenv"
)

// TestSpaceHoldsRowsAndObjects: a space's user reaches its database, and
// its bucket keeps what is put in it.
func TestClusterSpaceHoldsRowsAndObjects(t *testing.T) {
	ctx := context.Background()
	sp := clusterenv.NewSpace(t)
	conn := sp.Conn()
	db, err := conn.OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (k INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 0 {
		t.Fatal(n, err)
	}
	other := clusterenv.NewSpace(t)
	odb, _ := sql.Open("mysql", other.DSN)
	defer odb.Close()
	if _, err := odb.ExecContext(ctx, "SELECT COUNT(*) FROM "+sp.DB+".t"); err == nil {
		t.Fatal("one space's user reads another's database")
	}
	key := "a/b"
	if _, err := conn.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: &sp.Bucket, Key: &key, Body: bytes.NewReader([]byte("hello"))}); err != nil {
		t.Fatal(err)
	}
	out, err := conn.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: &sp.Bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	if string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
}
