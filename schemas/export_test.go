package schemas

// AcceptsCanonical exposes the one-pass check of canonical records.
func (s *Schema) AcceptsCanonical(data []byte) bool { return s.acceptsCanonical(data) }
