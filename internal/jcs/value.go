package jcs

import (
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
	"unsafe"
)

// Kind is the JSON type of a Value.
type Kind uint8

// The kinds of JSON values.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Value is a parsed JSON value in a compact form, for hot paths: objects
// are member slices sorted in RFC 8785 order (so canonical output needs no
// sorting and a schema's properties can be matched by merging), and strings
// without escapes share the input's memory. A Value is 32 bytes: parsing
// moves each one several times, and its size was most of the parser's cost.
type Value struct {
	Kind  Kind
	Bool  bool
	plain bool           // a String known to need no escaping (as parsed)
	keyOK bool           // a member's value: its key needs no escaping
	n     int32          // how many items or members kids points to
	Str   string         // a String's value, or a Number's literal text
	kids  unsafe.Pointer // an Array's first item or an Object's first member
}

// Items returns an Array's elements.
func (v *Value) Items() []Value {
	if v.Kind != Array || v.kids == nil {
		return nil
	}
	return unsafe.Slice((*Value)(v.kids), v.n)
}

// Members returns an Object's members, sorted by key (UTF-16 order).
func (v *Value) Members() []Member {
	if v.Kind != Object || v.kids == nil {
		return nil
	}
	return unsafe.Slice((*Member)(v.kids), v.n)
}

func arrayOf(items []Value) Value {
	if len(items) == 0 {
		return Value{Kind: Array}
	}
	return Value{Kind: Array, n: int32(len(items)), kids: unsafe.Pointer(&items[0])}
}

func objectOf(members []Member) Value {
	if len(members) == 0 {
		return Value{Kind: Object}
	}
	return Value{Kind: Object, n: int32(len(members)), kids: unsafe.Pointer(&members[0])}
}

// Member is one member of an object.
type Member struct {
	Key   string
	Value Value
}

// ParseValue parses data strictly, as Parse does, into a Value. The Value
// refers to a private copy of data.
func ParseValue(data []byte) (Value, error) {
	var p Parser
	return p.parse(data, string(data))
}

// Parser parses Values for hot paths, reusing its memory: the Value that
// Parse returns is valid only until the next call, and refers to data,
// which must not change meanwhile. A Parser is not safe for concurrent use.
type Parser struct {
	vparser
}

// Parse parses data strictly into a Value that shares memory with data and
// with the Parser (see Parser).
func (p *Parser) Parse(data []byte) (Value, error) {
	if len(data) == 0 {
		return p.parse(data, "")
	}
	return p.parse(data, unsafe.String(&data[0], len(data)))
}

func (p *vparser) parse(data []byte, text string) (Value, error) {
	p.parser = parser{data: data}
	p.text = text
	p.members = p.members[:0]
	p.items = p.items[:0]
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return Value{}, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return Value{}, p.errorf("unexpected data after the value")
	}
	return v, nil
}

type vparser struct {
	parser
	text    string   // data as a string, for zero-copy substrings
	stack   []Member // members of the objects being parsed
	keyAt   []int    // where each member of stack starts, for errors
	istack  []Value  // items of the arrays being parsed
	order   []int32  // scratch for sorting members
	members []Member // arena: the members of parsed objects
	items   []Value  // arena: the items of parsed arrays
}

func (p *vparser) value() (Value, error) {
	if p.pos >= len(p.data) {
		return Value{}, p.errorf("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, plain, err := p.str()
		return Value{Kind: String, Str: s, plain: plain}, err
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		if err := p.scanNumber(); err != nil {
			return Value{}, err
		}
		return Value{Kind: Number, Str: p.text[start:p.pos]}, nil
	case p.literal("true"):
		return Value{Kind: Bool, Bool: true}, nil
	case p.literal("false"):
		return Value{Kind: Bool}, nil
	case p.literal("null"):
		return Value{Kind: Null}, nil
	}
	return Value{}, p.errorf("unexpected character %q", p.data[p.pos])
}

// str parses a string; without escapes it is a substring of the input, and
// plain: it has no byte that canonical form escapes.
func (p *vparser) str() (s string, plain bool, err error) {
	start := p.pos + 1
	var high byte
	for i := start; i < len(p.data); i++ {
		c := p.data[i]
		if c == '"' {
			if high >= utf8.RuneSelf && !utf8.ValidString(p.text[start:i]) {
				break // let the full parser report where
			}
			p.pos = i + 1
			return p.text[start:i], true, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		high |= c
	}
	s, err = p.string()
	return s, false, err
}

func (p *vparser) object() (Value, error) {
	if err := p.enter(); err != nil {
		return Value{}, err
	}
	p.pos++
	base := len(p.stack)
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return objectOf(nil), nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return Value{}, p.errorf("expected a member name")
		}
		at := p.pos
		k, keyOK, err := p.str()
		if err != nil {
			return Value{}, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return Value{}, p.errorf("expected ':' after member name")
		}
		p.pos++
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return Value{}, err
		}
		v.keyOK = keyOK
		p.stack = append(p.stack, Member{Key: k, Value: v})
		p.keyAt = append(p.keyAt, at)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return Value{}, p.errorf("unexpected end of input in an object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			continue
		case '}':
			p.pos++
			p.depth--
		default:
			return Value{}, p.errorf("expected ',' or '}' in an object")
		}
		break
	}
	// Sort indexes rather than the (large) members, then copy the members
	// out once, in order, into a slice of exactly their number.
	parsed := p.stack[base:]
	order := p.order[:0]
	for i := range parsed {
		order = append(order, int32(i))
	}
	sortMembers(order, parsed)
	start := len(p.members)
	for _, j := range order {
		p.members = append(p.members, parsed[j])
	}
	members := p.members[start:len(p.members):len(p.members)]
	for i := 1; i < len(members); i++ {
		if members[i].Key == members[i-1].Key {
			at := max(p.keyAt[base+int(order[i])], p.keyAt[base+int(order[i-1])]) // the second one
			return Value{}, &SyntaxError{Offset: at, Msg: fmt.Sprintf("duplicate member name %q", members[i].Key)}
		}
	}
	p.order = order
	clear(parsed) // drop references for the GC
	p.stack = p.stack[:base]
	p.keyAt = p.keyAt[:base]
	return objectOf(members), nil
}

// sortMembers sorts order, indexes of members, by key. Records have a few
// dozen members at most, often partly sorted: insertion sort, without the
// indirect calls of a generic sort, is the fastest for them.
func sortMembers(order []int32, members []Member) {
	if len(order) > 48 {
		slices.SortFunc(order, func(a, b int32) int { return compareUTF16(members[a].Key, members[b].Key) })
		return
	}
	for i := 1; i < len(order); i++ {
		x := order[i]
		k := members[x].Key
		j := i
		for j > 0 && compareUTF16(members[order[j-1]].Key, k) > 0 {
			order[j] = order[j-1]
			j--
		}
		order[j] = x
	}
}

func (p *vparser) array() (Value, error) {
	if err := p.enter(); err != nil {
		return Value{}, err
	}
	p.pos++
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return arrayOf(nil), nil
	}
	base := len(p.istack)
	for {
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return Value{}, err
		}
		p.istack = append(p.istack, v)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return Value{}, p.errorf("unexpected end of input in an array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			continue
		case ']':
			p.pos++
			p.depth--
		default:
			return Value{}, p.errorf("expected ',' or ']' in an array")
		}
		break
	}
	start := len(p.items)
	p.items = append(p.items, p.istack[base:]...)
	clear(p.istack[base:])
	p.istack = p.istack[:base]
	return arrayOf(p.items[start:len(p.items):len(p.items)]), nil
}

// AppendCanonical appends the RFC 8785 form of v to dst. Its strings must be
// valid UTF-8, as ParseValue and Parser guarantee.
func (v *Value) AppendCanonical(dst []byte) ([]byte, error) {
	var err error
	switch v.Kind {
	case Null:
		return append(dst, "null"...), nil
	case Bool:
		if v.Bool {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case Number:
		return appendNumber(dst, v.Str)
	case String:
		return appendParsedString(dst, v.Str, v.plain), nil
	case Array:
		dst = append(dst, '[')
		items := v.Items()
		for i := range items {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = items[i].AppendCanonical(dst); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case Object:
		dst = append(dst, '{')
		members := v.Members()
		for i := range members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendParsedString(dst, members[i].Key, members[i].Value.keyOK)
			dst = append(dst, ':')
			if dst, err = members[i].Value.AppendCanonical(dst); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("jcs: bad kind %d", v.Kind)
}

// appendParsedString appends a string the parser read (so valid UTF-8) in
// canonical form; plain: it has nothing to escape, and is copied as it is.
func appendParsedString(dst []byte, s string, plain bool) []byte {
	if !plain {
		return appendValidString(dst, s)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// Any converts v to the map-based form Parse returns.
func (v *Value) Any() any {
	switch v.Kind {
	case Bool:
		return v.Bool
	case Number:
		return json.Number(v.Str)
	case String:
		return v.Str
	case Array:
		items := v.Items()
		out := make([]any, len(items))
		for i := range items {
			out[i] = items[i].Any()
		}
		return out
	case Object:
		members := v.Members()
		out := make(map[string]any, len(members))
		for _, m := range members {
			out[m.Key] = m.Value.Any()
		}
		return out
	}
	return nil
}

// CompareKeys orders member names as RFC 8785 does (UTF-16 code units).
func CompareKeys(a, b string) int { return compareUTF16(a, b) }
