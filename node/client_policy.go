package node

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
)

// Policy fetches the policy bundle in force and its reload counters.
func (c *Client) Policy(ctx context.Context) (*PolicyInfo, error) {
	var out PolicyInfo
	return &out, c.call(ctx, http.MethodGet, "/v1/policy", &out)
}

// ReloadPolicy asks the gateway to reload its policy directory now.
func (c *Client) ReloadPolicy(ctx context.Context) (*PolicyInfo, error) {
	var out PolicyInfo
	return &out, c.call(ctx, http.MethodPost, "/v1/policy/reload", &out)
}

// Explain asks the gateway to decide one record and say why.
func (c *Client) Explain(ctx context.Context, req ExplainRequest) (*ExplainResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out ExplainResult
	return &out, c.callBody(ctx, http.MethodPost, "/v1/policy/explain", bytes.NewReader(body), &out)
}
