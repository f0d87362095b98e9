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
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/fleetprof/fleetprof/plugins/transport"
)

// Config is the emulator's configuration.
type Config struct {
	// Addr is host:port to listen on; it must be a loopback address.
	Addr string
	// Root is the folder objects persist in; empty keeps them in memory.
	Root string
	// Buckets are created at start.
	Buckets []string
}

func main() {
	var cfg Config
	var buckets string
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:4443", "loopback address to listen on")
	flag.StringVar(&cfg.Root, "root", "", "folder to persist objects in (default: memory)")
	flag.StringVar(&buckets, "bucket", "fleetprof-demo", "bucket to create at start")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "fleetprof-gcsemu runs a Google Cloud Storage emulator on loopback for demos and tests.\n\nPoint the collector at it with --gcs-endpoint http://ADDR --gcs-bucket BUCKET.\n\nFlags:\n")
		flag.PrintDefaults()
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
	host, portText, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", cfg.Addr, err)
	}
	if !transport.Loopback(host) {
		return errors.New("--addr must be a loopback address: this emulator has no authentication")
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return fmt.Errorf("--addr port %q: %w", portText, err)
	}
	opts := fakestorage.Options{Host: host, Port: uint16(port), Scheme: "http", PublicHost: cfg.Addr, Writer: io.Discard}
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
	log.Info("GCS emulator serving", "url", srv.URL(), "root", cfg.Root, "buckets", cfg.Buckets)
	<-ctx.Done()
	return nil
}
