package schemas

// AcceptsCanonical exposes the one-pass check of canonical records.
func (s *Schema) AcceptsCanonical(data []byte) bool { return s.acceptsCanonical(data) }

// FormatCheck is the compiled validator's check of a format.
func FormatCheck(name string) func(string) error {
	c, err := formatChecker(name)
	if err != nil {
		panic(err)
	}
	return c
}
