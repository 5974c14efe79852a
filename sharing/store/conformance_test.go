package store_test

import (
	"testing"

	"github.com/caravan-consortium/caravan/sharing/store"
	"github.com/caravan-consortium/caravan/sharing/store/storetest"
)

// TestEmbeddedConforms runs the store's conformance suite on Pebble.
func TestEmbeddedConforms(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := store.OpenEmbedded(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
