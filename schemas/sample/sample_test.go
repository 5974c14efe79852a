package sample_test

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

// Every generated record validates against its schema, and the same seed
// gives the same bytes.
func TestGeneratedRecordsValidate(t *testing.T) {
	reg, err := schemas.Demo()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range sample.Schemas() {
		t.Run(id, func(t *testing.T) {
			s, err := reg.Lookup(id)
			if err != nil {
				t.Fatal(err)
			}
			var a, b bytes.Buffer
			if err := sample.Write(&a, id, 500, 7, nil); err != nil {
				t.Fatal(err)
			}
			sample.Write(&b, id, 500, 7, nil)
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("the same seed gave different records")
			}
			var c bytes.Buffer
			sample.Write(&c, id, 500, 8, nil)
			if bytes.Equal(a.Bytes(), c.Bytes()) {
				t.Fatal("another seed gave the same records")
			}
			sc := bufio.NewScanner(&a)
			sc.Buffer(nil, 1<<20)
			line, total := 0, 0
			for sc.Scan() {
				line++
				total += len(sc.Bytes())
				v, err := jcs.Parse(sc.Bytes())
				if err != nil {
					t.Fatalf("line %d: %v", line, err)
				}
				if err := s.Validate(v); err != nil {
					t.Fatalf("line %d: %v\n%s", line, err, sc.Bytes())
				}
			}
			if line != 500 {
				t.Fatalf("%d records, want 500", line)
			}
			t.Logf("%s: mean record size %d bytes", id, total/line)
		})
	}
}
