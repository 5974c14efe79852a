package jcs_test

import (
	"bufio"
	"bytes"
	"os"
	"testing"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// benchRecords reads the committed sample records (customs declarations of
// about 1 KiB, as publish benchmarks use).
func benchRecords(b *testing.B) [][]byte {
	data, err := os.ReadFile("testdata/records.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	var recs [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		recs = append(recs, bytes.Clone(sc.Bytes()))
	}
	return recs
}

// BenchmarkParse measures the hot path of publishing: parse a record into a
// Value and write its canonical form.
func BenchmarkParse(b *testing.B) {
	recs := benchRecords(b)
	var size int
	for _, r := range recs {
		size += len(r)
	}
	var p jcs.Parser
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(size / len(recs)))
		i := 0
		for b.Loop() {
			if _, err := p.Parse(recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parse+canonical", func(b *testing.B) {
		b.SetBytes(int64(size / len(recs)))
		var out []byte
		i := 0
		for b.Loop() {
			v, err := p.Parse(recs[i%len(recs)])
			if err != nil {
				b.Fatal(err)
			}
			if out, err = v.AppendCanonical(out[:0]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
