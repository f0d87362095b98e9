package hostile

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// TestCapture checks that the forgery parses, as a real capture would.
func TestCapture(t *testing.T) {
	data, sum, err := Capture("forged-host")
	if err != nil {
		t.Fatal(err)
	}
	if s := sha256.Sum256(data); !bytes.Equal(s[:], sum) {
		t.Error("Capture's sha256 is not its bytes'")
	}
	c, err := fpcap.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read the forged capture: %v", err)
	}
	if c.Context["host"] != "forged-host" || c.EventsTotal != 20 {
		t.Errorf("forged capture: host %q, %d events; want forged-host, 20", c.Context["host"], c.EventsTotal)
	}
}
