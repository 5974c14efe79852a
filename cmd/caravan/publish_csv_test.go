package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// A new agency's first publish: its own schema with a sensitive field, a
// Windows-1251 CSV delimited by ';' as Russian Excel exports it, with bad
// rows among the good ones.
func TestPublishAgencySpreadsheet(t *testing.T) {
	dir, _ := oneGateway(t)
	tmp := t.TempDir()
	schemaFile := filepath.Join(tmp, "road-permit.json")
	os.WriteFile(schemaFile, []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema",
	"x-caravan-schema":{"id":"road-permit","version":1},"type":"object","required":["permit_no"],
	"properties":{"permit_no":{"type":"string","pattern":"^P-[0-9]+$"},"carrier":{"type":"string"},
	"route":{"type":"string","x-caravan-policy-attribute":true},
	"issued_at":{"type":"string","format":"date-time","x-caravan-policy-attribute":true},
	"driver_id":{"type":"string","pattern":"^[0-9]{12}$","x-caravan-sensitive":true}}}`), 0o644)

	var b strings.Builder
	b.WriteString("permit_no;carrier;route;issued_at;driver_id\n")
	bad := 0
	for i := 1; i <= 200; i++ {
		driver := fmt.Sprintf("%012d", i)
		if i%10 == 0 {
			driver, bad = fmt.Sprintf("SECRET%d", i), bad+1
		}
		fmt.Fprintf(&b, "P-%d;Алматы Транс;Алматы-Хоргос;2026-03-%02dT09:00:00+05:00;%s\n", i, i%28+1, driver)
	}
	cp1251, err := charmap.Windows1251.NewEncoder().String(b.String())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tmp, "permits.csv")
	os.WriteFile(file, []byte(cp1251), 0o644)

	// Not UTF-8: refused at the first Cyrillic byte, nothing published.
	_, err = caravan(t, "publish", "--dir", dir, "--dataset", "permits", "--schema", schemaFile, "--delimiter", ";", "--purpose", "transit-control", file)
	if err == nil || !strings.Contains(err.Error(), "line 2, column 5") || !strings.Contains(err.Error(), "--encoding") {
		t.Fatalf("a Windows-1251 file read as UTF-8: %v", err)
	}
	rejects := filepath.Join(tmp, "rejects.jsonl")
	os.WriteFile(rejects, []byte("old\n"), 0o644) // an older reject file, readable by all
	out := mustCaravan(t, "publish", "--dir", dir, "--dataset", "permits", "--schema", schemaFile,
		"--encoding", "windows-1251", "--delimiter", ";", "--reject-file", rejects, file)
	if !strings.Contains(out, fmt.Sprintf("version 1: %d records", 200-bad)) || !strings.Contains(out, fmt.Sprintf("%d invalid record(s) left out", bad)) {
		t.Fatalf("publish:\n%s", out)
	}
	if !strings.Contains(out, "line 11: driver_id: does not match pattern") || !strings.Contains(out, fmt.Sprintf("... and %d more", bad-5)) {
		t.Fatalf("the summary does not show the first rejects:\n%s", out)
	}
	if !strings.Contains(out, "no --purpose was given, so no partner can fetch") {
		t.Fatalf("no word of the missing purpose:\n%s", out)
	}
	if strings.Contains(out, "SECRET") {
		t.Fatalf("a sensitive value in the output:\n%s", out)
	}
	rej, _ := os.ReadFile(rejects)
	st, _ := os.Stat(rejects)
	if n := strings.Count(string(rej), "\n"); n != bad || strings.Contains(string(rej), "SECRET") || st.Mode().Perm() != 0o600 {
		t.Fatalf("reject file (%v): %d lines:\n%s", st.Mode(), n, rej)
	}
	if !strings.Contains(string(rej), `"carrier":"Алматы Транс"`) || !strings.Contains(string(rej), `"driver_id":"[not shown: x-caravan-sensitive]"`) {
		t.Fatalf("reject file:\n%s", rej)
	}
}
