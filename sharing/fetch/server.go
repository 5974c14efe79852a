package fetch

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/p2p"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// Manifests finds a statement of the catalog by CID; *catalog.Catalog
// implements it.
type Manifests interface {
	Statement(cid.Cid) (*manifest.Statement, bool)
	// Standing says whether a later version of the manifest's dataset
	// exists, and whether its owner withdrew it (a retraction).
	Standing(cid.Cid) (superseded, retracted bool)
}

// Members says which org a node speaks for, from the roster in force.
type Members interface {
	OrgOf(peer.ID) (org string, ok bool)
}

// ServerConfig configures NewServer. All fields are required but Log,
// MaxPerPeer and Now.
type ServerConfig struct {
	Host       host.Host
	Store      *store.Store
	Manifests  Manifests
	Members    Members
	Key        ed25519.PrivateKey // signs receipts
	Org        string
	Authorizer Authorizer
	Log        *zap.Logger
	// MaxPerPeer bounds concurrent fetches from one peer (default 2).
	MaxPerPeer int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server answers the fetch protocol for this org's datasets.
type Server struct {
	cfg    ServerConfig
	mu     sync.Mutex
	active map[peer.ID]int
	closed bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // running handlers
}

// Memory bounds of a response.
const (
	writeBuffer   = 256 << 10
	maxChunkBytes = 1 << 20 // record bytes per chunk
	// What a response holds at once: the write buffer and one chunk.
	responseMemory = writeBuffer + maxChunkBytes + 64<<10
	answerDeadline = 30 * time.Minute
)

// NewServer registers the protocol's handler on cfg.Host.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.MaxPerPeer <= 0 {
		cfg.MaxPerPeer = 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, active: map[peer.ID]int{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// Nonces outlive their window by Skew; older ones can go.
	if n, err := cfg.Store.PurgeNonces(cfg.Now()); err != nil {
		cfg.Log.Warn("purging expired fetch nonces", zap.Error(err))
	} else if n > 0 {
		cfg.Log.Debug("purged expired fetch nonces", zap.Int("count", n))
	}
	cfg.Host.SetStreamHandler(ID, s.serve)
	return s
}

// Close removes the handler, resets the streams being answered and waits
// for their handlers to return, so that the store can close after it. It
// may be called more than once.
func (s *Server) Close() {
	s.cfg.Host.RemoveStreamHandler(ID)
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// enter registers a running handler, unless the server is closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Server) acquire(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active[p] >= s.cfg.MaxPerPeer {
		return false
	}
	s.active[p]++
	return true
}

func (s *Server) release(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active[p]--; s.active[p] <= 0 {
		delete(s.active, p)
	}
}

func (s *Server) serve(str network.Stream) {
	if !s.enter() {
		str.Reset()
		return
	}
	defer s.wg.Done()
	remote := str.Conn().RemotePeer()
	log := s.cfg.Log.With(zap.Stringer("peer", remote))
	if !s.acquire(remote) {
		writeError(str, ErrBusy)
		str.Close()
		return
	}
	defer s.release(remote)
	if err := str.Scope().ReserveMemory(responseMemory, network.ReservationPriorityLow); err != nil {
		writeError(str, fmt.Errorf("resources: %w", err))
		str.Close()
		return
	}
	defer str.Scope().ReleaseMemory(responseMemory)
	ctx, cancel := context.WithTimeout(s.ctx, answerDeadline)
	defer cancel()
	// Closing the server (or the deadline) resets the stream, which ends
	// the answer at its next read or write.
	stop := context.AfterFunc(ctx, func() { str.Reset() })
	defer stop()
	err := s.answer(ctx, str)
	var refusal *refusalError
	switch {
	case err == nil:
		str.Close()
	case errors.As(err, &refusal):
		log.Info("fetch refused", zap.Error(err))
		writeError(str, err)
		str.Close()
	default:
		log.Warn("fetch failed", zap.Error(err))
		str.Reset()
	}
}

// refusalError is a refusal the requester is told about.
type refusalError struct{ err error }

func (r *refusalError) Error() string { return r.err.Error() }
func (r *refusalError) Unwrap() error { return r.err }

func refuse(format string, args ...any) error { return &refusalError{fmt.Errorf(format, args...)} }

func writeError(str network.Stream, err error) {
	_ = str.SetWriteDeadline(time.Now().Add(5 * time.Second))
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	_ = p2p.WriteFrame(str, append([]byte{frameError}, b...))
}
