package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/cids"
)

// Selection is which records a fetch names: the union of indices and CIDs,
// or every record if it names none.
type Selection struct {
	set  map[uint64]bool // nil: every record
	cids map[cid.Cid]bool
}

// NewSelection selects by indices and CIDs.
func NewSelection(indices []uint64, cids []cid.Cid) Selection {
	if len(indices) == 0 && len(cids) == 0 {
		return Selection{}
	}
	s := Selection{set: make(map[uint64]bool, len(indices)), cids: make(map[cid.Cid]bool, len(cids))}
	for _, i := range indices {
		s.set[i] = true
	}
	for _, c := range cids {
		s.cids[c] = true
	}
	return s
}

// Key names the selection in a file name: "all", or 16 hex digits of a
// hash of its sorted indices and CIDs, so that two spellings of one
// selection share a key and different selections do not.
func (s Selection) Key() string {
	if s.set == nil {
		return "all"
	}
	idx := make([]uint64, 0, len(s.set))
	for i := range s.set {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	named := make([]string, 0, len(s.cids))
	for c := range s.cids {
		named = append(named, c.String())
	}
	slices.Sort(named)
	h := sha256.New()
	for _, i := range idx {
		fmt.Fprintf(h, "%d,", i)
	}
	for _, c := range named {
		fmt.Fprintf(h, "%s,", c)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Wants reports whether record i, of CID c, is selected.
func (s Selection) Wants(i uint64, c cid.Cid) bool { return s.set == nil || s.set[i] || s.cids[c] }

// WantsRecord is Wants for a record's canonical bytes; it hashes them only
// if the selection names CIDs and not i.
func (s Selection) WantsRecord(i uint64, canonical []byte) bool {
	return s.set == nil || s.set[i] || len(s.cids) > 0 && s.cids[cids.OfJSON(canonical)]
}

// maxRange bounds one range of a written selection.
const maxRange = 10_000_000

// ParseSelection parses a selection as people write it: comma-separated
// record indices, ranges of them and record CIDs, such as
// "0,5,10-20,bagaaiera...". Indices must ascend. An empty string selects
// every record.
func ParseSelection(s string) (indices []uint64, records []cid.Cid, err error) {
	if s == "" {
		return nil, nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if c, err := cid.Decode(part); err == nil && part != "" && (part[0] < '0' || part[0] > '9') {
			records = append(records, c)
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%q is neither an index, a range nor a record CID", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a {
				return nil, nil, fmt.Errorf("%q is not a range", part)
			}
		}
		if b-a > maxRange {
			return nil, nil, fmt.Errorf("%q is too large a range", part)
		}
		for i := a; i <= b; i++ {
			if len(indices) > 0 && i <= indices[len(indices)-1] {
				return nil, nil, fmt.Errorf("indices must ascend (%d after %d)", i, indices[len(indices)-1])
			}
			indices = append(indices, i)
		}
	}
	return indices, records, nil
}

// requested is what a request selects: its Selection, from From on.
type requested struct {
	from uint64
	Selection
}

func requestedBy(r *Request) (requested, error) {
	var named []cid.Cid
	for k, text := range r.SelectCIDs {
		c, err := cid.Decode(text)
		if err != nil {
			return requested{}, fmt.Errorf("select_cids[%d]: %q is not a CID", k, text)
		}
		named = append(named, c)
	}
	return requested{r.From, NewSelection(r.Select, named)}, nil
}

func (s requested) wants(i uint64, c cid.Cid) bool { return i >= s.from && s.Wants(i, c) }

// indices returns, ascending, the indices below size that a selection of
// indices only selects from its From on; nil for any other selection (all
// records, or CIDs, which take a scan to find).
func (s requested) indices(size uint64) []uint64 {
	if s.set == nil || len(s.cids) > 0 {
		return nil
	}
	out := make([]uint64, 0, len(s.set))
	for i := range s.set {
		if i >= s.from && i < size {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}
