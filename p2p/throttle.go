package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/time/rate"
)

// Gossip's inbound byte rate per peer: what GossipSub reads from one
// peer's streams, all topics together. A statement is a few KiB, so this
// is hundreds of statements a second from each peer, with bursts of
// thousands; catching up a large catalog uses its own protocol.
const (
	GossipBytesPerSecond = 1 << 20
	GossipBytesBurst     = 4 << 20
)

// maxThrottledRead caps one read of a throttled stream, so that no read
// waits more than maxThrottledRead/GossipBytesPerSecond (64 ms) for its
// tokens.
const maxThrottledRead = 64 << 10

// throttledHost gives the protocol handlers set through it streams that
// read at most perSecond bytes a second from each peer (all its streams
// together). A peer beyond the rate is not dropped: its streams are read
// more slowly, and the transport's flow control makes it send more slowly.
//
// GossipSub reads every peer's stream into one queue that all peers share
// and validates each message after hashing it. A member flooding 60 KiB
// statements, each of them over its message rate and ignored, sent each
// victim 36 MB/s: the victims spent a third of a core each receiving it,
// and honest members' messages waited behind it in the queue (the hostile
// scenario's gossip p99 went from 6 ms to 50 ms).
type throttledHost struct {
	host.Host
	rates *byteRates
}

func throttleInbound(h host.Host, perSecond, burst int) host.Host {
	return throttledHost{Host: h, rates: &byteRates{perSecond: perSecond, burst: burst}}
}

func (h throttledHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, h.wrap(handler))
}

func (h throttledHost) SetStreamHandlerMatch(pid protocol.ID, m func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, m, h.wrap(handler))
}

func (h throttledHost) wrap(handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		handler(&throttledStream{Stream: s, l: h.rates.of(s.Conn().RemotePeer())})
	}
}

// throttledStream waits, after each read, until its peer's rate allows the
// bytes read; the next read comes only then.
type throttledStream struct {
	network.Stream
	l *rate.Limiter
}

func (s *throttledStream) Read(p []byte) (int, error) {
	if len(p) > maxThrottledRead {
		p = p[:maxThrottledRead]
	}
	n, err := s.Stream.Read(p)
	if n > 0 {
		if d := s.l.ReserveN(time.Now(), n).Delay(); d > 0 {
			time.Sleep(d)
		}
	}
	return n, err
}

// byteRates holds a token bucket of bytes per peer.
type byteRates struct {
	perSecond, burst int

	mu sync.Mutex
	m  map[peer.ID]*rate.Limiter
}

func (r *byteRates) of(p peer.ID) *rate.Limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[peer.ID]*rate.Limiter{}
	}
	l, ok := r.m[p]
	if !ok {
		if len(r.m) > 4096 { // members only get this far; a bound all the same
			clear(r.m)
		}
		l = rate.NewLimiter(rate.Limit(r.perSecond), max(r.burst, maxThrottledRead))
		r.m[p] = l
	}
	return l
}
