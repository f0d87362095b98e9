package backup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/storage"

	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// SummaryVersion is the folder of the summary rows' schema version
// (insight.SchemaVersion): PREFIX/summaries/v1/.
const SummaryVersion = "v1"

// Summaries gives a capture's summary as one line of newline-delimited
// JSON (the collector's watch computes it once when the capture arrives).
type Summaries interface {
	// SummaryLine returns the capture's summary row, ending in a newline.
	SummaryLine(ctx context.Context, id string) ([]byte, error)
}

// SummaryName is the object name of a capture's summary row, relative to
// the prefix: summaries/v1/dt=<UTC commit date>/<capture id>.ndjson. The
// dt= folder lets an analytics engine partition the rows by day (a BigQuery
// external table with hive partitioning, docs/fleet.md).
func SummaryName(c *store.Capture) string {
	day := time.Unix(0, c.CreatedNS).UTC().Format("2006-01-02")
	return "summaries/" + SummaryVersion + "/dt=" + day + "/" + c.ID + ".ndjson"
}

// uploadSummary uploads a capture's summary row, after its folder, unless
// the same bytes are there already. No Summaries configured, nothing to do.
func (b *Backup) uploadSummary(ctx context.Context, id string, res *Result) error {
	if b.cfg.Summaries == nil {
		return nil
	}
	var rec *store.Capture
	err := b.cfg.Store.View(ctx, func(r *store.Reader) error {
		var err error
		rec, err = r.Capture(id)
		return err
	})
	if err != nil {
		return err
	}
	line, err := b.cfg.Summaries.SummaryLine(ctx, id)
	if err != nil {
		return fmt.Errorf("summary of %s: %w", id, err)
	}
	o := memObject(SummaryName(rec), "application/x-ndjson", line)
	name := b.name(o.name)
	attrs, err := b.bucket.Object(name).Attrs(ctx)
	switch {
	case err == nil && attrs.Size == o.size && string(attrs.MD5) == string(o.md5):
		res.Unchanged++
		b.objects.WithLabelValues("unchanged").Inc()
		return nil
	case err != nil && !errors.Is(err, storage.ErrObjectNotExist):
		return fmt.Errorf("stat %s: %w", b.URL(name), err)
	}
	if err := b.upload(ctx, name, o); err != nil {
		return err
	}
	res.Uploaded++
	res.Bytes += o.size
	b.objects.WithLabelValues("uploaded").Inc()
	b.bytes.Add(float64(o.size))
	return nil
}
