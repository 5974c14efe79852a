package fetch

import (
	"bytes"
	"fmt"

	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
)

// validator checks fetched records, which already prove against the signed
// manifest, against the dataset's schema before they are kept: the owner
// signed them, but a requester keeps only canonical records that its own
// registry's schema accepts. It checks a chunk's records in two halves at
// once, each with a parser of its own.
type validator struct {
	schema  *schemas.Schema
	parsers [2]jcs.Parser
	bufs    [2][]byte
}

func (v *validator) check(recs []chunkRecord) error {
	half := len(recs) / 2
	errc := make(chan error, 1)
	go func() { errc <- v.half(1, recs[half:]) }()
	err := v.half(0, recs[:half])
	if err2 := <-errc; err == nil {
		err = err2
	}
	return err
}

func (v *validator) half(k int, recs []chunkRecord) error {
	for _, r := range recs {
		val, err := v.parsers[k].Parse(r.Data)
		if err == nil {
			v.bufs[k], err = val.AppendCanonical(v.bufs[k][:0])
			if err == nil && !bytes.Equal(v.bufs[k], r.Data) {
				err = fmt.Errorf("not in canonical form")
			}
		}
		if err == nil {
			err = v.schema.ValidateValue(&val)
		}
		if err != nil {
			return fmt.Errorf("record %d does not match schema %s: %w", r.Index, v.schema.Label(), err)
		}
	}
	return nil
}
