package p2p

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/zap"
)

// Backoff bounds the delay between redials of a peer. The zero value takes
// DefaultBackoffMin and DefaultBackoffMax.
type Backoff struct {
	Min, Max time.Duration
}

// Defaults for the zero Backoff.
const (
	DefaultBackoffMin = 500 * time.Millisecond
	DefaultBackoffMax = 30 * time.Second
	dialTimeout       = 10 * time.Second
	recheckInterval   = 5 * time.Second
)

// Keeper keeps a host connected to a set of peers: it dials each one, and
// redials with exponential backoff (with jitter) whenever the connection is
// lost. Each peer has one goroutine, owned by the Keeper.
type Keeper struct {
	h       host.Host
	log     *zap.Logger
	backoff Backoff
	sub     event.Subscription

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	peers map[peer.ID]*keptPeer
}

type keptPeer struct {
	cancel context.CancelFunc
	kick   chan struct{} // connectedness changed
}

// NewKeeper starts a Keeper with no peers; give it some with SetPeers.
func NewKeeper(h host.Host, log *zap.Logger, b Backoff) (*Keeper, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if b.Min <= 0 {
		b.Min = DefaultBackoffMin
	}
	if b.Max < b.Min {
		b.Max = max(DefaultBackoffMax, b.Min)
	}
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &Keeper{h: h, log: log, backoff: b, sub: sub, ctx: ctx, cancel: cancel, peers: map[peer.ID]*keptPeer{}}
	k.wg.Add(1)
	go k.watch()
	return k, nil
}

// SetPeers replaces the set of peers to keep connected, with the addresses
// to dial each one at. Peers no longer in the set are no longer redialed;
// their connections are left to the caller (see Gater).
func (k *Keeper) SetPeers(peers map[peer.ID][]ma.Multiaddr) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ctx.Err() != nil {
		return
	}
	for p, kp := range k.peers {
		if _, ok := peers[p]; !ok {
			kp.cancel()
			delete(k.peers, p)
			k.h.Peerstore().ClearAddrs(p)
		}
	}
	for p, addrs := range peers {
		if p == k.h.ID() {
			continue
		}
		k.h.Peerstore().SetAddrs(p, addrs, peerstore.PermanentAddrTTL)
		if _, ok := k.peers[p]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(k.ctx)
		kp := &keptPeer{cancel: cancel, kick: make(chan struct{}, 1)}
		k.peers[p] = kp
		k.wg.Add(1)
		go k.keep(ctx, p, kp)
	}
}

// Close stops all redialing and waits for the Keeper's goroutines. It does
// not close connections. It may be called more than once.
func (k *Keeper) Close() error {
	k.mu.Lock()
	k.cancel()
	k.mu.Unlock()
	err := k.sub.Close()
	k.wg.Wait()
	return err
}

// watch forwards connectedness changes to the peer's goroutine.
func (k *Keeper) watch() {
	defer k.wg.Done()
	for {
		select {
		case <-k.ctx.Done():
			return
		case e, ok := <-k.sub.Out():
			if !ok {
				return
			}
			ev := e.(event.EvtPeerConnectednessChanged)
			k.mu.Lock()
			kp := k.peers[ev.Peer]
			k.mu.Unlock()
			if kp != nil {
				select {
				case kp.kick <- struct{}{}:
				default:
				}
			}
		}
	}
}

// keep dials p until ctx ends.
func (k *Keeper) keep(ctx context.Context, p peer.ID, kp *keptPeer) {
	defer k.wg.Done()
	log := k.log.With(zap.Stringer("peer", p))
	backoff := k.backoff.Min
	wasConnected := false
	for {
		if k.h.Network().Connectedness(p) == network.Connected {
			if !wasConnected {
				log.Info("member connected")
			}
			wasConnected = true
			backoff = k.backoff.Min
			if !sleep(ctx, recheckInterval, kp.kick) {
				return
			}
			continue
		}
		if wasConnected {
			log.Info("member disconnected; redialing")
			wasConnected = false
		}
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		err := k.h.Connect(dctx, peer.AddrInfo{ID: p, Addrs: k.h.Peerstore().Addrs(p)})
		cancel()
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		wait := jitter(backoff)
		log.Debug("dial failed", zap.Error(err), zap.Duration("retry_in", wait))
		backoff = min(2*backoff, k.backoff.Max)
		if !sleep(ctx, wait, kp.kick) {
			return
		}
	}
}

// sleep waits for d, a kick or the end of ctx; it returns false if ctx ended.
func sleep(ctx context.Context, d time.Duration, kick <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-kick:
	}
	return true
}

// jitter returns a duration uniformly spread over [d/2, d].
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// ConnectedPeer returns the first of peers (one org's nodes, say) that h
// is connected to.
func ConnectedPeer(h host.Host, peers []peer.ID) (peer.ID, bool) {
	if c := ConnectedPeers(h, peers); len(c) > 0 {
		return c[0], true
	}
	return "", false
}

// ConnectedPeers returns the peers of peers that are connected, in order.
func ConnectedPeers(h host.Host, peers []peer.ID) []peer.ID {
	var out []peer.ID
	for _, p := range peers {
		if h.Network().Connectedness(p) == network.Connected {
			out = append(out, p)
		}
	}
	return out
}
