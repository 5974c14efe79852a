package policies

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"github.com/caravan-consortium/caravan/policy"
)

// A policy upload changes several files, and a gateway killed halfway must
// not restart with a bundle nobody uploaded (a new permit without its new
// forbid). So a change is written ahead: the whole new set of files, and
// the names to remove, go first into one intent file (atomically, synced);
// then the files are written and removed; then the intent is deleted. A
// gateway that starts and finds an intent finishes it before it loads its
// policies. Either the old bundle or the new one is ever loaded.

// policyIntent is a change of a policy directory, written ahead.
type policyIntent struct {
	Dir    string            `json:"dir"`
	Files  map[string][]byte `json:"files"`  // name -> content, written
	Remove []string          `json:"remove"` // names removed (those not in Files)
}

// bundleFiles reads the files of dir that a bundle is made of
// (policy.IsBundleFile), by name; a link is read as its target.
func bundleFiles(dir string) (map[string][]byte, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if policy.IsBundleFile(e) {
			if out[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// changePolicyFiles makes the bundle files of dir exactly files, written
// ahead through the intent file at intentPath.
func changePolicyFiles(intentPath, dir string, files map[string][]byte) error {
	old, err := bundleFiles(dir)
	if err != nil {
		return err
	}
	in := policyIntent{Dir: dir, Files: files}
	for name := range old {
		if _, kept := files[name]; !kept {
			in.Remove = append(in.Remove, name)
		}
	}
	slices.Sort(in.Remove)
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(intentPath, data, 0o600); err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	return finishPolicyIntent(intentPath)
}

// finishPolicyIntent carries out the intent at intentPath, if there is one,
// and deletes it; it also removes temporary files that a write killed
// halfway left in the directory.
func finishPolicyIntent(intentPath string) error {
	data, err := os.ReadFile(intentPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var in policyIntent
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("%s: %w (a policy upload was interrupted and its record is damaged; remove the file and check the policy directory)", intentPath, err)
	}
	for name, text := range in.Files {
		if err := atomicfile.Write(filepath.Join(in.Dir, name), text, 0o600); err != nil {
			return fmt.Errorf("policies: %w", err)
		}
	}
	for _, name := range in.Remove {
		if err := os.Remove(filepath.Join(in.Dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("policies: %w", err)
		}
	}
	removeTempFiles(in.Dir)
	if err := os.Remove(intentPath); err != nil {
		return err
	}
	return nil
}

// removeTempFiles removes what atomicfile.Write leaves when killed before
// its rename: hidden ".NAME.cedar.tmp-N" files.
func removeTempFiles(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.Contains(n, policy.Ext+".tmp-") {
			os.Remove(filepath.Join(dir, n))
		}
	}
}
