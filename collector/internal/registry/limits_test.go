package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// TestRegisterLimits is finding 8 of issue 13: 250,000 labels in 3.6 MB
// were stored with the agent and copied into each of its captures,
// slowing every commit and listing. A Register past the limits is refused,
// naming the bound, and nothing of it is stored.
func TestRegisterLimits(t *testing.T) {
	huge := map[string]string{}
	for i := range 250_000 {
		huge[fmt.Sprintf("k%06d", i)] = "v"
	}
	tests := []struct {
		name string
		reg  *agentv1.Register
		want string // in the error; "" means accepted
	}{
		{"usual", &agentv1.Register{AgentId: "ok", Host: "tpu-1", Labels: map[string]string{"model": "qwen3"}}, ""},
		{"250,000 labels", &agentv1.Register{AgentId: "many", Labels: huge}, "250000 labels, at most 64"},
		{"long value", &agentv1.Register{AgentId: "long", Labels: map[string]string{"k": strings.Repeat("v", 300)}}, "value of 300 bytes"},
		{"long key", &agentv1.Register{AgentId: "key", Labels: map[string]string{strings.Repeat("k", 200): "v"}}, "is 200 bytes"},
		{"long host", &agentv1.Register{AgentId: "host", Host: strings.Repeat("h", 254)}, "host name of 254 bytes"},
		{"long version", &agentv1.Register{AgentId: "ver", AgentVersion: strings.Repeat("1", 129)}, "version"},
		{"many backends", &agentv1.Register{AgentId: "be", Backends: make([]string, 17)}, "17 backends"},
	}
	e := start(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stream, err := agentv1.NewAgentServiceClient(e.cc).Control(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Register{Register: tt.reg}}); err != nil {
				t.Fatal(err)
			}
			_, rerr := stream.Recv()
			if tt.want == "" {
				if rerr != nil {
					t.Fatalf("Register: %v", rerr)
				}
				cancel()
				<-e.srv.ends
				return
			}
			serr := <-e.srv.ends
			if !errors.Is(serr, ErrTooBig) || !strings.Contains(serr.Error(), tt.want) {
				t.Errorf("Serve = %v, want ErrTooBig with %q", serr, tt.want)
			}
			if rerr == nil {
				t.Error("the agent was answered as registered")
			}
			_ = e.db.View(ctx, func(r *store.Reader) error {
				if _, err := r.Agent(tt.reg.GetAgentId()); err == nil {
					t.Errorf("refused agent %s is stored", tt.reg.GetAgentId())
				}
				return nil
			})
		})
	}
	// The listing holds only the accepted agent, with its one label.
	got, err := e.reg.List(context.Background(), selector.Selector{}, true)
	if err != nil || len(got) != 1 || len(got[0].Labels) != 1 {
		t.Errorf("List = %+v, %v; want the one accepted agent", got, err)
	}
}
