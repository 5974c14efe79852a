package clusterenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/caravan-consortium/caravan/internal/clusterconn"
)

// Space is what one organization's nodes share: a database (its own user
// and password) and a bucket.
type Space struct {
	// DSN is a go-sql-driver/mysql DSN of the database.
	DSN    string
	DB     string
	Bucket string
	// S3Endpoint, Region, AccessKey and SecretKey reach the bucket.
	S3Endpoint, Region, AccessKey, SecretKey string
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,30}$`)

// NewSpace creates the database and the bucket name (with a random suffix,
// so that spaces never collide) and a database user for them.
func (s *Servers) NewSpace(ctx context.Context, name string) (Space, error) {
	if !nameRE.MatchString(name) {
		return Space{}, fmt.Errorf("space name %q: want [a-z][a-z0-9]{0,30}", name)
	}
	var b [4]byte
	rand.Read(b[:])
	id := name + hex.EncodeToString(b[:])
	var pw [12]byte
	rand.Read(pw[:])
	password := hex.EncodeToString(pw[:])

	root, err := sql.Open("mysql", "root@tcp("+s.DBAddr+")/")
	if err != nil {
		return Space{}, err
	}
	defer root.Close()
	for _, q := range []string{
		"CREATE DATABASE " + id,
		"CREATE USER '" + id + "'@'127.0.0.1' IDENTIFIED BY '" + password + "'",
		"GRANT ALL ON " + id + ".* TO '" + id + "'@'127.0.0.1'",
	} {
		if _, err := root.ExecContext(ctx, q); err != nil {
			return Space{}, fmt.Errorf("MariaDB: %s: %w", q, err)
		}
	}
	if _, err := s.S3Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &id}); err != nil {
		return Space{}, fmt.Errorf("S3 bucket %s: %w", id, err)
	}
	return Space{
		DSN: id + ":" + password + "@tcp(" + s.DBAddr + ")/" + id, DB: id, Bucket: id,
		S3Endpoint: s.S3Endpoint, Region: region, AccessKey: accessKey, SecretKey: secretKey,
	}, nil
}

// Conn is how a gateway reaches the space.
func (sp Space) Conn() clusterconn.Conn {
	return clusterconn.Conn{DSN: sp.DSN, S3Endpoint: sp.S3Endpoint, Bucket: sp.Bucket,
		Region: sp.Region, AccessKey: sp.AccessKey, SecretKey: sp.SecretKey}
}
