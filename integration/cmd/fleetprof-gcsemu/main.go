// Command fleetprof-gcsemu runs an in-process Google Cloud Storage emulator
// (fsouza/fake-gcs-server) on loopback, persisting objects to a folder, for
// `make demo` and local trials of the collector's backup. It is not part of
// a deployment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/fleetprof/fleetprof/plugins/flagusage"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/fleetprof/fleetprof/plugins/transport"
)

// Config is the emulator's configuration.
type Config struct {
	// Addr is host:port to listen on; it must be a loopback address. Port
	// 0 picks a free port (see AddrFile).
	Addr string
	// AddrFile, if set, is where run writes the bound address ("http")
	// once listening, as transport.WriteAddrFile does.
	AddrFile string
	// Root is the folder objects persist in; empty keeps them in memory.
	Root string
	// Buckets are created at start.
	Buckets []string
}

func main() {
	var cfg Config
	var buckets string
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:4443", "loopback address to listen on; port 0 picks a free one (see --addr-file)")
	flag.StringVar(&cfg.AddrFile, "addr-file", "", `once listening, write the bound address to this file as JSON, {"http":"127.0.0.1:4443"} (atomically)`)
	flag.StringVar(&cfg.Root, "root", "", "folder to persist objects in (default: memory)")
	flag.StringVar(&buckets, "bucket", "fleetprof-demo", "bucket to create at start")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "fleetprof-gcsemu runs a Google Cloud Storage emulator on loopback for demos and tests.\n\nPoint the collector at it with --gcs-endpoint http://ADDR --gcs-bucket BUCKET.\n\nFlags:\n")
		flagusage.PrintDefaults(flag.CommandLine.Output(), flag.CommandLine)
	}
	flag.Parse()
	if buckets != "" {
		cfg.Buckets = []string{buckets}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg, log)
	stop()
	if err != nil {
		log.Error("fleetprof-gcsemu", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", cfg.Addr, err)
	}
	if !transport.Loopback(host) {
		return errors.New("--addr must be a loopback address: this emulator has no authentication")
	}
	// Listen first, so the emulator knows the address it answers as
	// (its PublicHost) even when the kernel picks the port.
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen --addr %s: %w", cfg.Addr, err)
	}
	defer lis.Close()
	addr := lis.Addr().String()
	opts := fakestorage.Options{Scheme: "http", PublicHost: addr, ExternalURL: "http://" + addr, Writer: io.Discard, NoListener: true}
	if cfg.Root != "" {
		if err := os.MkdirAll(cfg.Root, 0o755); err != nil {
			return err
		}
		opts.StorageRoot = cfg.Root
	}
	srv, err := fakestorage.NewServerWithOptions(opts)
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	defer srv.Stop()
	for _, b := range cfg.Buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	hs := &http.Server{Handler: srv.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	// The listener is bound: connections wait in its backlog until
	// ServeHTTP accepts them.
	if cfg.AddrFile != "" {
		if err := transport.WriteAddrFile(cfg.AddrFile, map[string]string{"http": addr}); err != nil {
			return err
		}
	}
	log.Info("GCS emulator serving", "url", "http://"+addr, "root", cfg.Root, "buckets", cfg.Buckets)
	if err := transport.ServeHTTP(ctx, hs, lis); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
