package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/plugins/transport"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// Environment variables of the collector flags.
const (
	envCollector = "FLEETPROF_COLLECTOR"
	envToken     = "FLEETPROF_TOKEN"
)

// maxReportBytes bounds a GetReport answer (reports with their images).
const maxReportBytes = 64 << 20

// remote holds the flags that reach a collector.
type remote struct {
	addr, token           string
	caFile, cert, key, sn string
}

// addCollectorCommands adds the commands that talk to a collector and their
// global flags.
func addCollectorCommands(e *env, root *cobra.Command) {
	r := &remote{}
	pf := root.PersistentFlags()
	pf.StringVar(&r.addr, "collector", "", "collector gRPC address (default: env "+envCollector+", else a running demo's address from demo-out/env, else "+defaultCollector+")")
	pf.StringVar(&r.token, "token", os.Getenv(envToken), "bearer token for the collector (env "+envToken+")")
	pf.StringVar(&r.caFile, "tls-ca", "", "CA (PEM) to verify the collector with (default: the system's roots; plain text only for a loopback --collector without TLS flags)")
	pf.StringVar(&r.cert, "tls-cert", "", "client certificate (PEM) for mTLS")
	pf.StringVar(&r.key, "tls-key", "", "client key (PEM) for mTLS")
	pf.StringVar(&r.sn, "tls-server-name", "", "server name to verify (default: the --collector host)")
	root.AddCommand(newAgents(e, r), newCapture(e, r), newCaptures(e, r), newReport(e, r), newExport(e, r), newDiff(e, r))
	root.AddCommand(newSchedule(e, r), newSummary(e, r), newToken(e, r), newExperiment(e, r))
	root.AddCommand(newInsightCommands(e, r)...)
}

// dial connects to the collector: plain text only to a loopback address
// without TLS flags (a development collector), else TLS (with the system's
// roots unless --tls-ca), so a token never crosses the network in the
// clear. The connection is lazy: errors show on the first call.
func (r *remote) dial() (*grpc.ClientConn, error) {
	r.addr = collectorAddr(r.addr)
	creds := insecure.NewCredentials()
	if r.caFile != "" || r.cert != "" || !transport.Loopback(r.addr) {
		tc, err := transport.ClientTLS(transport.TLSFiles{CA: r.caFile, Cert: r.cert, Key: r.key}, r.sn)
		if errors.Is(err, transport.ErrNoPEM) {
			return nil, fmt.Errorf("%w: --tls-ca: %w", filecmd.ErrUsage, err)
		}
		if err != nil {
			return nil, fmt.Errorf("--tls-ca/--tls-cert/--tls-key: %w", err)
		}
		creds = credentials.NewTLS(tc)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxReportBytes)),
	}
	if r.token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: r.token, tls: creds.Info().SecurityProtocol == "tls"}))
	}
	cc, err := grpc.NewClient(r.addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("collector %s: %w", r.addr, err)
	}
	return cc, nil
}

// bearer sends the API token with every call. It asks for TLS when the
// connection has it; dial connects in plain text only to loopback.
type bearer struct {
	token string
	tls   bool
}

// GetRequestMetadata returns the authorization header.
func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity reports whether the token needs TLS.
func (b bearer) RequireTransportSecurity() bool { return b.tls }

// call runs fn with a client, turning gRPC errors into plain sentences.
func (r *remote) call(fn func(collectorv1.CollectorServiceClient) error) error {
	return callWith(r, collectorv1.NewCollectorServiceClient, fn)
}

// callWith runs fn with a client of one of the collector's services, made
// by newClient (collectorv1.NewScheduleServiceClient, ...) on a connection
// of dial's, turning gRPC errors into plain sentences.
func callWith[C any](r *remote, newClient func(grpc.ClientConnInterface) C, fn func(C) error) error {
	cc, err := r.dial()
	if err != nil {
		return err
	}
	defer cc.Close()
	if err := fn(newClient(cc)); err != nil {
		if s, ok := status.FromError(err); ok {
			return fmt.Errorf("collector %s: %s (%s)", r.addr, s.Message(), strings.ToLower(s.Code().String()))
		}
		return err
	}
	return nil
}

// outFormat checks a table/json --format flag.
func outFormat(f string) error {
	if f != "table" && f != "json" {
		return fmt.Errorf("%w: --format must be table or json, not %q", filecmd.ErrUsage, f)
	}
	return nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// labelText formats labels as k=v,k=v sorted by key.
func labelText(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return filecmd.Escape(strings.Join(parts, ","))
}
