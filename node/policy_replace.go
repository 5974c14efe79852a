package node

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/policy"
)

// ReplacePolicies puts an uploaded bundle in force in place of the policy
// directory's files. The bundle is checked first, as CheckPolicies does,
// and its decision table, if one is given, must pass: otherwise nothing
// changes and the result lists the problems or the failing cases (422).
//
// The files are written one by one (each atomically), stale .cedar files
// removed, and the bundle reloaded, all under the reload lock: the
// directory watcher, woken by the writes, waits and then finds the bundle
// in force unchanged. If the new bundle cannot be put in force (the
// journal refuses the entry), the old files are written back.
func (n *Node) ReplacePolicies(req api.PolicyCheckRequest) (*api.PolicyCheckResult, error) {
	res, err := n.CheckPolicies(req)
	if err != nil {
		return nil, err
	}
	if !res.Valid {
		return res, api.FieldErrorf(http.StatusUnprocessableEntity, "files", "the bundle has %d problem(s), first %s; the bundle in force stays",
			len(res.Problems), res.Problems[0])
	}
	for _, c := range res.Cases {
		if !c.Pass {
			return res, api.FieldErrorf(http.StatusUnprocessableEntity, "table", "decision table case %q (line %d) fails: %s; the bundle in force stays",
				c.Name, c.Line, c.Result)
		}
	}
	pe := n.policies
	pe.mu.Lock()
	defer pe.mu.Unlock()
	old, err := readPolicyFiles(pe.dir)
	if err != nil {
		return nil, err
	}
	if err := writePolicyFiles(pe.dir, req.Files, old); err != nil {
		return nil, errors.Join(err, restorePolicyFiles(pe.dir, old, req.Files))
	}
	if err := n.reloadPoliciesLocked(); err != nil {
		return nil, errors.Join(api.Errorf(http.StatusConflict, "the bundle was valid but not put in force: %v", err),
			restorePolicyFiles(pe.dir, old, req.Files))
	}
	n.log.Named("policy").Info("policy bundle replaced by an upload", zap.String("bundle", res.CID), zap.Int("files", len(req.Files)))
	return res, nil
}

// readPolicyFiles reads the .cedar files of dir, by name.
func readPolicyFiles(dir string) (map[string][]byte, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if e.Type().IsRegular() && filepath.Ext(e.Name()) == policy.Ext && !strings.HasPrefix(e.Name(), ".") {
			if out[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// writePolicyFiles writes files into dir and removes the other .cedar
// files of old.
func writePolicyFiles(dir string, files map[string]string, old map[string][]byte) error {
	for name, text := range files {
		if err := atomicfile.Write(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return fmt.Errorf("policies: %w", err)
		}
	}
	for name := range old {
		if _, kept := files[name]; !kept {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("policies: %w", err)
			}
		}
	}
	return nil
}

// restorePolicyFiles puts old back in dir, removing what the upload added.
func restorePolicyFiles(dir string, old map[string][]byte, added map[string]string) error {
	var errs []error
	for name := range added {
		if _, was := old[name]; !was {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	for name, data := range old {
		errs = append(errs, atomicfile.Write(filepath.Join(dir, name), data, 0o600))
	}
	return errors.Join(errs...)
}
