package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrHeld is TryLock's error when another process holds the lock.
var ErrHeld = errors.New("held by another process")

// TryLock takes an exclusive lock (flock) on the file at path, created if
// need be, for as long as the returned file stays open: the kernel drops
// it when the process dies, kill -9 included. If another process holds it,
// the error wraps ErrHeld.
func TryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrHeld
		}
		return nil, err
	}
	return f, nil
}

// Locked runs fn while holding an exclusive lock on path+".lock" (flock),
// which every process that changes the file at path takes: a read, change
// and Write of the file under the lock is not undone by another process's
// change made at the same time. The lock file stays; it holds nothing.
func Locked(path string, fn func() error) error {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	return fn()
}
