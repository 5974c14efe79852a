package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Errors that callers check with errors.Is.
var (
	// ErrNotRunning: no gateway answers on the data directory's socket.
	ErrNotRunning = errors.New("no gateway is running")
	// ErrUnreadableHere: the gateway cannot open the file a client named
	// (it runs as another user, or sees another file system); stream it.
	ErrUnreadableHere = errors.New("the gateway cannot read this file itself")
)

// Client talks to a running gateway through its API. The CLI and devnet use
// it; it imports nothing of the gateway.
type Client struct {
	dir  string
	path string
	hc   *http.Client
}

// NewClient returns a client for the gateway of data directory dir, over
// its Unix socket. It does not connect until a call is made.
func NewClient(dir string) (*Client, error) {
	path, err := SocketPath(dir)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}
	return &Client{dir: dir, path: path, hc: &http.Client{Transport: tr}}, nil
}

// Status fetches the gateway's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	return &st, c.call(ctx, http.MethodGet, "/v1/status", nil, &st)
}

// Publish streams body (JSONL or CSV) to the gateway. onEvent, if set, is
// called with each progress and reject event.
func (c *Client) Publish(ctx context.Context, r PublishRequest, body io.Reader, onEvent func(PublishEvent)) (*PublishSummary, error) {
	r.Path = ""
	return c.publish(ctx, r, body, onEvent)
}

// PublishFile asks the gateway to read the file at path itself, which
// spares copying every byte through the socket. It fails with an error
// wrapping ErrUnreadableHere if the gateway cannot open the file; Publish
// then works.
func (c *Client) PublishFile(ctx context.Context, r PublishRequest, path string, onEvent func(PublishEvent)) (*PublishSummary, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	r.Path = abs
	res, err := c.publish(ctx, r, http.NoBody, onEvent)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusUnprocessableEntity && se.Field == "path" {
		return nil, fmt.Errorf("%w: %v", ErrUnreadableHere, err)
	}
	return res, err
}

func (c *Client) publish(ctx context.Context, r PublishRequest, body io.Reader, onEvent func(PublishEvent)) (*PublishSummary, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://caravan/v1/publish?"+r.Query().Encode(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", NDJSON) // progress and rejects as they come
	return streamEvents(c, req, "publish", func(ev *PublishEvent) (*PublishSummary, string) { return ev.Result, ev.Error }, onEvent)
}

// Catalog lists catalog entries.
func (c *Client) Catalog(ctx context.Context, q CatalogQuery) ([]CatalogEntry, error) {
	var out []CatalogEntry
	return out, c.call(ctx, http.MethodGet, "/v1/catalog?"+q.Query().Encode(), nil, &out)
}

// CatalogItem fetches one statement by CID.
func (c *Client) CatalogItem(ctx context.Context, id string) (*CatalogItem, error) {
	var out CatalogItem
	return &out, c.call(ctx, http.MethodGet, "/v1/catalog/"+url.PathEscape(id), nil, &out)
}

// AwaitCatalogItem fetches one statement by CID once the catalog holds it,
// waiting up to wait (at most MaxCatalogWait) for it to arrive.
func (c *Client) AwaitCatalogItem(ctx context.Context, id string, wait time.Duration) (*CatalogItem, error) {
	var out CatalogItem
	return &out, c.call(ctx, http.MethodGet, "/v1/catalog/"+url.PathEscape(id)+"?wait="+url.QueryEscape(wait.String()), nil, &out)
}

// Retract retracts one of this org's datasets.
func (c *Client) Retract(ctx context.Context, dataset, reason string) (*CatalogItem, error) {
	var out CatalogItem
	q := url.Values{"dataset": {dataset}, "reason": {reason}}
	return &out, c.call(ctx, http.MethodPost, "/v1/retract?"+q.Encode(), nil, &out)
}

// Schemas lists the registry.
func (c *Client) Schemas(ctx context.Context) ([]SchemaInfo, error) {
	var out []SchemaInfo
	return out, c.call(ctx, http.MethodGet, "/v1/schemas", nil, &out)
}

// Schema fetches one schema, with its document, by NAME[@VERSION] or
// OWNER/NAME[@VERSION].
func (c *Client) Schema(ctx context.Context, ref string) (*SchemaInfo, error) {
	var out SchemaInfo
	return &out, c.call(ctx, http.MethodGet, "/v1/schemas/"+ref, nil, &out)
}

// RegisterSchema registers document as a schema of the gateway's org.
func (c *Client) RegisterSchema(ctx context.Context, r SchemaRequest, document []byte) (*SchemaInfo, error) {
	q := url.Values{"name": {r.Name}, "version": {r.Version}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://caravan/v1/schemas?"+q.Encode(), bytes.NewReader(document))
	if err != nil {
		return nil, err
	}
	var out SchemaInfo
	return &out, c.send(req, &out)
}

// PolicySchema fetches the Cedar schema that policies are checked against.
func (c *Client) PolicySchema(ctx context.Context) ([]byte, error) {
	var b bytes.Buffer
	err := c.getRaw(ctx, "/v1/policy/schema", &limitedWriter{w: &b, left: 16 << 20})
	return b.Bytes(), err
}

// Metrics fetches the gateway's metrics, in the Prometheus text format.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	var b bytes.Buffer
	err := c.getRaw(ctx, "/metrics", &limitedWriter{w: &b, left: 16 << 20})
	return b.Bytes(), err
}

// getRaw copies the answer to a GET of path (with its query) to w.
func (c *Client) getRaw(ctx context.Context, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://caravan"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// limitedWriter fails once more than left bytes are written.
type limitedWriter struct {
	w    io.Writer
	left int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, errors.New("answer too large")
	}
	l.left -= int64(len(p))
	return l.w.Write(p)
}

// Policy fetches the policy bundle in force and its reload counters.
func (c *Client) Policy(ctx context.Context) (*PolicyInfo, error) {
	var out PolicyInfo
	return &out, c.call(ctx, http.MethodGet, "/v1/policy", nil, &out)
}

// ReloadPolicy asks the gateway to reload its policy directory now.
func (c *Client) ReloadPolicy(ctx context.Context) (*PolicyInfo, error) {
	var out PolicyInfo
	return &out, c.call(ctx, http.MethodPost, "/v1/policy/reload", nil, &out)
}

// Explain asks the gateway to decide one record and say why.
func (c *Client) Explain(ctx context.Context, req ExplainRequest) (*ExplainResult, error) {
	var out ExplainResult
	return &out, c.call(ctx, http.MethodPost, "/v1/policy/explain", req, &out)
}

// Fetch asks the gateway to fetch a partner's dataset; onEvent, if set, gets
// each progress event.
func (c *Client) Fetch(ctx context.Context, r FetchRequest, onEvent func(FetchEvent)) (*FetchSummary, error) {
	if r.Out != "" { // the gateway writes it, from its own working directory
		abs, err := filepath.Abs(r.Out)
		if err != nil {
			return nil, err
		}
		r.Out = abs
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://caravan/v1/fetch", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return streamEvents(c, req, "fetch", func(ev *FetchEvent) (*FetchSummary, string) { return ev.Result, ev.Error }, onEvent)
}

// Evidence downloads the evidence file of an entry of the gateway's
// journal, by index (entry >= 0) or event hash (or a unique prefix).
func (c *Client) Evidence(ctx context.Context, entry int64, hash string) ([]byte, error) {
	q := url.Values{}
	if entry >= 0 {
		q.Set("entry", strconv.FormatInt(entry, 10))
	}
	if hash != "" {
		q.Set("hash", hash)
	}
	var b bytes.Buffer
	err := c.getRaw(ctx, "/v1/journal/evidence?"+q.Encode(), &limitedWriter{w: &b, left: 16 << 20})
	return b.Bytes(), err
}

// VerifyEvidence asks the gateway to check an evidence file against its
// roster in force.
func (c *Client) VerifyEvidence(ctx context.Context, data []byte) (*EvidenceReport, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://caravan/v1/journal/verify", bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var rep EvidenceReport
	return &rep, c.send(req, &rep)
}

// JournalEntries lists a page of a journal's entries.
func (c *Client) JournalEntries(ctx context.Context, org string, from, limit uint64) (*JournalPage, error) {
	q := url.Values{"org": {org}, "from": {strconv.FormatUint(from, 10)}, "limit": {strconv.FormatUint(limit, 10)}}
	var page JournalPage
	return &page, c.call(ctx, http.MethodGet, "/v1/journal/entries?"+q.Encode(), nil, &page)
}

// Fetched downloads to w the records the gateway received and verified of
// a dataset version for a purpose, one a line.
func (c *Client) Fetched(ctx context.Context, ref, purpose string, w io.Writer) error {
	q := url.Values{"manifest": {ref}, "purpose": {purpose}}
	return c.getRaw(ctx, "/v1/fetched?"+q.Encode(), w)
}

// PolicyHistory lists the policy bundles the gateway's org put in force.
func (c *Client) PolicyHistory(ctx context.Context) ([]JournalEntry, error) {
	var out []JournalEntry
	return out, c.call(ctx, http.MethodGet, "/v1/policy/history", nil, &out)
}

// Receipts lists the receipts of the gateway's fetches.
func (c *Client) Receipts(ctx context.Context) ([]JournalEntry, error) {
	var out []JournalEntry
	return out, c.call(ctx, http.MethodGet, "/v1/receipts", nil, &out)
}

// CancelFetch stops the fetch in progress named id (FetchEvent.ID).
func (c *Client) CancelFetch(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/v1/fetches/"+url.PathEscape(id), nil, nil)
}

// ReplacePolicies puts an uploaded bundle in force. If the gateway refuses
// it, the error is a *PolicyRefusedError with the check's problems.
func (c *Client) ReplacePolicies(ctx context.Context, req PolicyCheckRequest) (*PolicyCheckResult, error) {
	var out PolicyCheckResult
	return &out, c.call(ctx, http.MethodPut, "/v1/policy", req, &out)
}

// PolicyRefusedError is a policy upload the gateway refused: Check says why.
type PolicyRefusedError struct {
	Check *PolicyCheckResult
	Err   error
}

func (e *PolicyRefusedError) Error() string { return e.Err.Error() }
func (e *PolicyRefusedError) Unwrap() error { return e.Err }

// StartFetch starts a fetch that goes on after the answer.
func (c *Client) StartFetch(ctx context.Context, r FetchRequest) (*FetchInfo, error) {
	var out FetchInfo
	return &out, c.call(ctx, http.MethodPost, "/v1/fetches", r, &out)
}

// Fetches lists the fetches in progress and the newest ended ones.
func (c *Client) Fetches(ctx context.Context) ([]FetchInfo, error) {
	var out []FetchInfo
	return out, c.call(ctx, http.MethodGet, "/v1/fetches", nil, &out)
}

// FetchEvents follows a fetch's server-sent events, calling on with each
// until the "end" one, which it returns.
func (c *Client) FetchEvents(ctx context.Context, id string, on func(event string, info FetchInfo)) (*FetchInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://caravan/v1/fetches/"+url.PathEscape(id)+"/events", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.stream(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return readSSE(resp.Body, on)
}

// readSSE reads server-sent events of FetchInfo data until an "end" one.
func readSSE(r io.Reader, on func(event string, info FetchInfo)) (*FetchInfo, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	event := "message"
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var info FetchInfo
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &info); err != nil {
				return nil, fmt.Errorf("event %s: %w", event, err)
			}
			if on != nil {
				on(event, info)
			}
			if event == "end" {
				return &info, nil
			}
			event = "message"
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("the event stream ended before the fetch did")
}

// call sends in (as JSON, if not nil) and decodes the answer into out.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://caravan"+path, body)
	if err != nil {
		return err
	}
	return c.send(req, out)
}

// send sends req and decodes the answer into out.
func (c *Client) send(req *http.Request, out any) error {
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent && out == nil {
		return nil
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		return readError(resp)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// do sends a request and turns "nothing listens" into ErrNotRunning.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			if _, serr := os.Stat(filepath.Join(c.dir, "caravan.yaml")); errors.Is(serr, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: %s holds no gateway (no caravan.yaml); make one with 'caravan init --org ORG --dir %s', or name the right one with --dir",
					ErrNotRunning, c.dir, c.dir)
			}
			return nil, fmt.Errorf("%w for data directory %s (no control socket answers at %s; start one with 'caravan run --dir %s')",
				ErrNotRunning, c.dir, c.path, c.dir)
		}
		return nil, err
	}
	return resp, nil
}

// readError reads an error answer as a *StatusError.
func readError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var p Problem
	if json.Unmarshal(body, &p) == nil && p.Detail != "" {
		if p.Check != nil {
			return &PolicyRefusedError{Check: p.Check, Err: &StatusError{Code: resp.StatusCode, Field: p.Field, Err: errors.New(p.Detail)}}
		}
		return &StatusError{Code: resp.StatusCode, Field: p.Field, Err: errors.New(p.Detail)}
	}
	return &StatusError{Code: resp.StatusCode, Err: errors.New("control endpoint: " + resp.Status)}
}

// stream sends req and returns the answer if it is 200, to be read and
// closed by the caller; any other answer is read as an error.
func (c *Client) stream(req *http.Request) (*http.Response, error) {
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

// streamEvents sends req and reads the NDJSON events the gateway answers
// with, until one carries a result or an error (outcome says which); the
// others go to onEvent, if set. what names the call in errors.
func streamEvents[E, R any](c *Client, req *http.Request, what string, outcome func(*E) (*R, string), onEvent func(E)) (*R, error) {
	resp, err := c.stream(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev E
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("gateway answered %q: %w", sc.Text(), err)
		}
		res, msg := outcome(&ev)
		switch {
		case msg != "":
			return nil, errors.New(msg)
		case res != nil:
			return res, nil
		case onEvent != nil:
			onEvent(ev)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("the gateway closed the %s without a result; see its log", what)
}
