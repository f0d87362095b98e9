package sdk

import (
	"context"
	"errors"
	"log/slog"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	pluginv1 "github.com/fleetprof/fleetprof/proto/fleetprof/plugin/v1"
)

// The go-plugin handshake. A host and a plugin talk only when all three
// match: the cookie tells a plugin binary it was started by a fleetprof host
// (run by hand, it says so and exits), and the version is the contract's.
const (
	// ProtocolVersion is the version of the host–plugin contract
	// (proto/fleetprof/plugin/v1). It is bumped when the contract changes in
	// a way an older peer would misread; go-plugin then refuses the pair.
	ProtocolVersion = int(pluginv1.ProtocolVersion_PROTOCOL_VERSION_1)
	// MagicCookieKey is the environment variable the host sets.
	MagicCookieKey = "FLEETPROF_PLUGIN"
	// MagicCookieValue is its value.
	MagicCookieValue = "analyzer-7d1f3c2e9b8a4f60"
	// PluginName is the analyzer's key in go-plugin's plugin set.
	PluginName = "analyzer"
	// LogLevelEnv names the environment variable through which the host
	// passes its log level ("trace", "debug", "info", "warn", "error") to a
	// plugin; Serve logs at that level and above (default info).
	LogLevelEnv = "FLEETPROF_PLUGIN_LOG_LEVEL"
	// LimitsEnv names the environment variable through which the host
	// passes the decoding limits a plugin applies to the capture it is
	// sent, in fpcap.ParseLimits' syntax (default: fpcap's defaults).
	LimitsEnv = "FLEETPROF_PLUGIN_LIMITS"
)

// Sizes of the messages between host and plugin.
const (
	// DefaultChunkBytes is the default bound on one capture chunk: records
	// are packed into a chunk until it would pass this size. A record larger
	// than the bound travels alone.
	DefaultChunkBytes = 1 << 20
	// MaxMessageBytes bounds one Analyze request on both sides: the largest
	// record fpcap writes, plus room for the envelope.
	MaxMessageBytes = fpcap.MaxRecordBytes + 64<<10
	// MaxSectionBytes bounds the encoded section a plugin may return.
	MaxSectionBytes = 16 << 20
	// maxErrorText bounds the error text taken from a plugin.
	maxErrorText = 2048
)

// HandshakeConfig returns the go-plugin handshake shared by hosts and
// plugins.
func HandshakeConfig() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  uint(ProtocolVersion),
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// Plugin is go-plugin's view of an analyzer, for both sides: a plugin serves
// Analyzer; a host sets the options and gets a *Client from Dispense.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Analyzer is served on the plugin side; a host leaves it nil.
	Analyzer Analyzer
	// Log receives the plugin side's logs and is handed to the analyzer in
	// Input.Log. Nil discards them.
	Log *slog.Logger
	// ChunkBytes bounds the capture chunks a host sends. Zero means
	// DefaultChunkBytes.
	ChunkBytes int
	// Limits bound, on the plugin side, what the capture it is sent may
	// cost to decode; each chunk is checked before it is decoded. The zero
	// value means fpcap's defaults.
	Limits fpcap.Limits
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// PluginSet returns the plugin set for a host (a nil Analyzer) or a plugin.
func PluginSet(p *Plugin) plugin.PluginSet {
	return plugin.PluginSet{PluginName: p}
}

// GRPCServer registers the analyzer's service. It implements
// plugin.GRPCPlugin.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Analyzer == nil {
		return errors.New("sdk: Plugin.Analyzer is nil on the plugin side")
	}
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pluginv1.RegisterAnalyzerServiceServer(s, &server{a: p.Analyzer, log: log, lim: p.Limits})
	return nil
}

// GRPCClient returns a *Client for the plugin at cc. It implements
// plugin.GRPCPlugin.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	chunk := p.ChunkBytes
	if chunk <= 0 {
		chunk = DefaultChunkBytes
	}
	return &Client{rpc: pluginv1.NewAnalyzerServiceClient(cc), chunkBytes: chunk}, nil
}

// grpcServer returns what builds the plugin side's gRPC server: explicit
// message limits, and a codec that checks each capture chunk against lim
// before decoding it; go-plugin passes the TLS options in opts.
func grpcServer(lim fpcap.Limits) func(opts []grpc.ServerOption) *grpc.Server {
	return func(opts []grpc.ServerOption) *grpc.Server {
		return grpc.NewServer(append(opts,
			grpc.MaxRecvMsgSize(MaxMessageBytes),
			grpc.MaxSendMsgSize(MaxSectionBytes),
			grpc.ForceServerCodecV2(newCaptureCodec(lim)),
		)...)
	}
}
