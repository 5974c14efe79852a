package node

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// watchDebounce groups the several events an editor or a rename makes.
const watchDebounce = 200 * time.Millisecond

// rosterWatcher reloads the roster when its file changes. It watches the
// file's directory, because editors and atomic writers replace the file by
// renaming over it.
type rosterWatcher struct {
	w      *fsnotify.Watcher
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

func watchRoster(n *Node) (*rosterWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	path := filepath.Clean(n.cfg.Roster)
	if err := w.Add(filepath.Dir(path)); err != nil {
		w.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	rw := &rosterWatcher{w: w, cancel: cancel}
	rw.wg.Add(1)
	go rw.loop(ctx, n, path)
	return rw, nil
}

func (rw *rosterWatcher) loop(ctx context.Context, n *Node, path string) {
	defer rw.wg.Done()
	log := n.log.Named("roster")
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-rw.w.Events:
			if !ok {
				return
			}
			if filepath.Clean(ev.Name) != path || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(watchDebounce)
			} else {
				timer.Reset(watchDebounce)
			}
			fire = timer.C
		case err, ok := <-rw.w.Errors:
			if !ok {
				return
			}
			log.Warn("roster file watch", zap.Error(err))
		case <-fire:
			fire = nil
			log.Info("roster file changed; reloading", zap.String("file", path))
			_ = n.ReloadRoster() // logged there
		}
	}
}

func (rw *rosterWatcher) close() error {
	rw.once.Do(func() {
		rw.cancel()
		rw.err = rw.w.Close()
		rw.wg.Wait()
	})
	return rw.err
}
