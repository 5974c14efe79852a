package yamlfile_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/internal/yamlfile"
)

type doc struct {
	Name   string `yaml:"name"`
	Limits struct {
		Max int `yaml:"max"`
	} `yaml:"limits"`
}

func TestDecodeErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, data, want string
	}{
		{"unknown field", "name: a\nlimts:\n  max: 1\n", "f.yaml:2:"},
		{"wrong type", "name: a\nlimits:\n  max: lots\n", "f.yaml:3:"},
		{"syntax", "name: [a\n", "f.yaml:1:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d doc
			err := yamlfile.Decode("f.yaml", []byte(c.data), &d)
			var ye *yamlfile.Error
			if !errors.As(err, &ye) {
				t.Fatalf("err = %v, want *yamlfile.Error", err)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("err = %q, want prefix %q", err, c.want)
			}
		})
	}
}

func TestFieldErrorFindsLine(t *testing.T) {
	data := []byte("name: a\nlimits:\n  max: -1\n")
	err := yamlfile.FieldError("f.yaml", data, "limits.max", "must be positive")
	if got, want := err.Error(), "f.yaml:3: limits.max: must be positive"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := yamlfile.Line(data, "nope.nothing"); got != 0 {
		t.Fatalf("Line of a missing field = %d, want 0", got)
	}
}
