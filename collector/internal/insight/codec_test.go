package insight

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fullSummary is a summary with every field set.
func fullSummary() Summary {
	s := std("a", 1.4).summary()
	s.CaptureID, s.Host, s.Trigger, s.FleetID, s.ScheduleID, s.Status = "c-1", "héllo\x00", "fleet", "f1", "s1", "analyzed"
	s.Committed, s.CommittedNS = "2026-01-02T03:04:05.000000Z", -5
	s.Options = Options{Endpoint: "/v1/score", BodySHA256: "ab", DurationMS: 2000, Requests: 2, Warmups: 1, NumSteps: 3}
	s.BaselineKey = s.Options.Key()
	s.Devices, s.DeviceBusyUS, s.IdlePct = 2, 123.5, 99.25
	return s
}

func TestSummaryBinaryRoundTrip(t *testing.T) {
	none := fullSummary()
	none.DeviceOpUSPerRequest, none.DeviceOpUSPerSecond = nil, nil
	empty := Summary{Labels: []Pair{}, Components: []Figure{}, Ops: []OpFigure{}}
	for name, s := range map[string]Summary{"full": fullSummary(), "no rates": none, "empty": empty} {
		t.Run(name, func(t *testing.T) {
			b, err := s.AppendBinary([]byte("prefix"))
			if err != nil {
				t.Fatal(err)
			}
			var got Summary
			if err := got.UnmarshalBinary(b[len("prefix"):]); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			js, _ := json.Marshal(s)
			if len(b)-len("prefix") >= len(js) {
				t.Errorf("binary %d bytes, JSON %d: want it smaller", len(b)-len("prefix"), len(js))
			}
		})
	}
}

func TestSummaryBinaryReadsJSON(t *testing.T) {
	s := fullSummary()
	js, _ := json.Marshal(s)
	var got Summary
	if err := got.UnmarshalBinary(js); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("from JSON (-want +got):\n%s", diff)
	}
	if err := got.UnmarshalBinary([]byte("{not json")); !errors.Is(err, ErrSummaryFormat) {
		t.Errorf("bad JSON: %v, want ErrSummaryFormat", err)
	}
}

func TestSummaryBinaryGarbage(t *testing.T) {
	s := fullSummary()
	b, _ := s.AppendBinary(nil)
	for n := range len(b) {
		var got Summary
		if err := got.UnmarshalBinary(b[:n]); !errors.Is(err, ErrSummaryFormat) {
			t.Fatalf("UnmarshalBinary(first %d of %d bytes) = %v, want ErrSummaryFormat", n, len(b), err)
		}
	}
	var got Summary
	if err := got.UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrSummaryFormat) {
		t.Errorf("trailing byte: %v, want ErrSummaryFormat", err)
	}
	if err := got.UnmarshalBinary([]byte{9, 1, 2}); !errors.Is(err, ErrSummaryFormat) {
		t.Errorf("unknown version: %v, want ErrSummaryFormat", err)
	}
}

func FuzzSummaryBinary(f *testing.F) {
	s := fullSummary()
	b, _ := s.AppendBinary(nil)
	f.Add(b)
	js, _ := json.Marshal(s)
	f.Add(js)
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var got Summary
		if err := got.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrSummaryFormat) {
				t.Fatalf("error %v is not ErrSummaryFormat", err)
			}
			return
		}
		// What decodes encodes back to something that decodes the same.
		again, err := got.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var back Summary
		if err := back.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded summary does not decode: %v", err)
		}
	})
}
