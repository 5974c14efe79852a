package witness

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caravan-consortium/caravan/journal"
)

// A member's journal server is read through limits: each artifact of a
// tlog-tiles log has a known largest size, and a response longer than that
// is cut off with an error rather than buffered whole (tessera's fetcher
// reads bodies with io.ReadAll).
const (
	maxTileBytes   = 256 * 32                         // a full tile of hashes
	maxBundleBytes = 256 * (2 + journal.MaxEventSize) // a full bundle of entries
	maxOtherBytes  = 64 << 10                         // anything else served
)

// maxBodyOf is the largest response that a request for path may have.
func maxBodyOf(path string) int64 {
	switch {
	case strings.HasSuffix(path, "/checkpoint"):
		return maxNoteSize
	case strings.Contains(path, "/tile/entries/"):
		return maxBundleBytes
	case strings.Contains(path, "/tile/"):
		return maxTileBytes
	}
	return maxOtherBytes
}

// boundedTransport cuts every response body off at maxBodyOf its path.
type boundedTransport struct{ base http.RoundTripper }

func (t boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &boundedBody{rc: resp.Body, left: maxBodyOf(req.URL.Path), path: req.URL.Path}
	return resp, nil
}

type boundedBody struct {
	rc   io.ReadCloser
	left int64
	path string
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("journal server: the response for %s is longer than any such artifact", b.path)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, fmt.Errorf("journal server: the response for %s is longer than any such artifact", b.path)
	}
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }
