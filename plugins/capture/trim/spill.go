package trim

import (
	"bytes"
	"io"
)

// Spill holds the first pass's records until the second pass reads them back.
type Spill interface {
	io.Writer
	// Rewind returns a reader over everything written so far.
	Rewind() (io.Reader, error)
}

// memSpill keeps records in memory.
type memSpill struct{ bytes.Buffer }

func (m *memSpill) Rewind() (io.Reader, error) { return bytes.NewReader(m.Bytes()), nil }

// FileSpill is a Spill over a file opened for reading and writing, such as
// one from os.CreateTemp. The caller closes and removes the file.
type FileSpill struct {
	// F is the file.
	F interface {
		io.Writer
		io.Seeker
		io.Reader
	}
}

// Write appends to the file.
func (s FileSpill) Write(p []byte) (int, error) { return s.F.Write(p) }

// Rewind seeks to the start and returns a buffered reader.
func (s FileSpill) Rewind() (io.Reader, error) {
	if _, err := s.F.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return s.F, nil
}
