package agent

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/backend"
	"github.com/fleetprof/fleetprof/agent/internal/integrity"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// Register builds the agent's Register message.
func (a *Agent) Register(ctx context.Context) *agentv1.Register {
	r := &agentv1.Register{
		AgentId: a.opts.ID, Host: a.opts.Host.Host, Labels: a.opts.Labels, AgentVersion: a.opts.Version,
		Backends: a.BackendNames(), Active: a.Active(),
	}
	if a.opts.Server != nil {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if info, err := a.opts.Server.ServerInfo(sctx); err == nil {
			if v, ok := info["version"].(string); ok {
				r.ServerVersion = v
			}
		}
	}
	return r
}

// serverFields are the /get_server_info fields kept in a capture's context.
var serverFields = []string{"model_path", "version", "tp_size", "dp_size", "ep_size", "device", "dtype",
	"quantization", "max_running_requests", "chunked_prefill_size", "page_size", "attention_backend",
	"max_total_tokens", "context_length"}

// modelFields are the /get_model_info fields kept.
var modelFields = []string{"model_path", "tokenizer_path", "is_generation"}

func (a *Agent) context(ctx context.Context, spec Spec, backendName string, res *backend.Result, checks integrity.Checks) map[string]string {
	m := map[string]string{}
	for k, v := range a.opts.Host.Context() {
		m[k] = v
	}
	for k, v := range a.opts.Labels {
		m["label."+k] = v
	}
	m["agent.id"] = a.opts.ID
	m["agent.version"] = a.opts.Version
	for k, v := range spec.Context(backendName) {
		m[k] = v
	}
	m["capture.started"] = res.Started.UTC().Format(time.RFC3339Nano)
	m["capture.stopped"] = res.Stopped.UTC().Format(time.RFC3339Nano)
	m["capture.raw_bytes"] = strconv.FormatInt(res.RawBytes, 10)
	for k, v := range checks.Context() {
		m[k] = v
	}
	if s := a.opts.Server; s != nil {
		m["server.url"] = s.URL()
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if info, err := s.ServerInfo(sctx); err == nil {
			pick(m, "server.", info, serverFields)
		} else {
			a.log.Debug("no server info for the context", "err", err)
		}
		if info, err := s.ModelInfo(sctx); err == nil {
			pick(m, "model.", info, modelFields)
		}
	}
	if l := a.opts.Log; l != nil {
		m["server.restarts"] = strconv.FormatInt(l.Restarts(), 10)
		tail := strings.Join(l.Tail(a.opts.TailLines), "\n")
		if len(tail) > 4096 {
			tail = tail[len(tail)-4096:]
		}
		if tail != "" {
			m["server.log_tail"] = tail
		}
	}
	return m
}

func pick(m map[string]string, prefix string, info map[string]any, fields []string) {
	for _, f := range fields {
		v, ok := info[f]
		if !ok || v == nil {
			continue
		}
		switch x := v.(type) {
		case string:
			m[prefix+f] = x
		case float64:
			m[prefix+f] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			m[prefix+f] = strconv.FormatBool(x)
		}
	}
}
