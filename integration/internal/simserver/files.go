package simserver

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	xplanev1 "github.com/fleetprof/fleetprof/proto/fleetprof/xplane/v1"

	"github.com/fleetprof/fleetprof/plugins/capture/tracejsonw"
	"github.com/fleetprof/fleetprof/plugins/capture/xplanew"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// RunFolderLayout is the run folder's name format (local time), as the
// profiler names it under <output_dir>/plugins/profile/.
const RunFolderLayout = "2006_01_02_15_04_05"

// FileHost returns the host name as it appears in profile file names: ':'
// becomes '_'.
func FileHost(host string) string { return strings.ReplaceAll(host, ":", "_") }

// writeRunFolder writes c as <outputDir>/plugins/profile/<now>/<host>.xplane.pb
// (with the session on a Task Environment plane, as real JAX writes it) and
// <host>.trace.json.gz (without it, as the TSL converter writes it), and
// returns the folder and the files. With
// emptyXPlane the .xplane.pb has 0 bytes, as sglang-jax writes an XSpace
// over 2 GB while reporting success.
func writeRunFolder(outputDir, host string, c *capture.Capture, now time.Time, emptyXPlane bool) (string, []string, error) {
	dir := filepath.Join(outputDir, "plugins", "profile", now.Local().Format(RunFolderLayout))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("simserver: write run folder: %w", err)
	}
	base := filepath.Join(dir, FileHost(host))
	xp, js := base+".xplane.pb", base+".trace.json.gz"
	// Both writers only read c: write the two files at once.
	var g errgroup.Group
	g.Go(func() error {
		if emptyXPlane {
			return writeFile(xp, func(*os.File) error { return nil })
		}
		return writeXPlaneFile(xp, c)
	})
	g.Go(func() error {
		// The TSL converter's trace JSON does not record the session.
		noSession := *c
		noSession.Session = capture.Interval{}
		return writeFile(js, func(f *os.File) error {
			// The compressor writes a few hundred bytes at a time.
			out := bufio.NewWriterSize(f, 256<<10)
			zw := gzip.NewWriter(out)
			if err := tracejsonw.Write(zw, &noSession); err != nil {
				return err
			}
			if err := zw.Close(); err != nil {
				return err
			}
			return out.Flush()
		})
	})
	if err := g.Wait(); err != nil {
		return dir, nil, err
	}
	return dir, []string{xp, js}, nil
}

// writeXPlaneFile writes c as an XSpace file.
func writeXPlaneFile(path string, c *capture.Capture) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("simserver: write %s: %w", path, err)
	}
	return writeFile(path, func(f *os.File) error {
		bw := bufio.NewWriterSize(f, 1<<20)
		if err := xplanew.Write(bw, c); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// writeFile creates path and fills it with fill.
func writeFile(path string, fill func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("simserver: write %s: %w", path, err)
	}
	if err := fill(f); err != nil {
		f.Close()
		return fmt.Errorf("simserver: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("simserver: write %s: %w", path, err)
	}
	return nil
}

// toXSpace converts c into the generated XSpace message, through the
// xplane writer's bytes.
func toXSpace(c *capture.Capture) (*xplanev1.XSpace, error) {
	var buf bytes.Buffer
	if err := xplanew.Write(&buf, c); err != nil {
		return nil, err
	}
	space := &xplanev1.XSpace{}
	if err := proto.Unmarshal(buf.Bytes(), space); err != nil {
		return nil, fmt.Errorf("simserver: decode xspace: %w", err)
	}
	return space, nil
}
