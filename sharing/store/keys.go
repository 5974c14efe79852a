package store

import "encoding/binary"

// Key layout of a gateway's Pebble store, every prefix in one place:
//
//	s/<cid>                    a statement (manifest, retraction, registration,
//	                           sealed), wire bytes
//	h/<cid>                    the statement s/<cid> is held, not shared: a sealed
//	                           dataset's manifest or retraction (its owner's, or
//	                           revealed to this org); empty value
//	m/<manifest cid>           the session id under which its records are stored
//	r/<session>/<index BE64>   a record's canonical bytes
//	a/<session>/<index BE64>   a record's CID (length-prefixed) and the canonical
//	                           projection of its policy attributes (what a
//	                           fetch decides on)
//	t/<session>/<level><block BE64>
//	                           the record tree's perfect-subtree hashes, 1,024
//	                           of a level per value (manifest.Subtrees)
//	p/<session>                a publish in progress (staging); gone once committed
//	n/<nonce>                  a fetch request nonce seen, with its expiry (provider)
//	c/<request hash>           the salt of a decision's commitment (provider);
//	                           no longer written: the salt is derived (fetch)
//	f/<manifest cid>/<purpose>/<index BE64>
//	                           a record received and verified for a purpose
//	                           (requester); <purpose> is its length (uvarint)
//	                           and its bytes
//
// A session id is 16 random bytes; <cid> is a CID's binary form.
const (
	prefixStatement = 's'
	prefixHidden    = 'h'
	prefixManifest  = 'm'
	prefixRecord    = 'r'
	prefixAttrs     = 'a'
	prefixTree      = 't'
	prefixPending   = 'p'
	prefixNonce     = 'n'
	prefixFetched   = 'f'
	sessionLen      = 16
)

func key(prefix byte, parts ...[]byte) []byte {
	k := []byte{prefix, '/'}
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// prefixRange bounds every key of a prefix.
func prefixRange(prefix byte) (lo, hi []byte) { return []byte{prefix, '/'}, []byte{prefix, '/' + 1} }

// indexedBounds returns the key range p + <index BE64> of one session's
// keys under prefix.
func indexedBounds(prefix byte, session []byte) (lo, hi []byte) {
	p := key(prefix, session)
	return binary.BigEndian.AppendUint64(p, 0), indexedUpper(p)
}

// indexedUpper bounds from above the keys p + <index BE64>.
func indexedUpper(p []byte) []byte {
	return append(p[:len(p):len(p)], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
}

// indexedKey is p + <index BE64>; it does not modify p.
func indexedKey(p []byte, index uint64) []byte {
	return binary.BigEndian.AppendUint64(p[:len(p):len(p)], index)
}
