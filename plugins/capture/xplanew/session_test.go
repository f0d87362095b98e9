package xplanew

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/xplane"
)

func TestWriteSession(t *testing.T) {
	const base = 1_770_000_000_000_000_000
	device := func() *capture.Plane {
		return &capture.Plane{ID: 0, Name: "/device:TPU:0", Lines: []*capture.Line{
			{ID: 3, DisplayID: 3, Name: "XLA Ops", Events: []capture.Event{{Name: "f", Start: 5_000, Dur: 1_000}}},
		}}
	}
	sessionStat := func(name string, v uint64) capture.Stat {
		return capture.Stat{Name: name, Kind: capture.StatUint, Uint: v}
	}
	tests := []struct {
		name      string
		c         *capture.Capture
		wantStats [][]capture.Stat // stats of each Task Environment plane written
		wantSess  []capture.Interval
	}{
		{
			name: "new plane",
			c: &capture.Capture{BaseNS: base, Session: capture.Interval{Start: -3_000, End: 9_000_000},
				Planes: []*capture.Plane{device()}},
			wantStats: [][]capture.Stat{{sessionStat(xplane.StartTimeStat, base-3), sessionStat(xplane.StopTimeStat, base+9_000)}},
			wantSess:  []capture.Interval{{Start: -3_000, End: 9_000_000}},
		},
		{
			name: "plane without the stats",
			c: &capture.Capture{BaseNS: base, Session: capture.Interval{Start: 0, End: 9_000_000},
				Planes: []*capture.Plane{device(), {Name: xplane.TaskEnvPlane, Stats: []capture.Stat{{Name: "host", Kind: capture.StatString, Str: "h"}}}}},
			wantStats: [][]capture.Stat{{{Name: "host", Kind: capture.StatString, Str: "h"}, sessionStat(xplane.StartTimeStat, base), sessionStat(xplane.StopTimeStat, base+9_000)}},
			wantSess:  []capture.Interval{{Start: 0, End: 9_000_000}},
		},
		{
			name: "plane with the stats keeps them",
			c: &capture.Capture{BaseNS: base, Session: capture.Interval{Start: 0, End: 9_000_000},
				Planes: []*capture.Plane{device(), {Name: xplane.TaskEnvPlane, Stats: []capture.Stat{sessionStat(xplane.StartTimeStat, base+1), sessionStat(xplane.StopTimeStat, base+2)}}}},
			wantStats: [][]capture.Stat{{sessionStat(xplane.StartTimeStat, base+1), sessionStat(xplane.StopTimeStat, base+2)}},
			wantSess:  []capture.Interval{{Start: 1_000, End: 2_000}},
		},
		{
			name: "no session",
			c:    &capture.Capture{BaseNS: base, Planes: []*capture.Plane{device()}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.c.Planes[len(tt.c.Planes)-1].Stats
			b := writeBytes(t, tt.c)
			if diff := cmp.Diff(before, tt.c.Planes[len(tt.c.Planes)-1].Stats); diff != "" {
				t.Errorf("Write changed the capture (-before +after):\n%s", diff)
			}
			f, err := xplane.Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			var got [][]capture.Stat
			for _, p := range f.Planes() {
				if p.Name == xplane.TaskEnvPlane {
					got = append(got, p.Stats)
				}
			}
			if diff := cmp.Diff(tt.wantStats, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Task Environment stats (-want +got):\n%s", diff)
			}
			// Read back, the session is the capture's (relative to the
			// same absolute time).
			r := &capturetest.SessionRecorder{}
			if err := f.Walk(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			var sess []capture.Interval
			for _, s := range r.Sessions {
				shift := (r.BaseNS - tt.c.BaseNS) * capture.Nanosecond
				sess = append(sess, capture.Interval{Start: s.Start + shift, End: s.End + shift})
			}
			if diff := cmp.Diff(tt.wantSess, sess, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("session read back (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteIDs checks that planes sharing an id and lines with negative,
// 64-bit and duplicate ids are written as they are.
func TestWriteIDs(t *testing.T) {
	c := &capture.Capture{BaseNS: 1_770_000_000_000_000_000, Planes: []*capture.Plane{
		{ID: 0, Name: "/host:metadata"},
		{ID: 0, Name: "/device:GPU:0", Lines: []*capture.Line{
			{ID: -1, DisplayID: -1, Name: "Stream #-1(Kernel)", Events: []capture.Event{{Name: "k", Start: 1, Dur: 2}}},
			{ID: math.MinInt64, Name: "min"},
			{ID: math.MaxInt64, DisplayID: 7, Name: "max", Events: []capture.Event{{Name: "k", Start: 3, Dur: 2}}},
			{ID: 7, DisplayID: 7, Name: "dup"},
		}},
		{ID: 0, Name: "/host:CPU", Lines: []*capture.Line{{ID: 1 << 40, DisplayID: 1 << 40, Name: "t"}}},
	}}
	b := writeBytes(t, c)
	f, err := xplane.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := capturetest.WalkLoad(t, f)
	var gotPlanes, wantPlanes []capture.PlaneInfo
	var gotLines, wantLines []capture.LineInfo
	for i, p := range c.Planes {
		wantPlanes = append(wantPlanes, capture.PlaneInfo{ID: p.ID, Name: p.Name})
		for _, l := range p.Lines {
			li := capture.LineInfo{ID: l.ID, DisplayID: l.DisplayID, Name: l.Name}
			if li.DisplayID == 0 {
				li.DisplayID = li.ID
			}
			wantLines = append(wantLines, li)
		}
		gotPlanes = append(gotPlanes, r.Planes[i])
		gotLines = append(gotLines, r.Lines[i]...)
	}
	if diff := cmp.Diff(wantPlanes, gotPlanes, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("planes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLines, gotLines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}
