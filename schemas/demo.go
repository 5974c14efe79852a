package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sync"
)

// The demo's dataset schemas: a customs declaration, a certificate of
// origin, a shipment tracking event and a company-registry extract, each
// naming itself with x-caravan-schema. They are registry content, not
// code: devnet registers them with 'caravan schema add' as any agency
// registers its own, and the offline tools ('caravan gen', 'caravan cid
// --schema', 'caravan policy check' with neither --dir nor --schema) fall
// back on them.
//
//go:embed datasets/*.json
var demoFS embed.FS

// Document is a schema document and the file it comes from.
type Document struct {
	File string
	Data []byte
}

// DemoDocuments returns the demo's schema documents, sorted by file name.
func DemoDocuments() []Document {
	entries, _ := fs.ReadDir(demoFS, "datasets")
	var out []Document
	for _, e := range entries {
		data, err := fs.ReadFile(demoFS, path.Join("datasets", e.Name()))
		if err == nil {
			out = append(out, Document{File: e.Name(), Data: data})
		}
	}
	return out
}

var demo = sync.OnceValues(func() (*Registry, error) {
	r := NewRegistry()
	for _, d := range DemoDocuments() {
		s, err := Compile(d.Data)
		if err != nil {
			return nil, fmt.Errorf("schemas/datasets/%s: %w", d.File, err)
		}
		r.Add(s)
	}
	return r, nil
})

// Demo returns a registry of the demo's schemas, as no org registered them
// (their Owner is "").
func Demo() (*Registry, error) { return demo() }
