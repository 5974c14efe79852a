package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// RecordError is an input record that cannot be published. Field is a path
// such as "items[0].hs_code", or "" for the record as a whole; Msg says
// what is wrong with it. Others lists the record's other errors, at most
// MaxRecordErrors in all.
type RecordError struct {
	Line   int
	Field  string
	Msg    string
	Others []*schemas.FieldError
}

// MaxRecordErrors bounds the errors a rejected record is told of.
const MaxRecordErrors = 20

func (e *RecordError) Error() string {
	s := "line " + strconv.Itoa(e.Line) + ": "
	if e.Field != "" {
		s += e.Field + ": "
	}
	s += e.Msg
	for _, o := range e.Others {
		s += "; " + o.Error()
	}
	return s
}

// invalid is the RecordError of a record that fails s with err: err's field
// first, then the record's other errors.
func invalid(line int, s *schemas.Schema, v *jcs.Value, err error) *RecordError {
	re := &RecordError{Line: line, Msg: err.Error()}
	var fe *schemas.FieldError
	if errors.As(err, &fe) {
		fe = s.Shown(fe) // no sensitive value in a message
		re.Field, re.Msg = fe.Field, fe.Msg
	}
	for _, o := range s.ValidateValueAll(v, MaxRecordErrors) {
		if o.Field != re.Field && len(re.Others) < MaxRecordErrors-1 {
			re.Others = append(re.Others, s.Shown(o))
		}
	}
	// Clone: names may share the input's memory, which is reused.
	re.Field, re.Msg = strings.Clone(re.Field), strings.Clone(re.Msg)
	for i, o := range re.Others {
		re.Others[i] = &schemas.FieldError{Field: strings.Clone(o.Field), Msg: strings.Clone(o.Msg)}
	}
	return re
}

// Record is a canonicalized record, in publish order.
type Record struct {
	Index     uint64
	Line      int
	CID       cid.Cid
	Canonical []byte
	// Attributes is the canonical JSON object of the record's members named
	// in BuildOptions.Attributes (its policy attributes), in canonical
	// order: what a fetch decides on without reading the record.
	Attributes []byte
}

// BuildOptions configures Build.
type BuildOptions struct {
	// Schema validates every record; nil skips validation.
	Schema *schemas.Schema
	// Attributes names the top-level members that go into each Record's
	// Attributes (the schema's policy attributes).
	Attributes []string
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
	Tree     manifest.TreeHead
}

// A batch holds batchSize records, or fewer that add up to batchBytes: the
// pipeline's memory is bounded by its batches in flight, whatever the size
// of the records (at most MaxRecordSize each).
const (
	batchSize  = 256
	batchBytes = 1 << 20
)

// job is one batch of records on its way through the pipeline. Jobs are
// recycled with their buffers: a publish of a million records otherwise
// allocates its input twice over, and the collector spends its time
// waiting for the garbage collector.
type job struct {
	lines []int
	raws  [][]byte // the records as read, in arena
	arena []byte
	out   []Record
	errs  []*RecordError
	buf   []byte // out's canonical bytes and attributes
	done  chan struct{}
}

// Build streams records from src, in parallel canonicalizes, validates and
// hashes them, and hands the valid ones to sink in input order, in batches.
// It computes the record tree as it goes, so memory stays flat whatever the
// input size. On error nothing more is given to sink; the caller discards
// what it was given. The byte slices of the Records given to sink, and the
// raw bytes given to Reject, are reused once they return.
func Build(ctx context.Context, src Source, opts BuildOptions, sink func([]Record) error) (*BuildResult, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan *job, workers*2)
	pending := make(chan *job, workers*2)
	free := make(chan *job, workers*4+2)
	readErr := make(chan error, 1)
	go func() { // reader: owns src
		defer close(jobs)
		defer close(pending)
		readErr <- readBatches(ctx, src, jobs, pending, free)
	}()
	attrs := slices.Clone(opts.Attributes)
	slices.SortFunc(attrs, jcs.CompareKeys)
	attrs = slices.Compact(attrs)
	for range workers {
		go func() {
			var p jcs.Parser // one per worker: it reuses its memory
			for j := range jobs {
				process(&p, j, opts.Schema, attrs)
				close(j.done)
			}
		}()
	}

	sinks, sinkErr := startSink(ctx, cancel, sink, free)

	res := &BuildResult{}
	tree := manifest.NewTreeBuilder()
	read := 0
	var failed error
	for j := range pending {
		<-j.done
		if failed == nil && ctx.Err() != nil {
			failed = ctx.Err() // the sink failed, or the caller gave up
		}
		if failed != nil {
			continue // drain, so the reader and workers finish
		}
		read += len(j.lines)
		if failed = collect(j, opts, res, tree); failed != nil {
			cancel()
			continue
		}
		sinks <- j // and back to the reader, to be reused
		if opts.Progress != nil {
			opts.Progress(read)
		}
	}
	close(sinks)
	if err := <-sinkErr; err != nil {
		failed = err // the cause of any cancellation the collector saw
	}
	if err := <-readErr; failed == nil && err != nil {
		failed = err
	}
	if failed != nil {
		return nil, failed
	}
	head, err := tree.Head()
	if err != nil {
		return nil, err
	}
	res.Tree = head
	return res, nil
}

// startSink runs sink on a goroutine of its own, in order, so that storing
// one batch overlaps with collecting the next; it passes each job on to
// free, to be reused, and cancels ctx if sink fails. Closing the returned
// channel ends it, and its error (or nil) is sent on the other.
func startSink(ctx context.Context, cancel context.CancelFunc, sink func([]Record) error, free chan<- *job) (chan<- *job, <-chan error) {
	sinks := make(chan *job, 4)
	sinkErr := make(chan error, 1)
	go func() {
		var err error
		for j := range sinks {
			if len(j.out) > 0 && err == nil && ctx.Err() == nil { // nothing more once failed
				if err = sink(j.out); err != nil {
					cancel()
				}
			}
			select {
			case free <- j:
			default:
			}
		}
		sinkErr <- err
	}()
	return sinks, sinkErr
}

// collect keeps the valid records of one processed batch in j.out, with
// their indexes, and adds them to the tree; it hands rejected ones to
// opts.Reject.
func collect(j *job, opts BuildOptions, res *BuildResult, tree *manifest.TreeBuilder) error {
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
		if err := tree.Append(r.CID); err != nil {
			return err
		}
		valid = append(valid, r)
	}
	j.out = valid
	return nil
}

// readBatches reads batches of records into jobs, recycled from free when
// there are any, and sends each to the workers and, in order, to the
// collector.
func readBatches(ctx context.Context, src Source, jobs, pending chan<- *job, free <-chan *job) error {
	for {
		var j *job
		select {
		case j = <-free:
			j.lines, j.raws, j.arena, j.errs = j.lines[:0], j.raws[:0], j.arena[:0], j.errs[:0]
			if cap(j.arena) > 2*batchBytes { // a batch of large records: let it go
				j.arena, j.buf = nil, nil
			}
		default:
			j = &job{}
		}
		j.done = make(chan struct{})
		var err error
		var ends [batchSize]int
		for len(j.lines) < batchSize && len(j.arena) < batchBytes {
			var line int
			var raw []byte
			line, raw, err = src.Next()
			if err != nil {
				break
			}
			if j.arena == nil {
				j.arena = make([]byte, 0, min(batchSize*(len(raw)+len(raw)/4), batchBytes+len(raw)))
			}
			ends[len(j.lines)] = len(j.arena) + len(raw)
			j.lines = append(j.lines, line)
			j.arena = append(j.arena, raw...)
		}
		start := 0
		for _, end := range ends[:len(j.lines)] {
			j.raws = append(j.raws, j.arena[start:end:end])
			start = end
		}
		for range j.lines {
			j.errs = append(j.errs, nil)
		}
		var re *RecordError
		if errors.As(err, &re) {
			// An unreadable record ends the batch where it stands, in order.
			j.lines = append(j.lines, re.Line)
			j.raws = append(j.raws, nil)
			j.errs = append(j.errs, re)
			err = nil
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

// process canonicalizes, validates and hashes one batch, and projects each
// record's attributes.
func process(p *jcs.Parser, j *job, s *schemas.Schema, attrs []string) {
	j.out = slices.Grow(j.out[:0], len(j.lines))[:len(j.lines)]
	clear(j.out)
	buf := j.buf[:0]
	if cap(buf) < len(j.arena)+len(j.arena)/8 {
		buf = make([]byte, 0, len(j.arena)+len(j.arena)/4)
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
				j.errs[i] = invalid(j.lines[i], s, &v, err)
				continue
			}
		}
		// Appending to buf may move it; records already made keep the old
		// array, which stays valid.
		start := len(buf)
		out, err := v.AppendCanonical(buf)
		mid := len(out)
		if err == nil {
			out, err = appendProjection(out, &v, attrs)
		}
		if err != nil {
			j.errs[i] = &RecordError{Line: j.lines[i], Msg: err.Error()}
			continue
		}
		buf = out
		canon := buf[start:mid:mid]
		j.out[i] = Record{Line: j.lines[i], CID: cids.OfJSON(canon), Canonical: canon, Attributes: buf[mid:len(buf):len(buf)]}
	}
	j.buf = buf
}

// appendProjection appends the canonical JSON object of v's members named in
// attrs. Both are in canonical order, so one merge finds them.
func appendProjection(dst []byte, v *jcs.Value, attrs []string) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	ms := v.Members()
	for _, a := range attrs {
		for len(ms) > 0 && jcs.CompareKeys(ms[0].Key, a) < 0 {
			ms = ms[1:]
		}
		if len(ms) == 0 {
			break
		}
		if ms[0].Key != a {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = jcs.AppendString(dst, a)
		dst = append(dst, ':')
		var err error
		if dst, err = ms[0].Value.AppendCanonical(dst); err != nil {
			return nil, err
		}
		ms = ms[1:]
	}
	return append(dst, '}'), nil
}

// String summarizes the result for humans.
func (r *BuildResult) String() string {
	return fmt.Sprintf("%d records, %d rejected, tree root %x", r.Records, r.Rejected, r.Tree.Root)
}
