// Package xplane reads XSpace protobuf files (`*.xplane.pb`), the profiles
// the TSL/XLA profiler writes for JAX, TensorFlow and sglang-jax.
//
// The reader decodes the wire format by hand, through a fixed buffer over an
// io.ReaderAt: Open reads the structure (planes, their metadata tables and
// stats, skipping the lines), Walk streams every event once to a
// capture.Visitor without allocating per event, and Load reads one event again
// in full. Memory grows with the metadata, not with the events.
package xplane

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// defaultBufSize is the read buffer of Open and Walk: lines smaller than it
// are read from the file once.
const defaultBufSize = 512 << 10

// minBufSize is the smallest buffer the scanner works with: a varint, a
// fixed64.
const minBufSize = 16

// File is an opened XSpace. Its methods may be called concurrently.
type File struct {
	r       io.ReaderAt
	size    int64
	bufSize int

	hostnames []string
	errs      []string
	warnings  []string
	planes    []*plane
	// base is the timestamp_ns of the first line that has a timeline event.
	base int64

	// aggregated counts the events the last finished Walk skipped because
	// they carry num_occurrences instead of offset_ps.
	aggregated atomic.Int64

	// hlo holds the op names of the HLO modules the metadata plane
	// carries, read once on first need (hlo.go).
	hloOnce sync.Once
	hlo     hloNames

	// slab is where Load carves stats from (see File.stats).
	slabMu sync.Mutex
	slab   []capture.Stat

	// spare is Open's read buffer, which the first Walk reuses: each
	// fresh page of a short command's heap costs a fault.
	spare atomic.Pointer[[]byte]
}

// Plane describes one plane of the file as Open found it.
type Plane struct {
	// ID is the plane's id.
	ID int64
	// Name is the plane's name, e.g. "/device:TPU:0" or "/host:CPU".
	Name string
	// Stats are the plane's own stats, with their names resolved.
	Stats []capture.Stat
	// Lines counts the plane's lines.
	Lines int
	// EventMetadata counts the entries of the plane's event metadata table.
	EventMetadata int
	// StatMetadata counts the entries of the plane's stat metadata table.
	StatMetadata int
	// Off and Len give the plane message's byte range in the file.
	Off, Len int64
}

// Open reads the structure of the XSpace in the first size bytes of r: the
// hostnames, errors and warnings, and each plane's id, name, stats and
// metadata tables. It skips the lines, which Walk reads. r must stay readable
// while the File is used.
func Open(r io.ReaderAt, size int64) (*File, error) {
	return open(r, size, defaultBufSize)
}

func open(r io.ReaderAt, size int64, bufSize int) (*File, error) {
	switch {
	case size == 0:
		return nil, ErrEmpty
	case size < 0:
		return nil, fmt.Errorf("xplane: open: negative size %d", size)
	}
	// No buffer larger than the file, none too small for a varint.
	bufSize = int(max(min(int64(bufSize), size), minBufSize))
	f := &File{r: r, size: size, bufSize: bufSize}
	s := newScanner(r, size, bufSize)
	var baseFound bool
	for s.off() < size {
		off := s.off()
		num, typ, err := s.tag(size)
		if err != nil {
			return nil, err
		}
		switch num {
		case 1: // planes
			if err := wantType(off, "XSpace", num, typ, wireBytes); err != nil {
				return nil, err
			}
			n, err := s.length(size)
			if err != nil {
				return nil, err
			}
			start := s.off()
			p, err := readPlane(s, start, start+n, !baseFound)
			if err != nil {
				return nil, err
			}
			if p.hasBase {
				f.base, baseFound = p.base, true
			}
			f.planes = append(f.planes, p)
			s.seek(start + n)
		case 2, 3, 4: // errors, warnings, hostnames
			if err := wantType(off, "XSpace", num, typ, wireBytes); err != nil {
				return nil, err
			}
			str, err := s.str(size)
			if err != nil {
				return nil, err
			}
			switch num {
			case 2:
				f.errs = append(f.errs, str)
			case 3:
				f.warnings = append(f.warnings, str)
			default:
				f.hostnames = append(f.hostnames, str)
			}
		default:
			if err := s.skipValue(typ, size); err != nil {
				return nil, err
			}
		}
	}
	f.spare.Store(&s.buf)
	return f, nil
}

// Hostnames returns the hosts that contributed to the space.
func (f *File) Hostnames() []string { return slices.Clone(f.hostnames) }

// Errors returns the errors the profiler recorded while collecting.
func (f *File) Errors() []string { return slices.Clone(f.errs) }

// Warnings returns the warnings the profiler recorded while collecting.
func (f *File) Warnings() []string { return slices.Clone(f.warnings) }

// BaseNS returns the base time Walk reports: the timestamp_ns of the first
// line (in file order) that has a timeline event, or 0 if none has.
func (f *File) BaseNS() int64 { return f.base }

// Size returns the file's size in bytes.
func (f *File) Size() int64 { return f.size }

// Aggregated returns how many events the last finished Walk skipped because
// they are aggregated (num_occurrences instead of offset_ps): they are counts,
// not timeline events.
func (f *File) Aggregated() int64 { return f.aggregated.Load() }

// Planes describes the file's planes in file order.
func (f *File) Planes() []Plane {
	out := make([]Plane, len(f.planes))
	for i, p := range f.planes {
		out[i] = Plane{
			ID:            p.id,
			Name:          p.name,
			Stats:         cloneStats(p.stats),
			Lines:         p.lines,
			EventMetadata: len(p.meta),
			StatMetadata:  len(p.statNames),
			Off:           p.off,
			Len:           p.end - p.off,
		}
	}
	return out
}

func cloneStats(in []capture.Stat) []capture.Stat {
	if in == nil {
		return nil
	}
	out := slices.Clone(in)
	for i := range out {
		if out[i].Bytes != nil {
			out[i].Bytes = slices.Clone(out[i].Bytes)
		}
	}
	return out
}

// planeAt returns the plane whose byte range holds ref.
func (f *File) planeAt(ref capture.Ref) (*plane, error) {
	i, _ := slices.BinarySearchFunc(f.planes, ref.Off, func(p *plane, off int64) int {
		switch {
		case p.end <= off:
			return -1
		case p.off > off:
			return 1
		}
		return 0
	})
	if ref.Len < 0 || i >= len(f.planes) {
		return nil, fmt.Errorf("%w: offset %d, length %d", ErrRef, ref.Off, ref.Len)
	}
	p := f.planes[i]
	if ref.Off < p.off || ref.Off+ref.Len > p.end || ref.Off+ref.Len < ref.Off {
		return nil, fmt.Errorf("%w: offset %d, length %d", ErrRef, ref.Off, ref.Len)
	}
	return p, nil
}

var _ capture.Loader = (*File)(nil)
