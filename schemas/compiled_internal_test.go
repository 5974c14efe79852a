package schemas

import (
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// isIntegerLiteral agrees with jsonschema/v6's exact arithmetic, and with
// the table, on literals of every size.
func TestIsIntegerLiteral(t *testing.T) {
	c := jsonschema.NewCompiler()
	if err := c.AddResource("urn:int", map[string]any{"type": "integer"}); err != nil {
		t.Fatal(err)
	}
	ref := c.MustCompile("urn:int")
	for lit, want := range map[string]bool{
		"1": true, "0": true, "-0": true, "1.0": true, "100e-2": true, "1e044456": true, "15e-1": false,
		"1.5": false, "1e-400": false, "0.000e5": true, "12.340e2": true, "12.345e2": false, "-7E+1": true,
		"0e-99999999999": true, "5e-99999999999": false, "123456789012345678901234567890": true,
	} {
		if got := isIntegerLiteral(lit); got != want {
			t.Errorf("isIntegerLiteral(%s) = %v, want %v", lit, got, want)
		}
		if refOK := ref.Validate(json.Number(lit)) == nil; refOK != want {
			t.Errorf("jsonschema says %s integer=%v, the table %v", lit, refOK, want)
		}
	}
}
