package devnet

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/configs"
)

// The demo's own-data step: an agency's schema that is not built in
// (configs/examples/phytosanitary), carried end to end by the stock binary.
const (
	phytoSchema  = "phytosanitary-certificate"
	phytoDataset = "kz-phytosanitary-2026"
	phytoPurpose = "phytosanitary-control"
)

// stepOwnSchema: customs-kz registers the phytosanitary-certificate schema
// from its file, publishes certificates from a spreadsheet export with array
// columns, and customs-cn (whose gateway never saw the schema before)
// fetches them: nothing at first, as no policy permits the purpose, then,
// once customs-kz drops plant-health.cedar into its policy directory and its
// gateway reloads it, exactly the certificates that policy and the guards
// permit, which the step works out from the CSV on its own.
func stepOwnSchema(ctx context.Context, e *Env) (string, error) {
	owner, partner := e.Net.Org("customs-kz"), e.Net.Org("customs-cn")
	if owner == nil || partner == nil {
		return "skipped: needs customs-kz and customs-cn", nil
	}
	dir := filepath.Join(e.Net.Dir, "phytosanitary")
	ex, err := configs.Example("phytosanitary")
	if err != nil {
		return "", err
	}
	if err := os.CopyFS(dir, ex); err != nil {
		return "", err
	}
	fmt.Fprintf(e.Out, "      the example is in %s\n", dir)
	if _, err := e.caravan(ctx, "schema", "add", filepath.Join(dir, "phytosanitary-certificate.json"), "--dir", owner.Dir); err != nil {
		return "", err
	}
	e.schemas++
	if _, err := e.caravan(ctx, "publish", filepath.Join(dir, "certificates.csv"), "--dir", owner.Dir, "--dataset", phytoDataset,
		"--schema", phytoSchema, "--purpose", phytoPurpose, "--description", "phytosanitary certificates issued in 2026"); err != nil {
		return "", err
	}
	manifest, err := headOf(ctx, owner, phytoDataset)
	if err != nil {
		return "", err
	}
	e.published = append(e.published, manifest)
	if err := waitListed(ctx, []*Org{partner}, manifest); err != nil {
		return "", err
	}
	pcl, err := api.NewClient(partner.Dir)
	if err != nil {
		return "", err
	}
	before, err := pcl.Fetch(ctx, api.FetchRequest{Manifest: manifest, Purpose: phytoPurpose}, nil)
	if err != nil {
		return "", fmt.Errorf("%s fetching before the policy: %w", partner.Org, err)
	}
	if before.Permitted != 0 {
		return "", fmt.Errorf("%s received %d certificates before any policy permitted %s", partner.Org, before.Permitted, phytoPurpose)
	}
	fmt.Fprintf(e.Out, "      before the policy: %s is permitted 0 of %d certificates (no policy permits %s)\n", partner.Org, before.Withheld, phytoPurpose)
	if err := addPolicy(ctx, e, owner, dir, "plant-health.cedar"); err != nil {
		return "", err
	}
	csvFile, err := os.Open(filepath.Join(dir, "certificates.csv"))
	if err != nil {
		return "", err
	}
	want, err := PermittedCertificates(csvFile, "CN", time.Now())
	csvFile.Close()
	if err != nil {
		return "", err
	}
	out := filepath.Join(e.Net.Dir, "customs-cn-phytosanitary.jsonl")
	if _, err := e.caravan(ctx, "fetch", manifest, "--dir", partner.Dir, "--purpose", phytoPurpose, "--out", out); err != nil {
		return "", err
	}
	got, err := FetchedCertificates(out)
	if err != nil {
		return "", err
	}
	if !slices.Equal(got, want) {
		return "", fmt.Errorf("%s received certificates %v; the policy permits %v", partner.Org, got, want)
	}
	return fmt.Sprintf("%s received exactly the %d certificates plant-health.cedar permits (bound for CN, pest free, still valid), validated against %s on receipt",
		partner.Org, len(got), phytoSchema), nil
}

// caravan runs the caravan binary, printing the command and its output.
func (e *Env) caravan(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, e.Binary, args...).CombinedOutput()
	shown := make([]string, len(args))
	for i, a := range args {
		if strings.HasPrefix(a, e.Net.Dir) {
			a = filepath.Base(a)
		}
		if strings.ContainsAny(a, " '\"") {
			a = strconv.Quote(a)
		}
		shown[i] = a
	}
	fmt.Fprintf(e.Out, "      $ caravan %s\n", strings.Join(shown, " "))
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fmt.Fprintf(e.Out, "        %s\n", l)
	}
	if err != nil {
		return "", fmt.Errorf("caravan %s: %v", args[0], err)
	}
	return string(out), nil
}

// headOf is the CID of the head manifest of o's dataset.
func headOf(ctx context.Context, o *Org, dataset string) (string, error) {
	cl, err := api.NewClient(o.Dir)
	if err != nil {
		return "", err
	}
	entries, err := cl.Catalog(ctx, api.CatalogQuery{Org: o.Org})
	if err != nil {
		return "", err
	}
	for _, en := range entries {
		if en.Manifest.Dataset == dataset && en.Head {
			return en.CID, nil
		}
	}
	return "", fmt.Errorf("%s lists no dataset %s", o.Org, dataset)
}

// addPolicy copies file from dir into o's policy directory and waits until
// its gateway has reloaded the bundle with it in force.
func addPolicy(ctx context.Context, e *Env, o *Org, dir, file string) error {
	cl, err := api.NewClient(o.Dir)
	if err != nil {
		return err
	}
	was, err := cl.Policy(ctx)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(was.Dir, file), data, 0o600); err != nil {
		return err
	}
	var now *api.PolicyInfo
	err = until(ctx, 10*time.Second, func() (bool, error) {
		if now, err = cl.Policy(ctx); err != nil {
			return false, err
		}
		if now.Refused > was.Refused {
			return false, fmt.Errorf("%s refused %s: %s", o.Org, file, now.LastError)
		}
		return now.Bundle != was.Bundle, nil
	})
	if err != nil {
		return fmt.Errorf("%s reloading its policies with %s: %w", o.Org, file, err)
	}
	fmt.Fprintf(e.Out, "      %s reloaded its policies with %s: bundle %s, %d policies (was %d)\n", o.Org, file, short(now.Bundle), now.Count, was.Count)
	return nil
}

// PermittedCertificates works out from the phytosanitary example's CSV
// (configs/examples/phytosanitary), without Cedar, which certificates
// plant-health.cedar and the demo's guards permit to the customs of country
// at t: bound for it, found pest free, and valid at t. Sorted.
func PermittedCertificates(csvData io.Reader, country string, t time.Time) ([]string, error) {
	rows, err := csv.NewReader(csvData).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no header row")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var out []string
	for _, r := range rows[1:] {
		valid, err := time.Parse(time.DateOnly, r[col["valid_until"]])
		if err != nil {
			return nil, err
		}
		if r[col["destination_country"]] == country && r[col["pest_free"]] == "true" && !valid.Before(t) {
			out = append(out, r[col["certificate_no"]])
		}
	}
	slices.Sort(out)
	return out, nil
}

// FetchedCertificates lists the certificate numbers of a fetched JSONL
// file, sorted.
func FetchedCertificates(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			CertificateNo string `json:"certificate_no"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, rec.CertificateNo)
	}
	slices.Sort(out)
	return out, sc.Err()
}
