package schemas

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// Checking a record that should already be in RFC 8785 form (a fetched
// record, which proves against its manifest) is the requester's hot path.
// Parsing it into a Value, encoding it again to compare and walking the
// Value costs about three times what one pass over its bytes does, so the
// compiled validator first tries that pass: it walks the canonical text
// and the compiled schema together and builds nothing. The pass is
// conservative: it accepts only what it proves canonical and valid, and
// gives up on anything else (an escape in a string, an exponent, a keyword
// it does not handle), which the full check then decides and explains.
// FuzzCanonicalAgrees checks that the pass never accepts what the full
// check refuses.

// ValidateCanonical checks that data is a JSON object in RFC 8785 form
// that the schema accepts. p and buf are the caller's scratch for the full
// check (buf is returned, perhaps grown); errors are *FieldError or the
// parser's.
func (s *Schema) ValidateCanonical(data []byte, p *jcs.Parser, buf []byte) ([]byte, error) {
	if s.acceptsCanonical(data) {
		return buf, nil
	}
	v, err := p.Parse(data)
	if err != nil {
		return buf, err
	}
	if buf, err = v.AppendCanonical(buf[:0]); err != nil {
		return buf, err
	}
	if !bytes.Equal(buf, data) {
		return buf, fmt.Errorf("not in canonical form (RFC 8785)")
	}
	return buf, s.ValidateValue(&v)
}

// acceptsCanonical is the one pass: true only if data is canonical and
// valid under the compiled schema.
func (s *Schema) acceptsCanonical(data []byte) bool {
	if s.fast == nil || len(data) == 0 || data[0] != '{' {
		return false
	}
	c := cscan{data: data, text: unsafe.String(&data[0], len(data))}
	return c.value(s.fast, 0) && c.pos == len(data)
	// Policy attributes of type Long need no check here: the only numbers
	// this pass takes are plain integers of at most 15 digits and short
	// decimals, which fit.
}

// maxScanDepth is well within the parser's jcs.MaxDepth: deeper values go
// to the full check.
const maxScanDepth = 32

type cscan struct {
	data []byte
	text string // data, shared
	pos  int
}

// value checks the value at pos against n (nil: anything canonical) and
// moves past it.
func (c *cscan) value(n *cnode, depth int) bool {
	for hops := 0; n != nil && n.pureRef; hops++ {
		if hops == 64 {
			return false // Compile refuses $ref loops; this is only a bound
		}
		n = n.ref
	}
	if n != nil && n.ref != nil { // a $ref beside other keywords: check both
		start := c.pos
		if !c.value(n.ref, depth) {
			return false
		}
		c.pos = start
		bare := *n
		bare.ref = nil
		n = &bare
	}
	if depth > maxScanDepth || c.pos >= len(c.data) {
		return false
	}
	switch b := c.data[c.pos]; {
	case b == '{':
		return c.object(n, depth+1)
	case b == '[':
		return c.array(n, depth+1)
	case b == '"':
		s, ok := c.str()
		return ok && (n == nil || n.types == 0 || n.types&tString != 0) &&
			(n == nil || n.enum == nil || slices.Contains(n.enum, s)) &&
			(n == nil || n.validateString(s, nil) == nil)
	case b == '-' || b >= '0' && b <= '9':
		return c.number(n)
	case b == 't':
		return c.literal("true") && c.scalar(n, tBool)
	case b == 'f':
		return c.literal("false") && c.scalar(n, tBool)
	case b == 'n':
		return c.literal("null") && c.scalar(n, tNull)
	}
	return false
}

// onlyRef reports whether $ref is n's only constraint.
func (n *cnode) onlyRef() bool {
	return n.types == 0 && n.enum == nil && n.pattern == nil && n.format == nil && n.minLen == 0 && n.maxLen < 0 &&
		n.bounds == nil && n.props == nil && n.required == nil && !n.noExtra && n.items == nil &&
		n.minItems == 0 && n.maxItems < 0
}

// scalar checks a boolean or null against n's type and enum.
func (c *cscan) scalar(n *cnode, t typeSet) bool {
	return n == nil || (n.types == 0 || n.types&t != 0) && n.enum == nil
}

func (c *cscan) literal(word string) bool {
	if len(c.text)-c.pos < len(word) || c.text[c.pos:c.pos+len(word)] != word {
		return false
	}
	c.pos += len(word)
	return true
}

// str reads a string that needs no escape (its own canonical form), and
// gives up on any other. It looks at eight bytes at a time: a word with no
// quote, backslash or control character is skipped whole.
func (c *cscan) str() (string, bool) {
	start := c.pos + 1
	var high uint64
	i := start
	for ; i+8 <= len(c.data); i += 8 {
		w := binary.LittleEndian.Uint64(c.data[i:])
		if hasLess(w, 0x20)|hasZero(w^(ones*'"'))|hasZero(w^(ones*'\\')) != 0 {
			break
		}
		high |= w
	}
	for ; i < len(c.data); i++ {
		b := c.data[i]
		if b == '"' {
			s := c.text[start:i]
			if high&(ones*0x80) != 0 && !utf8.ValidString(s) {
				return "", false
			}
			c.pos = i + 1
			return s, true
		}
		if b == '\\' || b < 0x20 {
			return "", false
		}
		high |= uint64(b)
	}
	return "", false
}

const ones = 0x0101010101010101

// hasZero is non-zero if a byte of w is zero; hasLess if a byte is below n
// (n <= 128). Both are exact about whether there is one.
func hasZero(w uint64) uint64           { return (w - ones) &^ w & (ones * 0x80) }
func hasLess(w uint64, n uint64) uint64 { return (w - ones*n) &^ w & (ones * 0x80) }

// number reads a plain integer of at most 15 digits or a short decimal,
// the literals that are their own canonical form, and gives up on any
// other.
func (c *cscan) number(n *cnode) bool {
	start := c.pos
	for c.pos < len(c.data) {
		b := c.data[c.pos]
		if b != '-' && b != '.' && (b < '0' || b > '9') {
			break
		}
		c.pos++
	}
	lit := c.text[start:c.pos]
	var f float64
	integer := false
	if v, ok := jcs.ShortInteger(lit); ok && lit != "-0" {
		f, integer = float64(v), true
	} else if !jcs.IsShortDecimal(lit) {
		return false
	} else if n != nil && len(n.bounds) > 0 {
		f, _ = strconv.ParseFloat(lit, 64)
	}
	if n == nil {
		return true
	}
	if n.types != 0 && n.types&tNumber == 0 && !(n.types&tInteger != 0 && integer) || n.enum != nil {
		return false
	}
	for _, b := range n.bounds {
		if !b.ok(f, b.limit) {
			return false
		}
	}
	return true
}

func (c *cscan) array(n *cnode, depth int) bool {
	if n != nil && n.types != 0 && n.types&tArray == 0 || n != nil && n.enum != nil {
		return false
	}
	var items *cnode
	if n != nil {
		items = n.items
	}
	c.pos++
	count := 0
	if c.pos < len(c.data) && c.data[c.pos] == ']' {
		c.pos++
	} else {
		for {
			if !c.value(items, depth) || c.pos >= len(c.data) {
				return false
			}
			count++
			b := c.data[c.pos]
			c.pos++
			if b == ']' {
				break
			}
			if b != ',' {
				return false
			}
		}
	}
	return n == nil || count >= n.minItems && (n.maxItems < 0 || count <= n.maxItems)
}

// object walks the members, which canonical form sorts, and the schema's
// properties, sorted the same way, together.
func (c *cscan) object(n *cnode, depth int) bool {
	if n != nil && (n.types != 0 && n.types&tObject == 0 || n.enum != nil || n.reqOnly != nil) {
		return false
	}
	var props []prop
	if n != nil {
		props = n.props
	}
	c.pos++
	pi := 0
	prev, first := "", true
	if c.pos < len(c.data) && c.data[c.pos] == '}' {
		c.pos++
	} else {
		for {
			if c.pos >= len(c.data) || c.data[c.pos] != '"' {
				return false
			}
			key, ok := c.str()
			if !ok || !first && jcs.CompareKeys(prev, key) >= 0 || c.pos >= len(c.data) || c.data[c.pos] != ':' {
				return false // unsorted, a duplicate, or not canonical
			}
			c.pos++
			prev, first = key, false
			for pi < len(props) && props[pi].name != key && jcs.CompareKeys(props[pi].name, key) < 0 {
				if props[pi].required {
					return false // a required property the object lacks
				}
				pi++
			}
			var child *cnode
			if pi < len(props) && props[pi].name == key {
				child = props[pi].node
				pi++
			} else if n != nil && n.noExtra {
				return false
			}
			if !c.value(child, depth) || c.pos >= len(c.data) {
				return false
			}
			b := c.data[c.pos]
			c.pos++
			if b == '}' {
				break
			}
			if b != ',' {
				return false
			}
		}
	}
	for ; pi < len(props); pi++ {
		if props[pi].required {
			return false
		}
	}
	return true
}
