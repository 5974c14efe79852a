// Package policy is Caravan's access-policy engine: the data owner's gateway
// uses it to decide, record by record, what a requesting organization may
// receive, for which purpose, and to say which policies made each decision.
//
// Policies are written in Cedar (github.com/cedar-policy/cedar-go). A Bundle is
// a directory of .cedar files, checked in strict mode against a Vocabulary
// (the Cedar schema of schemas/caravan.cedarschema with Record's attributes
// generated from the schema registry), with one "@id" annotation per policy,
// and no read of an attribute the registry does not declare. Its CID
// covers the exact file set (spec: schemas/policy.md), and every decision
// carries it.
//
// Entities are built from plain values, so that this package needs neither
// libp2p nor the store: Org (from the roster, with its groups as parents),
// Dataset ("OWNER/NAME", from the manifest) and Record (the record's CID, with
// the fields that the dataset's JSON Schema marks as policy attributes). The
// actions are discover (may an org see that a dataset exists) and fetch (may it
// receive a record). The fetch context holds the purpose, the time, the
// request's details and released_today: how many records this owner has already
// released to the requesting org on the current UTC day. A Ledger keeps that
// count durably, so a per-org daily volume limit survives a restart.
//
// Cedar's semantics apply: the default is deny, and one satisfied forbid beats
// any number of satisfied permits.
//
// A Session decides a stream of records for one request. Within a session the
// principal, dataset and context are fixed, so a decision depends only on the
// record attributes that the bundle reads (and on released_today). A Session
// memoizes decisions on exactly that tuple; Bundle analyses the policies once
// to find it, and turns memoization off when a policy depends on a record's
// identity. Comparisons of a Long with literals are keyed by interval, so a
// daily limit or a value threshold does not defeat the memo.
package policy
