package api

import (
	"bytes"
	"context"
	"net/http"
)

// The client's roster calls: proposals, signatures, node delegations and
// reloads.

// SubmitRoster hands the gateway a proposed roster version (a roster
// file's bytes) with some of its signatures.
func (c *Client) SubmitRoster(ctx context.Context, data []byte) (*RosterProposal, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://caravan/v1/roster/proposals", bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/yaml")
	var p RosterProposal
	return &p, c.send(req, &p)
}

// SubmitDelegation hands the gateway an org's node delegation (YAML),
// signed by its org key.
func (c *Client) SubmitDelegation(ctx context.Context, data []byte) (*NodeDelegation, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://caravan/v1/roster/delegations", bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/yaml")
	var d NodeDelegation
	return &d, c.send(req, &d)
}

// RosterProposals lists the roster versions the gateway holds, pending,
// each with its document.
func (c *Client) RosterProposals(ctx context.Context) ([]RosterProposal, error) {
	var out []RosterProposal
	return out, c.call(ctx, http.MethodGet, "/v1/roster/proposals", nil, &out)
}

// ReloadRoster asks the gateway to reload its roster file.
func (c *Client) ReloadRoster(ctx context.Context) (*Status, error) {
	var st Status
	return &st, c.call(ctx, http.MethodPost, "/v1/roster/reload", nil, &st)
}
