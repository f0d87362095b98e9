package fpcap

// Tally is what a capture holds, as Limits count it: the parts of the
// decoded model and the bytes of its strings. A Builder keeps it as records
// are added (events included, even with SkipEvents), so a host that read a
// capture once can check it against other limits later (Limits.CheckTally)
// without decoding it again.
type Tally struct {
	Planes       int64 `json:"planes"`
	Lines        int64 `json:"lines"`
	Events       int64 `json:"events"`
	Stats        int64 `json:"stats"`
	Dropped      int64 `json:"dropped"`
	Windows      int64 `json:"windows"`
	Context      int64 `json:"context"`
	ContextBytes int64 `json:"context_bytes"`
	Warnings     int64 `json:"warnings"`
	Requests     int64 `json:"requests"`
	// StringBytes sums every string and bytes value; MaxString is the
	// longest one.
	StringBytes int64 `json:"string_bytes"`
	MaxString   int64 `json:"max_string"`
}

// Tally returns what the records added so far hold.
func (b *Builder) Tally() Tally { return b.total.tally() }

func (c *counts) tally() Tally {
	return Tally{
		Planes: c.planes, Lines: c.lines, Events: c.events, Stats: c.stats, Dropped: c.dropped,
		Windows: c.windows, Context: c.context, ContextBytes: c.contextBytes, Warnings: c.warnings,
		Requests: c.requests, StringBytes: c.stringBytes, MaxString: c.maxString,
	}
}

func (t Tally) counts() counts {
	return counts{
		planes: t.Planes, lines: t.Lines, events: t.Events, stats: t.Stats, dropped: t.Dropped,
		windows: t.Windows, context: t.Context, contextBytes: t.ContextBytes, warnings: t.Warnings,
		requests: t.Requests, stringBytes: t.StringBytes, maxString: t.MaxString,
	}
}

// CheckTally is Check for a capture known by its Tally: it tells whether
// the capture is within l (not the expansion bound, which needs its wire
// form).
func (l Limits) CheckTally(t Tally) error {
	l = l.withDefaults()
	l.MaxExpansion = -1
	n := t.counts()
	return l.check(&n, 0, nil, 0)
}
