package clusterenv

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
)

// The environment with which make test-cluster (withservers) hands the
// running servers to the test binaries.
const (
	EnvDBAddr     = "CARAVAN_TEST_MARIADB"
	EnvS3Endpoint = "CARAVAN_TEST_S3"
)

var (
	fromEnvOnce sync.Once
	fromEnv     *Servers
)

// Env returns the servers named in the environment, or nil.
func Env() *Servers {
	fromEnvOnce.Do(func() {
		db, s3 := os.Getenv(EnvDBAddr), os.Getenv(EnvS3Endpoint)
		if db != "" && s3 != "" {
			fromEnv = &Servers{DBAddr: db, S3Endpoint: s3}
		}
	})
	return fromEnv
}

// Export sets the environment that Env reads, for child processes.
func (s *Servers) Export() []string {
	return []string{EnvDBAddr + "=" + s.DBAddr, EnvS3Endpoint + "=" + s.S3Endpoint}
}

// NewSpace returns a database and a bucket of the test's own on the
// servers that make test-cluster started. Without them the test fails,
// saying so: a cluster test never passes without its servers.
func NewSpace(t testing.TB) Space {
	t.Helper()
	s := Env()
	if s == nil {
		t.Fatalf("no cluster servers: run make test-cluster (it sets $%s and $%s)", EnvDBAddr, EnvS3Endpoint)
	}
	name := strings.ToLower(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, t.Name()))
	if len(name) > 20 {
		name = name[len(name)-20:]
	}
	sp, err := s.NewSpace(context.Background(), "t"+name)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
