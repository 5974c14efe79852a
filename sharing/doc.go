// Package sharing will hold records, manifests, the catalog and the fetch
// protocol. Not implemented yet: see issues 3 (publish) and 6 (fetch).
package sharing
