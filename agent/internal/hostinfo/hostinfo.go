// Package hostinfo gathers what a capture says about where it came from:
// the host name, labels, and on GCE the metadata server's zone, instance
// name and accelerator type.
package hostinfo

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/compute/metadata"
)

// DefaultMetadataURL is the GCE metadata server's base.
const DefaultMetadataURL = "http://metadata.google.internal/computeMetadata/v1"

// MetadataURLEnv overrides the metadata server's base URL (tests, or
// "off" to skip it).
const MetadataURLEnv = "FLEETPROF_METADATA_URL"

// Options configure Collect. The zero value works.
type Options struct {
	// MetadataURL is the metadata server's base. Empty means the
	// environment's FLEETPROF_METADATA_URL, else DefaultMetadataURL; "off"
	// skips it.
	MetadataURL string
	// Timeout bounds all metadata requests together. Zero means 1s.
	Timeout time.Duration
	// HTTPClient makes the requests. Nil means a fresh client.
	HTTPClient *http.Client
}

// Info is what Collect found.
type Info struct {
	// Host is the host name.
	Host string
	// Zone, Instance and Accelerator come from the GCE metadata server;
	// empty when it is unreachable.
	Zone, Instance, Accelerator string
}

// Context returns the info as capture context entries.
func (i Info) Context() map[string]string {
	m := map[string]string{"host": i.Host}
	if i.Zone != "" {
		m["gce.zone"] = i.Zone
	}
	if i.Instance != "" {
		m["gce.instance"] = i.Instance
	}
	if i.Accelerator != "" {
		m["gce.accelerator_type"] = i.Accelerator
	}
	return m
}

// Labels returns the GCE facts as labels (zone, instance, accelerator).
func (i Info) Labels() map[string]string {
	m := map[string]string{}
	if i.Zone != "" {
		m["zone"] = i.Zone
	}
	if i.Instance != "" {
		m["instance"] = i.Instance
	}
	if i.Accelerator != "" {
		m["accelerator"] = i.Accelerator
	}
	return m
}

// Collect gathers the host's info. The metadata server is asked with a
// short timeout and skipped silently when unreachable.
func Collect(ctx context.Context, opts Options) Info {
	var info Info
	info.Host, _ = os.Hostname()
	base := opts.MetadataURL
	if base == "" {
		base = os.Getenv(MetadataURLEnv)
	}
	if base == "" {
		base = DefaultMetadataURL
	}
	if base == "off" {
		return info
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	// The metadata client asks http://169.254.169.254/computeMetadata/v1/…;
	// the transport sends that to base instead.
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	hc2 := *hc
	hc2.Transport = rebase{base: strings.TrimRight(base, "/"), rt: rt}
	mc := metadata.NewWithOptions(&metadata.Options{Client: &hc2})
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	get := func(path string) string {
		v, err := mc.GetWithContext(ctx, path)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(v)
	}
	// The zone comes as projects/<number>/zones/<zone>.
	if z := get("instance/zone"); z != "" {
		info.Zone = z[strings.LastIndex(z, "/")+1:]
	}
	if info.Zone == "" {
		return info // not on GCE: skip the rest
	}
	info.Instance = get("instance/name")
	info.Accelerator = get("instance/attributes/accelerator-type")
	return info
}

// rebase is an http.RoundTripper that sends the metadata client's requests
// to base: base plus the path after /computeMetadata/v1.
type rebase struct {
	base string
	rt   http.RoundTripper
}

func (r rebase) RoundTrip(req *http.Request) (*http.Response, error) {
	u, err := url.Parse(r.base + strings.TrimPrefix(req.URL.Path, "/computeMetadata/v1"))
	if err != nil {
		return nil, fmt.Errorf("metadata URL %s: %w", r.base, err)
	}
	req = req.Clone(req.Context())
	req.URL, req.Host = u, u.Host
	resp, err := r.rt.RoundTrip(req)
	if err == nil && resp.Header.Get("Metadata-Flavor") != "Google" {
		// Not a metadata server: what answered is not metadata.
		resp.StatusCode, resp.Status = http.StatusNotFound, "404 not a metadata server"
	}
	return resp, err
}
