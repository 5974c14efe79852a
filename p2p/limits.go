package p2p

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/x/rate"
)

// Limits caps what the host's resource manager lets peers use. The zero value
// takes the defaults below, sized for a consortium of up to a few dozen
// members on a small machine.
type Limits struct {
	Conns          int // open connections in all, default 128
	Streams        int // open streams in all, default 2048
	StreamsPerPeer int // open streams per peer, default 256
	MemoryMB       int // memory reserved by streams and connections, default 256
	FDs            int // file descriptors for sockets, default 512
}

// Defaults for the zero Limits.
const (
	DefaultConns          = 128
	DefaultStreams        = 2048
	DefaultStreamsPerPeer = 256
	DefaultMemoryMB       = 256
	DefaultFDs            = 512
)

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.Conns, DefaultConns)
	def(&l.Streams, DefaultStreams)
	def(&l.StreamsPerPeer, DefaultStreamsPerPeer)
	def(&l.MemoryMB, DefaultMemoryMB)
	def(&l.FDs, DefaultFDs)
	return l
}

// Validate rejects negative or inconsistent limits. The error names the field.
func (l Limits) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"conns", l.Conns}, {"streams", l.Streams}, {"streams_per_peer", l.StreamsPerPeer}, {"memory_mb", l.MemoryMB}, {"fds", l.FDs}} {
		if f.v < 0 {
			return fmt.Errorf("%s: %d is negative", f.name, f.v)
		}
	}
	if l.StreamsPerPeer > l.Streams && l.Streams > 0 {
		return fmt.Errorf("streams_per_peer: %d is more than streams (%d)", l.StreamsPerPeer, l.Streams)
	}
	return nil
}

// resourceManager builds libp2p's resource manager with these limits on the
// system scope and per peer; other scopes keep libp2p's scaled defaults.
func (l Limits) resourceManager() (network.ResourceManager, error) {
	l = l.WithDefaults()
	mem := int64(l.MemoryMB) << 20
	partial := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns:   rcmgr.LimitVal(l.Conns),
			Streams: rcmgr.LimitVal(l.Streams),
			FD:      rcmgr.LimitVal(l.FDs),
			Memory:  rcmgr.LimitVal64(mem),
		},
		Transient: rcmgr.ResourceLimits{
			Conns:   rcmgr.LimitVal(max(l.Conns/4, 4)),
			Streams: rcmgr.LimitVal(max(l.Streams/4, 16)),
			FD:      rcmgr.LimitVal(max(l.FDs/4, 4)),
			Memory:  rcmgr.LimitVal64(mem / 4),
		},
		PeerDefault: rcmgr.ResourceLimits{
			Streams: rcmgr.LimitVal(l.StreamsPerPeer),
			Conns:   rcmgr.LimitVal(8),
			Memory:  rcmgr.LimitVal64(mem / 4),
		},
	}
	defaults := rcmgr.DefaultLimits
	concrete := partial.Build(defaults.Scale(mem, l.FDs))
	return rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(concrete), rcmgr.WithConnRateLimiters(connRates()))
}

// connRates is go-libp2p's limit on new connections per IP (0.2 a second,
// bursts of 16, per IPv4 address and IPv6 /56), with only 127.0.0.1 and ::1
// exempt rather than all of 127.0.0.0/8: loopback addresses other than
// the one the gateways of one machine share are an outsider's too.
func connRates() *rate.Limiter {
	return &rate.Limiter{
		NetworkPrefixLimits: []rate.PrefixLimit{
			{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Limit: rate.Limit{}},
			{Prefix: netip.MustParsePrefix("::1/128"), Limit: rate.Limit{}},
		},
		SubnetRateLimiter: rate.SubnetLimiter{
			IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: rate.Limit{RPS: 0.2, Burst: 16}}},
			IPv6SubnetLimits: []rate.SubnetLimit{
				{PrefixLength: 56, Limit: rate.Limit{RPS: 0.2, Burst: 16}},
				{PrefixLength: 48, Limit: rate.Limit{RPS: 0.5, Burst: 80}},
			},
			GracePeriod: time.Minute,
		},
	}
}
