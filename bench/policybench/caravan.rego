# The fetch policies of configs/policies/*.cedar, written in Rego for the
# comparison in bench/policybench. Input:
#   principal: {id, country, groups}
#   dataset:   {owner, purposes}
#   context:   {purpose, time_ms, released_today}
#   resource:  the record's policy attributes (datetimes as *_ms numbers)
# Cedar semantics: allow iff some permit holds and no forbid holds.
package caravan

default allow := false

allow if {
	count(permits) > 0
	count(forbids) == 0
}

permits contains "customs-partner-clearance" if {
	"customs-authorities" in input.principal.groups
	input.context.purpose in {"customs-clearance", "risk-analysis"}
	input.context.purpose in input.dataset.purposes
	input.context.time_ms >= 1767225600000 # 2026-01-01T00:00:00Z
	input.context.time_ms < 1830297600000 # 2028-01-01T00:00:00Z
	jurisdiction
}

jurisdiction if input.resource.destination_country == input.principal.country

jurisdiction if input.resource.origin_country == input.principal.country

permits contains "kz-registry-due-diligence" if {
	input.principal.id == "customs-kz"
	input.context.purpose == "due-diligence"
	input.context.purpose in input.dataset.purposes
	input.resource.status == "active"
}

permits contains "logistics-transit-planning" if {
	"logistics-operators" in input.principal.groups
	input.context.purpose == "transit-planning"
	input.context.purpose in input.dataset.purposes
	input.resource.classification == "public"
	transit_or_untyped
}

transit_or_untyped if not input.resource.declaration_type

transit_or_untyped if input.resource.declaration_type == "transit"

forbids contains "logistics-daily-volume" if {
	"logistics-operators" in input.principal.groups
	input.context.released_today >= 500
}

forbids contains "no-confidential" if {
	input.resource.classification == "confidential"
	input.principal.id != input.dataset.owner
}

forbids contains "high-value-customs-only" if {
	input.resource.total_value_usd >= 1000000
	not "customs-authorities" in input.principal.groups
}

forbids contains "certificate-still-valid" if {
	input.resource.valid_until_ms < input.context.time_ms
}
