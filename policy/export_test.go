package policy

import "fmt"

// PlanString describes the memo plan, for tests.
func PlanString(b *Bundle) string { return fmt.Sprintf("%+v", b.plan) }

// MemoOn reports whether b's sessions memoize.
func MemoOn(b *Bundle) bool { return b.plan.memo }
