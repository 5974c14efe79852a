package fetch

import (
	"bufio"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/caravan-consortium/caravan/p2p"
)

// frameReader reads a response's frames on a goroutine of its own, a few
// ahead of the one that verifies and stages them: read in turn, the
// transport stood still while a chunk was verified and written, and a
// 64 KiB-record fetch went at the sum of the two times, about half the
// stream's speed.
type frameReader struct {
	str    network.Stream
	last   atomic.Int64 // when the last frame was read (Unix nanoseconds)
	frames chan frameRead
	free   framePool
	quit   chan struct{}
	done   chan struct{}
}

type frameRead struct {
	b   []byte
	err error
}

func readFrames(str network.Stream, r *bufio.Reader) *frameReader {
	fr := &frameReader{str: str, frames: make(chan frameRead, 2), free: make(framePool, 4),
		quit: make(chan struct{}), done: make(chan struct{})}
	fr.last.Store(time.Now().UnixNano())
	go func() {
		defer close(fr.done)
		for {
			buf := fr.free.get(0)
			// A provider that stalls cannot hang the requester: each frame
			// has a deadline.
			_ = str.SetReadDeadline(time.Now().Add(60 * time.Second))
			b, err := p2p.ReadFrameInto(r, buf, MaxFrame)
			fr.last.Store(time.Now().UnixNano())
			select {
			case fr.frames <- frameRead{b, err}:
			case <-fr.quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return fr
}

// next returns the next frame; it is the caller's until recycled.
func (fr *frameReader) next() ([]byte, error) {
	f := <-fr.frames // the reader sends until it has sent an error
	return f.b, f.err
}

// recycle gives a frame's memory back for a later frame.
func (fr *frameReader) recycle(b []byte) { fr.free.put(b) }

// stop ends the reading goroutine (interrupting a read in progress) and
// waits for it.
func (fr *frameReader) stop() {
	close(fr.quit)
	_ = fr.str.CloseRead()
	<-fr.done
}
