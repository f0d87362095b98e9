package capturetest

import (
	"bytes"
	"crypto/sha256"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
)

// EmptyEvents returns a well-formed .fpcap of about size bytes whose events
// are all empty (2 bytes each on the wire, in 1 MiB records), and its
// SHA-256: cheap to send, 40 times its size once decoded (issue 13,
// finding 2: 16 MB of it took the collector to 4.3 GB). EmptyEvents(0) is
// the smallest well-formed capture: no events.
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
