// Package dirwatch calls a function when files of a directory change,
// once for a burst of changes.
package dirwatch

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

// Watcher calls onChange, debounced, when a file in a directory that
// match accepts is written, created, renamed or removed. Watching the
// directory rather than the file catches editors and atomic writers that
// replace a file by renaming over it.
type Watcher struct {
	w      *fsnotify.Watcher
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

func Watch(dir string, log *zap.Logger, match func(path string) bool, onChange func()) (*Watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	dw := &Watcher{w: w, cancel: cancel}
	dw.wg.Add(1)
	go dw.loop(ctx, log, match, onChange)
	return dw, nil
}

func (dw *Watcher) loop(ctx context.Context, log *zap.Logger, match func(string) bool, onChange func()) {
	defer dw.wg.Done()
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-dw.w.Events:
			if !ok {
				return
			}
			if !match(filepath.Clean(ev.Name)) || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(watchDebounce)
			} else {
				timer.Reset(watchDebounce)
			}
			fire = timer.C
		case err, ok := <-dw.w.Errors:
			if !ok {
				return
			}
			log.Warn("file watch", zap.Error(err))
		case <-fire:
			fire = nil
			onChange()
		}
	}
}

func (dw *Watcher) Close() error {
	if dw == nil {
		return nil
	}
	dw.once.Do(func() {
		dw.cancel()
		dw.err = dw.w.Close()
		dw.wg.Wait()
	})
	return dw.err
}
