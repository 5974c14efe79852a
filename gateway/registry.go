package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/schemas"
	"github.com/caravan-consortium/caravan/sharing/catalog"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/publish"
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
func loadRegistry(cat *catalog.Catalog, log *zap.Logger) *schemas.Registry {
	reg := schemas.NewRegistry()
	var all []*schemas.Schema
	for _, st := range cat.Registrations() {
		s, err := schemaOf(st)
		if err != nil {
			log.Warn("a stored registration does not compile", zap.Stringer("cid", st.CID()), zap.Error(err))
			continue
		}
		all = append(all, s)
	}
	reg.AddAll(all)
	for _, a := range reg.SetAside() {
		log.Warn("a registration breaks the registry's rules and is set aside: it decides nothing, and datasets that pin it cannot be fetched",
			zap.String("schema", a.Schema.Label()), zap.Stringer("cid", a.Schema.CID), zap.String("reason", a.Reason))
	}
	return reg
}

// registrar puts registrations in force as they arrive: the catalog's
// OnStatement hook, and this org's own registrations. added runs after
// each new one (the policies may wait for its attributes).
type registrar struct {
	registry *schemas.Registry
	log      *zap.Logger
	added    func()
}

// addRegistration puts a registration in force (the catalog's OnStatement
// hook, and this org's own registrations).
func (r *registrar) add(st *manifest.Statement) {
	if st.BodyType() != manifest.TypeRegistration {
		return
	}
	s, err := schemaOf(st)
	if err != nil {
		r.log.Warn("a stored registration does not compile", zap.Stringer("cid", st.CID()), zap.Error(err))
		return
	}
	if !r.registry.Add(s) {
		return
	}
	if r.registry.InForce(s) {
		r.log.Info("schema registered", zap.String("schema", s.Label()), zap.Stringer("cid", s.CID))
	} else {
		r.log.Warn("a registration breaks the registry's rules and is set aside: it decides nothing, and datasets that pin it cannot be fetched",
			zap.String("schema", s.Label()), zap.Stringer("cid", s.CID), zap.Stringer("statement", st.CID()), zap.String("reason", r.registry.Reason(s)))
	}
	if r.added != nil {
		r.added()
	}
}

// schemaFor returns the schema a manifest pins.
func schemaFor(reg *schemas.Registry, m *manifest.Manifest) (*schemas.Schema, error) {
	c, err := cid.Decode(m.Schema.CID)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: schema CID %q: %w", m.Publisher, m.Dataset, m.Schema.CID, err)
	}
	s, ok := reg.ForManifest(m.Schema.ID, c)
	if !ok {
		return nil, fmt.Errorf("%w: %s@%d (%s) of %s/%s has not reached this gateway's registry yet", schemas.ErrUnknown,
			m.Schema.ID, m.Schema.Version, c, m.Publisher, m.Dataset)
	}
	return s, nil
}

// registryService is the API's schema registry: listing it, and this
// org's registrations, which the publisher signs and announces.
type registryService struct {
	org       string
	registry  *schemas.Registry
	registrar *registrar
	publisher *publish.Publisher
}

// RegisterSchema registers a dataset schema of this org: document is a JSON
// Schema 2020-12 document; name and version, if empty, are the document's
// own (x-caravan-schema). Registering what is registered already is not an
// error.
func (rs *registryService) RegisterSchema(_ context.Context, req api.SchemaRequest, document []byte) (*api.SchemaInfo, error) {
	s, err := schemas.Compile(document)
	if err != nil {
		return nil, api.Errorf(api.ErrInvalid, "%v", err)
	}
	s.Owner = rs.org
	if req.Name != "" {
		s.Name = req.Name
	}
	if req.Version != "" {
		if s.Version, err = schemas.ParseVersion(req.Version); err != nil {
			return nil, api.FieldErrorf(api.ErrInvalid, "version", "version: %v", err)
		}
	}
	if have, err := rs.registry.Lookup(s.Owner + "/" + s.Name + "@" + s.Version.String()); err == nil && have.CID == s.CID {
		return schemaInfo(have, ""), nil
	}
	if err := rs.registry.Check(s); err != nil {
		kind := api.ErrConflict
		if !errors.Is(err, schemas.ErrRefused) {
			kind = api.ErrInvalid
		}
		return nil, api.Errorf(kind, "%v", err)
	}
	st, err := rs.publisher.Register(s)
	if err != nil {
		return nil, err
	}
	rs.registrar.add(st)
	return schemaInfo(s, st.CID().String()), nil
}

// Schemas lists the registry.
func (rs *registryService) Schemas() []api.SchemaInfo {
	var out []api.SchemaInfo
	for _, s := range rs.registry.All() {
		out = append(out, *schemaInfo(s, ""))
	}
	return out
}

// Schema returns one schema of the registry, with its document.
func (rs *registryService) Schema(ref string) (*api.SchemaInfo, error) {
	s, err := rs.registry.Lookup(ref)
	if err != nil {
		return nil, api.Errorf(api.ErrNotFound, "%v", err)
	}
	info := schemaInfo(s, "")
	info.Document = s.Canonical
	return info, nil
}

// PolicySchema is the Cedar schema policies are checked against now.
func (rs *registryService) PolicySchema() []byte { return rs.registry.CedarSchema() }

func schemaInfo(s *schemas.Schema, statement string) *api.SchemaInfo {
	info := &api.SchemaInfo{Owner: s.Owner, Name: s.Name, Version: s.Version.String(), CID: s.CID.String(),
		Title: s.Title, Statement: statement, Sensitive: s.Sensitive, Compiled: s.Compiled(), Fallback: s.Fallback()}
	for _, a := range s.Attributes {
		info.Attributes = append(info.Attributes, api.SchemaAttribute{Name: a.Name, Type: string(a.Type)})
	}
	return info
}
