package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ipfs/go-cid"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/policy"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// The schema registry is derived from the catalog: every registration it
// holds, compiled. It grows as registrations arrive (gossip, catch-up, this
// org's own 'caravan schema add'); it never shrinks.

// schemaOf compiles a registration into the schema it registers. It is
// also the catalog's check of a member's registration: a document that is
// not a good schema is refused as a forged statement is.
func schemaOf(st *manifest.Statement) (*schemas.Schema, error) {
	r, err := st.Registration()
	if err != nil {
		return nil, err
	}
	s, err := schemas.Compile(r.Document)
	if err != nil {
		return nil, fmt.Errorf("registration of %s@%s: %w", r.Name, r.Version, err)
	}
	if s.Version, err = schemas.ParseVersion(r.Version); err != nil {
		return nil, err
	}
	s.Owner, s.Name, s.Created = r.Publisher, r.Name, r.Created
	return s, nil
}

// checkStatement is the catalog's check of a member's statement beyond its
// signature.
func checkStatement(st *manifest.Statement) error {
	if st.BodyType() != manifest.TypeRegistration {
		return nil
	}
	_, err := schemaOf(st)
	return err
}

// loadRegistry builds the registry from the catalog's registrations.
func (n *Node) loadRegistry() {
	n.registry = schemas.NewRegistry()
	var all []*schemas.Schema
	for _, st := range n.catalog.Registrations() {
		s, err := schemaOf(st)
		if err != nil {
			n.log.Named("schemas").Warn("a stored registration does not compile", zap.Stringer("cid", st.CID()), zap.Error(err))
			continue
		}
		all = append(all, s)
	}
	n.registry.AddAll(all)
	for _, a := range n.registry.SetAside() {
		n.log.Named("schemas").Warn("a registration breaks the registry's rules and is set aside: it decides nothing, and datasets that pin it cannot be fetched",
			zap.String("schema", a.Schema.Label()), zap.Stringer("cid", a.Schema.CID), zap.String("reason", a.Reason))
	}
}

// addRegistration puts a registration in force (the catalog's OnStatement
// hook, and this org's own registrations).
func (n *Node) addRegistration(st *manifest.Statement) {
	if st.BodyType() != manifest.TypeRegistration {
		return
	}
	s, err := schemaOf(st)
	if err != nil {
		n.log.Named("schemas").Warn("a stored registration does not compile", zap.Stringer("cid", st.CID()), zap.Error(err))
		return
	}
	if !n.registry.Add(s) {
		return
	}
	if n.registry.InForce(s) {
		n.log.Named("schemas").Info("schema registered", zap.String("schema", s.Label()), zap.Stringer("cid", s.CID))
	} else {
		n.log.Named("schemas").Warn("a registration breaks the registry's rules and is set aside: it decides nothing, and datasets that pin it cannot be fetched",
			zap.String("schema", s.Label()), zap.Stringer("cid", s.CID), zap.Stringer("statement", st.CID()), zap.String("reason", n.registry.Reason(s)))
	}
	n.policiesWaiting()
}

// schemaFor returns the schema a manifest pins.
func (n *Node) schemaFor(m *manifest.Manifest) (*schemas.Schema, error) {
	c, err := cid.Decode(m.Schema.CID)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: schema CID %q: %w", m.Publisher, m.Dataset, m.Schema.CID, err)
	}
	s, ok := n.registry.ForManifest(m.Schema.ID, c)
	if !ok {
		return nil, fmt.Errorf("%w: %s@%d (%s) of %s/%s has not reached this gateway's registry yet", schemas.ErrUnknown,
			m.Schema.ID, m.Schema.Version, c, m.Publisher, m.Dataset)
	}
	return s, nil
}

// vocabulary is the policy vocabulary of the registry now.
func (n *Node) vocabulary() (*policy.Vocabulary, error) { return policy.VocabularyOf(n.registry) }

// RegisterSchema registers a dataset schema of this org: document is a JSON
// Schema 2020-12 document; name and version, if empty, are the document's
// own (x-caravan-schema). Registering what is registered already is not an
// error.
func (n *Node) RegisterSchema(_ context.Context, req api.SchemaRequest, document []byte) (*api.SchemaInfo, error) {
	s, err := schemas.Compile(document)
	if err != nil {
		return nil, api.Errorf(http.StatusBadRequest, "%v", err)
	}
	s.Owner = n.cfg.Org
	if req.Name != "" {
		s.Name = req.Name
	}
	if req.Version != "" {
		if s.Version, err = schemas.ParseVersion(req.Version); err != nil {
			return nil, api.FieldErrorf(http.StatusBadRequest, "version", "version: %v", err)
		}
	}
	if have, err := n.registry.Lookup(s.Owner + "/" + s.Name + "@" + s.Version.String()); err == nil && have.CID == s.CID {
		return schemaInfo(have, ""), nil
	}
	if err := n.registry.Check(s); err != nil {
		code := http.StatusConflict
		if !errors.Is(err, schemas.ErrRefused) {
			code = http.StatusBadRequest
		}
		return nil, api.Errorf(code, "%v", err)
	}
	st, err := n.publisher.Register(s)
	if err != nil {
		return nil, err
	}
	n.addRegistration(st)
	return schemaInfo(s, st.CID().String()), nil
}

// Schemas lists the registry.
func (n *Node) Schemas() []api.SchemaInfo {
	var out []api.SchemaInfo
	for _, s := range n.registry.All() {
		out = append(out, *schemaInfo(s, ""))
	}
	return out
}

// Schema returns one schema of the registry, with its document.
func (n *Node) Schema(ref string) (*api.SchemaInfo, error) {
	s, err := n.registry.Lookup(ref)
	if err != nil {
		return nil, api.Errorf(http.StatusNotFound, "%v", err)
	}
	info := schemaInfo(s, "")
	info.Document = s.Canonical
	return info, nil
}

// PolicySchema is the Cedar schema policies are checked against now.
func (n *Node) PolicySchema() []byte { return n.registry.CedarSchema() }

func schemaInfo(s *schemas.Schema, statement string) *api.SchemaInfo {
	info := &api.SchemaInfo{Owner: s.Owner, Name: s.Name, Version: s.Version.String(), CID: s.CID.String(),
		Title: s.Title, Statement: statement, Sensitive: s.Sensitive, Compiled: s.Compiled(), Fallback: s.Fallback()}
	for _, a := range s.Attributes {
		info.Attributes = append(info.Attributes, api.SchemaAttribute{Name: a.Name, Type: string(a.Type)})
	}
	return info
}
