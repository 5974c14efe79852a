package fetch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Job states.
const (
	JobRunning   = "running"
	JobDone      = "done"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// KeepJobs is how many ended fetches a Requester remembers; the journal's
// receipts are the lasting record.
const KeepJobs = 100

// Job is one fetch a Requester ran or runs, whatever started it.
type Job struct {
	ID        string
	Order     Order  // its Out left empty: a path on the gateway's machine is not for every reader
	State     string // Job*
	StartedAt time.Time
	EndedAt   *time.Time
	Received  uint64
	Permitted uint64
	Result    *Summary
	Error     string
}

// jobs is a Requester's fetches since it started: those in progress and
// the newest ended ones.
type jobs struct {
	base  context.Context // of fetches that outlive their caller; ends at Close
	stop  context.CancelFunc
	mu    sync.Mutex
	byID  map[string]*jobEntry
	order []string // oldest first
}

type jobEntry struct {
	job     Job
	cancel  context.CancelFunc
	changed chan struct{} // closed, and replaced, on every change
}

// Run runs a fetch as a job until it ends. named, if set, is called once,
// with the job's id, as the partner is asked (so that a request refused
// before keeps its own error); progress, if set, with the counts, as Fetch
// calls it.
func (r *Requester) Run(ctx context.Context, req Order, named func(id string), progress func(received, permitted uint64)) (string, *Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	id := r.jobs.start(req, cancel)
	var once sync.Once
	sum, err := r.Fetch(ctx, req, func(received, permitted uint64) {
		if named != nil {
			once.Do(func() { named(id) })
		}
		r.jobs.update(id, func(j *Job) { j.Received, j.Permitted = received, permitted })
		if progress != nil {
			progress(received, permitted)
		}
	})
	if err != nil && ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %w", context.Canceled, err)
	}
	r.jobs.end(id, sum, err)
	return id, sum, err
}

// Start runs a fetch as a job that outlives its caller (until Close), and
// returns once the partner is asked, with the job; or with the error of a
// fetch refused before that.
func (r *Requester) Start(req Order) (Job, error) {
	named := make(chan string, 1)
	failed := make(chan error, 1)
	go func() {
		_, _, err := r.Run(r.jobs.base, req, func(id string) { named <- id }, nil)
		failed <- err
	}()
	select {
	case id := <-named:
		j, _, _ := r.Job(id)
		return j, nil
	case err := <-failed:
		return Job{}, err
	}
}

// Job returns a job and a channel closed at its next change.
func (r *Requester) Job(id string) (Job, <-chan struct{}, bool) {
	r.jobs.mu.Lock()
	defer r.jobs.mu.Unlock()
	e, ok := r.jobs.byID[id]
	if !ok {
		return Job{}, nil, false
	}
	return e.job, e.changed, true
}

// Jobs lists the jobs remembered, newest first.
func (r *Requester) Jobs() []Job {
	r.jobs.mu.Lock()
	defer r.jobs.mu.Unlock()
	out := make([]Job, 0, len(r.jobs.order))
	for i := len(r.jobs.order) - 1; i >= 0; i-- {
		out = append(out, r.jobs.byID[r.jobs.order[i]].job)
	}
	return out
}

// Cancel stops a job in progress; false if none in progress has that id.
func (r *Requester) Cancel(id string) bool {
	r.jobs.mu.Lock()
	e, ok := r.jobs.byID[id]
	r.jobs.mu.Unlock()
	if !ok || e.job.State != JobRunning {
		return false
	}
	e.cancel()
	return true
}

// Close stops the jobs that outlive their callers (Start).
func (r *Requester) Close() { r.jobs.stop() }

// start registers a job in progress, which cancel stops.
func (js *jobs) start(req Order, cancel context.CancelFunc) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.byID == nil {
		js.byID = map[string]*jobEntry{}
	}
	req.Out = ""
	js.byID[id] = &jobEntry{job: Job{ID: id, Order: req, State: JobRunning, StartedAt: time.Now().UTC()},
		cancel: cancel, changed: make(chan struct{})}
	js.order = append(js.order, id)
	return id
}

// update changes a job and wakes its watchers.
func (js *jobs) update(id string, f func(*Job)) {
	js.mu.Lock()
	defer js.mu.Unlock()
	e, ok := js.byID[id]
	if !ok {
		return
	}
	f(&e.job)
	close(e.changed)
	e.changed = make(chan struct{})
}

// end records how a job ended, and forgets the oldest ended ones beyond
// KeepJobs.
func (js *jobs) end(id string, sum *Summary, err error) {
	now := time.Now().UTC()
	js.update(id, func(j *Job) {
		j.EndedAt = &now
		switch {
		case err == nil:
			j.State, j.Result = JobDone, sum
			j.Received, j.Permitted = sum.Received, sum.Permitted
		case errors.Is(err, context.Canceled):
			j.State, j.Error = JobCancelled, err.Error()
		default:
			j.State, j.Error = JobFailed, err.Error()
		}
	})
	js.mu.Lock()
	defer js.mu.Unlock()
	ended := 0
	for i := len(js.order) - 1; i >= 0; i-- {
		e := js.byID[js.order[i]]
		if e.job.State == JobRunning {
			continue
		}
		if ended++; ended > KeepJobs {
			delete(js.byID, js.order[i])
			js.order = slices.Delete(js.order, i, i+1)
		}
	}
}
