package node

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked is returned by Start when another gateway runs on the same data
// directory.
var ErrLocked = errors.New("another gateway is already running with this data directory")

// lockDir takes an exclusive flock on DIR/gateway.lock. The kernel drops the
// lock when the process dies, even by kill -9.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(DataDir(dir).Lock(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
		}
		return nil, err
	}
	return f, nil
}
