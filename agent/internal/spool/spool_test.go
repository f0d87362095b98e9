package spool

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func put(t *testing.T, s *Spool, id string, n int, at time.Time) (Meta, error) {
	t.Helper()
	return s.Put(Meta{CaptureID: id, Created: at}, func(w io.Writer) error {
		_, err := w.Write(bytes.Repeat([]byte{byte(len(id))}, n))
		return err
	})
}

func TestPutOpenRemove(t *testing.T) {
	dir := t.TempDir()
	var sizes []int64
	s, err := Open(dir, Options{OnSize: func(n int64) { sizes = append(sizes, n) }})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 3*ChunkSize+5)
	m, err := s.Put(Meta{CaptureID: "cap-1", AgentID: "a", Checks: map[string]string{"no_device_plane": "off"}},
		func(w io.Writer) error { _, err := w.Write(data); return err })
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if m.Bytes != int64(len(data)) || m.Chunks != 4 || m.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("Put = %+v, want %d bytes, 4 chunks, sha %x", m, len(data), sum)
	}
	select {
	case <-s.Ready():
	default:
		t.Error("Ready not signalled after Put")
	}
	if _, err := put(t, s, "cap-1", 1, time.Time{}); !errors.Is(err, ErrExists) {
		t.Errorf("Put(same id) = %v, want ErrExists", err)
	}
	if err := s.Update("cap-1", func(m *Meta) { m.NextSeq = 2; m.Attempts = 1; m.Bytes = 0 }); err != nil {
		t.Fatal(err)
	}

	// Reopen: the entry survives with its state; strays are cleaned.
	os.WriteFile(filepath.Join(dir, "stray.fpcap"), []byte("half"), 0o600)
	os.WriteFile(filepath.Join(dir, "cap-2.fpcap.tmp"), []byte("half"), 0o600)
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s2.Get("cap-1")
	if !ok || got.NextSeq != 2 || got.Attempts != 1 || got.Bytes != int64(len(data)) || got.Checks["no_device_plane"] != "off" {
		t.Errorf("after reopen Get = %+v, %v", got, ok)
	}
	for _, name := range []string{"stray.fpcap", "cap-2.fpcap.tmp"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived Open", name)
		}
	}
	f, _, err := s2.Open("cap-1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(b, data) {
		t.Error("spooled bytes differ")
	}
	if err := s2.Remove("cap-1"); err != nil {
		t.Fatal(err)
	}
	if err := s2.Remove("cap-1"); err != nil {
		t.Errorf("second Remove = %v, want nil", err)
	}
	if s2.Size() != 0 || len(s2.List()) != 0 {
		t.Errorf("after Remove: size %d, %d entries", s2.Size(), len(s2.List()))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left: %v", ents)
	}
	if _, _, err := s2.Open("cap-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(removed) = %v, want ErrNotFound", err)
	}
	if sizes[len(sizes)-1] != int64(len(data)) {
		t.Errorf("OnSize last = %d, want %d", sizes[len(sizes)-1], len(data))
	}
}

func TestFull(t *testing.T) {
	var dropped []string
	s, err := Open(t.TempDir(), Options{MaxBytes: 1000, OnDrop: func(m Meta) { dropped = append(dropped, m.CaptureID) }})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		id          string
		n           int
		wantErr     error
		wantIDs     []string
		wantDropped []string
	}{
		{"a", 400, nil, []string{"a"}, nil},
		{"b", 400, nil, []string{"a", "b"}, nil},
		{"c", 400, nil, []string{"b", "c"}, []string{"a"}},
		{"d", 1000, nil, []string{"d"}, []string{"a", "b", "c"}},
		{"e", 1001, ErrTooLarge, []string{"d"}, []string{"a", "b", "c"}},
	}
	for i, st := range steps {
		_, err := put(t, s, st.id, st.n, t0.Add(time.Duration(i)*time.Second))
		if !errors.Is(err, st.wantErr) {
			t.Errorf("Put(%s) = %v, want %v", st.id, err, st.wantErr)
		}
		if got := s.IDs(); !slices.Equal(got, st.wantIDs) {
			t.Errorf("after %s: IDs = %v, want %v", st.id, got, st.wantIDs)
		}
		if !slices.Equal(dropped, st.wantDropped) {
			t.Errorf("after %s: dropped = %v, want %v", st.id, dropped, st.wantDropped)
		}
	}
	if s.Size() != 1000 {
		t.Errorf("Size = %d, want 1000", s.Size())
	}
}

func TestPutErrors(t *testing.T) {
	s, _ := Open(t.TempDir(), Options{})
	for _, id := range []string{"", "../x", "a/b", ".hidden", string(make([]byte, 200))} {
		if _, err := put(t, s, id, 1, time.Time{}); !errors.Is(err, ErrBadID) {
			t.Errorf("Put(%q) = %v, want ErrBadID", id, err)
		}
	}
	boom := errors.New("boom")
	if _, err := s.Put(Meta{CaptureID: "x"}, func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Put(failing writer) = %v, want boom", err)
	}
	if ents, _ := os.ReadDir(s.Dir()); len(ents) != 0 {
		t.Errorf("files left after a failed Put: %v", ents)
	}
	if err := s.Update("nope", func(*Meta) {}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update(missing) = %v, want ErrNotFound", err)
	}
}

// TestOpenDropsBadEntries checks that Open drops unreadable sidecars and
// keeps an entry whose capture file was cut, for the uploader's check to
// reject (and report) it.
func TestOpenDropsBadEntries(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, Options{})
	if _, err := put(t, s, "ok", 10, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := put(t, s, "cut", 10, time.Time{}); err != nil {
		t.Fatal(err)
	}
	os.Truncate(filepath.Join(dir, "cut.fpcap"), 3)
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{"), 0o600)
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.IDs(); !slices.Equal(got, []string{"ok", "cut"}) {
		t.Errorf("IDs = %v, want [ok cut]", got)
	}
	if err := s2.Verify("cut"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify(cut) = %v, want ErrCorrupt", err)
	}
}

// TestRejectAndVerify is issue 13's finding 5 in the spool: a rejected
// capture moves to rejected/ with its reason and is no longer pending; a
// capture file that changed on disk or was cut short fails Verify.
func TestRejectAndVerify(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for i, id := range []string{"bad", "good", "flipped", "cut"} {
		if _, err := put(t, s, id, 1000, t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	path, err := s.Reject("bad", "the collector refused it (InvalidArgument): ingest: capture too large")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, RejectedDir, "bad.fpcap"); path != want {
		t.Errorf("Reject path = %s, want %s", path, want)
	}
	if _, ok := s.Get("bad"); ok || slices.Contains(s.IDs(), "bad") || s.Size() != 3000 {
		t.Errorf("after Reject: ids %v, size %d; want bad gone, 3000 bytes", s.IDs(), s.Size())
	}
	if _, err := s.Reject("bad", "again"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Reject of a rejected capture = %v, want ErrNotFound", err)
	}
	if err := s.Verify("good"); err != nil {
		t.Errorf("Verify(good) = %v", err)
	}
	// One byte changes on disk: same size, another sha256.
	f, err := os.OpenFile(filepath.Join(dir, "flipped.fpcap"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff}, 10)
	f.Close()
	if err := s.Verify("flipped"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify(flipped) = %v, want ErrCorrupt", err)
	}
	if err := os.Truncate(filepath.Join(dir, "cut.fpcap"), 10); err != nil {
		t.Fatal(err)
	}
	// A new process: every entry but the rejected one is pending; the cut
	// one fails Verify (the uploader then rejects it).
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s2.IDs(), []string{"good", "flipped", "cut"}; !slices.Equal(got, want) {
		t.Errorf("pending after reopen = %v, want %v", got, want)
	}
	if err := s2.Verify("cut"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "10 bytes") {
		t.Errorf("Verify(cut) = %v, want ErrCorrupt naming its 10 bytes", err)
	}
	rej, err := s2.Rejected()
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 1 || rej[0].Meta.CaptureID != "bad" {
		t.Fatalf("Rejected = %+v, want bad", rej)
	}
	if !strings.Contains(rej[0].Reason, "too large") || rej[0].Path == "" || rej[0].Meta.Bytes != 1000 || rej[0].At.IsZero() {
		t.Errorf("rejected bad = %+v, want its reason, file, sidecar and time", rej[0])
	}
}

// TestRejectedBounded checks that the rejected folder keeps under its
// limit by deleting the oldest rejected captures, never the newest.
func TestRejectedBounded(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{MaxRejectedBytes: 2500})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for i, id := range []string{"r1", "r2", "r3", "r4"} {
		if _, err := put(t, s, id, 1000, t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reject(id, "refused"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // distinct modification times
	}
	rej, _ := s.Rejected()
	var ids []string
	for _, r := range rej {
		ids = append(ids, r.Meta.CaptureID)
	}
	if want := []string{"r3", "r4"}; !slices.Equal(ids, want) {
		t.Errorf("rejected kept %v, want %v", ids, want)
	}
	big := Options{MaxRejectedBytes: 10}
	s3, err := Open(t.TempDir(), big)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s3, "huge", 1000, t0)
	if _, err := s3.Reject("huge", "refused"); err != nil {
		t.Fatal(err)
	}
	if rej, _ := s3.Rejected(); len(rej) != 1 || rej[0].Path == "" {
		t.Errorf("the newest rejected capture was deleted: %+v", rej)
	}
}

func TestRejection(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "r", 10, time.Now())
	put(t, s, "p", 10, time.Now())
	if _, err := s.Reject("r", "refused"); err != nil {
		t.Fatal(err)
	}
	if r, ok := s.Rejection("r"); !ok || r.Reason != "refused" || r.Meta.Bytes != 10 {
		t.Errorf("Rejection(r) = %+v, %v; want its reason and sidecar", r, ok)
	}
	for _, id := range []string{"p", "none", "../r", ""} {
		if r, ok := s.Rejection(id); ok {
			t.Errorf("Rejection(%q) = %+v, want none", id, r)
		}
	}
}
