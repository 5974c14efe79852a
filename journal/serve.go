package journal

import (
	"errors"
	"io/fs"
	"net/http"
	"strings"

	"github.com/transparency-dev/tessera/api/layout"
)

// ServeSource answers a C2SP tlog-tiles GET of path (checkpoint,
// tile/L/N[.p/W] or tile/entries/N[.p/W], relative to the log's root) from
// src, wherever the log is stored. Anything else is not found.
func ServeSource(w http.ResponseWriter, r *http.Request, src Source, path string) {
	data, err := readPath(r, src, path)
	switch {
	case errors.Is(err, errBadPath), errors.Is(err, fs.ErrNotExist):
		http.NotFound(w, r)
		return
	case err != nil:
		http.Error(w, "reading the log failed", http.StatusInternalServerError)
		return
	}
	if path == "checkpoint" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "max-age=31536000, immutable")
	}
	_, _ = w.Write(data)
}

var errBadPath = errors.New("not a tlog-tiles path")

func readPath(r *http.Request, src Source, path string) ([]byte, error) {
	ctx := r.Context()
	if path == "checkpoint" {
		return src.ReadCheckpoint(ctx)
	}
	rest, ok := strings.CutPrefix(path, "tile/")
	if !ok {
		return nil, errBadPath
	}
	if index, ok := strings.CutPrefix(rest, "entries/"); ok {
		i, p, err := layout.ParseTileIndexPartial(index)
		if err != nil {
			return nil, errBadPath
		}
		return src.ReadEntryBundle(ctx, i, p)
	}
	level, index, ok := strings.Cut(rest, "/")
	if !ok {
		return nil, errBadPath
	}
	l, i, p, err := layout.ParseTileLevelIndexPartial(level, index)
	if err != nil {
		return nil, errBadPath
	}
	return src.ReadTile(ctx, l, i, p)
}
