package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/sharing"
)

// PublishEvent is one line of the NDJSON stream POST /v1/publish returns:
// progress, a rejected record, then the result or an error.
type PublishEvent struct {
	Progress int             `json:"progress,omitempty"`
	Bytes    int64           `json:"bytes,omitempty"` // input read so far, with Progress
	Reject   *RejectedRecord `json:"reject,omitempty"`
	Result   *PublishSummary `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// RejectedRecord is an invalid record left out by a publish with rejects.
type RejectedRecord struct {
	Line   int             `json:"line"`
	Field  string          `json:"field,omitempty"`
	Error  string          `json:"error"`
	Record json.RawMessage `json:"record,omitempty"`
}

// PublishSummary is what a publish made.
type PublishSummary struct {
	CID       string            `json:"cid"`
	Manifest  *sharing.Manifest `json:"manifest"`
	Statement json.RawMessage   `json:"statement"`
	Rejected  int               `json:"rejected"`
	DryRun    bool              `json:"dry_run"`
}

// CatalogItem is GET /v1/catalog/{cid}'s answer.
type CatalogItem struct {
	Statement json.RawMessage `json:"statement"`
	Entry     *sharing.Entry  `json:"entry,omitempty"`
}

func (n *Node) registerSharing(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/publish", n.handlePublish)
	mux.HandleFunc("GET /v1/catalog", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		all, _ := strconv.ParseBool(q.Get("all"))
		list := n.sharing.Catalog.List(sharing.Filter{Org: q.Get("org"), Schema: q.Get("schema"), Label: q.Get("label"), All: all})
		if as := q.Get("as"); as != "" {
			var err error
			if list, err = n.discoverable(as, list); err != nil {
				writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, list)
	})
	mux.HandleFunc("GET /v1/catalog/{cid}", func(w http.ResponseWriter, r *http.Request) {
		id, err := cid.Decode(r.PathValue("cid"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "not a CID: " + r.PathValue("cid")})
			return
		}
		st, ok := n.sharing.Catalog.Statement(id)
		if !ok {
			writeJSON(w, http.StatusNotFound, apiError{Error: "the catalog holds no statement " + id.String()})
			return
		}
		item := CatalogItem{Statement: st.Marshal()}
		for _, e := range n.sharing.Catalog.List(sharing.Filter{All: true}) {
			if e.CID == id.String() {
				item.Entry = &e
			}
		}
		writeJSON(w, http.StatusOK, item)
	})
	mux.HandleFunc("POST /v1/retract", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		st, err := n.sharing.Publisher.Retract(q.Get("dataset"), q.Get("reason"))
		if err != nil {
			writeJSON(w, http.StatusConflict, apiError{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, CatalogItem{Statement: st.Marshal()})
	})
}

// handlePublish streams the request body through the publisher and answers
// with NDJSON events.
func (n *Node) handlePublish(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	schema, err := n.schemas.Lookup(q.Get("schema"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	dry, _ := strconv.ParseBool(q.Get("dry_run"))
	withRejects, _ := strconv.ParseBool(q.Get("reject"))
	var body io.Reader = r.Body
	if path := q.Get("path"); path != "" {
		f, err := openLocalInput(path)
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: err.Error()})
			return
		}
		defer f.Close()
		body = f
	}
	in := &countingReader{r: body}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var mu sync.Mutex // events come from the publisher's goroutines
	enc := json.NewEncoder(w)
	emit := func(ev PublishEvent) error {
		mu.Lock()
		defer mu.Unlock()
		if err := enc.Encode(ev); err != nil {
			return err
		}
		return rc.Flush()
	}
	const progressEvery = 8192 // records between progress events
	lastProgress := 0
	req := sharing.PublishRequest{
		Dataset: q.Get("dataset"), Schema: schema, Format: q.Get("format"),
		Labels: q["label"], Purposes: q["purpose"], Description: q.Get("description"), DryRun: dry,
		Progress: func(k int) {
			if k-lastProgress >= progressEvery {
				lastProgress = k
				_ = emit(PublishEvent{Progress: k, Bytes: in.n.Load()})
			}
		},
	}
	if withRejects {
		req.Reject = func(raw []byte, e *sharing.RecordError) error {
			rec := RejectedRecord{Line: e.Line, Field: e.Field, Error: e.Msg}
			if json.Valid(raw) {
				rec.Record = append(json.RawMessage(nil), raw...)
			}
			return emit(PublishEvent{Reject: &rec})
		}
	}
	res, err := n.sharing.Publisher.Publish(r.Context(), req, in)
	if err != nil {
		var re *sharing.RecordError
		msg := err.Error()
		if errors.As(err, &re) {
			msg = re.Error() + " (nothing was published)"
		}
		_ = emit(PublishEvent{Error: msg})
		return
	}
	_ = emit(PublishEvent{Result: &PublishSummary{CID: res.Statement.CID().String(), Manifest: res.Manifest,
		Statement: res.Statement.Marshal(), Rejected: res.Rejected, DryRun: dry}})
}

// openLocalInput opens a file the publishing client named instead of
// streaming it. Only the gateway's owner can reach the control socket, and
// the file is opened with the gateway's own rights, so this grants nothing
// the client did not have; it saves copying every byte through the socket.
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
