// Package clusterconn holds how a cluster-mode gateway reaches its shared
// storage: a MySQL-compatible database (MariaDB) and a bucket of an
// S3-compatible store, addressed path-style. None of it is written in the
// configuration: it is read from an environment file (KEY=VALUE lines,
// mode 0600) and from the environment, which wins.
package clusterconn

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/go-sql-driver/mysql"
)

// The variables, in the environment or in the file.
const (
	EnvDSN        = "CARAVAN_DB_DSN"        // go-sql-driver/mysql DSN: user:password@tcp(host:3306)/database
	EnvS3Endpoint = "CARAVAN_S3_ENDPOINT"   // http(s)://host:port
	EnvS3Bucket   = "CARAVAN_S3_BUCKET"     // the bucket
	EnvS3Region   = "CARAVAN_S3_REGION"     // default us-east-1
	EnvS3Access   = "CARAVAN_S3_ACCESS_KEY" // access key id
	EnvS3Secret   = "CARAVAN_S3_SECRET_KEY" // secret access key
)

// Conn is a cluster's database and bucket.
type Conn struct {
	DSN        string
	S3Endpoint string
	Bucket     string
	Region     string
	AccessKey  string
	SecretKey  string
}

// Load reads file (if not empty), then the environment, and checks that
// every variable but the region is set. Errors name the file and line.
func Load(file string) (Conn, error) {
	vars := map[string]string{}
	if file != "" {
		if err := readEnvFile(file, vars); err != nil {
			return Conn{}, err
		}
	}
	for _, k := range []string{EnvDSN, EnvS3Endpoint, EnvS3Bucket, EnvS3Region, EnvS3Access, EnvS3Secret} {
		if v, ok := os.LookupEnv(k); ok {
			vars[k] = v
		}
	}
	c := Conn{DSN: vars[EnvDSN], S3Endpoint: vars[EnvS3Endpoint], Bucket: vars[EnvS3Bucket],
		Region: vars[EnvS3Region], AccessKey: vars[EnvS3Access], SecretKey: vars[EnvS3Secret]}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	var missing []string
	for k, v := range map[string]string{EnvDSN: c.DSN, EnvS3Endpoint: c.S3Endpoint, EnvS3Bucket: c.Bucket, EnvS3Access: c.AccessKey, EnvS3Secret: c.SecretKey} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		where := "the environment"
		if file != "" {
			where = file + " or the environment"
		}
		return Conn{}, fmt.Errorf("storage: cluster needs %s, set in %s", strings.Join(missing, ", "), where)
	}
	if _, err := mysql.ParseDSN(c.DSN); err != nil {
		return Conn{}, fmt.Errorf("%s: %w", EnvDSN, err)
	}
	return c, nil
}

func readEnvFile(file string, vars map[string]string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("cluster storage file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s: holds credentials, so its mode must be 0600 (it is %04o)", file, fi.Mode().Perm())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("cluster storage file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		k = strings.TrimSpace(strings.TrimPrefix(k, "export "))
		if !ok || !strings.HasPrefix(k, "CARAVAN_") {
			return fmt.Errorf("%s:%d: want CARAVAN_NAME=value", file, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		vars[k] = v
	}
	return sc.Err()
}

// Write writes c to file as an environment file, mode 0600.
func (c Conn) Write(file string) error {
	var b strings.Builder
	for _, kv := range [][2]string{{EnvDSN, c.DSN}, {EnvS3Endpoint, c.S3Endpoint}, {EnvS3Bucket, c.Bucket},
		{EnvS3Region, c.Region}, {EnvS3Access, c.AccessKey}, {EnvS3Secret, c.SecretKey}} {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
	}
	return os.WriteFile(file, []byte(b.String()), 0o600)
}

// AWS returns the SDK configuration and S3 options for the bucket's store:
// static credentials, path-style addressing, the endpoint given.
//
// Requests are signed (SigV4) but their payloads are not hashed into the
// signature (UNSIGNED-PAYLOAD), and no CRC is computed or checked: at
// about 1 KiB a record, hashing every object twice more cost more CPU than
// the rest of the upload. What the objects hold is checked where it
// matters: every record against its CID and the manifest's tree (the
// requester verifies each), every tile against the log's signed
// checkpoints (every mirror does). Use an https endpoint between machines.
func (c Conn) AWS() (aws.Config, func(*s3.Options)) {
	cfg := aws.Config{
		Region: c.Region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: c.AccessKey, SecretAccessKey: c.SecretKey}, nil
		}),
		RetryMaxAttempts:           5,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	return cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(c.S3Endpoint)
		o.UsePathStyle = true
		o.HTTPClient = httpClient
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
}

// httpClient is every S3 client's: one pool of kept-alive connections,
// large enough for the uploads and reads in flight (the SDK's default
// keeps a few idle per host and dialed anew under load).
var httpClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:          256,
	MaxIdleConnsPerHost:   64,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   10 * time.Second,
	ExpectContinueTimeout: time.Second,
	ForceAttemptHTTP2:     true,
}}

// CloseIdle closes the kept-alive connections no request is using (a
// gateway that closes leaves none behind).
func CloseIdle() { httpClient.CloseIdleConnections() }

// S3 returns a client of the bucket's store.
func (c Conn) S3() *s3.Client {
	cfg, opts := c.AWS()
	return s3.NewFromConfig(cfg, opts)
}

// OpenDB opens the database (parseTime off; multiStatements off).
func (c Conn) OpenDB() (*sql.DB, error) {
	db, err := sql.Open("mysql", c.DSN)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxLifetime(10 * time.Minute)
	return db, nil
}
