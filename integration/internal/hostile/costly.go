package hostile

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
)

// TerminalText is text an agent controls, built to drive a terminal: clear
// the screen, set the window title, a C1 CSI erasing the line, a bidi
// override, and a newline that forges a table row (issue 13, finding 7).
const TerminalText = "evil\x1b[2J\x1b]0;pwned\x07\u009b2K\u202eoops\nforged-row"

// EmptyEvents returns a well-formed .fpcap of about size bytes whose events
// are all empty (2 bytes each on the wire, in 1 MiB records), and its
// SHA-256: cheap to send, 40 times its size once decoded (issue 13,
// finding 2: 16 MB of it took the collector to 4.3 GB).
func EmptyEvents(size int) (data, sum []byte) {
	var out bytes.Buffer
	out.WriteString(fpcap.Magic)
	records := int64(0)
	rec := func(r *capturev1.Record) {
		b, _ := proto.Marshal(r) // plain messages always encode
		out.Write(protowire.AppendVarint(nil, uint64(len(b))))
		out.Write(b)
		records++
	}
	rec(&capturev1.Record{Kind: &capturev1.Record_Header{Header: &capturev1.Header{FormatVersion: fpcap.FormatVersion}}})
	rec(&capturev1.Record{Kind: &capturev1.Record_Plane{Plane: &capturev1.Plane{Name: "/device:TPU:0", Lines: []*capturev1.Line{{Name: "XLA Ops"}}}}})
	const perBatch = 1 << 19
	body := protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), bytes.Repeat([]byte{0x1a, 0x00}, perBatch))
	var events int64
	for out.Len() < size {
		out.Write(protowire.AppendVarint(nil, uint64(len(body))))
		out.Write(body)
		records++
		events += perBatch
	}
	rec(&capturev1.Record{Kind: &capturev1.Record_Footer{Footer: &capturev1.Footer{EventsKept: events, Records: records}}})
	s := sha256.Sum256(out.Bytes())
	return out.Bytes(), s[:]
}

// PeakRSS returns the peak resident memory (VmHWM) of process pid, in bytes.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("hostile: peak RSS: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb); err != nil {
				return 0, fmt.Errorf("hostile: peak RSS: %q: %w", line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("hostile: peak RSS: no VmHWM in /proc/%d/status", pid)
}
