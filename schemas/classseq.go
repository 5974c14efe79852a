package schemas

import (
	"regexp/syntax"
)

// classSeq matches anchored patterns that are a sequence of ASCII character
// classes or literals, each repeated a counted number of times, such as
// ^[A-Z]{2}[A-Z0-9]{3}[0-9]{3}$, and groups of one fixed-count class
// repeated, such as ^[0-9]{6}([0-9]{2}){0,2}$ — most of the patterns in
// dataset schemas.
// It runs a small NFA over positions instead of the regexp engine. Patterns
// of any other shape are left to regexp.
type classSeq struct {
	items []seqItem
}

type seqItem struct {
	set      [4]uint64 // the ASCII bytes the item matches
	min, max int       // max -1: unbounded
	step     int       // counts go min, min+step, ...: ([0-9]{2}){0,2} is 0, 2 or 4
}

func (it *seqItem) has(c byte) bool { return c < 128 && it.set[c>>6]&(1<<(c&63)) != 0 }

// compileClassSeq returns a matcher for pattern, or false if the pattern is
// not of the supported shape.
func compileClassSeq(pattern string) (*classSeq, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return nil, false
	}
	subs := re.Sub
	if subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return nil, false
	}
	q := &classSeq{}
	for _, sub := range subs[1 : len(subs)-1] {
		min, max := 1, 1
		switch sub.Op {
		case syntax.OpRepeat:
			min, max = sub.Min, sub.Max
			sub = sub.Sub[0]
		case syntax.OpStar:
			min, max, sub = 0, -1, sub.Sub[0]
		case syntax.OpPlus:
			min, max, sub = 1, -1, sub.Sub[0]
		case syntax.OpQuest:
			min, max, sub = 0, 1, sub.Sub[0]
		}
		step := 1
		if sub.Op == syntax.OpCapture {
			// A group of one class (or character) repeated k times, itself
			// repeated: (C{k}){m,n} is C repeated m*k, (m+1)*k, ... n*k times.
			inner := sub.Sub[0]
			if inner.Op == syntax.OpRepeat && inner.Min == inner.Max && inner.Min >= 1 {
				step, inner = inner.Min, inner.Sub[0]
			}
			if inner.Op != syntax.OpCharClass && (inner.Op != syntax.OpLiteral || len(inner.Rune) != 1) {
				return nil, false
			}
			min *= step
			if max >= 0 {
				max *= step
			}
			sub = inner
		}
		if sub.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		switch sub.Op {
		case syntax.OpCharClass:
			var it seqItem
			for i := 0; i+1 < len(sub.Rune); i += 2 {
				lo, hi := sub.Rune[i], sub.Rune[i+1]
				if hi > 127 {
					return nil, false
				}
				for c := lo; c <= hi; c++ {
					it.set[c>>6] |= 1 << (c & 63)
				}
			}
			it.min, it.max, it.step = min, max, step
			q.items = append(q.items, it)
		case syntax.OpLiteral:
			if (min != 1 || max != 1 || step != 1) && len(sub.Rune) != 1 {
				return nil, false // a repeated multi-rune literal
			}
			for _, r := range sub.Rune {
				if r > 127 {
					return nil, false
				}
				var it seqItem
				it.set[r>>6] |= 1 << (r & 63)
				it.min, it.max, it.step = min, max, step
				q.items = append(q.items, it)
			}
		default:
			return nil, false
		}
	}
	return q, true
}

// match reports whether s matches; ok is false if s is too long for the
// position set, and the caller must use regexp.
func (q *classSeq) match(s string) (matched, ok bool) {
	if len(s) > 63 {
		return false, false
	}
	reach := uint64(1) // bit p: the prefix s[:p] is matched so far
	for i := range q.items {
		it := &q.items[i]
		var next uint64
		for p := 0; p <= len(s); p++ {
			if reach&(1<<p) == 0 {
				continue
			}
			for k := 0; ; k++ {
				if k >= it.min && (k-it.min)%it.step == 0 {
					next |= 1 << (p + k)
				}
				if (it.max >= 0 && k == it.max) || p+k >= len(s) || !it.has(s[p+k]) {
					break
				}
			}
		}
		reach = next
		if reach == 0 {
			return false, true
		}
	}
	return reach&(1<<len(s)) != 0, true
}
