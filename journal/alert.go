package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// AlertHeader starts every fork-evidence file.
const AlertHeader = "caravan journal fork evidence v1"

// SaveAlert writes the evidence of a fork to dir: a text file with the origin,
// the reason and both signed checkpoints, which a third party can check with
// the log's public key (two notes the log signed that cannot both be true).
func SaveAlert(dir string, fe *ForkError, at time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := fmt.Sprintf("%s-%s.txt", at.UTC().Format("20060102T150405.000000000Z"), strings.ReplaceAll(fe.Origin, "/", "_"))
	body := fmt.Sprintf("%s\norigin %s\ndetected %s\nreason %s\n\n-- checkpoint held --\n%s\n-- checkpoint received --\n%s",
		AlertHeader, fe.Origin, at.UTC().Format(time.RFC3339Nano), fe.Reason, fe.Held, fe.Got)
	path := filepath.Join(dir, name)
	return path, atomicfile.Write(path, []byte(body), 0o644)
}

// Alert is one saved fork alert.
type Alert struct {
	File   string `json:"file"` // the evidence: both signed checkpoints
	Origin string `json:"origin"`
	Reason string `json:"reason"`
	At     string `json:"at"`
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
		for _, l := range strings.Split(string(data), "\n")[1:4] {
			k, v, _ := strings.Cut(l, " ")
			switch k {
			case "origin":
				a.Origin = v
			case "detected":
				a.At = v
			case "reason":
				a.Reason = v
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}
