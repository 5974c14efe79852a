package manifest_test

import (
	"testing"

	"github.com/caravan-consortium/caravan/internal/testkit"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// BenchmarkReceiveStatement is what every gateway does with each gossiped
// or caught-up manifest before storing it: decode the statement strictly,
// decode its manifest, and check its signature.
func BenchmarkReceiveStatement(b *testing.B) {
	st, err := manifest.SignStatement(testkit.Manifest(), testkit.Key(b))
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
				s, err := manifest.DecodeStatement(wire)
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
