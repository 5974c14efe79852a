package consortium_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/consortium/edit"
)

func ptr[T any](v T) *T { return &v }

// Each edit makes the next version of a signed roster, unsigned, and
// changes only what it names; the signed version stays verifiable.
func TestEditsMakeTheNextVersion(t *testing.T) {
	r := sign(t, fixture(t), 1, 2)
	cases := []struct {
		edit  edit.Edit
		check func(*consortium.Roster) bool
	}{
		{edit.UpdateMember{Org: "customs-cn", Sector: ptr("revenue")}, func(r *consortium.Roster) bool {
			m := r.Member("customs-cn") // the roles, groups, name and nodes stay
			return m.Sector == "revenue" && slices.Equal(m.Roles, []string{"publisher"}) && m.Name == "Customs CN" && len(m.Nodes) == 1
		}},
		{edit.UpdateMember{Org: "customs-kz", Roles: &[]string{"requester", "witness"}}, func(r *consortium.Roster) bool {
			return slices.Equal(r.Member("customs-kz").Roles, []string{"requester", "witness"}) && r.Member("customs-kz").Country == "KZ"
		}},
		{edit.AddNode{Org: "customs-cn", Node: consortium.Node{PeerID: peerOf(t, 103), Addrs: []string{"/ip4/127.0.0.1/tcp/4003"}}},
			func(r *consortium.Roster) bool { return len(r.Member("customs-cn").Nodes) == 2 }},
		{edit.AddNode{Org: "customs-cn", Node: consortium.Node{PeerID: peerOf(t, 101), Addrs: []string{"/ip4/10.0.0.1/tcp/4001"}}},
			func(r *consortium.Roster) bool {
				n := r.Member("customs-cn").Nodes
				return len(n) == 1 && n[0].Addrs[0] == "/ip4/10.0.0.1/tcp/4001"
			}},
		{edit.RemoveNode{Org: "customs-kz", PeerID: peerOf(t, 102)}, func(r *consortium.Roster) bool { return len(r.Member("customs-kz").Nodes) == 0 }},
		{edit.RemoveMember{Org: "customs-kz"}, func(r *consortium.Roster) bool { return r.Member("customs-kz") == nil && len(r.Members) == 1 }},
		{edit.AddMember{Member: consortium.Member{Org: "logistics-az", Name: "Freight AZ", Country: "AZ", Sector: "logistics",
			Roles: []string{"requester"}}}, func(r *consortium.Roster) bool { return r.Member("logistics-az") != nil }},
		{edit.RotateAdmin{Name: "a3", Key: adminKey("x", 9).Key}, func(r *consortium.Roster) bool { return r.Admins.Keys[2].Key == adminKey("x", 9).Key }},
		{edit.SetThreshold{Threshold: 3}, func(r *consortium.Roster) bool { return r.Admins.Threshold == 3 }},
		{edit.SetExpiry{Expires: "2027-12-31T00:00:00Z"}, func(r *consortium.Roster) bool {
			at, ok := r.ExpiresAt()
			return ok && at.Year() == 2027 && !r.Expired(at.Add(-time.Second)) && r.Expired(at)
		}},
	}
	for _, c := range cases {
		next := clone(t, r)
		if err := edit.Revise(next, c.edit); err != nil {
			t.Errorf("%s: %v", c.edit, err)
			continue
		}
		if next.Version != r.Version+1 || len(next.Signatures) != 0 || !c.check(next) {
			t.Errorf("%s: version %d, %d signatures, or not changed as it says", c.edit, next.Version, len(next.Signatures))
		}
		if _, err := r.Verify(); err != nil {
			t.Errorf("%s changed the signed roster it started from: %v", c.edit, err)
		}
	}
}

// A wrong edit is refused with the field it got wrong, and the roster is
// left as it was.
func TestWrongEditsNameTheirField(t *testing.T) {
	r := sign(t, fixture(t), 1, 2)
	for _, c := range []struct {
		edit  edit.Edit
		field string
	}{
		{edit.AddMember{Member: consortium.Member{Org: "customs-cn", Name: "again", Country: "CN", Sector: "customs"}}, "org"},
		{edit.AddMember{Member: consortium.Member{Org: "new-org", Name: "N", Country: "XX", Sector: "trade"}}, "members[2].country"},
		{edit.AddMember{Member: consortium.Member{Org: "new-org", Name: "N", Country: "cn", Sector: "trade"}}, "members[2].country"},
		{edit.AddMember{Member: consortium.Member{Org: "new-org", Name: "N", Country: "UK", Sector: "trade"}}, "members[2].country"},
		{edit.UpdateMember{Org: "customs-cn", Roles: &[]string{"publisher", "superuser"}}, "members[0].roles[1]"},
		{edit.UpdateMember{Org: "customs-cn", Roles: &[]string{"witness", "witness"}}, "members[0].roles[1]"},
		{edit.UpdateMember{Org: "nobody", Name: ptr("x")}, "org"},
		{edit.UpdateMember{Org: "customs-cn"}, "org"},
		{edit.AddNode{Org: "customs-kz", Node: consortium.Node{PeerID: peerOf(t, 101)}}, "peer_id"},
		{edit.AddNode{Org: "customs-kz", Node: consortium.Node{PeerID: "not-a-peer"}}, "peer_id"},
		{edit.AddNode{Org: "customs-kz", Node: consortium.Node{PeerID: peerOf(t, 104), Addrs: []string{"tcp:4001"}}}, "members[1].nodes[1].addrs[0]"},
		{edit.RemoveNode{Org: "customs-kz", PeerID: peerOf(t, 101)}, "peer_id"},
		{edit.RemoveMember{Org: "nobody"}, "org"},
		{edit.RotateAdmin{Name: "a9", Key: adminKey("x", 9).Key}, "name"},
		{edit.RotateAdmin{Name: "a3", Key: "ed25519:short"}, "key"},
		{edit.RotateAdmin{Name: "a3", Key: adminKey("a1", 1).Key}, "admins.keys[2].key"},
		{edit.SetThreshold{Threshold: 4}, "admins.threshold"},
		{edit.SetThreshold{Threshold: 0}, "admins.threshold"},
		{edit.SetExpiry{Expires: "2027-12-31"}, "expires"},
		{edit.SetExpiry{Expires: "2027-12-31T08:00:00+08:00"}, "expires"},
		{edit.SetExpiry{Expires: "2027-12-31T00:00:00.5Z"}, "expires"},
	} {
		next := clone(t, r)
		err := edit.Revise(next, c.edit)
		var ve *consortium.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%s: %v, want an error naming %s", c.edit, err, c.field)
		}
		if next.Version != r.Version || len(next.Signatures) != len(r.Signatures) {
			t.Errorf("%s: the refused edit changed the roster", c.edit)
		}
	}
	if err := edit.Revise(clone(t, r), edit.SetThreshold{Threshold: 2}); !errors.Is(err, edit.ErrNoChange) {
		t.Errorf("an edit that changes nothing: %v", err)
	}
}

// A rotated admin key takes effect the way TUF's root rotation does: the
// new version is taken only when a threshold of the admins before it and a
// threshold of its own have signed it; the old key can sign it no more.
func TestRotatedAdminSignsTheNextVersion(t *testing.T) {
	v1 := sign(t, fixture(t), 1, 2)
	v2 := clone(t, v1)
	if err := edit.Revise(v2, edit.RotateAdmin{Name: "a1", Key: adminKey("a1", 9).Key}); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Sign(seededKey(1)); err == nil {
		t.Fatal("a1's old key signed the version that replaced it")
	}
	sign(t, v2, 9, 2) // the new a1 and a2: a threshold of its own admins...
	if _, err := v2.Verify(); err != nil {
		t.Fatalf("signed by the new a1 and a2: %v", err)
	}
	if err := consortium.CheckUpdate(v1, v2); err == nil {
		t.Fatal("...but only one of the admins before it, and it was taken") // a takeover by a new key
	}
	sign(t, v2, 3)
	if err := consortium.CheckUpdate(v1, v2); err != nil {
		t.Fatalf("signed by a2 and a3 too: %v", err)
	}
}
