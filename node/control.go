package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
)

// maxUnixPath is the longest socket path Linux accepts (sun_path less NUL).
const maxUnixPath = 107

// controlServer serves the control endpoint on DIR/control.sock.
type controlServer struct {
	path string
	srv  *http.Server
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

func controlPath(dir string) (string, error) {
	abs, err := filepath.Abs(filepath.Join(dir, ControlFile))
	if err != nil {
		return "", err
	}
	if len(abs) > maxUnixPath {
		return "", fmt.Errorf("control socket path %s is %d bytes; Unix sockets allow at most %d: use a data directory with a shorter path", abs, len(abs), maxUnixPath)
	}
	return abs, nil
}

func startControl(n *Node) (*controlServer, error) {
	path, err := controlPath(n.dir)
	if err != nil {
		return nil, err
	}
	// The data-directory lock is held, so a socket left here is stale (the
	// previous gateway was killed).
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
	log := n.log.Named("control")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Status())
	})
	mux.HandleFunc("POST /v1/roster/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := n.ReloadRoster(); err != nil {
			writeJSON(w, http.StatusConflict, apiError{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, n.Status())
	})
	n.registerSharing(mux)
	n.registerPolicy(mux)
	n.registerFetch(mux)
	// Profiling, for operators: reachable only through the 0600 socket.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/heap", pprof.Index)
	cs := &controlServer{path: path, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          zap.NewStdLog(log),
	}}
	cs.wg.Add(1)
	go func() {
		defer cs.wg.Done()
		if err := cs.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("control endpoint stopped", zap.Error(err))
		}
	}()
	return cs, nil
}

func (cs *controlServer) close(ctx context.Context) error {
	cs.once.Do(func() {
		cs.err = cs.srv.Shutdown(ctx)
		cs.wg.Wait()
		if err := os.Remove(cs.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			cs.err = errors.Join(cs.err, err)
		}
	})
	return cs.err
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
