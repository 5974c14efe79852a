package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
)

// ErrNotRunning is returned by Client calls when no gateway runs on the data
// directory.
var ErrNotRunning = errors.New("no gateway is running")

// Client talks to a running gateway through its control socket.
type Client struct {
	dir  string
	path string
	hc   *http.Client
}

// NewClient returns a client for the gateway of data directory dir. It does
// not connect until a call is made.
func NewClient(dir string) (*Client, error) {
	path, err := controlPath(dir)
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
	return &st, c.call(ctx, http.MethodGet, "/v1/status", &st)
}

// ReloadRoster asks the gateway to reload its roster file.
func (c *Client) ReloadRoster(ctx context.Context) (*Status, error) {
	var st Status
	return &st, c.call(ctx, http.MethodPost, "/v1/roster/reload", &st)
}

func (c *Client) call(ctx context.Context, method, path string, out any) error {
	return c.callBody(ctx, method, path, nil, out)
}

func (c *Client) callBody(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://caravan"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readAPIError(resp)
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
			return nil, fmt.Errorf("%w for data directory %s (no control socket answers at %s; start one with 'caravan run --dir %s')",
				ErrNotRunning, c.dir, c.path, c.dir)
		}
		return nil, err
	}
	return resp, nil
}

func readAPIError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var ae apiError
	if json.Unmarshal(body, &ae) == nil && ae.Error != "" {
		return &statusError{code: resp.StatusCode, msg: ae.Error}
	}
	return &statusError{code: resp.StatusCode, msg: "control endpoint: " + resp.Status}
}

// statusError is an error answer of the control endpoint.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// streamEvents sends req and reads the NDJSON events the gateway answers
// with, until one carries a result or an error (outcome says which); the
// others go to onEvent, if set. what names the call in errors.
func streamEvents[E, R any](c *Client, req *http.Request, what string, outcome func(*E) (*R, string), onEvent func(E)) (*R, error) {
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, readAPIError(resp)
	}
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
