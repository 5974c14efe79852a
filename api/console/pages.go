package console

import (
	"cmp"
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/journal/event"
)

// journalScan bounds how many of a journal's newest entries a page reads to
// find the shares of a dataset or the fetches over time.
const (
	journalScan = 20000
	journalPage = 50
)

type overviewData struct {
	St        api.Status
	Connected int // partners with a node connected
	Partners  int // members other than this org
	Alerts    []api.ForkAlert
	Witness   template.HTML // time to witnessed, plotted
	Samples   int
}

func (c *Console) overview(r *http.Request, v *view) error {
	v.Page, v.Title = "overview", "Overview"
	d := overviewData{St: c.sv.Admin.Status()}
	for _, m := range d.St.Members {
		if m.Self {
			continue
		}
		d.Partners++
		if m.Connected() {
			d.Connected++
		}
	}
	var err error
	if d.Alerts, err = c.sv.Journal.JournalAlerts(); err != nil {
		return err
	}
	samples := c.sv.Journal.WitnessTimes()
	d.Samples = len(samples)
	d.Witness = witnessPlot(samples)
	v.Data = d
	return nil
}

type catalogData struct {
	Q       string
	All     bool
	Entries []api.CatalogEntry
	Total   int
	Schemas []api.SchemaInfo
}

func (c *Console) catalog(r *http.Request, v *view) error {
	v.Page, v.Title = "catalog", "Catalog"
	q := r.URL.Query()
	d := catalogData{Q: strings.TrimSpace(q.Get("q")), All: q.Get("all") != ""}
	entries, err := c.sv.Sharing.Catalog(api.CatalogQuery{All: d.All})
	if err != nil {
		return err
	}
	d.Total = len(entries)
	for _, e := range entries {
		if d.Q == "" || matches(e, strings.ToLower(d.Q)) {
			d.Entries = append(d.Entries, e)
		}
	}
	slices.SortStableFunc(d.Entries, func(a, b api.CatalogEntry) int {
		return cmp.Or(cmp.Compare(a.Manifest.Publisher, b.Manifest.Publisher), cmp.Compare(a.Manifest.Dataset, b.Manifest.Dataset),
			cmp.Compare(b.Manifest.Version, a.Manifest.Version))
	})
	d.Schemas = c.sv.Registry.Schemas()
	v.Data = d
	return nil
}

// matches reports whether a catalog entry mentions q (lower case).
func matches(e api.CatalogEntry, q string) bool {
	m := e.Manifest
	hay := strings.ToLower(strings.Join(append(append([]string{m.Publisher + "/" + m.Dataset, m.Description, m.Schema.ID, e.CID},
		m.Labels...), m.Purposes...), " "))
	return strings.Contains(hay, q)
}

type datasetData struct {
	Owner, Name string
	Versions    []api.CatalogEntry
	Head        *api.CatalogEntry
	Statement   json.RawMessage
	Shares      []share
	Mirror      string // why the owner's journal could not be read, if so
}

// share is one decision or receipt about a dataset, from a journal.
type share struct {
	Entry   api.JournalEntry
	Journal string // whose
}

func (c *Console) dataset(r *http.Request, v *view) error {
	d := datasetData{Owner: r.PathValue("owner"), Name: r.PathValue("name")}
	v.Page, v.Title = "dataset", d.Owner+"/"+d.Name
	var err error
	if d.Versions, err = c.sv.Sharing.DatasetVersions(d.Owner, d.Name); err != nil {
		return err
	}
	if len(d.Versions) == 0 {
		return api.Errorf(api.ErrNotFound, "the catalog lists no dataset %s/%s", d.Owner, d.Name)
	}
	d.Head = &d.Versions[len(d.Versions)-1]
	if item, err := c.sv.Sharing.CatalogItem(d.Head.CID); err == nil {
		d.Statement = item.Statement
	}
	self := c.org()
	about := func(e api.JournalEntry) bool {
		return e.Event != nil && e.Event.Dataset == d.Name &&
			(e.Event.Type == event.TypeDecision && e.Event.Org == d.Owner ||
				e.Event.Type == event.TypeReceipt && e.Event.Provider == d.Owner)
	}
	owner := ""
	if d.Owner != self {
		owner = d.Owner
		// This gateway's own receipts, then the owner's decisions as its
		// mirror of the owner's journal has them.
		mine, err := c.scanJournal(r.Context(), "", about)
		if err != nil {
			return err
		}
		for _, e := range mine {
			d.Shares = append(d.Shares, share{Entry: e, Journal: self})
		}
	}
	theirs, err := c.scanJournal(r.Context(), owner, about)
	if err != nil {
		d.Mirror = err.Error()
	}
	for _, e := range theirs {
		d.Shares = append(d.Shares, share{Entry: e, Journal: d.Owner})
	}
	slices.SortStableFunc(d.Shares, func(a, b share) int { return b.Entry.Event.Time.Compare(a.Entry.Event.Time) })
	v.Data = d
	return nil
}

// scanJournal returns the entries among the newest journalScan of org's
// journal ("" for this org's own) that keep accepts, oldest first.
func (c *Console) scanJournal(ctx context.Context, org string, keep func(api.JournalEntry) bool) ([]api.JournalEntry, error) {
	head, err := c.sv.Journal.JournalEntries(ctx, org, 0, 1)
	if err != nil {
		return nil, err
	}
	var out []api.JournalEntry
	from := uint64(0)
	if head.Size > journalScan {
		from = head.Size - journalScan
	}
	for from < head.Size {
		page, err := c.sv.Journal.JournalEntries(ctx, org, from, 1000)
		if err != nil {
			return nil, err
		}
		if len(page.Entries) == 0 {
			break
		}
		for _, e := range page.Entries {
			if keep(e) {
				out = append(out, e)
			}
		}
		from = page.Entries[len(page.Entries)-1].Index + 1
	}
	return out, nil
}

type journalData struct {
	Org     string // "" for this org's own
	Orgs    []string
	Page    *api.JournalPage
	From    uint64
	To      uint64 // past the last entry shown
	Prev    uint64
	HasPrev bool
	Next    uint64
	HasNext bool
	Journal api.JournalStatus
	// Checkpoint is the newest cosigned checkpoint held of the journal
	// shown (a C2SP signed note), if any.
	Checkpoint string
	Alerts     []api.ForkAlert
	// Report is an uploaded evidence file's verification, or VerifyError
	// why it failed.
	Report      *api.EvidenceReport
	VerifyError string
	Verified    string // the uploaded file's name
}

func (c *Console) journal(r *http.Request, v *view) error {
	return c.journalView(r, v, nil)
}

func (c *Console) journalView(r *http.Request, v *view, fill func(*journalData)) error {
	v.Page, v.Title = "journal", "Journal"
	st := c.sv.Admin.Status()
	q := r.URL.Query()
	d := journalData{Org: q.Get("org"), Journal: st.Journal}
	if d.Org == st.Org {
		d.Org = ""
	}
	for _, m := range st.Members {
		if !m.Self {
			d.Orgs = append(d.Orgs, m.Org)
		}
	}
	head, err := c.sv.Journal.JournalEntries(r.Context(), d.Org, 0, 1)
	if err != nil {
		return err
	}
	d.From = head.Size - min(head.Size, journalPage)
	if f := q.Get("from"); f != "" {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return api.FieldErrorf(api.ErrInvalid, "from", "from %q: not an entry index", f)
		}
		d.From = min(n, head.Size)
	}
	if d.Page, err = c.sv.Journal.JournalEntries(r.Context(), d.Org, d.From, journalPage); err != nil {
		return err
	}
	d.To = d.From + uint64(len(d.Page.Entries))
	slices.Reverse(d.Page.Entries) // newest first
	d.HasPrev, d.Prev = d.From > 0, d.From-min(d.From, journalPage)
	d.HasNext, d.Next = d.From+journalPage < d.Page.Size, d.From+journalPage
	if d.Alerts, err = c.sv.Journal.JournalAlerts(); err != nil {
		return err
	}
	if note, err := c.sv.Journal.Checkpoint(d.Org); err == nil {
		d.Checkpoint = string(note)
	}
	if fill != nil {
		fill(&d)
	}
	v.Data = d
	return nil
}

type fetchesData struct {
	Manifest string // the form's dataset, from ?manifest=
	Out      []api.FetchInfo
	Receipts []api.JournalEntry // newest first
	In       []api.JournalEntry // decisions for partners, newest first
	Plot     template.HTML
}

// fetchRows bounds the journal rows the fetches page lists.
const fetchRows = 100

func (c *Console) fetchesPage(r *http.Request, v *view) error {
	v.Page, v.Title = "fetches", "Fetches"
	d := fetchesData{Out: c.sv.Fetching.Fetches(), Manifest: r.URL.Query().Get("manifest")}
	entries, err := c.scanJournal(r.Context(), "", func(e api.JournalEntry) bool {
		return e.Event != nil && (e.Event.Type == event.TypeDecision || e.Event.Type == event.TypeReceipt)
	})
	if err != nil {
		return err
	}
	d.Plot = fetchesPlot(entries)
	slices.Reverse(entries)
	for _, e := range entries {
		if e.Event.Type == event.TypeDecision && len(d.In) < fetchRows {
			d.In = append(d.In, e)
		}
		if e.Event.Type == event.TypeReceipt && len(d.Receipts) < fetchRows {
			d.Receipts = append(d.Receipts, e)
		}
	}
	v.Data = d
	return nil
}

type membersData struct {
	St       api.Status
	Roster   *api.Roster
	Refusals []api.RosterRefusal
}

func (c *Console) members(r *http.Request, v *view) error {
	v.Page, v.Title = "members", "Members and roster"
	v.Data = membersData{St: c.sv.Admin.Status(), Roster: c.sv.Admin.RosterDocument(), Refusals: c.sv.Admin.RosterRefusals()}
	return nil
}
