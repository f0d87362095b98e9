package capture

// This file is the contract between readers and the trimmer: a reader walks a
// source once and tells a Visitor what it sees, cheaply (places and times,
// with the rest of each event left in the source), and can later load any
// event again in full from its Ref.

// PlaneInfo declares a plane to a Visitor.
type PlaneInfo struct {
	// ID is the plane's id in the source.
	ID int64
	// Name is the plane's name.
	Name string
	// Stats are the plane's own stats.
	Stats []Stat
}

// LineInfo declares a line to a Visitor.
type LineInfo struct {
	// ID is the line's id in the source.
	ID int64
	// DisplayID is the id shown to people.
	DisplayID int64
	// Name is the line's name.
	Name string
	// DisplayName is the name shown to people, if any.
	DisplayName string
}

// Ref says where a reader can find an event again: a byte range of the
// source (the uncompressed stream, for gzip input).
type Ref struct {
	// Off is the offset of the event's first byte.
	Off int64
	// Len is the event's length in bytes.
	Len int64
}

// RawEvent is an event as a reader first meets it.
type RawEvent struct {
	// Plane is the index the Visitor gave the event's plane.
	Plane int
	// Line is the index the Visitor gave the event's line within its plane.
	Line int
	// Name is the event's name. It is valid only during the Event call.
	Name []byte
	// Start is relative to the base time, in picoseconds.
	Start int64
	// Dur is the event's length in picoseconds.
	Dur int64
	// Ref locates the whole event for Loader.Load.
	Ref Ref
}

// Visitor receives what a reader meets, in the source's order. Base comes
// before any event; a plane is declared before its lines and a line before
// its events.
type Visitor interface {
	// Base sets the base time in nanoseconds since the epoch.
	Base(ns int64)
	// Plane declares a plane and returns its index.
	Plane(p PlaneInfo) int
	// Line declares a line of plane and returns its index within the plane.
	Line(plane int, l LineInfo) int
	// Event visits one event. An error stops the reader, which returns it.
	Event(e *RawEvent) error
}

// Loader loads whole events again after a first pass.
type Loader interface {
	// Load returns the event at ref, with its name, display name and every
	// stat. Start and Dur are as the first pass saw them.
	Load(ref Ref, ev *Event) error
}

// SessionVisitor is a Visitor that also takes the profiling session a source
// records (XPlane's Task Environment plane, kineto's Trace event). Readers
// call Session at most once, after Base, with times relative to the base.
type SessionVisitor interface {
	Visitor
	// Session gives the profiling session's start and end, in picoseconds
	// relative to the base time.
	Session(start, end int64)
}

// Renamer is a Visitor that also takes names that arrive after a plane or
// line was declared (trace JSON may put its process_name and thread_name
// metadata after the events they name, as kineto does). A reader that meets
// such a name calls RenamePlane or RenameLine when the visitor implements
// Renamer; a Visitor that does not keeps the names it was given first.
type Renamer interface {
	Visitor
	// RenamePlane gives the plane at index plane a new name.
	RenamePlane(plane int, name string)
	// RenameLine gives line line of plane plane a new name.
	RenameLine(plane, line int, name string)
}
