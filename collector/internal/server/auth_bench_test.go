package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/metadata"

	"github.com/fleetprof/fleetprof/collector/internal/auth"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// BenchmarkAuthorizeToken is the guard's cost per API call with a bearer
// token: a SHA-256 and one bbolt read transaction.
func BenchmarkAuthorizeToken(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), store.FileName), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for range 100 {
		if _, err := auth.Create(context.Background(), db, "other", auth.Viewer); err != nil {
			b.Fatal(err)
		}
	}
	c, err := auth.Create(context.Background(), db, "bench", auth.Operator)
	if err != nil {
		b.Fatal(err)
	}
	g := newGuard(db, false, time.Second, time.Second, discard(), prometheus.NewRegistry())
	ctx := metadata.NewIncomingContext(peerCtx(context.Background()), metadata.Pairs("authorization", "Bearer "+c.Token))
	const method = "/fleetprof.collector.v1.CollectorService/StartCapture"
	b.ReportAllocs()
	for b.Loop() {
		if _, d := g.authorize(ctx, method); d != nil {
			b.Fatal(d)
		}
	}
}
