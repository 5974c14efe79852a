package clusterenv

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Backup and restore as docs/deployment.md tells an operator to do them,
// with the same tools: mariadb-dump and mariadb for the database, a copy
// of every object for the bucket (aws s3 sync or rclone, in production).

// DumpDB writes a mariadb-dump of sp's database (one consistent
// transaction) to file.
func (s *Servers) DumpDB(ctx context.Context, sp Space, file string) error {
	host, port, _ := strings.Cut(s.DBAddr, ":")
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, "mariadb-dump", "--no-defaults", "-h", host, "-P", port, "-u", "root",
		"--single-transaction", "--routines", "--triggers", sp.DB)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mariadb-dump: %w: %s", err, stderr.String())
	}
	return out.Sync()
}

// RestoreDB loads a dump into sp's database.
func (s *Servers) RestoreDB(ctx context.Context, sp Space, file string) error {
	host, port, _ := strings.Cut(s.DBAddr, ":")
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	cmd := exec.CommandContext(ctx, "mariadb", "--no-defaults", "-h", host, "-P", port, "-u", "root", sp.DB)
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = in, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mariadb: %w: %s", err, stderr.String())
	}
	return nil
}

// CopyBucketOut copies every object of sp's bucket into dir (one file per
// object, under its key) and counts them.
func (s *Servers) CopyBucketOut(ctx context.Context, sp Space, dir string) (int, error) {
	c := s.S3Client()
	n := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &sp.Bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, err
		}
		for _, o := range page.Contents {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &sp.Bucket, Key: o.Key})
			if err != nil {
				return n, err
			}
			data, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				return n, err
			}
			path := filepath.Join(dir, filepath.FromSlash(*o.Key))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return n, err
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// CopyBucketIn puts every file under dir into sp's bucket, keyed by its
// path, and counts them.
func (s *Servers) CopyBucketIn(ctx context.Context, sp Space, dir string) (int, error) {
	c := s.S3Client()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &sp.Bucket, Key: &key, Body: bytes.NewReader(data)}); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// Usage is what a space holds.
type Usage struct {
	Rows, DBBytes, Objects, BucketBytes int64
	// ByPrefix splits the bucket by its keys' first segment (data,
	// fetched, journal): objects and bytes.
	ByPrefix map[string][2]int64
}

// Usage counts sp's rows and bytes (InnoDB's estimate: data and indexes)
// and its objects and bytes.
func (s *Servers) Usage(ctx context.Context, sp Space) (Usage, error) {
	u := Usage{ByPrefix: map[string][2]int64{}}
	db, err := sql.Open("mysql", "root@tcp("+s.DBAddr+")/")
	if err != nil {
		return u, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "ANALYZE TABLE "+sp.DB+".caravan_statements, "+sp.DB+".caravan_datasets, "+sp.DB+".Seq"); err != nil {
		return u, err
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(TABLE_ROWS), 0), COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0)
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?`, sp.DB).Scan(&u.Rows, &u.DBBytes); err != nil {
		return u, err
	}
	p := s3.NewListObjectsV2Paginator(s.S3Client(), &s3.ListObjectsV2Input{Bucket: &sp.Bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return u, err
		}
		for _, o := range page.Contents {
			var size int64
			if o.Size != nil {
				size = *o.Size
			}
			u.Objects++
			u.BucketBytes += size
			first, _, _ := strings.Cut(*o.Key, "/")
			p := u.ByPrefix[first]
			u.ByPrefix[first] = [2]int64{p[0] + 1, p[1] + size}
		}
	}
	return u, nil
}
