package api

import (
	"net/url"
	"strconv"
)

// The query forms of PublishRequest and CatalogQuery, which the client
// writes and the server reads.

func (r PublishRequest) Query() url.Values {
	q := url.Values{"dataset": {r.Dataset}, "schema": {r.Schema}, "format": {r.Format}, "description": {r.Description},
		"dry_run": {strconv.FormatBool(r.DryRun)}, "reject": {strconv.FormatBool(r.Rejects)}, "label": r.Labels, "purpose": r.Purposes}
	for k, v := range map[string]string{"path": r.Path, "encoding": r.Encoding, "delimiter": r.Delimiter} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

func PublishRequestOf(q url.Values) PublishRequest {
	dry, _ := strconv.ParseBool(q.Get("dry_run"))
	rejects, _ := strconv.ParseBool(q.Get("reject"))
	return PublishRequest{Dataset: q.Get("dataset"), Schema: q.Get("schema"), Format: q.Get("format"),
		Description: q.Get("description"), Labels: q["label"], Purposes: q["purpose"], DryRun: dry, Rejects: rejects,
		Path: q.Get("path"), Encoding: q.Get("encoding"), Delimiter: q.Get("delimiter")}
}

func (c CatalogQuery) Query() url.Values {
	q := url.Values{"org": {c.Org}, "schema": {c.Schema}, "label": {c.Label}, "all": {strconv.FormatBool(c.All)}}
	if c.As != "" {
		q.Set("as", c.As)
	}
	return q
}

func CatalogQueryOf(q url.Values) CatalogQuery {
	all, _ := strconv.ParseBool(q.Get("all"))
	return CatalogQuery{Org: q.Get("org"), Schema: q.Get("schema"), Label: q.Get("label"), All: all, As: q.Get("as")}
}
