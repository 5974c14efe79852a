package fetch

// framePool recycles frame buffers between two goroutines: the provider's
// encoder and writer, the requester's reader and verifier. A fetch
// otherwise allocated its records about three times over, and the
// collector's work showed.
type framePool chan []byte

func (p framePool) get(n int) []byte {
	select {
	case b := <-p:
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, n)
}

func (p framePool) put(b []byte) {
	select {
	case p <- b:
	default:
	}
}
