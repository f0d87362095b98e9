package trim

import "github.com/fleetprof/fleetprof/plugins/sdk/capture"

// interner makes kept events share one copy of each repeated string: names,
// stat names and string values repeat across the steps of a capture, and
// without sharing they would be most of its memory.
type interner struct {
	m map[string]string
}

func newInterner() *interner { return &interner{m: make(map[string]string)} }

// maxInterned bounds the strings interned; longer ones are rarely repeated.
const maxInterned = 4096

func (in *interner) str(s string) string {
	if s == "" || len(s) > maxInterned {
		return s
	}
	if v, ok := in.m[s]; ok {
		return v
	}
	in.m[s] = s
	return s
}

func (in *interner) event(ev *capture.Event) {
	ev.Name = in.str(ev.Name)
	ev.DisplayName = in.str(ev.DisplayName)
	st := ev.Stats
	if cap(st) > len(st)+len(st)/4 {
		// A right-sized copy when a reader hands over much spare capacity.
		st = append([]capture.Stat(nil), st...)
	}
	for i := range st {
		st[i].Name = in.str(st[i].Name)
		if st[i].Kind == capture.StatString {
			st[i].Str = in.str(st[i].Str)
		}
	}
	ev.Stats = st
}
