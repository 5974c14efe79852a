package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/internal/jcs"
	"github.com/caravan-consortium/caravan/sharing/publish"
)

// Publish publishes the records read from body, or from the file req.Path,
// as the next version of one of this org's datasets.
func (n *Node) Publish(ctx context.Context, req api.PublishRequest, body io.Reader, event func(api.PublishEvent) error) (*api.PublishSummary, error) {
	schema, err := n.registry.Lookup(req.Schema)
	if err != nil {
		return nil, api.FieldErrorf(http.StatusBadRequest, "schema", "%v", err)
	}
	if req.Path != "" {
		f, err := openLocalInput(req.Path)
		if err != nil {
			return nil, api.FieldErrorf(http.StatusUnprocessableEntity, "path", "%v", err)
		}
		defer f.Close()
		body = f
	}
	in := &countingReader{r: body}
	preq := publish.Request{Dataset: req.Dataset, Schema: schema, Labels: req.Labels,
		Input:    publish.Input{Format: req.Format, Encoding: req.Encoding, Delimiter: req.Delimiter},
		Purposes: req.Purposes, Description: req.Description, DryRun: req.DryRun,
		Progress: func(k int) { _ = event(api.PublishEvent{Progress: k, Bytes: in.n.Load()}) }}
	if req.Rejects {
		preq.Reject = func(raw []byte, e *publish.RecordError) error {
			rec := api.RejectedRecord{Line: e.Line, Field: e.Field, Error: e.Msg}
			for _, o := range e.Others {
				rec.Others = append(rec.Others, api.FieldError{Field: o.Field, Error: o.Msg})
			}
			// The record as read, with the values of its sensitive fields
			// left out; nothing if it is not JSON (it may hold them).
			if v, err := jcs.Parse(raw); err == nil {
				rec.Record, _ = json.Marshal(schema.Redact(v))
			}
			return event(api.PublishEvent{Reject: &rec})
		}
	}
	res, err := n.publisher.Publish(ctx, preq, in)
	if err != nil {
		return nil, publishError(err)
	}
	if !req.DryRun {
		n.metrics.published(res.Manifest.Records)
	}
	return &api.PublishSummary{CID: res.Statement.CID().String(), Manifest: res.Manifest,
		Statement: res.Statement.Marshal(), Rejected: res.Rejected, DryRun: req.DryRun}, nil
}

// publishError gives a failed publish its status: 422 for records that
// cannot be published, 400 for a request that is wrong whatever its records.
func publishError(err error) error {
	var re *publish.RecordError
	var ee *publish.EncodingError
	switch {
	case errors.As(err, &ee):
		return api.Errorf(http.StatusUnprocessableEntity, "%w (nothing was published)", err)
	case errors.As(err, &re) && !errors.Is(err, publish.ErrBadRequest):
		return api.Errorf(http.StatusUnprocessableEntity, "%s (nothing was published)", re)
	case errors.Is(err, publish.ErrNothingValid):
		return api.Errorf(http.StatusUnprocessableEntity, "%w", err)
	case errors.Is(err, publish.ErrBadRequest):
		return api.Errorf(http.StatusBadRequest, "%w", err)
	}
	return err
}

// openLocalInput opens a file the publishing client named instead of
// streaming it. Only the gateway's owner can reach the API socket, and the
// file is opened with the gateway's own rights, so this grants nothing the
// client did not have; it saves copying every byte through the socket.
func openLocalInput(path string) (*os.File, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("path %q: must be absolute", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("path %q: not a regular file", path)
	}
	return f, nil
}

// countingReader counts the bytes read through it, for progress events
// sent from another goroutine.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
