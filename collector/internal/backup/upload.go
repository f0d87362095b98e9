package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

// NewClient returns a Cloud Storage client. Credentials come from Google's
// standard mechanisms (Application Default Credentials: the
// GOOGLE_APPLICATION_CREDENTIALS file, gcloud's, or the GCE metadata
// server). A non-empty endpoint (e.g. "http://127.0.0.1:4443") sends
// requests to an emulator without credentials instead; so does the
// STORAGE_EMULATOR_HOST variable, which the client reads itself.
func NewClient(ctx context.Context, endpoint string) (*storage.Client, error) {
	var opts []option.ClientOption
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimRight(endpoint, "/")+"/storage/v1/"), option.WithoutAuthentication())
	}
	if endpoint != "" || os.Getenv("STORAGE_EMULATOR_HOST") != "" {
		opts = append(opts, storage.WithJSONReads()) // emulators serve the JSON API
	}
	c, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("backup: cloud storage client: %w", err)
	}
	return c, nil
}

// Result is what backing up one capture did.
type Result struct {
	// Folder is the capture's folder (object name prefix, no trailing '/').
	Folder string
	// Uploaded and Unchanged count the objects sent and those already in
	// the bucket with the same MD5.
	Uploaded, Unchanged int
	// Bytes is the size of the objects sent.
	Bytes int64
}

// Capture uploads one committed, analyzed capture's minimal set, skipping
// objects already in the bucket with the same content, checksums.txt last,
// then its summary row (with Config.Summaries). It does not change the
// capture's backup status.
func (b *Backup) Capture(ctx context.Context, id string) (Result, error) {
	set, err := b.build(ctx, id)
	if err != nil {
		return Result{}, fmt.Errorf("back up %s: %w", id, err)
	}
	defer set.remove()
	res := Result{Folder: set.folder}
	have, err := b.list(ctx, set.folder+"/")
	if err != nil {
		return res, fmt.Errorf("back up %s: %w", id, err)
	}
	for _, o := range set.objects {
		name := set.folder + "/" + o.name
		if a := have[name]; a != nil && bytes.Equal(a.MD5, o.md5) && a.Size == o.size {
			res.Unchanged++
			b.objects.WithLabelValues("unchanged").Inc()
			continue
		}
		if err := b.upload(ctx, name, o); err != nil {
			return res, fmt.Errorf("back up %s: %w", id, err)
		}
		res.Uploaded++
		res.Bytes += o.size
		b.objects.WithLabelValues("uploaded").Inc()
		b.bytes.Add(float64(o.size))
	}
	if err := b.uploadSummary(ctx, id, &res); err != nil {
		return res, fmt.Errorf("back up %s: %w", id, err)
	}
	return res, nil
}

// list returns the attributes of the objects under prefix, by name.
func (b *Backup) list(ctx context.Context, prefix string) (_ map[string]*storage.ObjectAttrs, err error) {
	q := &storage.Query{Prefix: prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "MD5", "CRC32C"}); err != nil {
		return nil, err
	}
	ctx, done := b.call(ctx, "list "+b.URL(prefix), 0)
	defer func() { err = done(err) }()
	out := map[string]*storage.ObjectAttrs{}
	it := b.bucket.Objects(ctx, q)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list gs://%s/%s: %w", b.cfg.Bucket, prefix, err)
		}
		out[a.Name] = a
	}
}

// upload writes one object, asking the service to check its MD5 and CRC32C.
func (b *Backup) upload(ctx context.Context, name string, o *object) error {
	r, err := o.open()
	if err != nil {
		return err
	}
	defer r.Close()
	ctx, done := b.call(ctx, "upload "+b.URL(name), o.size)
	w := b.bucket.Object(name).NewWriter(ctx)
	w.ContentType = o.contentType
	w.MD5 = o.md5
	w.CRC32C = o.crc32c
	w.SendCRC32C = true
	// One buffer the size of the object (in 256 KiB steps) rather than the
	// default 16 MiB for every small report file.
	w.ChunkSize = int(min(16<<20, (o.size/(256<<10)+1)*(256<<10)))
	if _, err := io.Copy(w, r); err != nil {
		err = done(err) // cancels the context first: the upload is abandoned
		_ = w.Close()
		return fmt.Errorf("upload %s: %w", b.URL(name), err)
	}
	if err := done(w.Close()); err != nil {
		return fmt.Errorf("upload %s: %w", b.URL(name), err)
	}
	return nil
}
