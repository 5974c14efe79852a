package console

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/journal/event"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// short cuts a CID or hash to its head and tail, as people compare them.
	"short": shortID,
	"prefix": func(n int, s string) string {
		if len(s) <= n {
			return s
		}
		return s[:n]
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		d := time.Since(t).Round(time.Second)
		switch {
		case d < time.Minute:
			return fmt.Sprintf("%ds ago", int(d.Seconds()))
		case d < time.Hour:
			return fmt.Sprintf("%dm ago", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%dh ago", int(d.Hours()))
		}
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	},
	"join": strings.Join,
	"hex":  hex.EncodeToString,
	"pretty": func(v any) string {
		if raw, ok := v.(json.RawMessage); ok {
			var x any
			if json.Unmarshal(raw, &x) == nil {
				v = x
			}
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err.Error()
		}
		return string(b)
	},
	"seconds": func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) },
	"bytes": func(n uint64) string {
		switch {
		case n >= 1<<30:
			return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d B", n)
	},
	"sub": func(a, b uint64) uint64 {
		if b > a {
			return 0
		}
		return a - b
	},
	"add":     func(a, b uint64) uint64 { return a + b },
	"summary": summary,
	// dict makes a map of its key, value pairs, to hand a sub-template
	// more than one value.
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
}

// summary says what a journal entry records, in a line.
func summary(e *event.Event) string {
	switch e.Type {
	case event.TypePublish:
		return fmt.Sprintf("published %s version %d: %d records (schema %s)", e.Dataset, e.Version, e.Records, e.Schema)
	case event.TypeRetract:
		return "retracted " + e.Dataset
	case event.TypeDecision:
		return fmt.Sprintf("%s asked %s for %s: %d permitted, %d withheld", e.Requester, e.Dataset, e.Purpose, e.Permitted, e.Denied)
	case event.TypeReceipt:
		return fmt.Sprintf("received %s of %s for %s: %d records (%d withheld)", e.Dataset, e.Provider, e.Purpose, e.Permitted, e.Denied)
	case event.TypePolicy:
		return "policy bundle " + shortID(e.Bundle) + " in force"
	case event.TypeRoster:
		return fmt.Sprintf("roster version %d in force", e.RosterVersion)
	case event.TypeSchema:
		return "registered schema " + e.Schema
	case event.TypeSealed:
		return "sealed dataset version " + shortID(e.Manifest)
	case event.TypeDisclose:
		return "disclosed a sealed statement to " + e.Requester
	}
	return e.Type
}

func shortID(s string) string {
	if len(s) <= 20 {
		return s
	}
	return s[:10] + "…" + s[len(s)-6:]
}
