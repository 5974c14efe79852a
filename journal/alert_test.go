package journal_test

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/caravan-consortium/caravan/journal"
)

func checkpointNote(size int, root string) []byte {
	return []byte(fmt.Sprintf("caravan/silk/customs-kz\n%d\n%s\n\n\u2014 caravan/silk/customs-kz AAAA\n", size, root))
}

// An origin has one alert per tree size, and at most MaxAlertsPerOrigin of
// them: a member signing checkpoints at ever new sizes cannot fill a disk
// either, and other origins keep their room.
func TestAlertsAreBoundedPerOrigin(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for size := range journal.MaxAlertsPerOrigin + 10 {
		fe := &journal.ForkError{Origin: "caravan/silk/customs-kz", Held: checkpointNote(size, "aGVsZA=="), Got: checkpointNote(size, "Z290"), Reason: "two roots"}
		res, err := journal.SaveAlert(dir, fe, now)
		switch {
		case size < journal.MaxAlertsPerOrigin && (err != nil || !res.New):
			t.Fatalf("size %d: %+v %v", size, res, err)
		case size >= journal.MaxAlertsPerOrigin && !errors.Is(err, journal.ErrAlertsFull):
			t.Fatalf("size %d past the bound: %+v %v", size, res, err)
		}
	}
	other := &journal.ForkError{Origin: "caravan/silk/customs-cn", Held: checkpointNote(3, "aGVsZA=="), Got: checkpointNote(3, "Z290"), Reason: "two roots"}
	if res, err := journal.SaveAlert(dir, other, now); err != nil || !res.New {
		t.Fatalf("another origin: %+v %v", res, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != journal.MaxAlertsPerOrigin+1 {
		t.Fatalf("%d files", len(entries))
	}
}
