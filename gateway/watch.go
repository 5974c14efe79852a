package gateway

import (
	"path/filepath"

	"github.com/caravan-consortium/caravan/internal/dirwatch"
	"go.uber.org/zap"
)

// watchRoster reloads the roster when its file changes.
func watchRoster(rs *rosterState) (*dirwatch.Watcher, error) {
	path := filepath.Clean(rs.file)
	log := rs.log
	return dirwatch.Watch(filepath.Dir(path), log, func(p string) bool { return p == path }, func() {
		log.Info("roster file changed; reloading", zap.String("file", path))
		_ = rs.Reload() // logged there
	})
}
