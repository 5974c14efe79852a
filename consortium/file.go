package consortium

import (
	"errors"
	"os"

	"github.com/caravan-consortium/caravan/internal/yamlfile"
)

const fileHeader = `# Caravan consortium roster. It is signed: edit it with 'caravan consortium'
# (add-member, sign), not by hand, or the signatures will no longer verify.
# Format: schemas/roster.md.
`

// Parse decodes and validates a roster read from file. It does not check
// signatures; call Verify for that. Errors name the file, line and field.
func Parse(file string, data []byte) (*Roster, error) {
	var r Roster
	if err := yamlfile.Decode(file, data, &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return nil, yamlfile.FieldError(file, data, ve.Field, "%s", ve.Msg)
		}
		return nil, err
	}
	return &r, nil
}

// Load reads and validates the roster at path (signatures unchecked).
func Load(path string) (*Roster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// LoadVerified reads the roster at path and checks its signatures against
// its own threshold.
func LoadVerified(path string) (*Roster, error) {
	r, err := Load(path)
	if err != nil {
		return nil, err
	}
	if _, err := r.Verify(); err != nil {
		return nil, &yamlfile.Error{File: path, Err: err}
	}
	return r, nil
}

// Marshal encodes the roster as YAML with an explanatory header.
func (r *Roster) Marshal() ([]byte, error) {
	body, err := yamlfile.Marshal(r)
	if err != nil {
		return nil, err
	}
	out := append([]byte(fileHeader), body...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out, nil
}
