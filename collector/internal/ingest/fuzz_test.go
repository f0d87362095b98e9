package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// fuzzIDs are the capture ids a fuzz script uploads to: few, so that
// streams resume, repeat and collide.
var fuzzIDs = []string{"cap-0", "cap-1", "../x"}

// scriptStream is an UploadStream driven by a fuzz script: each Recv decodes
// the next message from the script, using the collector's last answer the
// way a real agent resumes.
type scriptStream struct {
	grpc.ServerStream // nil: Serve uses only Context, Recv and Send
	ctx               context.Context
	r                 *scriptReader
	payload           []byte
	chunk             int   // bytes per "proper" chunk
	next              int64 // the collector's last next_seq
	sent              []*agentv1.UploadResponse
	ended             bool
}

// scriptReader hands out a script's bytes; past the end it reads zeros.
type scriptReader struct {
	b []byte
	i int
}

func (s *scriptReader) byte() byte {
	if s.i >= len(s.b) {
		s.i++
		return 0
	}
	s.i++
	return s.b[s.i-1]
}

func (s *scriptReader) done() bool { return s.i >= len(s.b) }

// Context returns the stream's context.
func (s *scriptStream) Context() context.Context { return s.ctx }

// Send records the collector's answer.
func (s *scriptStream) Send(m *agentv1.UploadResponse) error {
	s.sent = append(s.sent, m)
	s.next = m.GetNextSeq()
	return nil
}

// Recv decodes the next message. Opcode 5 (or the script's end) ends the
// stream as a broken connection would.
func (s *scriptStream) Recv() (*agentv1.UploadRequest, error) {
	if s.ended || s.r.done() {
		return nil, io.EOF
	}
	sum := sha256.Sum256(s.payload)
	chunks := int64((len(s.payload) + s.chunk - 1) / s.chunk)
	switch op := s.r.byte() % 6; op {
	case 0: // UploadStart, mostly honest
		id, f := fuzzIDs[int(s.r.byte())%len(fuzzIDs)], s.r.byte()
		st := &agentv1.UploadStart{CaptureId: id, AgentId: "agent", Chunks: chunks, Bytes: int64(len(s.payload)), Sha256: sum[:]}
		if f&1 != 0 {
			st.Bytes = int64(s.r.byte()) * 64
		}
		if f&2 != 0 {
			st.Sha256 = st.Sha256[:int(s.r.byte())%40%len(st.Sha256)]
		}
		if f&4 != 0 {
			st.Chunks = int64(s.r.byte())
		}
		if f&8 != 0 {
			st.AgentId = ""
		}
		return &agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: st}}, nil
	case 1: // the chunk the collector asked for next
		off := s.next * int64(s.chunk)
		end := min(off+int64(s.chunk), int64(len(s.payload)))
		var data []byte
		if off <= end && off >= 0 {
			data = s.payload[off:end]
		}
		return &agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{Seq: s.next, Offset: off, Data: data}}}, nil
	case 2: // an arbitrary chunk
		seq, off, n := int64(s.r.byte()%16), int64(s.r.byte())*16, int(s.r.byte())*8
		var data []byte
		if lo := int(off); lo < len(s.payload) {
			data = s.payload[lo:min(lo+n, len(s.payload))]
		} else {
			data = bytes.Repeat([]byte{s.r.byte()}, n)
		}
		return &agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{Seq: seq, Offset: off, Data: data}}}, nil
	case 3: // UploadEnd with the right count, or another
		n := s.next
		if f := s.r.byte(); f&1 != 0 {
			n = int64(f >> 1)
		}
		return &agentv1.UploadRequest{Msg: &agentv1.UploadRequest_End{End: &agentv1.UploadEnd{Chunks: n}}}, nil
	case 4: // an empty message
		return &agentv1.UploadRequest{}, nil
	default: // the connection breaks
		s.ended = true
		return nil, io.EOF
	}
}

// FuzzUpload feeds arbitrary upload streams (starts, chunks in and out of
// order, ends, breaks, resumes; over arbitrary bytes) to the ingest path
// over a real bbolt file. Serve must never panic or hang, the store must
// stay consistent, and every capture it commits must parse as .fpcap and be
// byte for byte what the stream announced (size and SHA-256).
//
// The script's first byte picks the chunk size (16-4096 bytes); each stream
// runs until the script says the connection broke, then the next begins.
func FuzzUpload(f *testing.F) {
	valid, _ := testCapture()
	whole, resume := uploadScripts(valid)
	f.Add(whole, valid)
	f.Add(resume, valid)
	// The same bytes twice: the second upload is committed at once.
	f.Add(append(append([]byte{}, whole...), append([]byte{5}, whole[1:]...)...), valid)
	// Garbage announced honestly: parses as nothing.
	f.Add([]byte{0, 0, 1, 0, 1, 1, 3, 0}, []byte("not an fpcap at all, just bytes"))
	// Lies: bad id, short sha, skipped chunks, an end too soon, an empty message.
	f.Add([]byte{0, 0, 2, 0, 0, 2, 0, 9, 3, 2, 1, 0}, valid)
	f.Add([]byte{0, 0, 1, 0, 3, 0, 1, 4}, valid)
	f.Add([]byte{0, 0, 0, 1, 2, 3, 3, 7, 0, 1, 0, 1, 1, 3, 0}, valid[:len(valid)/2])

	// One database per fuzz worker, emptied of the fuzz ids before each
	// input (opening a fresh bbolt file per input would cost most of the
	// time): every input starts from the same empty state.
	db, err := store.Open(filepath.Join(f.TempDir(), store.FileName), store.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	f.Fuzz(func(t *testing.T, script, payload []byte) {
		if len(script) == 0 || len(script) > 4096 || len(payload) > 1<<16 {
			return
		}
		err := db.Update(context.Background(), func(w *store.Writer) error {
			for _, id := range fuzzIDs {
				if w.Committed(id) {
					if err := w.DeleteCapture(id); err != nil {
						return err
					}
				}
				if err := w.DropUpload(id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("empty the store: %v", err)
		}
		runScript(t, db, script, payload)
	})
}

// uploadScripts are the seed scripts over the valid test capture.
func uploadScripts(valid []byte) (whole, resume []byte) {
	// Upload a valid capture in 64-byte chunks: start, chunks, end.
	whole = []byte{0, 0, 0}
	for range (len(valid) + 63) / 64 {
		whole = append(whole, 1)
	}
	whole = append(whole, 3, 0)
	// Break after three chunks, resume on a new stream, finish.
	resume = []byte{0, 0, 0, 1, 1, 1, 5, 0, 0, 0}
	for range (len(valid)+63)/64 - 3 {
		resume = append(resume, 1)
	}
	resume = append(resume, 3, 0)
	return append([]byte{3}, whole...), append([]byte{3}, resume...)
}

// TestUploadScripts checks that the seed scripts reach the commit path, so
// the fuzzer starts from uploads that succeed.
func TestUploadScripts(t *testing.T) {
	valid, _ := testCapture()
	whole, resume := uploadScripts(valid)
	for _, tt := range []struct {
		name    string
		script  []byte
		payload []byte
		want    []string
	}{
		{"whole", whole, valid, []string{"cap-0"}},
		{"resume", resume, valid, []string{"cap-0"}},
		{"truncated", whole, valid[:len(valid)/2], nil},
		{"garbage", whole, bytes.Repeat([]byte("x"), len(valid)), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.Open(t)
			if got := runScript(t, db, tt.script, tt.payload); !slices.Equal(got, tt.want) {
				t.Errorf("committed %v, want %v", got, tt.want)
			}
		})
	}
}

// runScript runs a fuzz script over an empty store, checks the invariants
// and returns the ids committed.
func runScript(t *testing.T, db *store.DB, script, payload []byte) []string {
	var committed []string
	{
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		in := New(Config{Store: db, MaxCaptureBytes: 1 << 16})
		r := &scriptReader{b: script[1:]}
		chunk := (int(script[0]) + 1) * 16
		for streams := 0; !r.done() && streams < 64; streams++ {
			s := &scriptStream{ctx: ctx, r: r, payload: payload, chunk: chunk}
			_ = in.Serve(s) // errors are the point; panics and hangs are not
			if ctx.Err() != nil {
				t.Fatal("Serve did not return within 10s")
			}
			// Serve stops reading at its first error; skip to the next stream.
			for !s.ended && !r.done() {
				if _, err := s.Recv(); err != nil {
					break
				}
			}
		}
		if err := db.Check(ctx); err != nil {
			t.Fatalf("store inconsistent: %v", err)
		}
		err := db.View(ctx, func(r *store.Reader) error {
			for _, id := range fuzzIDs {
				if !r.Committed(id) {
					continue
				}
				rec, err := r.Capture(id)
				if err != nil {
					t.Fatalf("committed %s has no record: %v", id, err)
				}
				var blob bytes.Buffer
				if _, err := r.WriteBlob(id, &blob); err != nil {
					t.Fatalf("committed %s has no blob: %v", id, err)
				}
				sum := sha256.Sum256(blob.Bytes())
				if int64(blob.Len()) != rec.SizeBytes || !bytes.Equal(sum[:], rec.SHA256) {
					t.Fatalf("committed %s: %d bytes with sha256 %x, the record says %d and %x", id, blob.Len(), sum, rec.SizeBytes, rec.SHA256)
				}
				if _, err := fpcap.Read(bytes.NewReader(blob.Bytes())); err != nil {
					t.Fatalf("committed %s does not parse: %v", id, err)
				}
				if !bytes.Equal(blob.Bytes(), payload) {
					t.Fatalf("committed %s is not the uploaded payload", id)
				}
				committed = append(committed, id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return committed
}
