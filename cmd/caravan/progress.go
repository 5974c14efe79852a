package main

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress is a progress bar on a terminal, and nothing elsewhere (pipes,
// files, CI logs).
type progress struct{ bar *progressbar.ProgressBar }

func newProgress(w io.Writer, total int64, what string) *progress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("records"),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)}
}

func (p *progress) Set(n int64) {
	if p.bar != nil {
		_ = p.bar.Set64(n)
	}
}

func (p *progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// byteProgress shows how much of an input has been sent.
type byteProgress struct{ bar *progressbar.ProgressBar }

func newByteProgress(w io.Writer, size int64, what string) *byteProgress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &byteProgress{}
	}
	return &byteProgress{bar: progressbar.DefaultBytes(size, what)}
}

func (p *byteProgress) reader(r io.Reader) io.Reader {
	if p.bar == nil {
		return r
	}
	pr := progressbar.NewReader(r, p.bar)
	return &pr
}

// Set moves the bar to n bytes (when the gateway reads the file itself and
// reports how far it got).
func (p *byteProgress) Set(n int64) {
	if p.bar != nil {
		_ = p.bar.Set64(n)
	}
}

func (p *byteProgress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
