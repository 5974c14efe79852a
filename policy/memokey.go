package policy

import (
	"encoding/binary"
	"sort"

	"github.com/cedar-policy/cedar-go/types"
)

// The memo key of a record: the comparands a session resolves, and the
// record's values that the plan keys on, encoded so that equal keys mean
// equal decisions.

// sessionComparands are a plan's comparands resolved in one session: per
// plan attribute, per comparand, its value's appendRaw encoding (nil when
// the session lacks it).
type sessionComparands struct {
	raw [][][]byte
}

// resolve resolves the plan's comparands for a session's principal and
// context.
func (p *memoPlan) resolve(principal types.Entity, context types.Record) *sessionComparands {
	sc := &sessionComparands{raw: make([][][]byte, len(p.attrs))}
	for i, u := range p.attrs {
		for _, c := range u.comparands {
			v, ok := c.lit, c.lit != nil
			switch c.of {
			case varPrincipal:
				v, ok = principal.Attributes.Get(c.name)
			case varContext:
				v, ok = context.Get(c.name)
			}
			var raw []byte
			if ok {
				raw = appendRaw(nil, v)
			}
			sc.raw[i] = append(sc.raw[i], raw)
		}
	}
	return sc
}

// equalityKeyable reports whether values with this appendRaw tag are keyed
// by the comparands they equal: those whose encodings are equal exactly when
// Cedar's == says so.
func equalityKeyable(tag byte) bool {
	switch tag {
	case 's', 'l', 'T', 'F', 'd':
		return true
	}
	return false
}

// mask returns the bits of the comparands of attribute i that v (encoded
// by appendRaw) equals.
func (sc *sessionComparands) mask(i int, v []byte) uint64 {
	var m uint64
	for j, raw := range sc.raw[i] {
		if raw != nil && string(raw) == string(v) {
			m |= 1 << j
		}
	}
	return m
}

// appendKey appends the memo key of r with released_today = counter, in a
// session whose comparands are sc.
func (p *memoPlan) appendKey(key []byte, sc *sessionComparands, r *Record, counter int64) []byte {
	key = p.appendCounter(key, counter)
	for i := range p.attrs {
		u := &p.attrs[i]
		v, ok := r.Attrs[u.name]
		switch {
		case !ok:
			key = append(key, 0)
		case u.kind == keyPresence:
			key = append(key, 1)
		case u.kind == keyInterval:
			if l, isLong := v.(types.Long); isLong {
				key = append(key, 1)
				key = binary.AppendUvarint(key, uint64(interval(u.thresholds, int64(l))))
				break
			}
			key = appendRaw(append(key, 2), v)
		case u.kind == keyEqual:
			key = appendEqualKey(key, sc, i, appendRaw(nil, v))
		default:
			key = appendRaw(append(key, 2), v)
		}
	}
	return key
}

// appendEqualKey appends the key of a keyEqual attribute whose value is
// encoded as raw: the comparands it equals, or raw if it is not keyable so.
func appendEqualKey(key []byte, sc *sessionComparands, i int, raw []byte) []byte {
	if !equalityKeyable(raw[0]) {
		return append(append(key, 2), raw...)
	}
	return binary.AppendUvarint(append(key, 3), sc.mask(i, raw))
}

func (p *memoPlan) appendCounter(key []byte, counter int64) []byte {
	if p.counter.read {
		if p.counter.thresholds != nil {
			key = binary.AppendUvarint(key, uint64(interval(p.counter.thresholds, counter)))
		} else {
			key = binary.LittleEndian.AppendUint64(key, uint64(counter))
		}
	}
	return key
}

// projection maps a layout's fields to the plan's attributes, so that a key
// can be built from a record's tuple. It gives the same bytes as appendKey.
type projection struct {
	layout *Extractor
	field  []int // per plan attribute: its field index in the layout, or -1
}

func (p *memoPlan) project(e *Extractor) *projection {
	pr := &projection{layout: e, field: make([]int, len(p.attrs))}
	for i, u := range p.attrs {
		pr.field[i] = -1
		for j, f := range e.fields {
			if f.name == u.name {
				pr.field[i] = j
			}
		}
	}
	return pr
}

// maxTupleFields bounds the fields a tuple key is built from on the stack.
const maxTupleFields = 64

// appendTupleKey is appendKey for a record with a tuple in pr's layout.
func (p *memoPlan) appendTupleKey(key []byte, sc *sessionComparands, pr *projection, r *Record, counter int64) ([]byte, bool) {
	var spans [maxTupleFields][2]int32
	n := len(pr.layout.fields)
	if n > maxTupleFields {
		return key, false
	}
	t := r.tuple
	off := 0
	for j := range n {
		end, ok := rawEnd(t, off)
		if !ok {
			return key, false
		}
		spans[j] = [2]int32{int32(off), int32(end)}
		off = end
	}
	key = p.appendCounter(key, counter)
	for i := range p.attrs {
		u := &p.attrs[i]
		j := pr.field[i]
		if j < 0 || t[spans[j][0]] == 0 {
			key = append(key, 0)
			continue
		}
		f := t[spans[j][0]:spans[j][1]]
		switch {
		case u.kind == keyPresence:
			key = append(key, 1)
		case u.kind == keyInterval && f[0] == 'l':
			key = append(key, 1)
			key = binary.AppendUvarint(key, uint64(interval(u.thresholds, int64(binary.LittleEndian.Uint64(f[1:])))))
		case u.kind == keyEqual:
			key = appendEqualKey(key, sc, i, f)
		default:
			key = append(append(key, 2), f...)
		}
	}
	return key, true
}

// rawEnd returns the end of the field that starts at off: 0 (absent) or an
// appendRaw encoding.
func rawEnd(t []byte, off int) (int, bool) {
	if off >= len(t) {
		return 0, false
	}
	switch t[off] {
	case 0, 'T', 'F':
		return off + 1, true
	case 'l', 'd':
		return off + 9, off+9 <= len(t)
	case 's', 'x':
		n, w := binary.Uvarint(t[off+1:])
		if w <= 0 {
			return 0, false
		}
		end := off + 1 + w + int(n)
		return end, end <= len(t)
	}
	return 0, false
}

// interval is the number of bounds at or below v.
func interval(bounds []int64, v int64) int {
	if len(bounds) <= 8 {
		n := 0
		for _, b := range bounds {
			if b <= v {
				n++
			}
		}
		return n
	}
	return sort.Search(len(bounds), func(i int) bool { return bounds[i] > v })
}

// appendRaw appends an injective, type-tagged encoding of v.
func appendRaw(key []byte, v types.Value) []byte {
	switch v := v.(type) {
	case types.String:
		return appendRawString(key, string(v))
	case types.Long:
		return appendRawLong(key, int64(v))
	case types.Boolean:
		return appendRawBool(key, bool(v))
	case types.Datetime:
		return binary.LittleEndian.AppendUint64(append(key, 'd'), uint64(v.Milliseconds()))
	default:
		b := v.MarshalCedar()
		key = append(key, 'x')
		key = binary.AppendUvarint(key, uint64(len(b)))
		return append(key, b...)
	}
}

func appendRawString(key []byte, s string) []byte {
	key = append(key, 's')
	key = binary.AppendUvarint(key, uint64(len(s)))
	return append(key, s...)
}

func appendRawLong(key []byte, l int64) []byte {
	return binary.LittleEndian.AppendUint64(append(key, 'l'), uint64(l))
}

func appendRawBool(key []byte, b bool) []byte {
	if b {
		return append(key, 'T')
	}
	return append(key, 'F')
}
