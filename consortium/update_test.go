package consortium_test

import (
	"errors"
	"testing"

	"github.com/caravan-consortium/caravan/consortium"
)

func TestCheckUpdate(t *testing.T) {
	v1 := func(t *testing.T) *consortium.Roster { return sign(t, fixture(t), 1, 2) }
	next := func(t *testing.T, mutate func(*consortium.Roster), seeds ...byte) *consortium.Roster {
		r := clone(t, v1(t))
		r.StartRevision()
		mutate(r)
		return sign(t, r, seeds...)
	}
	addMember := func(r *consortium.Roster) {
		r.UpsertMember(consortium.Member{Org: "logistics-az", Name: "Freight AZ", Country: "AZ", Sector: "logistics"})
	}
	cases := []struct {
		name    string
		trusted func(t *testing.T) *consortium.Roster
		next    func(t *testing.T) *consortium.Roster
		wantErr error
	}{
		{"first roster is trusted on first use", func(*testing.T) *consortium.Roster { return nil }, v1, nil},
		{"newer, signed by the trusted admins", v1, func(t *testing.T) *consortium.Roster { return next(t, addMember, 2, 3) }, nil},
		{"same roster again", v1, v1, consortium.ErrSameVersion},
		{"downgrade", func(t *testing.T) *consortium.Roster { return next(t, addMember, 1, 2) }, v1, consortium.ErrDowngrade},
		{"same version, other content", v1, func(t *testing.T) *consortium.Roster {
			r := clone(t, v1(t))
			r.Signatures = nil
			addMember(r)
			return sign(t, r, 1, 2)
		}, consortium.ErrConflict},
		{"other consortium", v1, func(t *testing.T) *consortium.Roster {
			return next(t, func(r *consortium.Roster) { r.Consortium = "elsewhere" }, 1, 2)
		}, consortium.ErrOtherConsortium},
		{
			// An attacker who holds keys outside the admin set makes a v2 that
			// names themselves admins: it verifies on its own, but not under
			// the trusted admins.
			"takeover by new admins", v1, func(t *testing.T) *consortium.Roster {
				return next(t, func(r *consortium.Roster) {
					r.Admins = consortium.Admins{Threshold: 1, Keys: []consortium.AdminKey{adminKey("m1", 66)}}
				}, 66)
			}, consortium.ErrBelowThreshold,
		},
		{
			// A legitimate rotation: a3 leaves, a4 joins, signed by a
			// threshold of the old admins (and of the new).
			"admin rotation", v1, func(t *testing.T) *consortium.Roster {
				return next(t, func(r *consortium.Roster) {
					r.Admins.Keys = []consortium.AdminKey{adminKey("a1", 1), adminKey("a2", 2), adminKey("a4", 4)}
				}, 1, 2, 4)
			}, nil,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := c.next(t)
			if _, err := n.Verify(); err != nil {
				t.Fatalf("candidate does not verify on its own: %v", err)
			}
			err := consortium.CheckUpdate(c.trusted(t), n)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("CheckUpdate: %v, want %v", err, c.wantErr)
			}
		})
	}
}

func TestStartRevision(t *testing.T) {
	r := sign(t, fixture(t), 1, 2)
	r.StartRevision()
	if r.Version != 2 || len(r.Signatures) != 0 {
		t.Fatalf("after StartRevision on a signed roster: version %d, %d signatures", r.Version, len(r.Signatures))
	}
	r.StartRevision()
	if r.Version != 2 {
		t.Fatalf("a second StartRevision before signing raised the version to %d", r.Version)
	}
}
