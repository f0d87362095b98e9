// Command testplugin is the plugin host tests' plugin. What it does depends
// on the name it is run under (its binary is copied under several names):
//
//	good      counts kept events per plane; echoes the "greeting" option
//	crash     exits with status 3 in the middle of Analyze
//	gopanic   panics in a goroutine in the middle of Analyze (the process dies)
//	panic     panics in Analyze itself (the SDK recovers it)
//	hang      blocks in Analyze forever, ignoring its context
//	stall     sleeps before the handshake, forever
//	garbage   writes garbage on stdout instead of the handshake
//	badlog    writes hostile hclog-looking lines to stderr, then works
//	nan       returns a section with a NaN
//	fail      returns an error from Analyze
//	badname   has an Info name that is not snake case
//	dup       reports under the name "good"
//	oldproto  offers protocol version 99 in the handshake
//	tap       records the capture records as they arrive on the wire (in place
//	          of the SDK's codec) and answers with their count and the
//	          sha256 of them framed as an .fpcap file
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	pluginv1 "github.com/fleetprof/fleetprof/proto/fleetprof/plugin/v1"
)

type analyzer struct{ mode string }

func (a analyzer) Info() sdk.Info {
	name := a.mode
	switch a.mode {
	case "badname":
		name = "Bad Name"
	case "dup":
		name = "good"
	}
	return sdk.Info{Name: name, Title: "Test " + a.mode, Version: "1.0.0", Order: 50}
}

func (a analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	in.Log.Info("analyzing", "mode", a.mode, "planes", len(in.Capture.Planes))
	switch a.mode {
	case "crash":
		os.Exit(3)
	case "gopanic":
		go func() { panic("testplugin: boom in a goroutine") }()
		select {}
	case "panic":
		panic("testplugin: boom")
	case "hang":
		select {}
	case "fail":
		return nil, errors.New("no device plane: device tracing was off")
	case "nan":
		return &sdk.Section{Summary: []sdk.Metric{{Key: "x", Value: math.NaN()}}}, nil
	case "tap":
		tap.mu.Lock()
		defer tap.mu.Unlock()
		sum := sha256.Sum256(tap.fpcap)
		return &sdk.Section{
			Summary: []sdk.Metric{{Key: "records", Value: float64(tap.records)}},
			Rows:    []sdk.Row{},
			Notes:   []string{hex.EncodeToString(sum[:])},
		}, nil
	}
	sec := &sdk.Section{
		Title:   "Kept events per plane",
		Columns: []sdk.Column{{Key: "plane", Label: "Plane"}, {Key: "events", Label: "Events"}},
		Rows:    []sdk.Row{},
	}
	var total int64
	for _, p := range in.Capture.Planes {
		var n int64
		for _, l := range p.Lines {
			n += int64(len(l.Events))
		}
		total += n
		sec.Rows = append(sec.Rows, sdk.Row{"plane": p.Name, "events": n})
	}
	sec.Summary = []sdk.Metric{{Key: "events_kept", Label: "Events kept", Value: float64(total)}}
	if g := in.Options["greeting"]; g != "" {
		sec.Notes = append(sec.Notes, g)
	}
	return sec, nil
}

func main() {
	mode := strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	switch mode {
	case "stall":
		time.Sleep(time.Hour)
	case "garbage":
		fmt.Println("hello from a plugin that talks on stdout")
		time.Sleep(time.Hour)
	case "badlog":
		fmt.Fprintln(os.Stderr, `{"@message":1,"@level":"info"}`)
		fmt.Fprintln(os.Stderr, `{"@message":"x","@level":{},"@timestamp":7}`)
		fmt.Fprintln(os.Stderr, strings.Repeat("z", 100<<10))
	case "notlisted", "badsum":
		mode = "good"
	case "tap":
		cfg := sdk.ServeConfig(analyzer{mode: mode}, nil)
		cfg.GRPCServer = func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(sdk.MaxMessageBytes),
				grpc.ForceServerCodecV2(tapCodec{encoding.GetCodecV2("proto")}))...)
		}
		plugin.Serve(cfg)
		return
	case "oldproto":
		cfg := sdk.ServeConfig(analyzer{mode: mode}, nil)
		cfg.ProtocolVersion = 99
		plugin.Serve(cfg)
		return
	}
	sdk.Serve(analyzer{mode: mode})
}

// tap holds the capture records as they came on the wire.
var tap struct {
	mu      sync.Mutex
	fpcap   []byte // the records framed as an .fpcap file
	records int
}

// tapCodec is protobuf, recording each AnalyzeRequest's capture records
// (field 2, whose records are field 1) before decoding it.
type tapCodec struct{ encoding.CodecV2 }

func (c tapCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if _, ok := v.(*pluginv1.AnalyzeRequest); ok {
		b := data.Materialize()
		tap.mu.Lock()
		if tap.fpcap == nil {
			tap.fpcap = []byte(fpcap.Magic)
		}
		for _, chunk := range fields(b, 2) {
			for _, rec := range fields(chunk, 1) {
				tap.fpcap = protowire.AppendBytes(tap.fpcap, rec)
				tap.records++
			}
		}
		tap.mu.Unlock()
	}
	return c.CodecV2.Unmarshal(data, v)
}

// fields returns the values of the length-delimited fields num of b.
func fields(b []byte, num protowire.Number) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return out
		}
		b = b[k:]
		k = protowire.ConsumeFieldValue(n, typ, b)
		if k < 0 {
			return out
		}
		if n == num && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			out = append(out, v)
		}
		b = b[k:]
	}
	return out
}
