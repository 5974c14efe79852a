package p2p

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A peer that sends more than its rate is read at its rate: 1 MiB at 1
// MiB/s with a burst of 64 KiB takes at least 0.9 s to be read.
func TestThrottledHostReadsEachPeerAtItsRate(t *testing.T) {
	newHost := func() *throttledHost {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		th := throttleInbound(h, 1<<20, 64<<10).(throttledHost)
		return &th
	}
	sender, receiver := newHost(), newHost()
	got := make(chan int64, 1)
	receiver.SetStreamHandler("/test/flood", func(s network.Stream) {
		n, _ := io.Copy(io.Discard, s)
		got <- n
	})
	ctx := context.Background()
	if err := sender.Connect(ctx, peer.AddrInfo{ID: receiver.ID(), Addrs: receiver.Addrs()}); err != nil {
		t.Fatal(err)
	}
	s, err := sender.NewStream(ctx, receiver.ID(), "/test/flood")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	s.CloseWrite()
	if n := <-got; n != 1<<20 {
		t.Fatalf("read %d bytes, want %d", n, 1<<20)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("1 MiB was read in %v; at 1 MiB/s after a burst of 64 KiB it takes at least 0.9 s", d)
	}
}
