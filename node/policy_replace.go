package node

import (
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/api"
)

// ReplacePolicies puts an uploaded bundle in force in place of the policy
// directory's files. The bundle is checked first, as CheckPolicies does,
// and its decision table, if one is given, must pass: otherwise nothing
// changes and the result lists the problems or the failing cases (422).
//
// The bundle's files become exactly the upload's (policy_files.go: written
// ahead, so a gateway killed halfway restarts with the old bundle or the
// new one), and the bundle is reloaded, all under the reload lock: the
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
	old, err := bundleFiles(pe.dir)
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(req.Files))
	for name, text := range req.Files {
		files[name] = []byte(text)
	}
	intent := n.dir.PolicyIntent()
	if err := changePolicyFiles(intent, pe.dir, files); err != nil {
		return nil, errors.Join(err, changePolicyFiles(intent, pe.dir, old))
	}
	if err := n.reloadPoliciesLocked(); err != nil {
		return nil, errors.Join(api.Errorf(http.StatusConflict, "the bundle was valid but not put in force: %v", err),
			changePolicyFiles(intent, pe.dir, old))
	}
	// The answer names the bundle in force: the files are exactly the
	// upload's, so it is the one checked.
	if inForce := pe.current.Load().bundle.CID(); inForce != res.CID {
		return nil, fmt.Errorf("policies: the bundle in force is %s, not the uploaded %s", inForce, res.CID)
	}
	n.log.Named("policy").Info("policy bundle replaced by an upload", zap.String("bundle", res.CID), zap.Int("files", len(req.Files)))
	return res, nil
}
