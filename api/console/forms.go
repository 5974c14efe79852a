package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	"github.com/caravan-consortium/caravan/api"
)

// Bounds of what the console's forms take.
const (
	maxUpload     = 8 << 20 // a multipart form
	maxUploadFile = 1 << 20 // one policy file, decision table or evidence file
)

type policiesData struct {
	Info    api.PolicyInfo
	History []api.JournalEntry // newest first
	Orgs    []string

	// The explain form, and its result or error.
	Explain      api.ExplainRequest
	ExplainJSON  string
	Explained    *api.ExplainResult
	ExplainError string

	// The decision table form, and its cases or error.
	Table      string
	Cases      []api.PolicyCase
	TableError string

	// The upload form: its check, whether it was put in force, or why not.
	Check       *api.PolicyCheckResult
	Applied     bool
	CheckedOnly bool
	UploadError string
}

func (c *Console) policies(r *http.Request, v *view) error {
	return c.policiesView(r, v, nil)
}

func (c *Console) policiesView(r *http.Request, v *view, fill func(*policiesData)) error {
	v.Page, v.Title = "policies", "Policies"
	d := policiesData{Info: c.sv.Policies.Policy(), ExplainJSON: "{\n  \n}"}
	var err error
	if d.History, err = c.sv.Journal.PolicyHistory(r.Context()); err != nil {
		return err
	}
	slices.Reverse(d.History) // newest first
	for _, m := range c.sv.Admin.Status().Members {
		d.Orgs = append(d.Orgs, m.Org)
	}
	if fill != nil {
		fill(&d)
	}
	// A policy change moves the bundle in force: show the one now.
	d.Info = c.sv.Policies.Policy()
	v.Data = d
	return nil
}

// explain decides one record for an org and a purpose, and says why.
func (c *Console) explain(r *http.Request, v *view) error {
	req := api.ExplainRequest{Org: r.FormValue("org"), Dataset: strings.TrimSpace(r.FormValue("dataset")), Purpose: strings.TrimSpace(r.FormValue("purpose"))}
	record := r.FormValue("record")
	return c.policiesView(r, v, func(d *policiesData) {
		d.Explain, d.ExplainJSON = req, record
		if !json.Valid([]byte(record)) {
			d.ExplainError = "record: not a JSON object"
			v.Status = http.StatusBadRequest
			return
		}
		req.Record = json.RawMessage(record)
		res, err := c.sv.Policies.Explain(req)
		if err != nil {
			d.ExplainError, v.Status = err.Error(), api.StatusOf(err, http.StatusBadRequest)
			return
		}
		d.Explained = res
	})
}

// testTable runs a decision table against the bundle in force.
func (c *Console) testTable(r *http.Request, v *view) error {
	table := r.FormValue("table")
	return c.policiesView(r, v, func(d *policiesData) {
		d.Table = table
		cases, err := c.sv.Policies.TestPolicies(table)
		if err != nil {
			d.TableError, v.Status = err.Error(), api.StatusOf(err, http.StatusBadRequest)
			return
		}
		d.Cases = cases
	})
}

// uploadPolicies checks an uploaded bundle (and decision table), and puts
// it in force if asked to and it passes.
func (c *Console) uploadPolicies(r *http.Request, v *view) error {
	if err := r.ParseMultipartForm(maxUpload); err != nil {
		return api.Errorf(api.ErrInvalid, "the upload: %v", err)
	}
	req := api.PolicyCheckRequest{Files: map[string]string{}}
	var formErr error
	for _, fh := range r.MultipartForm.File["files"] {
		text, err := readUpload(fh)
		if err != nil {
			formErr = err
			break
		}
		req.Files[filepath.Base(fh.Filename)] = text
	}
	if fhs := r.MultipartForm.File["table"]; formErr == nil && len(fhs) == 1 {
		req.Table, formErr = readUpload(fhs[0])
	}
	checkOnly := r.FormValue("action") == "check"
	return c.policiesView(r, v, func(d *policiesData) {
		d.CheckedOnly = checkOnly
		if formErr != nil {
			d.UploadError, v.Status = formErr.Error(), http.StatusBadRequest
			return
		}
		var err error
		if checkOnly {
			d.Check, err = c.sv.Policies.CheckPolicies(req)
		} else {
			d.Check, err = c.sv.Policies.ReplacePolicies(req)
			d.Applied = err == nil
		}
		if err != nil {
			d.UploadError, v.Status = err.Error(), api.StatusOf(err, http.StatusBadRequest)
		} else if checkOnly && !d.Check.Valid {
			v.Status = http.StatusUnprocessableEntity
		}
	})
}

// verify checks an uploaded evidence file against the roster in force.
func (c *Console) verify(r *http.Request, v *view) error {
	if err := r.ParseMultipartForm(maxUpload); err != nil {
		return api.Errorf(api.ErrInvalid, "the upload: %v", err)
	}
	fhs := r.MultipartForm.File["evidence"]
	return c.journalView(r, v, func(d *journalData) {
		if len(fhs) != 1 {
			d.VerifyError, v.Status = "evidence: choose one evidence file (.tlog-proof)", http.StatusBadRequest
			return
		}
		d.Verified = filepath.Base(fhs[0].Filename)
		text, err := readUpload(fhs[0])
		if err == nil {
			d.Report, err = c.sv.Journal.VerifyEvidence([]byte(text))
		}
		if err != nil {
			d.VerifyError, v.Status = err.Error(), http.StatusUnprocessableEntity
		}
	})
}

// readUpload reads one uploaded file, bounded.
func readUpload(fh *multipart.FileHeader) (string, error) {
	if fh.Size > maxUploadFile {
		return "", fmt.Errorf("%s: %d bytes, more than %d", fh.Filename, fh.Size, maxUploadFile)
	}
	f, err := fh.Open()
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxUploadFile+1))
	if err == nil && len(b) > maxUploadFile {
		err = errors.New("too large")
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", fh.Filename, err)
	}
	return string(b), nil
}
