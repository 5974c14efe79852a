package gateway

import (
	"context"
	"errors"
	"io"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/fetch"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// fetchService is the API's fetching: it hands the API's requests to
// sharing/fetch's Requester (whose ports fetch_ports.go fills) and turns
// what comes back into the API's wire types and error kinds.
type fetchService struct {
	requester *fetch.Requester
	catalog   *catalog.Catalog
	store     store.FetchedStore
}

// Fetch runs a fetch as a job for the length of ctx; named gets the job's
// id as the partner is asked, progress the counts.
func (fs *fetchService) Fetch(ctx context.Context, req api.FetchRequest, named func(id string), progress func(received, permitted uint64)) (*api.FetchSummary, error) {
	_, sum, err := fs.requester.Run(ctx, fetch.Order(req), named, progress)
	if err != nil {
		return nil, fetchError(err)
	}
	return summaryOf(sum), nil
}

// StartFetch starts a fetch that outlives the request.
func (fs *fetchService) StartFetch(req api.FetchRequest) (api.FetchInfo, error) {
	j, err := fs.requester.Start(fetch.Order(req))
	if err != nil {
		return api.FetchInfo{}, fetchError(err)
	}
	return infoOf(j), nil
}

// Fetches lists the fetches in progress and the newest ended ones.
func (fs *fetchService) Fetches() []api.FetchInfo {
	jobs := fs.requester.Jobs()
	out := make([]api.FetchInfo, len(jobs))
	for i, j := range jobs {
		out[i] = infoOf(j)
	}
	return out
}

// FetchInfo is one fetch, and a channel closed at its next change.
func (fs *fetchService) FetchInfo(id string) (api.FetchInfo, <-chan struct{}, error) {
	j, changed, ok := fs.requester.Job(id)
	if !ok {
		return api.FetchInfo{}, nil, api.Errorf(api.ErrNotFound, "no fetch has id %q (the gateway remembers the newest %d ended ones)", id, fetch.KeepJobs)
	}
	return infoOf(j), changed, nil
}

// CancelFetch stops a fetch in progress.
func (fs *fetchService) CancelFetch(id string) error {
	if !fs.requester.Cancel(id) {
		return api.Errorf(api.ErrNotFound, "no fetch in progress has id %q", id)
	}
	return nil
}

// Fetched writes, one a line in index order, the records this gateway
// received and verified of a dataset version (a CID or
// OWNER/DATASET[@VERSION]) for a purpose; it returns how many.
func (fs *fetchService) Fetched(ctx context.Context, ref, purpose string, w io.Writer) (uint64, error) {
	id, err := manifestRef(fs.catalog, ref)
	if err != nil {
		return 0, err
	}
	if !manifest.ValidPurpose(purpose) {
		return 0, api.FieldErrorf(api.ErrInvalid, "purpose", "purpose %.80q: %s", purpose, manifest.PurposeRule)
	}
	var count uint64
	err = fs.store.Fetched(id, purpose, func(_ uint64, data []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		count++
		if _, err := w.Write(data); err != nil {
			return err
		}
		_, err := w.Write([]byte{'\n'})
		return err
	})
	return count, err
}

// fetchError gives the Requester's own errors their kinds.
func fetchError(err error) error {
	var re *fetch.RequestError
	switch {
	case errors.As(err, &re):
		return &api.Error{Kind: api.ErrInvalid, Field: re.Field, Err: err}
	case errors.Is(err, fetch.ErrInProgress):
		return &api.Error{Kind: api.ErrConflict, Err: err}
	}
	return err
}

func summaryOf(s *fetch.Summary) *api.FetchSummary {
	if s == nil {
		return nil
	}
	out := api.FetchSummary(*s)
	return &out
}

func infoOf(j fetch.Job) api.FetchInfo {
	return api.FetchInfo{ID: j.ID, Request: api.FetchRequest(j.Order), State: j.State, StartedAt: j.StartedAt, EndedAt: j.EndedAt,
		Received: j.Received, Permitted: j.Permitted, Result: summaryOf(j.Result), Error: j.Error}
}
