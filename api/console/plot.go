package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/journal/event"
)

// The plots are inline SVG drawn here: no script, no library, readable
// with styles off (each mark has a <title>), and scaled to the page's
// width by their viewBox.
const (
	plotW, plotH           = 640.0, 220.0
	padL, padR, padT, padB = 56.0, 12.0, 12.0, 36.0
	plotBuckets            = 24
)

// witnessPlot draws the times to witnessed, oldest to newest.
func witnessPlot(samples []api.WitnessSample) template.HTML {
	if len(samples) == 0 {
		return ""
	}
	top := 0.0
	for _, s := range samples {
		top = math.Max(top, s.Seconds)
	}
	top = niceCeil(top)
	var b strings.Builder
	open(&b, fmt.Sprintf("Time to witnessed of the newest %d checkpoints, from %s to %s; the highest %.3f s", len(samples),
		samples[0].At.Format("15:04:05"), samples[len(samples)-1].At.Format("15:04:05"), top))
	yAxis(&b, top, "s")
	x := func(i int) float64 {
		if len(samples) == 1 {
			return padL + (plotW-padL-padR)/2
		}
		return padL + float64(i)*(plotW-padL-padR)/float64(len(samples)-1)
	}
	y := func(v float64) float64 { return plotH - padB - v/top*(plotH-padT-padB) }
	pts := make([]string, len(samples))
	for i, s := range samples {
		pts[i] = fmt.Sprintf("%.1f,%.1f", x(i), y(s.Seconds))
	}
	fmt.Fprintf(&b, `<polyline class="line" points="%s"/>`, strings.Join(pts, " "))
	for i, s := range samples {
		fmt.Fprintf(&b, `<circle class="dot" cx="%.1f" cy="%.1f" r="3"><title>%s: %.3f s</title></circle>`, x(i), y(s.Seconds), s.At.Format(time.RFC3339), s.Seconds)
	}
	xLabels(&b, samples[0].At, samples[len(samples)-1].At)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and times formatted here only
}

// fetchesPlot draws the fetches this gateway answered (its decisions) and
// made (its receipts) over time, in plotBuckets bars each.
func fetchesPlot(entries []api.JournalEntry) template.HTML {
	if len(entries) == 0 {
		return ""
	}
	start, end := entries[0].Event.Time, time.Now().UTC()
	span := max(end.Sub(start), time.Hour)
	start = end.Add(-span)
	width := span / plotBuckets
	var in, out [plotBuckets]int
	for _, e := range entries {
		i := min(int(e.Event.Time.Sub(start)/width), plotBuckets-1)
		if i < 0 {
			continue
		}
		if e.Event.Type == event.TypeDecision {
			in[i]++
		} else {
			out[i]++
		}
	}
	top := 1
	for i := range plotBuckets {
		top = max(top, in[i], out[i])
	}
	topF := niceCeil(float64(top))
	var b strings.Builder
	open(&b, fmt.Sprintf("Fetches over the last %s: answered for partners and made of partners, in %d periods of %s", span.Round(time.Minute), plotBuckets, width.Round(time.Second)))
	yAxis(&b, topF, "")
	slot := (plotW - padL - padR) / plotBuckets
	bar := slot * 0.4
	h := func(n int) float64 { return float64(n) / topF * (plotH - padT - padB) }
	for i := range plotBuckets {
		x0 := padL + float64(i)*slot + slot*0.1
		from := start.Add(time.Duration(i) * width).Format("15:04")
		for j, s := range []struct {
			class string
			n     int
			what  string
		}{{"bar-in", in[i], "answered"}, {"bar-out", out[i], "made"}} {
			if s.n == 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>from %s: %d %s</title></rect>`,
				s.class, x0+float64(j)*bar, plotH-padB-h(s.n), bar, h(s.n), from, s.n, s.what)
		}
	}
	xLabels(&b, start, end)
	fmt.Fprintf(&b, `<rect class="bar-in" x="%.0f" y="4" width="10" height="10"/><text x="%.0f" y="13">answered</text>`, plotW-190, plotW-176)
	fmt.Fprintf(&b, `<rect class="bar-out" x="%.0f" y="4" width="10" height="10"/><text x="%.0f" y="13">made</text>`, plotW-90, plotW-76)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and times formatted here only
}

func open(b *strings.Builder, label string) {
	fmt.Fprintf(b, `<svg class="plot" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`,
		plotW, plotH, template.HTMLEscapeString(label), template.HTMLEscapeString(label))
	fmt.Fprintf(b, `<line class="axis" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, padL, plotH-padB, plotW-padR, plotH-padB)
	fmt.Fprintf(b, `<line class="axis" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, padL, padT, padL, plotH-padB)
}

// yAxis labels 0, half and top.
func yAxis(b *strings.Builder, top float64, unit string) {
	for _, f := range []float64{0, 0.5, 1} {
		y := plotH - padB - f*(plotH-padT-padB)
		fmt.Fprintf(b, `<line class="grid" x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"/>`, padL, y, plotW-padR, y)
		fmt.Fprintf(b, `<text class="tick" x="%.0f" y="%.1f" text-anchor="end">%s%s</text>`, padL-6, y+4, trimNumber(f*top), unit)
	}
}

func xLabels(b *strings.Builder, from, to time.Time) {
	fmt.Fprintf(b, `<text class="tick" x="%.0f" y="%.0f">%s</text>`, padL, plotH-12, from.UTC().Format("Jan 2 15:04"))
	fmt.Fprintf(b, `<text class="tick" x="%.0f" y="%.0f" text-anchor="end">%s UTC</text>`, plotW-padR, plotH-12, to.UTC().Format("Jan 2 15:04"))
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimNumber(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
