package p2p

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
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
