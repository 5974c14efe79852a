package gateway

import (
	"context"
	"errors"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/gateway/datadir"
)

// An organization may run several nodes (the roster lists each under it).
// Here the second is a hot standby on the same data directory (a shared
// disk): it runs with its own node key and addresses (Options.NodeKey,
// Listen), waits for the directory's lock while the first node holds it,
// and starts when the first stops or dies, with everything the first
// acknowledged: the store and the journal are the directory's, and the
// org key signs as before, so the org's journal stays one log. Partners
// dial every node the roster lists, and a fetch that loses one resumes
// through another (fetch.Requester).

// standbyPoll is how often a standby tries the lock.
const standbyPoll = 200 * time.Millisecond

// lockDir takes the data directory's lock; a standby waits for it.
func lockDir(ctx context.Context, opts Options, log *zap.Logger) (*os.File, error) {
	f, err := datadir.Lock(opts.Dir)
	if !opts.Standby || !errors.Is(err, datadir.ErrLocked) {
		return f, err
	}
	log.Info("standby: another node of the org holds the data directory; this node starts when it stops", zap.String("dir", opts.Dir))
	t := time.NewTicker(standbyPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		if f, err = datadir.Lock(opts.Dir); !errors.Is(err, datadir.ErrLocked) {
			if err == nil {
				log.Info("standby: the data directory is free; taking over")
			}
			return f, err
		}
	}
}
