package xplane

import (
	"bytes"
	"sync"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// maxLoadBuf bounds the read buffer of one Load.
const maxLoadBuf = 64 << 10

// Load reads the event at ref (from Walk) again and fills ev's Name,
// DisplayName (its metadata's display_name) and Stats: its metadata's stats
// first, then its own, an own stat replacing a metadata stat of the same
// name in place. Stat names come from the plane's stat metadata; a ref_value
// becomes the name it refers to and a compressed_str_value is gunzipped, both
// as string stats. Start, Dur and Self are left as they are.
func (f *File) Load(ref capture.Ref, ev *capture.Event) error {
	p, err := f.planeAt(ref)
	if err != nil {
		return err
	}
	s := newScanner(f.r, f.size, int(min(max(ref.Len, 16), maxLoadBuf)))
	s.seek(ref.Off)
	var raw []rawStat
	e, err := readEvent(s, ref.Off+ref.Len, &raw)
	if err != nil {
		return err
	}
	ev.Name, ev.DisplayName = "", ""
	var stats []capture.Stat
	m := p.lookup(e.meta)
	if m != nil {
		ev.Name, ev.DisplayName = m.name, m.display
		sc := statsPool.Get().(*[]capture.Stat)
		defer func() {
			clear((*sc)[:cap(*sc)])
			statsPool.Put(sc)
		}()
		if need := len(m.stats) + len(raw) + 1; cap(*sc) < need {
			*sc = make([]capture.Stat, 0, need)
		}
		stats = (*sc)[:len(m.stats)]
		defer func() { *sc = stats[:0] }()
		for i, st := range m.stats {
			if st.Bytes != nil {
				st.Bytes = bytes.Clone(st.Bytes)
			}
			stats[i] = st
		}
	}
	fromMeta := len(stats)
	// Find metadata stats by name with a scan, or a map when both lists
	// are long (never in real files, but the cost must stay linear).
	var byName map[string]int
	if fromMeta*len(raw) > 256 {
		byName = make(map[string]int, fromMeta)
		for i := fromMeta - 1; i >= 0; i-- {
			byName[stats[i].Name] = i
		}
	}
	for _, rs := range raw {
		st, err := p.resolve(rs)
		if err != nil {
			return err
		}
		i := -1
		if byName != nil {
			if j, ok := byName[st.Name]; ok {
				i = j
			}
		} else {
			i = indexStat(stats[:fromMeta], st.Name)
		}
		if i >= 0 {
			stats[i] = st
			continue
		}
		stats = append(stats, st)
	}
	if capture.IsDevicePlane(p.name) {
		if op, ok := f.xlaOpName(ev.Name, stats); ok {
			stats = append(stats, capture.Stat{Name: ops.XLAOpNameStat, Kind: capture.StatString, Str: op})
		}
	}
	ev.Stats = f.keep(stats)
	return nil
}

// indexStat returns the index of the first stat with the name, or -1.
func indexStat(stats []capture.Stat, name string) int {
	for i := range stats {
		if stats[i].Name == name {
			return i
		}
	}
	return -1
}

// statsPool holds the scratch slices Load builds an event's stats in.
var statsPool = sync.Pool{New: func() any { return new([]capture.Stat) }}

// slabStats is the number of stats in one slab of a File's (see keep).
const slabStats = 2048

// keep returns a copy of stats, exactly as long, carved from the File's
// slab: the kept events' stats take a few allocations instead of one each.
func (f *File) keep(stats []capture.Stat) []capture.Stat {
	n := len(stats)
	if n == 0 || n > slabStats/8 {
		return stats
	}
	f.slabMu.Lock()
	defer f.slabMu.Unlock()
	if cap(f.slab)-len(f.slab) < n {
		f.slab = make([]capture.Stat, 0, slabStats)
	}
	i := len(f.slab)
	f.slab = append(f.slab, stats...)
	return f.slab[i : i+n : i+n]
}
