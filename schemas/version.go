package schemas

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is a schema's version: MAJOR.MINOR. A minor version must be
// compatible with the one before it (Compatible); a new major version need
// not be.
type Version struct {
	Major, Minor int
}

func (v Version) String() string { return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor) }

// IsZero reports whether v is unset (no version is 0.0).
func (v Version) IsZero() bool { return v == Version{} }

// Less orders versions.
func (v Version) Less(w Version) bool {
	return v.Major < w.Major || v.Major == w.Major && v.Minor < w.Minor
}

var versionPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,5})(?:\.(0|[1-9][0-9]{0,5}))?$`)

// ParseVersion parses "MAJOR.MINOR", or "MAJOR" (MAJOR.0). Version 0.0 is
// not a version.
func ParseVersion(s string) (Version, error) {
	m := versionPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("%q is not a version (MAJOR.MINOR, e.g. 1.0)", s)
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		v.Minor, _ = strconv.Atoi(m[2])
	}
	if v.IsZero() {
		return Version{}, fmt.Errorf("%q: versions start at 0.1 or 1.0", s)
	}
	return v, nil
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// ValidName reports whether s may name a schema: lower-case letters,
// digits, '.', '_' and '-', at most 128, starting with a letter or digit.
func ValidName(s string) bool { return namePattern.MatchString(s) }
