package sharing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
)

// RecordError is an input record that cannot be published. Field is a path
// such as "items[0].hs_code", or "" for the record as a whole.
type RecordError struct {
	Line  int
	Field string
	Msg   string
}

func (e *RecordError) Error() string {
	s := "line " + strconv.Itoa(e.Line) + ": "
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Msg
}

// Record is a canonicalized record, in publish order.
type Record struct {
	Index     uint64
	Line      int
	CID       cid.Cid
	Canonical []byte
}

// BuildOptions configures Build.
type BuildOptions struct {
	// Schema validates every record; nil skips validation.
	Schema *schemas.Schema
	// Reject, if set, receives each invalid record, and Build goes on with
	// the valid ones. If nil, the first invalid record (in input order)
	// fails the build.
	Reject func(raw []byte, err *RecordError) error
	// Workers parse, validate and hash records in parallel; default
	// GOMAXPROCS.
	Workers int
	// Progress, if set, is called with the number of records read so far,
	// once per batch.
	Progress func(n int)
}

// BuildResult is what Build made of its input.
type BuildResult struct {
	Records  uint64
	Rejected int
	Tree     TreeHead
}

const batchSize = 256

type job struct {
	lines []int
	raws  [][]byte
	out   []Record
	errs  []*RecordError
	done  chan struct{}
}

// Build streams records from src, in parallel canonicalizes, validates and
// hashes them, and hands the valid ones to sink in input order, in batches.
// It computes the record tree as it goes, so memory stays flat whatever the
// input size. On error nothing more is given to sink; the caller discards
// what it was given.
func Build(ctx context.Context, src Source, opts BuildOptions, sink func([]Record) error) (*BuildResult, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan *job, workers*2)
	pending := make(chan *job, workers*2)
	readErr := make(chan error, 1)
	go func() { // reader: owns src
		defer close(jobs)
		defer close(pending)
		readErr <- readBatches(ctx, src, jobs, pending)
	}()
	for range workers {
		go func() {
			var p jcs.Parser // one per worker: it reuses its memory
			for j := range jobs {
				process(&p, j, opts.Schema)
				close(j.done)
			}
		}()
	}

	res := &BuildResult{}
	tree := newTreeBuilder()
	read := 0
	var failed error
	for j := range pending {
		<-j.done
		if failed != nil {
			continue // drain, so the reader and workers finish
		}
		read += len(j.lines)
		if failed = collect(j, opts, res, tree, sink); failed != nil {
			cancel()
			continue
		}
		if opts.Progress != nil {
			opts.Progress(read)
		}
	}
	if err := <-readErr; failed == nil && err != nil {
		failed = err
	}
	if failed != nil {
		return nil, failed
	}
	head, err := tree.head()
	if err != nil {
		return nil, err
	}
	res.Tree = head
	return res, nil
}

// collect hands one processed batch to sink, in order.
func collect(j *job, opts BuildOptions, res *BuildResult, tree *treeBuilder, sink func([]Record) error) error {
	valid := j.out[:0]
	for i := range j.lines {
		if e := j.errs[i]; e != nil {
			if opts.Reject == nil {
				return e
			}
			res.Rejected++
			if err := opts.Reject(j.raws[i], e); err != nil {
				return err
			}
			continue
		}
		r := j.out[i]
		r.Index = res.Records
		res.Records++
		if err := tree.append(LeafHash(r.CID)); err != nil {
			return err
		}
		valid = append(valid, r)
	}
	if len(valid) == 0 {
		return nil
	}
	return sink(valid)
}

func readBatches(ctx context.Context, src Source, jobs, pending chan<- *job) error {
	for {
		j := &job{done: make(chan struct{})}
		var err error
		var arena []byte // the batch's lines, copied into one buffer
		var ends []int
		for len(j.lines) < batchSize {
			var line int
			var raw []byte
			line, raw, err = src.Next()
			if err != nil {
				break
			}
			if arena == nil {
				arena = make([]byte, 0, batchSize*(len(raw)+len(raw)/4))
			}
			j.lines = append(j.lines, line)
			arena = append(arena, raw...)
			ends = append(ends, len(arena))
		}
		start := 0
		for _, end := range ends {
			j.raws = append(j.raws, arena[start:end:end])
			start = end
		}
		var re *RecordError
		if errors.As(err, &re) {
			// An unreadable record ends the batch where it stands, in order.
			j.lines = append(j.lines, re.Line)
			j.raws = append(j.raws, nil)
			err = nil
			j.errs = make([]*RecordError, len(j.lines))
			j.errs[len(j.lines)-1] = re
		}
		if len(j.lines) > 0 {
			select {
			case jobs <- j:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case pending <- j:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// process canonicalizes, validates and hashes one batch.
func process(p *jcs.Parser, j *job, s *schemas.Schema) {
	j.out = make([]Record, len(j.lines))
	if j.errs == nil {
		j.errs = make([]*RecordError, len(j.lines))
	}
	for i, raw := range j.raws {
		if j.errs[i] != nil {
			continue
		}
		v, err := p.Parse(raw)
		if err != nil {
			j.errs[i] = &RecordError{Line: j.lines[i], Msg: err.Error()}
			continue
		}
		if v.Kind != jcs.Object {
			j.errs[i] = &RecordError{Line: j.lines[i], Msg: "a record must be a JSON object"}
			continue
		}
		if s != nil {
			if err := s.ValidateValue(&v); err != nil {
				var fe *schemas.FieldError
				if errors.As(err, &fe) {
					j.errs[i] = &RecordError{Line: j.lines[i], Field: fe.Field, Msg: fe.Msg}
				} else {
					j.errs[i] = &RecordError{Line: j.lines[i], Msg: err.Error()}
				}
				continue
			}
		}
		canon, err := v.AppendCanonical(make([]byte, 0, len(raw)))
		if err != nil {
			j.errs[i] = &RecordError{Line: j.lines[i], Msg: err.Error()}
			continue
		}
		j.out[i] = Record{Line: j.lines[i], CID: cids.OfJSON(canon), Canonical: canon}
	}
}

// String summarizes the result for humans.
func (r *BuildResult) String() string {
	return fmt.Sprintf("%d records, %d rejected, tree root %x", r.Records, r.Rejected, r.Tree.Root)
}
