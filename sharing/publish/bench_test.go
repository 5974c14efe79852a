package publish_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/caravan-consortium/caravan/internal/testkit"

	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/publish"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// BenchmarkBuild measures the publish pipeline (parse, validate against the
// schema, canonicalize, CID, record tree) on ~1 KiB customs declarations.
func BenchmarkBuild(b *testing.B) {
	const n = 20000
	data := testkit.JSONL(b, "customs-declaration", n, 1)
	for _, validate := range []bool{false, true} {
		name := "hash-only"
		if validate {
			name = "validate+hash"
		}
		b.Run(name, func(b *testing.B) {
			opts := publish.BuildOptions{}
			if validate {
				opts.Schema = testkit.Schema(b, "customs-declaration")
			}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
				res, err := publish.Build(context.Background(), publish.JSONLines(bytes.NewReader(data)), opts, func([]publish.Record) error { return nil })
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
	data := testkit.JSONL(b, "customs-declaration", n, 1)
	s := testkit.Schema(b, "customs-declaration")
	st, err := store.OpenEmbedded(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cat, err := catalog.Open(st)
	if err != nil {
		b.Fatal(err)
	}
	pub := publish.New(publish.Config{Store: st, Catalog: cat, Key: testkit.Key(b), Org: "customs-cn"})
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if _, err := pub.Publish(context.Background(), publish.Request{Dataset: "bench", Schema: s}, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
