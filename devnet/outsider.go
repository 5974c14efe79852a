package devnet

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/caravan-consortium/caravan/p2p"
)

// probeOutsider dials every gateway from hosts whose keys are not in the
// roster, once over each of the gateway's addresses (a fresh host for each
// transport, so that no dial backoff hides an attempt). It returns the number
// of attempts made per gateway, and an error if any attempt could open a
// stream.
func probeOutsider(ctx context.Context, nt *Net) (int, error) {
	transports := []struct {
		name, listen string
		pick         func(ma.Multiaddr) bool
	}{
		{"tcp", "/ip4/127.0.0.1/tcp/0", func(a ma.Multiaddr) bool { return !p2p.IsQUIC(a) }},
		{"quic", "/ip4/127.0.0.1/udp/0/quic-v1", p2p.IsQUIC},
	}
	for _, tr := range transports {
		if err := probeWith(ctx, nt, tr.listen, tr.pick); err != nil {
			return 0, fmt.Errorf("over %s: %w", tr.name, err)
		}
	}
	return len(transports), nil
}

func probeWith(ctx context.Context, nt *Net, listen string, pick func(ma.Multiaddr) bool) error {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return err
	}
	var targets []peer.ID
	for _, o := range nt.Orgs {
		p, err := peer.Decode(o.PeerID)
		if err != nil {
			return err
		}
		targets = append(targets, p)
	}
	// The outsider's own gater lets it dial the gateways: the refusal must
	// come from them.
	h, err := p2p.NewHost(p2p.HostConfig{
		Key:    key,
		Listen: []ma.Multiaddr{ma.StringCast(listen)},
		Gater:  p2p.NewGater(nil, targets),
	})
	if err != nil {
		return err
	}
	defer h.Close()
	for i, o := range nt.Orgs {
		var addrs []ma.Multiaddr
		for _, s := range o.Nodes[0].Addrs {
			if a := ma.StringCast(s); pick(a) {
				addrs = append(addrs, a)
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := h.Connect(cctx, peer.AddrInfo{ID: targets[i], Addrs: addrs})
		if err == nil {
			// A QUIC client may finish its handshake before the server's
			// gater closes the connection: opening a stream must fail.
			var s network.Stream
			s, err = h.NewStream(cctx, targets[i], ping.ID)
			if err == nil {
				s.Reset()
			}
		}
		cancel()
		if err == nil {
			return fmt.Errorf("outsider %s opened a stream to %s", h.ID(), o.Org)
		}
	}
	return nil
}
