// Package consortium holds the signed roster of a Caravan consortium: its
// name, a version number, the admin keys with a k-of-n signature threshold,
// and the members with their attributes and nodes.
//
// # File format
//
// A roster is a YAML document (specified in schemas/roster.md):
//
//	consortium: silk-road-demo
//	version: 2
//	admins:
//	  threshold: 2
//	  keys:
//	    - name: admin-customs-a
//	      key: ed25519:Hn2f0J0pI0xq6dAgk1c3mQz1pXW1sV0b4tqkq2oY9i4=
//	    ...
//	members:
//	  - org: customs-a
//	    name: Customs Agency A
//	    country: CN
//	    sector: customs
//	    roles: [publisher, requester]
//	    nodes:
//	      - peer_id: 12D3KooW...
//	        addrs: [/ip4/127.0.0.1/tcp/4001, /ip4/127.0.0.1/udp/4001/quic-v1]
//	signatures:
//	  - admin: admin-customs-a
//	    sig: <base64 Ed25519 signature>
//
// # Signatures
//
// Each admin signs the bytes
//
//	"caravan/roster/v1\n" || JCS(body)
//
// where body is the roster without its signatures field, encoded as JSON and
// canonicalized with RFC 8785 (JCS). Any tool with a JCS implementation and
// Ed25519 can check a roster. Key order, comments and white space in the
// YAML file do not change what is signed.
//
// A roster is valid when signatures by at least threshold distinct admins it
// lists verify and no signature fails. A newer roster replaces the trusted
// one only if its version is higher and it is also signed by a threshold of
// the trusted roster's admins (as TUF rotates root keys), so that a key
// compromise outside the admin set cannot mint a roster. A lower version
// never replaces a higher one; two different rosters with the same version
// are a conflict.
package consortium
