package node

import (
	"context"
	"io"
	"net/http"
	"net/url"
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
	q := url.Values{"dataset": {o.Dataset}, "schema": {o.Schema}, "format": {o.Format}, "description": {o.Description},
		"dry_run": {strconv.FormatBool(o.DryRun)}, "reject": {strconv.FormatBool(o.Rejects)}, "label": o.Labels, "purpose": o.Purposes}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://caravan/v1/publish?"+q.Encode(), body)
	if err != nil {
		return nil, err
	}
	return streamEvents(c, req, "publish", func(ev *PublishEvent) (*PublishSummary, string) { return ev.Result, ev.Error }, onEvent)
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
