package gen

// interval is a start and a duration in ps.
type interval struct{ start, dur int64 }

// deviceRun lays out step on device d, from the step's start: the device's
// skew, then each module's ops one after another with small gaps (0.2 to
// 3 µs, as measured on the seed run), each op its real duration ±2 %. It
// fills ops (one per execution, in program order) and mods (one per module)
// when they are not nil, and returns when the step ends on the device.
func (c *Capture) deviceRun(step, d int, start int64, ops, mods []interval) int64 {
	st, dv := uint64(step), uint64(d)
	t := start + c.between(0, 1500*nsec, streamSkew, st, dv, 0)
	j := 0
	for m, mod := range c.prog.modules {
		if m > 0 {
			t += c.between(1*usec, 4*usec, streamOpGap, st, dv, 1<<20|uint64(m))
		}
		first := int64(-1)
		for _, oi := range mod.execs {
			t += c.between(200*nsec, 3*usec, streamOpGap, st, dv, uint64(j))
			nominal := c.ops[oi].dur
			dur := nominal*49/50 + int64(c.hash(streamOpDur, st, dv, uint64(j))%uint64(nominal/25+1))
			dur = max(dur, nsec)
			if ops != nil {
				ops[j] = interval{t, dur}
			}
			if first < 0 {
				first = t
			}
			t += dur
			j++
		}
		if mods != nil {
			mods[m] = interval{first, t - first}
		}
	}
	return t
}

// deviceEnd returns when step ends on device d.
func (c *Capture) deviceEnd(step, d int, start int64) int64 {
	return c.deviceRun(step, d, start, nil, nil)
}
