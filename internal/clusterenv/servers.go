// Package clusterenv runs the servers a cluster-mode gateway stores on, as
// local processes on loopback ports, each in a directory of its own: MariaDB
// (Debian's mariadb-server: mariadbd and mariadb-install-db) and VersityGW,
// an S3-compatible server (Apache-2.0) over a POSIX directory. The cluster
// tests (make test-cluster) and caravan devnet --scenario cluster start them;
// nothing here is a mock, and nothing here is for production.
package clusterenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/go-sql-driver/mysql" // the database/sql driver
)

// The S3 server's credentials: it listens on loopback only.
const (
	accessKey = "caravan-test"
	secretKey = "caravan-test-secret"
	region    = "us-east-1"
)

// Servers are a running MariaDB and VersityGW.
type Servers struct {
	Dir string
	// DBAddr is MariaDB's address (host:port); its root user has no
	// password and may connect from 127.0.0.1 only.
	DBAddr string
	// S3Endpoint is the S3 server's URL (path-style addressing).
	S3Endpoint string

	procs []*exec.Cmd
}

// Binaries locates the servers' programs: from $CARAVAN_MARIADBD,
// $CARAVAN_VERSITYGW, else $PATH, /usr/sbin and /usr/bin.
func binaries() (mariadbd, installDB, versitygw string, err error) {
	find := func(env, name string) (string, error) {
		if p := os.Getenv(env); p != "" {
			return p, nil
		}
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
			if p := filepath.Join(dir, name); isExec(p) {
				return p, nil
			}
		}
		return "", fmt.Errorf("%s not found (set $%s, or run make cluster-servers to install it)", name, env)
	}
	var errs [3]error
	mariadbd, errs[0] = find("CARAVAN_MARIADBD", "mariadbd")
	installDB, errs[1] = find("CARAVAN_MARIADB_INSTALL_DB", "mariadb-install-db")
	versitygw, errs[2] = find("CARAVAN_VERSITYGW", "versitygw")
	return mariadbd, installDB, versitygw, errors.Join(errs[:]...)
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Available says whether the servers' programs are installed.
func Available() error {
	_, _, _, err := binaries()
	return err
}

// Start starts both servers under dir (created if needed) and waits until
// they answer. Stop them with Stop; dir is the caller's to remove.
func Start(ctx context.Context, dir string) (*Servers, error) {
	mariadbd, installDB, versitygw, err := binaries()
	if err != nil {
		return nil, err
	}
	s := &Servers{Dir: dir}
	if err := s.startMariaDB(ctx, mariadbd, installDB); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.startS3(ctx, versitygw); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Servers) startMariaDB(ctx context.Context, mariadbd, installDB string) error {
	data := filepath.Join(s.Dir, "mariadb")
	if _, err := os.Stat(filepath.Join(data, "mysql")); err != nil {
		out, err := exec.CommandContext(ctx, installDB, "--no-defaults", "--datadir="+data,
			"--auth-root-authentication-method=normal", "--skip-test-db", "--user="+currentUser()).CombinedOutput()
		if err != nil {
			return fmt.Errorf("mariadb-install-db: %w\n%s", err, out)
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.DBAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(mariadbd, "--no-defaults", "--datadir="+data, "--user="+currentUser(),
		"--bind-address=127.0.0.1", "--port="+strconv.Itoa(port),
		"--socket="+filepath.Join(data, "mariadb.sock"), "--pid-file="+filepath.Join(data, "mariadb.pid"),
		"--skip-log-bin", "--innodb-buffer-pool-size=256M", "--max-connections=500",
		"--log-error="+filepath.Join(s.Dir, "mariadb.log"))
	if err := s.spawn(cmd); err != nil {
		return fmt.Errorf("mariadbd: %w", err)
	}
	return wait(ctx, "MariaDB", filepath.Join(s.Dir, "mariadb.log"), func() error {
		db, err := sql.Open("mysql", "root@tcp("+s.DBAddr+")/")
		if err != nil {
			return err
		}
		defer db.Close()
		return db.PingContext(ctx)
	})
}

func (s *Servers) startS3(ctx context.Context, versitygw string) error {
	data := filepath.Join(s.Dir, "s3")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.S3Endpoint = "http://" + addr
	logf := filepath.Join(s.Dir, "versitygw.log")
	out, err := os.Create(logf)
	if err != nil {
		return err
	}
	defer out.Close()
	// --keep-alive: without it every request dials anew (Connection: close).
	cmd := exec.Command(versitygw, "--access", accessKey, "--secret", secretKey, "--region", region, "--keep-alive",
		"--port", addr, "posix", data)
	cmd.Stdout, cmd.Stderr = out, out
	if err := s.spawn(cmd); err != nil {
		return fmt.Errorf("versitygw: %w", err)
	}
	return wait(ctx, "VersityGW", logf, func() error {
		_, err := s.S3Client().ListBuckets(ctx, &s3.ListBucketsInput{})
		return err
	})
}

// spawn starts cmd in a process group of its own, so that Stop reaches
// every process it forks.
func (s *Servers) spawn(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.procs = append(s.procs, cmd)
	return nil
}

// wait polls ready for up to 60 s; on failure the error quotes the
// server's log.
func wait(ctx context.Context, what, logf string, ready func() error) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			tail, _ := os.ReadFile(logf)
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			return fmt.Errorf("%s did not start: %w (last error %v)\n%s", what, ctx.Err(), err, tail)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop kills both servers (SIGKILL: their data is for one run) and waits for
// them to exit.
func (s *Servers) Stop() {
	for _, cmd := range s.procs {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
	s.procs = nil
}

// S3Client is a client of the S3 server with its credentials.
func (s *Servers) S3Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.S3Endpoint),
		UsePathStyle: true,
		Credentials:  aws.CredentialsProviderFunc(s.credentials),
	})
}

func (s *Servers) credentials(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}, nil
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if os.Geteuid() == 0 {
		return "root"
	}
	return strconv.Itoa(os.Geteuid())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// PIDs are the servers' process ids (MariaDB's, then VersityGW's), to
// measure their CPU time.
func (s *Servers) PIDs() []int {
	var out []int
	for _, cmd := range s.procs {
		out = append(out, cmd.Process.Pid)
	}
	return out
}
