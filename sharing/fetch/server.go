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
	"golang.org/x/time/rate"

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

// ProviderStore is what a provider reads: the datasets' records and the
// requests' nonces.
type ProviderStore interface {
	store.DatasetStore
	store.NonceStore
}

// ServerConfig configures NewServer. All fields are required but Log,
// MaxPerPeer and Now.
type ServerConfig struct {
	Host       host.Host
	Store      ProviderStore
	Manifests  Manifests
	Members    Members
	Key        ed25519.PrivateKey // signs receipts
	Org        string
	Authorizer Authorizer
	Log        *zap.Logger
	// MaxPerPeer bounds concurrent fetches from one peer (default 2).
	MaxPerPeer int
	// Budget bounds what each requesting org may ask of this provider.
	Budget Budget
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Budget is a per-org fetch budget: requests a minute, and records decided
// an hour (every record a request selects, or the whole dataset). A request
// beyond it is refused before anything is read, decided or journaled. Zero
// fields take the defaults.
type Budget struct {
	RequestsPerMinute int
	RecordsPerHour    int
}

// Default budget of each requesting org.
const (
	DefaultRequestsPerMinute = 60
	DefaultRecordsPerHour    = 20_000_000
)

// WithDefaults fills in zero fields.
func (b Budget) WithDefaults() Budget {
	if b.RequestsPerMinute <= 0 {
		b.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if b.RecordsPerHour <= 0 {
		b.RecordsPerHour = DefaultRecordsPerHour
	}
	return b
}

// orgBudget is what one org has left.
type orgBudget struct{ requests, records *rate.Limiter }

// Server answers the fetch protocol for this org's datasets.
type Server struct {
	cfg     ServerConfig
	mu      sync.Mutex
	budgets map[string]*orgBudget
	active  map[peer.ID]int
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // running handlers
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
	cfg.Budget = cfg.Budget.WithDefaults()
	s := &Server{cfg: cfg, active: map[peer.ID]int{}, budgets: map[string]*orgBudget{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.purgeNonces()
	s.wg.Go(func() { // nonces go as they expire, not only at a start
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
				s.purgeNonces()
			}
		}
	})
	cfg.Host.SetStreamHandler(ID, s.serve)
	return s
}

// purgeNonces removes the nonces that have outlived their window (Skew
// past their request's).
func (s *Server) purgeNonces() {
	if n, err := s.cfg.Store.PurgeNonces(s.cfg.Now()); err != nil {
		s.cfg.Log.Warn("purging expired fetch nonces", zap.Error(err))
	} else if n > 0 {
		s.cfg.Log.Debug("purged expired fetch nonces", zap.Int("count", n))
	}
}

// budget returns org's budget.
func (s *Server) budget(org string) *orgBudget {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.budgets[org]
	if !ok {
		bu := s.cfg.Budget
		b = &orgBudget{requests: rate.NewLimiter(rate.Limit(float64(bu.RequestsPerMinute)/60), bu.RequestsPerMinute),
			records: rate.NewLimiter(rate.Limit(float64(bu.RecordsPerHour)/3600), bu.RecordsPerHour)}
		s.budgets[org] = b
	}
	return b
}

// spendRequest takes one request from org's budget, or says why not.
func (s *Server) spendRequest(org string) error {
	if !s.budget(org).requests.AllowN(s.cfg.Now(), 1) {
		return refuse("%w: %s asked more than %d times a minute", ErrBudget, org, s.cfg.Budget.RequestsPerMinute)
	}
	return nil
}

// spendRecords takes n records to decide from org's budget, or says why not.
func (s *Server) spendRecords(org string, n uint64) error {
	if n > uint64(s.cfg.Budget.RecordsPerHour) || !s.budget(org).records.AllowN(s.cfg.Now(), int(n)) {
		return refuse("%w: %d records would take %s past %d records an hour", ErrBudget, n, org, s.cfg.Budget.RecordsPerHour)
	}
	return nil
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
