package devnet

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// HoldIdleConnections is the hostile scenario's outsider (attack
// 1): from 127.0.0.2, it holds perAddr TCP connections to each address
// that never start a handshake, opening another whenever one is closed,
// until ctx ends. It returns how many it opened. The scenario runs it in a
// process of its own ('caravan devnet outsider'), as the gateways are: in
// the devnet process its dial loop shared the scheduler with the
// scenario's own measurements.
func HoldIdleConnections(ctx context.Context, addrs []string, perAddr int) int64 {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: time.Second}
	var opened atomic.Int64
	var wg sync.WaitGroup
	for _, addr := range addrs {
		for range perAddr {
			wg.Go(func() {
				for ctx.Err() == nil {
					c, err := d.DialContext(ctx, "tcp", addr)
					if err != nil {
						sleepCtx(ctx, 100*time.Millisecond)
						continue
					}
					opened.Add(1)
					stop := context.AfterFunc(ctx, func() { c.Close() })
					_, _ = c.Read(make([]byte, 1))
					stop()
					c.Close()
				}
			})
		}
	}
	wg.Wait()
	return opened.Load()
}
