package fetch

import (
	"errors"
	"sync"
)

// pipeline runs produce on a goroutine of its own and hands what it sends
// to consume on this one, in order, through a channel of depth items. Once
// consume fails, send fails too and the rest is dropped. It returns
// consume's error, or else produce's.
func pipeline[T any](depth int, produce func(send func(T) error) error, consume func(T) error) error {
	return startPipe(depth, produce).drain(consume)
}

// pipe is a pipeline whose producer runs ahead before anything consumes.
type pipe[T any] struct {
	items    chan T
	stop     chan struct{}
	stopOnce sync.Once
	produced chan error
	drained  bool
}

// startPipe starts produce on a goroutine of its own; what it sends waits
// in a channel of depth items for drain.
func startPipe[T any](depth int, produce func(send func(T) error) error) *pipe[T] {
	p := &pipe[T]{items: make(chan T, depth), stop: make(chan struct{}), produced: make(chan error, 1)}
	go func() {
		defer close(p.items)
		p.produced <- produce(func(x T) error {
			select {
			case <-p.stop: // before all else: drain may still be taking items
				return errStopped
			default:
			}
			select {
			case p.items <- x:
				return nil
			case <-p.stop:
				return errStopped
			}
		})
	}()
	return p
}

// drain hands the items to consume, in order; see pipeline. It may be
// called once.
func (p *pipe[T]) drain(consume func(T) error) error {
	p.drained = true
	var err error
	for x := range p.items {
		if err == nil {
			if err = consume(x); err != nil {
				p.halt()
			}
		}
	}
	if perr := <-p.produced; err == nil {
		err = perr
	}
	return err
}

// cancel stops a pipe that was not drained and waits for its producer.
func (p *pipe[T]) cancel() {
	if p.drained {
		return
	}
	p.halt()
	_ = p.drain(func(T) error { return nil })
}

func (p *pipe[T]) halt() { p.stopOnce.Do(func() { close(p.stop) }) }

var errStopped = errors.New("stopped")
