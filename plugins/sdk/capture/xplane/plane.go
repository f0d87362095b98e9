package xplane

import "github.com/fleetprof/fleetprof/plugins/sdk/capture"

// plane is what Open keeps of a plane: its place in the file, identity,
// stats and metadata tables.
type plane struct {
	off, end int64
	id       int64
	name     string
	stats    []capture.Stat
	lines    int

	// meta holds the event metadata; dense[id] (ids 0 to len-1) and
	// sparse[id] give 1 + its index.
	meta   []eventMeta
	dense  []int32
	sparse map[int64]int32
	// statNames maps stat metadata ids to names.
	statNames map[int64]string

	// base is the timestamp_ns of the plane's first line with a timeline
	// event, when Open looked for it (hasBase).
	base    int64
	hasBase bool
}

// eventMeta is one XEventMetadata.
type eventMeta struct {
	name    string
	nameB   []byte
	display string
	// raw holds the stats while the plane is read; stats, once it is.
	raw   []rawStat
	stats []capture.Stat
}

// lookup returns the event metadata with the given id, or nil.
func (p *plane) lookup(id int64) *eventMeta {
	var i int32
	if uint64(id) < uint64(len(p.dense)) {
		i = p.dense[id]
	} else {
		i = p.sparse[id]
	}
	if i == 0 {
		return nil
	}
	return &p.meta[i-1]
}

// readPlane reads the plane message in [start, end). findBase asks it to
// look for the first line with a timeline event.
func readPlane(s *scanner, start, end int64, findBase bool) (p *plane, err error) {
	p = &plane{off: start, end: end, statNames: map[int64]string{}}
	slots := map[int64]int32{}
	var rawStats []rawStat
	for s.off() < end {
		off := s.off()
		num, typ, err := s.tag(end)
		if err != nil {
			return nil, err
		}
		switch num {
		case 1: // id
			if err := wantType(off, "XPlane", num, typ, wireVarint); err != nil {
				return nil, err
			}
			v, err := s.uvarint(end)
			if err != nil {
				return nil, err
			}
			p.id = int64(v)
		case 2: // name
			if err := wantType(off, "XPlane", num, typ, wireBytes); err != nil {
				return nil, err
			}
			if p.name, err = s.str(end); err != nil {
				return nil, err
			}
		case 3: // lines: skipped by length
			if err := wantType(off, "XPlane", num, typ, wireBytes); err != nil {
				return nil, err
			}
			n, err := s.length(end)
			if err != nil {
				return nil, err
			}
			lo := s.off()
			p.lines++
			if findBase && !p.hasBase {
				if p.base, p.hasBase, err = lineBase(s, lo, lo+n); err != nil {
					return nil, err
				}
			}
			s.seek(lo + n)
		case 4: // event_metadata map entry
			if err := wantType(off, "XPlane", num, typ, wireBytes); err != nil {
				return nil, err
			}
			n, err := s.length(end)
			if err != nil {
				return nil, err
			}
			key, m, err := readEventMetaEntry(s, s.off()+n)
			if err != nil {
				return nil, err
			}
			if i, ok := slots[key]; ok {
				p.meta[i] = m
			} else {
				slots[key] = int32(len(p.meta))
				p.meta = append(p.meta, m)
			}
		case 5: // stat_metadata map entry
			if err := wantType(off, "XPlane", num, typ, wireBytes); err != nil {
				return nil, err
			}
			n, err := s.length(end)
			if err != nil {
				return nil, err
			}
			key, name, err := readStatMetaEntry(s, s.off()+n)
			if err != nil {
				return nil, err
			}
			p.statNames[key] = name
		case 6: // stats
			if err := wantType(off, "XPlane", num, typ, wireBytes); err != nil {
				return nil, err
			}
			n, err := s.length(end)
			if err != nil {
				return nil, err
			}
			st, err := readStat(s, s.off()+n)
			if err != nil {
				return nil, err
			}
			rawStats = append(rawStats, st)
		default:
			if err := s.skipValue(typ, end); err != nil {
				return nil, err
			}
		}
	}
	p.index(slots)
	// Resolve every stat once, now that the stat names are known: Load
	// copies them. Gunzipped strings count against a budget.
	budget := int64(maxInflatedPlane)
	if p.stats, err = p.resolveAll(rawStats, &budget); err != nil {
		return nil, err
	}
	for i := range p.meta {
		m := &p.meta[i]
		if m.stats, err = p.resolveAll(m.raw, &budget); err != nil {
			return nil, err
		}
		m.raw = nil
	}
	return p, nil
}

// index builds the id lookup of the event metadata from id → slot.
func (p *plane) index(slots map[int64]int32) {
	limit := int64(4*len(p.meta) + 64)
	top := int64(-1)
	for id := range slots {
		if id >= 0 && id < limit {
			top = max(top, id)
		}
	}
	p.dense = make([]int32, top+1)
	for id, i := range slots {
		if id >= 0 && id <= top {
			p.dense[id] = i + 1
			continue
		}
		if p.sparse == nil {
			p.sparse = map[int64]int32{}
		}
		p.sparse[id] = i + 1
	}
}

// lineBase scans the line in [lo, hi) for its timestamp and whether it has
// a timeline (not aggregated) event.
func lineBase(s *scanner, lo, hi int64) (ts int64, ok bool, err error) {
	s.seek(lo)
	var seenTS bool
	for s.off() < hi && !(seenTS && ok) {
		off := s.off()
		num, typ, err := s.tag(hi)
		if err != nil {
			return 0, false, err
		}
		switch {
		case num == 3:
			if err := wantType(off, "XLine", num, typ, wireVarint); err != nil {
				return 0, false, err
			}
			v, err := s.uvarint(hi)
			if err != nil {
				return 0, false, err
			}
			ts, seenTS = int64(v), true
		case num == 4 && !ok:
			if err := wantType(off, "XLine", num, typ, wireBytes); err != nil {
				return 0, false, err
			}
			n, err := s.length(hi)
			if err != nil {
				return 0, false, err
			}
			e, err := readEvent(s, s.off()+n, nil)
			if err != nil {
				return 0, false, err
			}
			ok = !e.agg
		default:
			if err := s.skipValue(typ, hi); err != nil {
				return 0, false, err
			}
		}
	}
	return ts, ok, nil
}

// readEventMetaEntry reads one entry of the event_metadata map.
func readEventMetaEntry(s *scanner, end int64) (int64, eventMeta, error) {
	var (
		key int64
		m   eventMeta
	)
	for s.off() < end {
		off := s.off()
		num, typ, err := s.tag(end)
		if err != nil {
			return 0, m, err
		}
		switch num {
		case 1:
			if err := wantType(off, "event_metadata entry", num, typ, wireVarint); err != nil {
				return 0, m, err
			}
			v, err := s.uvarint(end)
			if err != nil {
				return 0, m, err
			}
			key = int64(v)
		case 2:
			if err := wantType(off, "event_metadata entry", num, typ, wireBytes); err != nil {
				return 0, m, err
			}
			n, err := s.length(end)
			if err != nil {
				return 0, m, err
			}
			if m, err = readEventMeta(s, s.off()+n); err != nil {
				return 0, m, err
			}
		default:
			if err := s.skipValue(typ, end); err != nil {
				return 0, m, err
			}
		}
	}
	return key, m, nil
}

// readEventMeta reads an XEventMetadata, skipping its opaque metadata bytes.
func readEventMeta(s *scanner, end int64) (eventMeta, error) {
	var m eventMeta
	for s.off() < end {
		off := s.off()
		num, typ, err := s.tag(end)
		if err != nil {
			return m, err
		}
		switch num {
		case 1: // id: the map key is what counts
			if err := wantType(off, "XEventMetadata", num, typ, wireVarint); err != nil {
				return m, err
			}
			if _, err := s.uvarint(end); err != nil {
				return m, err
			}
		case 2, 4: // name, display_name
			if err := wantType(off, "XEventMetadata", num, typ, wireBytes); err != nil {
				return m, err
			}
			n, err := s.length(end)
			if err != nil {
				return m, err
			}
			b, err := s.bytes(n, nil)
			if err != nil {
				return m, err
			}
			if num == 2 {
				m.nameB, m.name = b, string(b)
			} else {
				m.display = string(b)
			}
		case 3: // metadata: opaque, possibly large
			if err := wantType(off, "XEventMetadata", num, typ, wireBytes); err != nil {
				return m, err
			}
			if err := s.skipValue(typ, end); err != nil {
				return m, err
			}
		case 5: // stats
			if err := wantType(off, "XEventMetadata", num, typ, wireBytes); err != nil {
				return m, err
			}
			n, err := s.length(end)
			if err != nil {
				return m, err
			}
			st, err := readStat(s, s.off()+n)
			if err != nil {
				return m, err
			}
			m.raw = append(m.raw, st)
		default: // child_id (packed or not) and unknown fields
			if err := s.skipValue(typ, end); err != nil {
				return m, err
			}
		}
	}
	if m.nameB == nil {
		m.nameB = []byte{}
	}
	return m, nil
}

// readStatMetaEntry reads one entry of the stat_metadata map.
func readStatMetaEntry(s *scanner, end int64) (int64, string, error) {
	var (
		key  int64
		name string
	)
	for s.off() < end {
		off := s.off()
		num, typ, err := s.tag(end)
		if err != nil {
			return 0, "", err
		}
		switch num {
		case 1:
			if err := wantType(off, "stat_metadata entry", num, typ, wireVarint); err != nil {
				return 0, "", err
			}
			v, err := s.uvarint(end)
			if err != nil {
				return 0, "", err
			}
			key = int64(v)
		case 2:
			if err := wantType(off, "stat_metadata entry", num, typ, wireBytes); err != nil {
				return 0, "", err
			}
			n, err := s.length(end)
			if err != nil {
				return 0, "", err
			}
			if name, err = readStatMeta(s, s.off()+n); err != nil {
				return 0, "", err
			}
		default:
			if err := s.skipValue(typ, end); err != nil {
				return 0, "", err
			}
		}
	}
	return key, name, nil
}

// readStatMeta reads an XStatMetadata and returns its name.
func readStatMeta(s *scanner, end int64) (string, error) {
	var name string
	for s.off() < end {
		off := s.off()
		num, typ, err := s.tag(end)
		if err != nil {
			return "", err
		}
		switch num {
		case 1:
			err = wantType(off, "XStatMetadata", num, typ, wireVarint)
			if err == nil {
				err = s.skipValue(typ, end)
			}
		case 2:
			if err = wantType(off, "XStatMetadata", num, typ, wireBytes); err == nil {
				name, err = s.str(end)
			}
		case 3:
			err = wantType(off, "XStatMetadata", num, typ, wireBytes)
			if err == nil {
				err = s.skipValue(typ, end)
			}
		default:
			err = s.skipValue(typ, end)
		}
		if err != nil {
			return "", err
		}
	}
	return name, nil
}
