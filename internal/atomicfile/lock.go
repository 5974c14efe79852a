package atomicfile

import (
	"fmt"
	"os"
	"syscall"
)

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
