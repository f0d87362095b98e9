package transport

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long ServeHTTP gives requests in flight once its
// context is done.
const ShutdownGrace = 5 * time.Second

// ServeHTTP serves hs on lis until ctx is done, then shuts hs down, giving
// requests in flight up to ShutdownGrace. It returns the error that ended
// serving early, or one from the shutdown; nil after a clean stop.
func ServeHTTP(ctx context.Context, hs *http.Server, lis net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownGrace)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
