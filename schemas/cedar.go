package schemas

import _ "embed"

// CedarSchema is the Cedar schema (human-readable format) that every policy
// bundle is validated against: entity types Org, Group, Dataset and Record,
// actions discover and fetch. Spec: schemas/policy.md.
//
//go:embed caravan.cedarschema
var CedarSchema []byte
