package fetch

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// A node that dies mid-response (kill -9, a machine lost) sends nothing
// more. Over TCP the kernel resets the connection at once; over QUIC
// nothing tells the requester, and its read would wait for the
// connection's idle timeout (30 s). So while a response is silent, the
// requester pings the node: a node that does not answer is taken for lost
// and its connection closed, which ends the read with an error and lets
// the fetch resume through another node of the org (failover.go). The
// ping's timeout follows the round trip libp2p measured to the node (ten
// of them, within pingTimeoutMin and pingTimeoutMax): on a LAN the loss is
// known about 1.1 s after the node's last frame (silence, a tick, the
// ping's timeout), over a long link in up to 2.1 s. A node that is only
// slow (deciding a large request before its first frame) answers the
// ping; a false loss would cost a resume, not the fetch.
const (
	silentBefore   = 500 * time.Millisecond // silence that starts a ping
	pingTimeoutMin = 500 * time.Millisecond
	pingTimeoutMax = 1500 * time.Millisecond
	watchEvery     = 100 * time.Millisecond
)

// pingTimeout is how long a ping of p may take: ten round trips as libp2p
// measured them, within [pingTimeoutMin, pingTimeoutMax].
func pingTimeout(h host.Host, p peer.ID) time.Duration {
	return min(max(10*h.Peerstore().LatencyEWMA(p), pingTimeoutMin), pingTimeoutMax)
}

// watchNode pings p while fr is silent, until stop is called; a ping that
// fails closes the connections to p.
func watchNode(h host.Host, p peer.ID, fr *frameReader) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		t := time.NewTicker(watchEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if time.Since(time.Unix(0, fr.last.Load())) < silentBefore {
				continue
			}
			pctx, pcancel := context.WithTimeout(ctx, pingTimeout(h, p))
			// The channel closes without a result when the ping times out.
			res, answered := <-ping.Ping(pctx, h, p)
			pcancel()
			if ctx.Err() != nil {
				return
			}
			if !answered || res.Error != nil {
				_ = h.Network().ClosePeer(p) // the read fails: the node is lost
				return
			}
		}
	}()
	return cancel
}
