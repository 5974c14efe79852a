package jcs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	gowebpki "github.com/gowebpki/jcs"

	"github.com/caravan-consortium/caravan/internal/jcs"
)

// Vectors from RFC 8785 (sections 3.2.2, 3.2.3 and appendix B) and edge
// cases of our own.
func TestCanonicalize(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"rfc8785 3.2.2 example",
			`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}`,
			`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`},
		{"rfc8785 3.2.3 sorting",
			`{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}`,
			`{"\r":"Carriage Return","1":"One","` + "\u0080" + `":"Control","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","😀":"Emoji: Grinning Face","דּ":"Hebrew Letter Dalet With Dagesh"}`},
		{"key order and white space", "{ \"b\" : 1,\n\t\"a\" : [ 1 , 2 ] }", `{"a":[1,2],"b":1}`},
		{"minus zero", `[-0, -0.0, 0e10]`, `[0,0,0]`},
		{"integers", `[1, -15, 123456789012345, 1234567890123456789]`, `[1,-15,123456789012345,1234567890123456800]`},
		{"fractions and exponents", `[1.0, 0.1, 1e21, 1e-7, 123e-2]`, `[1,0.1,1e+21,1e-7,1.23]`},
		{"unicode escapes become UTF-8", `"\u00e9\u4e2d\ud83d\ude00"`, `"é中😀"`},
		{"line separators stay literal", `"\u2028\u2029"`, "\"\u2028\u2029\""},
		{"control escapes", `"\u0000\u0007\b\f\t\u001f"`, `"\u0000\u0007\b\f\t\u001f"`},
		{"empty containers", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := jcs.Canonicalize([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
			// Canonical output is a fixed point.
			again, err := jcs.Canonicalize(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("not a fixed point: %s (%v)", again, err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		"duplicate key":        `{"a":1,"a":2}`,
		"duplicate via escape": `{"a":1,"\u0061":2}`,
		"invalid utf-8":        "\"\xff\"",
		"lone high surrogate":  `"\ud800"`,
		"lone low surrogate":   `"\udc00x"`,
		"bad pair":             `"\ud800\u0041"`,
		"raw control char":     "\"a\nb\"",
		"leading zero":         `01`,
		"bare dot":             `1.`,
		"plus sign":            `+1`,
		"nan":                  `NaN`,
		"trailing comma":       `[1,]`,
		"trailing data":        `{} {}`,
		"single quotes":        `{'a':1}`,
		"deep":                 strings.Repeat("[", jcs.MaxDepth+1) + strings.Repeat("]", jcs.MaxDepth+1),
		"empty":                ``,
		"huge number":          `1e400`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if out, err := jcs.Canonicalize([]byte(in)); err == nil {
				t.Fatalf("accepted %q as %s", in, out)
			}
		})
	}
	var se *jcs.SyntaxError
	if _, err := jcs.Parse([]byte(`{"a":1,"a":2}`)); !errors.As(err, &se) || se.Offset != 7 {
		t.Fatalf("duplicate key error %v, want a SyntaxError at offset 7", err)
	}
}

// FuzzCanonicalize checks our parser against encoding/json (same values)
// and our encoder against gowebpki/jcs (same canonical bytes), on whatever
// both accept.
func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[true,null,"x"]}`, `[1.5e300,-0.0,"\u00e9"]`, `{"\ud83d\ude00":1,"\ufb33":2}`, `"\u2028"`, `[0.1,1e21,5e-324]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := jcs.Canonicalize(data)
		if err != nil {
			return
		}
		var ref any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&ref); err != nil {
			t.Fatalf("we accepted what encoding/json rejects: %q: %v", data, err)
		}
		want, err := gowebpki.Transform(data)
		if err != nil {
			t.Fatalf("we accepted what gowebpki/jcs rejects: %q: %v", data, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("canonical forms differ for %q:\n ours %s\n gowebpki %s", data, got, want)
		}
		again, err := jcs.Canonicalize(got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("not a fixed point: %q", got)
		}
	})
}

// ParseValue and AppendCanonical agree with Parse and Append on everything.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[true,null,"x"]}`, `[1.5e300,-0.0,"\u00e9"]`, `{"\ud83d\ude00":1,"\ufb33":2}`, `{"a":1,"a":2}`, `{"a":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, errWant := jcs.Canonicalize(data)
		v, err := jcs.ParseValue(data)
		var got []byte
		if err == nil {
			got, err = v.AppendCanonical(nil)
		}
		if (err == nil) != (errWant == nil) {
			t.Fatalf("%q: ParseValue/AppendCanonical error %v, Canonicalize error %v", data, err, errWant)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("%q: %s vs %s", data, got, want)
		}
		// A reused Parser gives the same result after another document.
		var p jcs.Parser
		p.Parse([]byte(`{"z":[{"y":1,"x":[2,3]}],"a":{"b":{"c":[]}}}`))
		cp := append([]byte(nil), data...)
		v2, err2 := p.Parse(cp)
		var got2 []byte
		if err2 == nil {
			got2, err2 = v2.AppendCanonical(nil)
		}
		if (err2 == nil) != (errWant == nil) {
			t.Fatalf("%q: reused Parser error %v, Canonicalize error %v", data, err2, errWant)
		}
		if err2 == nil && !bytes.Equal(got2, want) {
			t.Fatalf("%q: reused Parser gave %s, want %s", data, got2, want)
		}
	})
}

func TestParseValueVectors(t *testing.T) {
	for _, in := range []string{
		`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}`,
		`{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew", "1": "One", "\ud83d\ude00": "Emoji", "\u0080": "Control", "\u00f6": "o"}`,
	} {
		v, err := jcs.ParseValue([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := v.AppendCanonical(nil)
		want, _ := jcs.Canonicalize([]byte(in))
		if !bytes.Equal(got, want) {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}
