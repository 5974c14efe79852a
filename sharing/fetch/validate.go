package fetch

import (
	"fmt"

	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
)

// validator checks fetched records, which already prove against the signed
// manifest, against the dataset's schema before they are kept: the owner
// signed them, but a requester keeps only canonical records that its own
// registry's schema accepts (schemas.Schema.ValidateCanonical: one pass
// over the canonical text, the full check only for what it cannot prove).
// It checks a chunk's records in two halves at once, each with scratch of
// its own.
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
	var err error
	for _, r := range recs {
		if v.bufs[k], err = v.schema.ValidateCanonical(r.Data, &v.parsers[k], v.bufs[k]); err != nil {
			return fmt.Errorf("record %d does not match schema %s: %w", r.Index, v.schema.Label(), err)
		}
	}
	return nil
}
