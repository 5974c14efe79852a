// Package catalog is every member's view of what the consortium shares:
// the verified statements of every member (manifests, retractions, schema
// registrations, sealed announcements), stored and indexed (catalog.go),
// within a quota per org (quota.go), and queried by dataset and version
// (queries.go). Its network side spreads them: gossip on the consortium's
// catalog topic with a validator that checks every statement before it is
// kept (gossip.go), catch-up with a member after a partition, paged and
// bounded (catchup.go, summary.go), and the owner's disclosure of sealed
// statements to the members its policies permit (reveal.go). The
// protocols are specified in schemas/catalog-protocol.md.
package catalog
