package sharing_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/caravan-consortium/caravan/sharing"
)

// BenchmarkBuild measures the publish pipeline (parse, validate against the
// schema, canonicalize, CID, record tree) on ~1 KiB customs declarations.
func BenchmarkBuild(b *testing.B) {
	const n = 20000
	data := genJSONL(b, "customs-declaration", n, 1)
	for _, validate := range []bool{false, true} {
		name := "hash-only"
		if validate {
			name = "validate+hash"
		}
		b.Run(name, func(b *testing.B) {
			opts := sharing.BuildOptions{}
			if validate {
				opts.Schema = schema(b, "customs-declaration")
			}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
				res, err := sharing.Build(context.Background(), sharing.JSONLines(bytes.NewReader(data)), opts, func([]sharing.Record) error { return nil })
				if err != nil || res.Records != n {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkPublish measures a whole publish into a Pebble store: the build
// pipeline, staging records, signing and committing.
func BenchmarkPublish(b *testing.B) {
	const n = 20000
	data := genJSONL(b, "customs-declaration", n, 1)
	s := schema(b, "customs-declaration")
	store, err := sharing.OpenStore(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cat, err := sharing.OpenCatalog(store)
	if err != nil {
		b.Fatal(err)
	}
	pub := &sharing.Publisher{Store: store, Catalog: cat, Key: testKey(b), Org: "customs-cn"}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if _, err := pub.Publish(context.Background(), sharing.PublishRequest{Dataset: "bench", Schema: s}, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkCatalogList lists a catalog of 10,000 manifests (the catch-up
// goal's size) across 100 datasets.
func BenchmarkCatalogList(b *testing.B) {
	store, err := sharing.OpenStore(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cat, _ := sharing.OpenCatalog(store)
	key := testKey(b)
	for i := range 10000 {
		m := testManifest()
		m.Dataset = fmt.Sprintf("ds-%d", i%100)
		m.Version = uint64(i/100 + 1)
		if m.Version > 1 {
			m.Previous = m.Schema.CID
		}
		st, _ := sharing.SignStatement(m, key)
		if err := cat.Add(st); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if n := len(cat.List(sharing.Filter{})); n != 100 {
			b.Fatalf("%d heads", n)
		}
		cat.Summary()
	}
}

// BenchmarkReceiveStatement is what every gateway does with each gossiped
// or caught-up manifest before storing it: decode the statement strictly,
// decode its manifest, and check its signature.
func BenchmarkReceiveStatement(b *testing.B) {
	st, err := sharing.SignStatement(testManifest(), testKey(b))
	if err != nil {
		b.Fatal(err)
	}
	wire := st.Marshal()
	for _, verify := range []bool{false, true} {
		name := "decode"
		if verify {
			name = "decode+verify"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				s, err := sharing.DecodeStatement(wire)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Manifest(); err != nil {
					b.Fatal(err)
				}
				if verify {
					if err := s.Verify(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
