package policy

import (
	"iter"

	"github.com/cedar-policy/cedar-go"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/internal/jcs"
)

// BundleType versions the canonical file set that a bundle CID covers.
const BundleType = "caravan/policy-bundle/v1"

// File is one policy file of a bundle.
type File struct {
	Name string `json:"name"`
	Size int    `json:"size"`
	CID  string `json:"cid"` // CIDv1, raw codec, sha2-256 of the file's bytes
}

func newFile(name string, data []byte) File {
	return File{Name: name, Size: len(data), CID: cids.OfRaw(data).String()}
}

// bundleCID is the CIDv1 (json, sha2-256) of the RFC 8785 form of
// {"type": BundleType, "files": [{"name","size","cid"}...]} with files sorted
// by name. Renaming, adding, removing or changing any .cedar file changes it;
// other files in the directory do not.
func bundleCID(files []File) string {
	list := make([]any, len(files))
	for i, f := range files {
		list[i] = map[string]any{"name": f.Name, "size": int64(f.Size), "cid": f.CID}
	}
	canon, err := jcs.Append(nil, map[string]any{"type": BundleType, "files": list})
	if err != nil {
		panic(err) // cannot happen: names are valid UTF-8 (checked by the parser) or escaped
	}
	return cids.OfJSON(canon).String()
}

// policyList is a cedar.PolicyIterator in id order, so that diagnostics list
// policies deterministically (cedar.PolicySet iterates a map).
type policyList []policyEntry

type policyEntry struct {
	id     cedar.PolicyID
	policy *cedar.Policy
}

func (l policyList) All() iter.Seq2[cedar.PolicyID, *cedar.Policy] {
	return func(yield func(cedar.PolicyID, *cedar.Policy) bool) {
		for _, e := range l {
			if !yield(e.id, e.policy) {
				return
			}
		}
	}
}
