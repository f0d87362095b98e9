package backup

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fleetprof/fleetprof/collector/internal/analysis"
	"github.com/fleetprof/fleetprof/collector/internal/ingest"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/capture/export"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// ChecksumsName is the last object of a capture's folder: the SHA-256 of
// every other object, in sha256sum's format, so `sha256sum -c checksums.txt`
// run in a downloaded copy of the folder verifies it.
const ChecksumsName = "checksums.txt"

// TimeLayout is the UTC time in folder and snapshot names.
const TimeLayout = "20060102T150405Z"

// tempPattern names the spool files of large objects.
const tempPattern = "fleetprof-backup-*"

// object is one object of a capture's folder, hashed before it is uploaded:
// its bytes in memory (data) or in a temporary file (file).
type object struct {
	name        string // relative to the folder
	contentType string
	data        []byte
	file        string
	size        int64
	sha256      []byte
	md5         []byte
	crc32c      uint32
}

// open returns the object's bytes.
func (o *object) open() (io.ReadCloser, error) {
	if o.file != "" {
		return os.Open(o.file)
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// hasher computes an object's checksums as it is written.
type hasher struct {
	sha, md hash.Hash
	crc     hash.Hash32
	n       int64
}

func newHasher() *hasher {
	return &hasher{sha: sha256.New(), md: md5.New(), crc: crc32.New(crc32.MakeTable(crc32.Castagnoli))}
}

// Write implements io.Writer.
func (h *hasher) Write(p []byte) (int, error) {
	h.sha.Write(p)
	h.md.Write(p)
	h.crc.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

func (h *hasher) fill(o *object) {
	o.size, o.sha256, o.md5, o.crc32c = h.n, h.sha.Sum(nil), h.md.Sum(nil), h.crc.Sum32()
}

// memObject is an object held in memory.
func memObject(name, contentType string, data []byte) *object {
	h := newHasher()
	h.Write(data)
	o := &object{name: name, contentType: contentType, data: data}
	h.fill(o)
	return o
}

// fileObject writes an object into a temporary file under dir with write,
// hashing it on the way.
func fileObject(dir, name, contentType string, write func(io.Writer) error) (*object, error) {
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", name, err)
	}
	o := &object{name: name, contentType: contentType, file: f.Name()}
	h := newHasher()
	err = write(io.MultiWriter(f, h))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("spool %s: %w", name, err)
	}
	h.fill(o)
	return o, nil
}

// objectSet is a capture's folder and objects, checksums.txt last.
type objectSet struct {
	folder  string
	objects []*object
}

// remove deletes the temporary files.
func (s *objectSet) remove() {
	for _, o := range s.objects {
		if o.file != "" {
			os.Remove(o.file)
		}
	}
}

// Folder is the folder name of a capture's backup, relative to the prefix:
// <UTC commit time>_<trigger>_<model>_<host>_<id>, each part but the id
// reduced to [A-Za-z0-9.-]. The model is the "model" label, else the model
// server's model path's last element, else "unknown".
func Folder(c *store.Capture) string {
	trigger := c.Trigger
	if trigger == "" {
		trigger = "manual"
	}
	model := c.Labels["model"]
	for _, k := range []string{"model.model_path", "server.model_path"} {
		if model == "" {
			model = path.Base(strings.TrimRight(c.Context[k], "/"))
		}
	}
	if model == "" || model == "." || model == "/" {
		model = "unknown"
	}
	host := c.Host
	if host == "" {
		host = c.AgentID
	}
	return strings.Join([]string{
		time.Unix(0, c.CreatedNS).UTC().Format(TimeLayout), part(trigger), part(model), part(host), c.ID,
	}, "_")
}

// part keeps [A-Za-z0-9.-] of s and turns the rest into '-'.
func part(s string) string {
	if s == "" {
		return "unknown"
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-':
		default:
			b[i] = '-'
		}
	}
	return string(b)
}

// fileName keeps [A-Za-z0-9._-] of s and turns the rest into '_'.
func fileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			b[i] = '_'
		}
	}
	if len(b) == 0 || string(b) == "." || string(b) == ".." {
		return "section"
	}
	return string(b)
}

// build reads a capture, its report and record from the store and renders
// its minimal set. No transaction stays open once it returns.
func (b *Backup) build(ctx context.Context, id string) (_ *objectSet, err error) {
	// The id is the last part of the object names: never let one out of
	// the capture's folder.
	if err := ids.Check(id); err != nil {
		return nil, err
	}
	c, rec, err := analysis.Load(ctx, b.cfg.Store, id)
	if err != nil {
		return nil, err
	}
	rep, err := analysis.Stored(ctx, b.cfg.Store, id)
	if err != nil {
		return nil, err
	}
	set := &objectSet{folder: b.name(Folder(rec))}
	defer func() {
		if err != nil {
			set.remove()
		}
	}()
	add := func(o *object) { set.objects = append(set.objects, o) }

	md, err := report.Markdown(rep)
	if err != nil {
		return nil, err
	}
	for _, f := range md {
		ct := "text/markdown; charset=utf-8"
		if strings.HasSuffix(f.Name, ".svg") {
			ct = "image/svg+xml"
		}
		add(memObject(f.Name, ct, f.Data))
	}
	html, err := report.HTML(rep)
	if err != nil {
		return nil, err
	}
	add(memObject(report.HTMLName, "text/html; charset=utf-8", html))
	js, err := report.JSON(rep)
	if err != nil {
		return nil, err
	}
	add(memObject("analysis/"+report.JSONName, "application/json", js))
	sections, err := splitSections(js)
	if err != nil {
		return nil, err
	}
	for _, s := range sections {
		add(memObject("analysis/"+s.name+".json", "application/json", s.data))
	}

	inputs, err := inputs(rec)
	if err != nil {
		return nil, err
	}
	for _, o := range inputs {
		add(o)
	}

	o, err := fileObject(b.cfg.TempDir, "capture.fpcap", "application/octet-stream", func(w io.Writer) error {
		// The stored bytes, copied out so no transaction stays open during
		// the upload; their SHA-256 is the record's.
		return b.cfg.Store.View(ctx, func(r *store.Reader) error {
			_, err := r.WriteBlob(id, w)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	add(o)
	o, err = fileObject(b.cfg.TempDir, "trace.json.gz", "application/gzip", func(w io.Writer) error {
		return export.Write(w, export.TraceJSONGz, c)
	})
	if err != nil {
		return nil, err
	}
	add(o)

	slices.SortFunc(set.objects, func(a, b *object) int { return strings.Compare(a.name, b.name) })
	var sums bytes.Buffer
	for _, o := range set.objects {
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(o.sha256), o.name)
	}
	add(memObject(ChecksumsName, "text/plain; charset=utf-8", sums.Bytes()))
	return set, nil
}

// namedJSON is a file of the analysis folder.
type namedJSON struct {
	name string
	data []byte
}

// splitSections returns each section of a JSON report as its own indented
// document, named by its key, in display order.
func splitSections(reportJSON []byte) ([]namedJSON, error) {
	var r struct {
		Order    []string                   `json:"order"`
		Sections map[string]json.RawMessage `json:"sections"`
	}
	if err := json.Unmarshal(reportJSON, &r); err != nil {
		return nil, fmt.Errorf("split report sections: %w", err)
	}
	var out []namedJSON
	seen := map[string]bool{"report": true}
	for _, k := range r.Order {
		name := fileName(k)
		for i := 2; seen[name]; i++ {
			name = fmt.Sprintf("%s_%d", fileName(k), i)
		}
		seen[name] = true
		var b bytes.Buffer
		if err := json.Indent(&b, r.Sections[k], "", "  "); err != nil {
			return nil, fmt.Errorf("split report section %q: %w", k, err)
		}
		b.WriteByte('\n')
		out = append(out, namedJSON{name: name, data: b.Bytes()})
	}
	return out, nil
}

// inputs are what the capture was asked for and where it came from:
// inputs/capture_options.json, inputs/workload.json (when there was one) and
// inputs/context.json (the record's fields and the capture's context).
func inputs(rec *store.Capture) ([]*object, error) {
	opts := ingest.Options(rec)
	m := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true, EmitUnpopulated: true}
	var out []*object
	if w := opts.GetWorkload(); w != nil {
		b, err := m.Marshal(w)
		if err != nil {
			return nil, fmt.Errorf("encode workload: %w", err)
		}
		out = append(out, memObject("inputs/workload.json", "application/json", append(b, '\n')))
		opts.Workload = nil // in its own file
	}
	b, err := m.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("encode capture options: %w", err)
	}
	out = append(out, memObject("inputs/capture_options.json", "application/json", append(b, '\n')))
	ctxDoc := struct {
		CaptureID  string            `json:"capture_id"`
		AgentID    string            `json:"agent_id"`
		Host       string            `json:"host,omitempty"`
		Labels     map[string]string `json:"labels"`
		Trigger    string            `json:"trigger,omitempty"`
		FleetID    string            `json:"fleet_id,omitempty"`
		ScheduleID string            `json:"schedule_id,omitempty"`
		Committed  string            `json:"committed"`
		Status     string            `json:"status"`
		SizeBytes  int64             `json:"size_bytes"`
		SHA256     string            `json:"fpcap_sha256"`
		Context    map[string]string `json:"context"`
	}{
		CaptureID: rec.ID, AgentID: rec.AgentID, Host: rec.Host, Labels: rec.Labels, Trigger: rec.Trigger,
		FleetID: rec.FleetID, ScheduleID: rec.ScheduleID, Committed: time.Unix(0, rec.CreatedNS).UTC().Format(time.RFC3339Nano),
		Status: rec.Status, SizeBytes: rec.SizeBytes, SHA256: hex.EncodeToString(rec.SHA256), Context: rec.Context,
	}
	if ctxDoc.Labels == nil {
		ctxDoc.Labels = map[string]string{}
	}
	if ctxDoc.Context == nil {
		ctxDoc.Context = map[string]string{}
	}
	b, err = json.MarshalIndent(ctxDoc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode context: %w", err)
	}
	out = append(out, memObject("inputs/context.json", "application/json", append(b, '\n')))
	return out, nil
}
