package p2p

import (
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/core/transport"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/fx"
)

// UserAgent is announced by identify.
const UserAgent = "caravan/0.1"

// ErrQUICWithPSK is returned when a private network key is combined with a
// QUIC listen address: libp2p private networks are TCP-only.
var ErrQUICWithPSK = errors.New("QUIC cannot be used with a private network key (libp2p private networks are TCP-only)")

// HostConfig configures NewHost. Key and Gater are required.
type HostConfig struct {
	Key    crypto.PrivKey
	Listen []ma.Multiaddr
	PSK    pnet.PSK // optional consortium-wide key; TCP only
	Limits Limits
	Gater  *Gater
}

// NewHost starts a libp2p host with TCP and QUIC (TCP alone with a PSK),
// TLS then Noise, yamux, the gater and a resource manager with cfg.Limits.
func NewHost(cfg HostConfig) (host.Host, error) {
	if cfg.Key == nil || cfg.Gater == nil {
		return nil, errors.New("p2p: HostConfig needs Key and Gater")
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("p2p limits: %w", err)
	}
	rm, err := cfg.Limits.resourceManager()
	if err != nil {
		return nil, fmt.Errorf("p2p resource manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Key),
		libp2p.ListenAddrs(cfg.Listen...),
		libp2p.Security(tls.ID, tls.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ConnectionGater(cfg.Gater),
		libp2p.ResourceManager(rm),
		libp2p.UserAgent(UserAgent),
		libp2p.DisableRelay(),
		libp2p.WithFxOption(shortHandshakes),
	}
	if cfg.PSK != nil {
		for _, a := range cfg.Listen {
			if IsQUIC(a) {
				rm.Close()
				return nil, fmt.Errorf("listen %s: %w", a, ErrQUICWithPSK)
			}
		}
		opts = append(opts, libp2p.PrivateNetwork(cfg.PSK))
	} else {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		rm.Close()
		return nil, err
	}
	return h, nil
}

// IsQUIC reports whether a is a QUIC address.
func IsQUIC(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_QUIC_V1)
	return err == nil
}

// HandshakeTimeout bounds how long an inbound connection may take to
// authenticate (security and muxer negotiation). Until it has, it holds one
// of the few slots for connections not yet authenticated (the resource
// manager's transient scope): go-libp2p's default, 15 s, let a handful of
// idle TCP connections keep those slots full.
const HandshakeTimeout = 5 * time.Second

// shortHandshakes builds go-libp2p's upgrader as it does, with the accept
// timeout set to HandshakeTimeout (libp2p.New has no option for it).
var shortHandshakes = fx.Decorate(fx.Annotate(
	func(_ transport.Upgrader, security []sec.SecureTransport, muxers []tptu.StreamMuxer, psk pnet.PSK,
		rm network.ResourceManager, gater connmgr.ConnectionGater) (transport.Upgrader, error) {
		return tptu.New(security, muxers, psk, rm, gater, tptu.WithAcceptTimeout(HandshakeTimeout))
	},
	fx.ParamTags(``, `name:"security"`),
))
