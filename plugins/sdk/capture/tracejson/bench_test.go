package tracejson

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
)

// BenchmarkWalk measures Walk over JSON already in memory (the caller
// decompresses), in MB/s of JSON.
func BenchmarkWalk(b *testing.B) {
	b.Run("seed-replica", func(b *testing.B) {
		data := fixtures.ReadFile(b, filepath.Join(fixtures.Dir(b), "seed-replica", "t1v-n-3d21a6bb-w-0.trace.json.gz"))
		benchWalk(b, data)
	})
	b.Run("synthetic-100MB", func(b *testing.B) {
		benchWalk(b, synthetic(100<<20))
	})
}

func benchWalk(b *testing.B, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var c counter
		if _, err := Walk(context.Background(), bytes.NewReader(data), &c, WalkOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// synthetic builds a trace of about size bytes shaped like a profile of an
// idle sglang-jax scheduler: mostly host python-tracer events, with a TPU's
// ops (with args) now and then.
func synthetic(size int) []byte {
	var buf bytes.Buffer
	buf.Grow(size + 1<<16)
	buf.WriteString(`{"displayTimeUnit":"ns","metadata":{"highres-ticks":true},"traceEvents":[`)
	buf.WriteString(`{"ph":"M","pid":1,"name":"process_name","args":{"name":"/device:TPU:0"}},`)
	buf.WriteString(`{"ph":"M","pid":1,"tid":3,"name":"thread_name","args":{"name":"XLA Ops"}},`)
	buf.WriteString(`{"ph":"M","pid":701,"name":"process_name","args":{"name":"/host:CPU"}},`)
	buf.WriteString(`{"ph":"M","pid":701,"tid":102,"name":"thread_name","args":{"name":"python3"}},`)
	names := []string{
		"$scheduler.py:645 recv_requests", "$socket.py:961 recv_pyobj", "$error.py:120 __init__",
		"$sys _getframe", "$builtins hasattr", "$_zmq.py:1403 zmq.backend.cython._zmq._recv_copy",
		"$scheduler.py:1096 get_next_batch_to_run", "$<frozen importlib._bootstrap>:1390 _handle_fromlist",
	}
	ts := int64(1770323795654_017600) // ps past the µs in the last 6 digits
	for i := 0; buf.Len() < size; i++ {
		ts += 13_000_000 + int64(i%7)*1_000_000
		us, ps := ts/1_000_000, ts%1_000_000
		if i%50 == 0 {
			fmt.Fprintf(&buf, `{"ph":"X","pid":1,"tid":3,"ts":%d.%06d,"dur":0.276250,"name":"fusion.%d","args":{"hlo_category":"non-fusion elementwise","long_name":"%%fusion.%d = ...","run_id":"1000","tf_op":"jit(jitted_sampler)/Sampler/neg:neg"}},`, us, ps, i%300, i%300)
			continue
		}
		fmt.Fprintf(&buf, `{"ph":"X","pid":701,"tid":102,"ts":%d.%06d,"dur":%d.%03d000,"name":"%s","args":{}},`, us, ps, i%20, i%1000, names[i%len(names)])
	}
	buf.WriteString("{}]}")
	return buf.Bytes()
}
