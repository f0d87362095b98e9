package uplink

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/spool"
	"github.com/fleetprof/fleetprof/agent/internal/uplink/uplinktest"
)

// BenchmarkUpload measures one capture's upload over loopback to the fake
// collector (1 MiB chunks, a window of 8).
func BenchmarkUpload(b *testing.B) {
	const size = 64 << 20
	data := randomBytes(size, 5)
	fc := uplinktest.Start(b, uplinktest.Options{})
	sp, err := spool.Open(b.TempDir(), spool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(Options{Addr: fc.Addr, AgentID: "bench", Spool: sp, Handler: &handler{}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.conn.Close()
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		id := fmt.Sprintf("cap-%d", i)
		if _, err := sp.Put(spool.Meta{CaptureID: id}, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := c.Upload(b.Context(), id); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if !fc.Wait(5*time.Second, func() bool { _, ok := fc.Committed(fmt.Sprintf("cap-%d", b.N-1)); return ok }) {
		b.Fatal("last upload not committed")
	}
}
