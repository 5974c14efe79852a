package fetch_test

import (
	"bytes"
	"testing"

	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
)

// BenchmarkValidateFetched is what a requester spends per fetched record of
// about 1 KiB (as BenchmarkFetch's) to check it against the dataset's
// schema: the full check (parse, encode again to compare with the canonical
// form, validate the parsed value) next to the one pass over the canonical
// text that a fetch uses (schemas.Schema.ValidateCanonical).
func BenchmarkValidateFetched(b *testing.B) {
	reg, err := schemas.Demo()
	if err != nil {
		b.Fatal(err)
	}
	s, err := reg.Lookup("customs-declaration")
	if err != nil {
		b.Fatal(err)
	}
	var recs [][]byte
	size := 0
	for i := range 200 {
		c, err := jcs.Canonicalize(bigDeclaration(b, i, 1024))
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, c)
		size += len(c)
	}
	var p jcs.Parser
	var buf []byte
	b.Run("full-check", func(b *testing.B) {
		b.SetBytes(int64(size / len(recs)))
		for i := range b.N {
			rec := recs[i%len(recs)]
			v, err := p.Parse(rec)
			if err == nil {
				buf, err = v.AppendCanonical(buf[:0])
			}
			if err != nil || !bytes.Equal(buf, rec) || s.ValidateValue(&v) != nil {
				b.Fatal("a valid record refused")
			}
		}
	})
	b.Run("one-pass", func(b *testing.B) {
		b.SetBytes(int64(size / len(recs)))
		for i := range b.N {
			if buf, err = s.ValidateCanonical(recs[i%len(recs)], &p, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
