package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"

	"github.com/caravan-consortium/caravan/sharing"
)

// PublishOptions are the parameters of Client.Publish.
type PublishOptions struct {
	Dataset, Schema, Format, Description string
	Labels, Purposes                     []string
	DryRun                               bool
	// Rejects asks the gateway to publish the valid records and report
	// the others as events, instead of failing on the first.
	Rejects bool
}

// Publish streams body (JSONL or CSV) to the gateway. onEvent, if set, is
// called with each progress and reject event.
func (c *Client) Publish(ctx context.Context, o PublishOptions, body io.Reader, onEvent func(PublishEvent)) (*PublishSummary, error) {
	return c.publish(ctx, o, "", body, onEvent)
}

// PublishFile asks the gateway to read the file at path itself, which
// spares copying every byte through the control socket. It fails with an
// error wrapping ErrUnreadableHere if the gateway cannot open the file (it
// runs as another user, or on another file system view); Publish then
// works.
func (c *Client) PublishFile(ctx context.Context, o PublishOptions, path string, onEvent func(PublishEvent)) (*PublishSummary, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return c.publish(ctx, o, abs, http.NoBody, onEvent)
}

// ErrUnreadableHere: the gateway cannot open the file a client named.
var ErrUnreadableHere = errors.New("the gateway cannot read this file itself")

func (c *Client) publish(ctx context.Context, o PublishOptions, path string, body io.Reader, onEvent func(PublishEvent)) (*PublishSummary, error) {
	q := url.Values{"dataset": {o.Dataset}, "schema": {o.Schema}, "format": {o.Format}, "description": {o.Description},
		"dry_run": {strconv.FormatBool(o.DryRun)}, "reject": {strconv.FormatBool(o.Rejects)}, "label": o.Labels, "purpose": o.Purposes}
	if path != "" {
		q.Set("path", path)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://caravan/v1/publish?"+q.Encode(), body)
	if err != nil {
		return nil, err
	}
	res, err := streamEvents(c, req, "publish", func(ev *PublishEvent) (*PublishSummary, string) { return ev.Result, ev.Error }, onEvent)
	var se *statusError
	if path != "" && errors.As(err, &se) && se.code == http.StatusUnprocessableEntity {
		return nil, fmt.Errorf("%w: %v", ErrUnreadableHere, err)
	}
	return res, err
}

// Catalog lists catalog entries. With as set to an org id, it lists only
// this org's datasets that that org may discover under the policies in force.
func (c *Client) Catalog(ctx context.Context, f sharing.Filter, as string) ([]sharing.Entry, error) {
	q := url.Values{"org": {f.Org}, "schema": {f.Schema}, "label": {f.Label}, "all": {strconv.FormatBool(f.All)}}
	if as != "" {
		q.Set("as", as)
	}
	var out []sharing.Entry
	return out, c.call(ctx, http.MethodGet, "/v1/catalog?"+q.Encode(), &out)
}

// CatalogItem fetches one statement by CID.
func (c *Client) CatalogItem(ctx context.Context, id string) (*CatalogItem, error) {
	var out CatalogItem
	return &out, c.call(ctx, http.MethodGet, "/v1/catalog/"+url.PathEscape(id), &out)
}

// Retract retracts one of this org's datasets.
func (c *Client) Retract(ctx context.Context, dataset, reason string) (*CatalogItem, error) {
	var out CatalogItem
	q := url.Values{"dataset": {dataset}, "reason": {reason}}
	return &out, c.call(ctx, http.MethodPost, "/v1/retract?"+q.Encode(), &out)
}
