package journal

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// AlertHeader starts every fork-evidence file.
const AlertHeader = "caravan journal fork evidence v1"

// A member that signs many checkpoints of one size must not fill its
// partners' disks, nor bury a real fork among copies: there is one alert
// per origin and tree size, holding the first two contradicting notes and
// counting the distinct conflicting checkpoints received at that size
// since (listing up to maxListedRoots of their roots); and an origin has
// at most MaxAlertsPerOrigin alerts, past which its forks are logged but
// not saved.
const (
	MaxAlertsPerOrigin = 256
	maxListedRoots     = 64
)

// ErrAlertsFull is SaveAlert's error for an origin that has
// MaxAlertsPerOrigin alerts already.
var ErrAlertsFull = errors.New("this origin's fork alerts are at their bound")

// AlertResult is what SaveAlert did.
type AlertResult struct {
	Path string
	// New reports that this is the first conflict at its origin and size:
	// a new alert.
	New bool
	// Conflicts counts the distinct contradicting checkpoints received at
	// this origin and size, this one included.
	Conflicts int
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// SaveAlert records the evidence of a fork in dir: a text file per origin
// and tree size of the contradicting checkpoint, with the reason and both
// signed checkpoints, which a third party can check with the log's public
// key (two notes the log signed that cannot both be true). A checkpoint
// already recorded changes nothing.
func SaveAlert(dir string, fe *ForkError, at time.Time) (AlertResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return AlertResult{}, err
	}
	size, root := "unparsed-"+shortHash(fe.Got), shortHash(fe.Got)
	if cp, err := ParseCheckpoint(fe.Got); err == nil {
		size, root = strconv.FormatUint(cp.Size, 10), base64.StdEncoding.EncodeToString(cp.Hash)
	}
	prefix := unsafeName.ReplaceAllString(fe.Origin, "_") + "-"
	res := AlertResult{Path: filepath.Join(dir, prefix+size+".txt")}
	data, err := os.ReadFile(res.Path)
	if errors.Is(err, os.ErrNotExist) {
		if n, _ := countPrefixed(dir, prefix); n >= MaxAlertsPerOrigin {
			return res, fmt.Errorf("%s: %w (%d)", fe.Origin, ErrAlertsFull, MaxAlertsPerOrigin)
		}
		body := fmt.Sprintf("%s\norigin %s\ndetected %s\nreason %s\nsize %s\nconflicts 1\nroot %s\n\n-- checkpoint held --\n%s\n-- checkpoint received --\n%s",
			AlertHeader, fe.Origin, at.UTC().Format(time.RFC3339Nano), fe.Reason, size, root, fe.Held, fe.Got)
		res.New, res.Conflicts = true, 1
		return res, atomicfile.Write(res.Path, []byte(body), 0o644)
	}
	if err != nil {
		return res, err
	}
	head, rest, _ := strings.Cut(string(data), "\n\n")
	lines := strings.Split(head, "\n")
	conflicts := 1
	for i, l := range lines {
		switch k, v, _ := strings.Cut(l, " "); {
		case k == "root" && v == root:
			res.Conflicts = -1 // known
		case k == "conflicts":
			conflicts, _ = strconv.Atoi(v)
			lines[i] = "conflicts " + strconv.Itoa(conflicts+1)
		}
	}
	if res.Conflicts == -1 {
		res.Conflicts = conflicts
		return res, nil
	}
	res.Conflicts = conflicts + 1
	if conflicts < maxListedRoots {
		lines = append(lines, "root "+root)
	}
	return res, atomicfile.Write(res.Path, []byte(strings.Join(lines, "\n")+"\n\n"+rest), 0o644)
}

func shortHash(b []byte) string {
	h := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

func countPrefixed(dir, prefix string) (int, error) {
	entries, err := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			n++
		}
	}
	return n, err
}

// Alert is one saved fork alert.
type Alert struct {
	File   string `json:"file"` // the evidence: both signed checkpoints
	Origin string `json:"origin"`
	Reason string `json:"reason"`
	At     string `json:"at"`
	// Size is the tree size the checkpoints contradict each other at, and
	// Conflicts the distinct contradicting checkpoints received for it.
	Size      string `json:"size,omitempty"`
	Conflicts int    `json:"conflicts,omitempty"`
}

// Alerts lists the fork alerts saved in dir, oldest first.
func Alerts(dir string) ([]Alert, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Alert
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || !strings.HasPrefix(string(data), AlertHeader) {
			continue
		}
		a := Alert{File: filepath.Join(dir, e.Name())}
		head, _, _ := strings.Cut(string(data), "\n\n")
		for _, l := range strings.Split(head, "\n")[1:] {
			k, v, _ := strings.Cut(l, " ")
			switch k {
			case "origin":
				a.Origin = v
			case "detected":
				a.At = v
			case "reason":
				a.Reason = v
			case "size":
				a.Size = v
			case "conflicts":
				a.Conflicts, _ = strconv.Atoi(v)
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].At < out[j].At || out[i].At == out[j].At && out[i].File < out[j].File
	})
	return out, nil
}
