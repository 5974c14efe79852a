package fetch

import (
	"iter"
	"math/bits"
)

// bitmap is a set of record indices, one bit each: the records a decision
// permitted.
type bitmap []uint64

func newBitmap(n uint64) bitmap { return make(bitmap, (n+63)/64) }

func (b bitmap) set(i uint64) { b[i/64] |= 1 << (i % 64) }

// each yields the set indices below n, ascending.
func (b bitmap) each(n uint64) iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		for w, word := range b {
			for word != 0 {
				i := uint64(w)*64 + uint64(bits.TrailingZeros64(word))
				if i >= n || !yield(i) {
					return
				}
				word &= word - 1
			}
		}
	}
}
