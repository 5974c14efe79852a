package consortium

import (
	"errors"
	"fmt"
)

// Errors returned by CheckUpdate.
var (
	// ErrDowngrade means the candidate's version is lower than the trusted one's.
	ErrDowngrade = errors.New("roster downgrade refused: a lower version never replaces a higher one")
	// ErrConflict means two different rosters carry the same version.
	ErrConflict = errors.New("conflicting roster: same version, different content")
	// ErrOtherConsortium means the candidate names another consortium.
	ErrOtherConsortium = errors.New("roster belongs to another consortium")
	// ErrSameVersion means the candidate is the trusted roster itself; there
	// is nothing to do.
	ErrSameVersion = errors.New("roster is already in force")
)

// CheckUpdate decides whether next may replace trusted. next must already
// have passed Verify. It returns nil if next is newer and signed by a
// threshold of trusted's admins; otherwise ErrSameVersion, ErrDowngrade,
// ErrConflict, ErrOtherConsortium, or a signature error wrapped with context.
func CheckUpdate(trusted, next *Roster) error {
	if trusted == nil {
		return nil
	}
	if next.Consortium != trusted.Consortium {
		return fmt.Errorf("%w: %q, but this gateway belongs to %q", ErrOtherConsortium, next.Consortium, trusted.Consortium)
	}
	switch {
	case next.Version < trusted.Version:
		return fmt.Errorf("%w (offered version %d, in force version %d)", ErrDowngrade, next.Version, trusted.Version)
	case next.Version == trusted.Version:
		if Equal(trusted, next) {
			return ErrSameVersion
		}
		return fmt.Errorf("%w (version %d)", ErrConflict, next.Version)
	}
	if _, err := next.VerifyBy(trusted.Admins); err != nil {
		return fmt.Errorf("version %d is not authorized by the admins of version %d: %w", next.Version, trusted.Version, err)
	}
	return nil
}
