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
package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/fleetprof/fleetprof/plugins/sdk"
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
	case "oldproto":
		cfg := sdk.ServeConfig(analyzer{mode: mode}, nil)
		cfg.ProtocolVersion = 99
		plugin.Serve(cfg)
		return
	}
	sdk.Serve(analyzer{mode: mode})
}
