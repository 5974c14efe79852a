package datadir

import (
	"errors"
	"fmt"
	"os"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// ErrLocked is returned by Start when another gateway runs on the same data
// directory.
var ErrLocked = errors.New("another gateway is already running with this data directory")

// Lock takes an exclusive flock on DIR/gateway.lock. The kernel drops the
// lock when the process dies, even by kill -9.
func Lock(dir string) (*os.File, error) {
	f, err := atomicfile.TryLock(Dir(dir).Lock())
	if errors.Is(err, atomicfile.ErrHeld) {
		return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
	}
	return f, err
}
