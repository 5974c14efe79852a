package api

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// SocketFile is the Unix socket of the API inside a gateway's data
// directory. Only the owner of the data directory can reach it: its file
// mode, 0600, is the access control.
const SocketFile = "control.sock"

// maxUnixPath is the longest socket path Linux accepts (sun_path less NUL).
const maxUnixPath = 107

// SocketPath returns the absolute path of the socket of data directory
// dir; it fails if the path is too long for a Unix socket.
func SocketPath(dir string) (string, error) {
	abs, err := filepath.Abs(filepath.Join(dir, SocketFile))
	if err != nil {
		return "", err
	}
	if len(abs) > maxUnixPath {
		return "", fmt.Errorf("control socket path %s is %d bytes; Unix sockets allow at most %d: use a data directory with a shorter path", abs, len(abs), maxUnixPath)
	}
	return abs, nil
}

// ListenSocket listens on the socket of data directory dir, mode 0600. A
// socket file already there is removed: the caller holds the data
// directory's lock, so it is stale (a gateway that was killed).
func ListenSocket(dir string) (net.Listener, error) {
	path, err := SocketPath(dir)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control endpoint: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
