package fetch

import (
	"errors"
	"testing"
)

// A pipe that is cancelled before it is drained stops its producer, even
// one that would never end; one whose consumer fails stops it too, and
// reports the consumer's error.
func TestPipeStops(t *testing.T) {
	endless := func(sent *int) func(send func(int) error) error {
		return func(send func(int) error) error {
			for i := 0; ; i++ {
				if err := send(i); err != nil {
					*sent = i
					return err
				}
			}
		}
	}
	var sent int
	p := startPipe(4, endless(&sent))
	p.cancel() // returns only once the producer has
	if sent > 4+1 {
		t.Errorf("a cancelled producer sent %d items", sent)
	}
	boom := errors.New("boom")
	seen := 0
	err := pipeline(4, endless(&sent), func(int) error {
		if seen++; seen == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || seen != 10 {
		t.Errorf("pipeline: %v after %d items", err, seen)
	}
	// Order is kept.
	var got []int
	_ = pipeline(2, func(send func(int) error) error {
		for i := range 100 {
			if err := send(i); err != nil {
				return err
			}
		}
		return nil
	}, func(i int) error { got = append(got, i); return nil })
	for i, x := range got {
		if i != x || len(got) != 100 {
			t.Fatalf("items out of order or lost: %v", got)
		}
	}
}
