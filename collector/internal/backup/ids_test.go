package backup

import (
	"errors"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// TestHostileIDs: a capture id that could leave its folder in the bucket
// never reaches an object name.
func TestHostileIDs(t *testing.T) {
	c, _ := client(t, emulator(t))
	b, err := New(Config{Store: storetest.Open(t), Client: c, Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"../../etc/passwd", "a/b", "", strings.Repeat("a", 200), "a\x00b", ".."} {
		if set, err := b.build(t.Context(), id); !errors.Is(err, ids.ErrBad) {
			t.Errorf("build(%q) = %v, %v; want ids.ErrBad", id, set, err)
		}
	}
}
