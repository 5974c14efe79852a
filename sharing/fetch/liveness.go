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
// the fetch resume through another node of the org (failover.go): within
// about 3 s of the node's death (silence, the ping's timeout and a tick).
const (
	silentBefore = time.Second             // silence that starts a ping
	pingTimeout  = 1500 * time.Millisecond // a ping's time to answer
	watchEvery   = 250 * time.Millisecond
)

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
			pctx, pcancel := context.WithTimeout(ctx, pingTimeout)
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
