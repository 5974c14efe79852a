// Package sample generates deterministic, realistic records for the
// embedded dataset schemas, for demos, tests and benchmarks. Record i of a
// given seed depends only on (seed, i), so any record can be regenerated on
// its own. The data is synthetic: names, numbers and companies are made up.
package sample

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
)

// generator makes record i from r.
type generator func(r *rand.Rand, i int) any

var generators = map[string]generator{
	"customs-declaration":      customsDeclaration,
	"certificate-of-origin":    certificateOfOrigin,
	"shipment-event":           shipmentEvent,
	"company-registry-extract": companyExtract,
}

// Schemas lists the schema ids that have a generator.
func Schemas() []string {
	var ids []string
	for id := range generators {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Record returns record i of seed for the schema id (a name, or NAME@VERSION).
func Record(schemaID string, seed uint64, i int) (any, error) {
	name, _, _ := strings.Cut(schemaID, "@")
	g, ok := generators[name]
	if !ok {
		return nil, fmt.Errorf("no sample generator for schema %q (have: %s)", schemaID, strings.Join(Schemas(), ", "))
	}
	return g(rand.New(rand.NewPCG(seed, uint64(i))), i), nil
}

// Write writes count records as JSONL. progress, if not nil, is called with
// the number of records written so far, every 4096 records and at the end.
func Write(w io.Writer, schemaID string, count int, seed uint64, progress func(int)) error {
	if _, err := Record(schemaID, seed, 0); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range count {
		rec, _ := Record(schemaID, seed, i)
		if err := enc.Encode(rec); err != nil {
			return err
		}
		if progress != nil && (i+1)%4096 == 0 {
			progress(i + 1)
		}
	}
	if progress != nil {
		progress(count)
	}
	return bw.Flush()
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func letters(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + r.IntN(26))
	}
	return string(b)
}

// round2 rounds to cents.
func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
