package node

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
)

// Fetch asks the gateway to fetch a partner's dataset; onEvent, if set, gets
// each progress event.
func (c *Client) Fetch(ctx context.Context, o FetchOptions, onEvent func(FetchEvent)) (*FetchSummary, error) {
	body, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://caravan/v1/fetch", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return streamEvents(c, req, "fetch", func(ev *FetchEvent) (*FetchSummary, string) { return ev.Result, ev.Error }, onEvent)
}
