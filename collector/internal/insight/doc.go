// Package insight turns per-capture summaries into answers about many
// captures at once: which hosts of a fleet capture are not like the others
// (BuildFleet), how a figure moves over time (BuildTrend), and which figures
// of a new capture moved against its baseline (Compare). It is pure: no
// store, no I/O; the collector's watch package feeds it stored summaries.
//
// A Summary is computed once per capture (Summarize) from its record, its
// capture summary and its report's components and top_ops sections. Times
// compare across captures of different lengths by normalising them: per
// profiled workload request when every capture compared has a request count
// (the capture context's requests.<endpoint> entry), else per second of the
// capture's span.
//
// The robust rule (Rule, DefaultRule) is the same for outliers and
// regressions: a value x is far from reference values with median m and
// median absolute deviation MAD when
//
//	|x − m| > 3 · 1.4826 · MAD   (skipped when MAD = 0, or when fewer than 3
//	                               reference values: the next rule alone)
//	|x − m| > 10 % of m
//	|x − m| > 1 % of the reference median device op time (components and
//	                               ops only: tiny ops that double are not news)
//
// docs/fleet.md documents the rules, the JSON and the NDJSON schema.
package insight
