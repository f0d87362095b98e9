package simserver

import (
	"os"
	"testing"
	"time"
)

// BenchmarkWriteProfile builds and writes the run folder of a profile with
// every tracer on, reporting the files' sizes.
func BenchmarkWriteProfile(b *testing.B) {
	for _, bc := range []struct {
		name  string
		span  time.Duration
		steps int
	}{
		{"2s_2steps", 2 * time.Second, 2},
		{"30s_200steps", 30 * time.Second, 200},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := New(Config{Hostname: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Unix(1_770_000_000, 0)
			sess := s.newSession(fromHTTP, levels{host: 2, device: 1, python: 1})
			sess.start = start
			for i := range bc.steps {
				at := start.Add(time.Duration(i+1) * bc.span / time.Duration(bc.steps+1))
				sess.steps = append(sess.steps, stepRec{seq: int64(i), kind: prefill, start: at, shape: seqShape(5, 5)})
			}
			dir := b.TempDir()
			var xp, js int64
			var events int64
			for b.Loop() {
				c, p := s.build(sess, start.Add(bc.span), "bench")
				_, files, err := writeRunFolder(dir, p.Host, c, start, false)
				if err != nil {
					b.Fatal(err)
				}
				events = p.EventsTotal
				st0, _ := os.Stat(files[0])
				st1, _ := os.Stat(files[1])
				xp, js = st0.Size(), st1.Size()
			}
			b.ReportMetric(float64(events), "events")
			b.ReportMetric(float64(xp)/1e6, "xplane_MB")
			b.ReportMetric(float64(js)/1e6, "json_gz_MB")
		})
	}
}
