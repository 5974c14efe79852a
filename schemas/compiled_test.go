package schemas_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

// mutations turn a valid record into likely invalid ones, aimed at each
// keyword the compiled validator implements.
var mutations = []func(r *rand.Rand, rec string) string{
	func(r *rand.Rand, rec string) string { return strings.Replace(rec, `":"`, `":"~`, 1+r.IntN(6)) }, // patterns, enums, formats
	func(r *rand.Rand, rec string) string {
		return strings.Replace(rec, `":"`, `":`+fmt.Sprint(r.IntN(100))+`,"x":"`, 1)
	},
	func(r *rand.Rand, rec string) string { return strings.Replace(rec, `":`, `":-`, 1+r.IntN(8)) }, // negative numbers
	func(r *rand.Rand, rec string) string { return strings.Replace(rec, `{"`, `{"extra":1,"`, 1+r.IntN(3)) },
	func(r *rand.Rand, rec string) string { i := strings.Index(rec[1:], `,"`); return "{" + rec[i+3:] }, // drop the first member
	func(r *rand.Rand, rec string) string {
		return strings.Replace(rec, `[{`, `[`+strings.Repeat(`{},`, r.IntN(3))+`{`, 1)
	},
	func(r *rand.Rand, rec string) string {
		return strings.Replace(rec, `"`, `"`+strings.Repeat("long", 70), 1+r.IntN(20))
	},
	func(r *rand.Rand, rec string) string { return strings.Replace(rec, `T`, `t`, 1) },
	func(r *rand.Rand, rec string) string { return strings.Replace(rec, `:true`, `:"true"`, 1) },
	func(r *rand.Rand, rec string) string { return strings.Replace(rec, `.`, `e`, 1) },
	func(r *rand.Rand, rec string) string { return strings.Replace(rec, `":1`, `":1.0`, 1+r.IntN(4)) },
	func(r *rand.Rand, rec string) string { return strings.Replace(rec, `[`, `[]`+"\x00", 1) },
	func(r *rand.Rand, rec string) string { return rec },
}

// The compiled validator and jsonschema/v6 agree on which records are
// valid, over generated records and targeted mutations of them.
func TestCompiledAgreesWithJSONSchema(t *testing.T) {
	reg, _ := schemas.Demo()
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range reg.All() {
		if !s.Compiled() {
			t.Fatalf("%s is not compiled: the publish hot path falls back", s.Ref())
		}
		var buf bytes.Buffer
		sample.Write(&buf, s.Name, 300, 5, nil)
		agreeValid, agreeInvalid := 0, 0
		for _, rec := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			for range 20 {
				m := rec
				for range 1 + r.IntN(2) {
					m = mutations[r.IntN(len(mutations))](r, m)
				}
				v, err := jcs.ParseValue([]byte(m))
				if err != nil {
					continue
				}
				fast := s.ValidateValue(&v)
				ref := s.Validate(v.Any())
				if (fast == nil) != (ref == nil) {
					t.Fatalf("%s disagree on %s\ncompiled: %v\njsonschema: %v", s.Ref(), m, fast, ref)
				}
				if fast == nil {
					agreeValid++
				} else {
					agreeInvalid++
				}
			}
		}
		t.Logf("%s: agree on %d valid and %d invalid records", s.Ref(), agreeValid, agreeInvalid)
		if agreeInvalid < 1000 || agreeValid < 100 {
			t.Fatalf("too few of each kind to mean anything: %d valid, %d invalid", agreeValid, agreeInvalid)
		}
	}
}

func FuzzCompiledAgrees(f *testing.F) {
	reg, _ := schemas.Demo()
	all := reg.All()
	for i, s := range all {
		var buf bytes.Buffer
		sample.Write(&buf, s.Name, 3, 1, nil)
		for _, rec := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			f.Add(uint8(i), []byte(rec))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		s := all[int(which)%len(all)]
		v, err := jcs.ParseValue(data)
		if err != nil {
			return
		}
		fast := s.ValidateValue(&v)
		ref := s.Validate(v.Any())
		if (fast == nil) != (ref == nil) {
			t.Fatalf("%s disagree on %s\ncompiled: %v\njsonschema: %v", s.Ref(), data, fast, ref)
		}
	})
}
