package jcs

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrNotObject is returned by Fields for input that is not a JSON object.
var ErrNotObject = errors.New("not a JSON object")

// Fields scans the top-level members of a JSON object and calls fn with the
// raw bytes of the value of each member whose key want accepts. Other values
// are skipped without being decoded, which makes it much cheaper than Parse
// for picking a few fields out of a large record. It checks only the
// structure it walks; use it on data already validated (a stored canonical
// record), not on untrusted input. Keys with escapes are compared after
// decoding.
func Fields(data []byte, want func(key string) bool, fn func(key string, value []byte) error) error {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return ErrNotObject
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == '}' {
		return nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return fmt.Errorf("jcs: member name expected at byte %d", i)
		}
		end, err := skipString(data, i)
		if err != nil {
			return err
		}
		raw := data[i+1 : end-1]
		key := string(raw)
		for _, c := range raw {
			if c == '\\' {
				v, err := Parse(data[i:end])
				if err != nil {
					return err
				}
				key = v.(string)
				break
			}
		}
		i = skipWS(data, end)
		if i >= len(data) || data[i] != ':' {
			return fmt.Errorf("jcs: ':' expected at byte %d", i)
		}
		i = skipWS(data, i+1)
		vend, err := skipValue(data, i)
		if err != nil {
			return err
		}
		if want(key) {
			if err := fn(key, data[i:vend]); err != nil {
				return err
			}
		}
		i = skipWS(data, vend)
		if i >= len(data) {
			return fmt.Errorf("jcs: unterminated object")
		}
		if data[i] == '}' {
			return nil
		}
		if data[i] != ',' {
			return fmt.Errorf("jcs: ',' or '}' expected at byte %d", i)
		}
		i = skipWS(data, i+1)
	}
}

func skipWS(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at data[i] == '"'.
// It jumps from quote to quote (bytes.IndexByte is vectorized), counting
// the backslashes before each to tell escaped quotes apart.
func skipString(data []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return 0, fmt.Errorf("jcs: unterminated string at byte %d", i)
		}
		q := j + k
		bs := 0
		for b := q - 1; b > i && data[b] == '\\'; b-- {
			bs++
		}
		if bs%2 == 0 {
			return q + 1, nil
		}
		j = q + 1
	}
}

// skipValue returns the index after the value starting at data[i].
func skipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, fmt.Errorf("jcs: value expected at byte %d", i)
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); {
			k := bytes.IndexAny(data[j:], `"{}[]`)
			if k < 0 {
				break
			}
			j += k
			switch data[j] {
			case '"':
				end, err := skipString(data, j)
				if err != nil {
					return 0, err
				}
				j = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
			j++
		}
		return 0, fmt.Errorf("jcs: unterminated value at byte %d", i)
	default: // number, true, false, null
		j := i
		for j < len(data) && data[j] != ',' && data[j] != '}' && data[j] != ']' &&
			data[j] != ' ' && data[j] != '\n' && data[j] != '\t' && data[j] != '\r' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("jcs: value expected at byte %d", i)
		}
		return j, nil
	}
}
