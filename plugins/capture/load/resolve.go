package load

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// runName matches a run folder's name as the profiler writes it, in local time.
var runName = regexp.MustCompile(`^\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}$`)

// captureSuffixes in order of preference for one host.
var captureSuffixes = []string{".xplane.pb", ".fpcap", ".trace.json.gz", ".trace.json", ".json.gz", ".json"}

// perfettoTrace is the file jax writes beside the hosts' own files when
// asked for a Perfetto trace (create_perfetto_trace=True): the same run,
// one more time. It counts as a host only in a folder without them.
const perfettoTrace = "perfetto_trace"

// sideSuffixes end the profiler's other JSON outputs in a run folder
// (TensorFlow's memory profiles), which are not traces.
var sideSuffixes = []string{".memory_profile.json.gz", ".memory_profile.json"}

// isCaptureName reports whether a run folder's file name is a capture's,
// and its rank in captureSuffixes (lower is preferred).
func isCaptureName(name string) (rank int, ok bool) {
	for _, suf := range sideSuffixes {
		if strings.HasSuffix(name, suf) {
			return 0, false
		}
	}
	for rank, suf := range captureSuffixes {
		if strings.HasSuffix(name, suf) {
			return rank, true
		}
	}
	return 0, false
}

func isXPlaneName(p string) bool { return strings.HasSuffix(p, ".xplane.pb") }

// HostFile is one host's best capture file in a run folder.
type HostFile struct {
	// Host is the host name taken from the file name.
	Host string
	// Path is the file.
	Path string
}

// Hosts lists the hosts of the run folder that path means (a run folder, or
// a profile root, where run picks a run folder or the newest is taken), with
// each host's preferred file: the .xplane.pb, else the JSON. A plain file is
// one host.
func Hosts(path, run string) ([]HostFile, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if !st.IsDir() {
		return []HostFile{{Host: hostOf(filepath.Base(path)), Path: path}}, nil
	}
	dir, err := runFolder(path, run)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	best := map[string]int{}
	files := map[string]string{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		rank, ok := isCaptureName(name)
		if !ok {
			continue
		}
		h := hostOf(name)
		if r, ok := best[h]; !ok || rank < r {
			best[h], files[h] = rank, filepath.Join(dir, name)
		}
	}
	if len(files) > 1 {
		delete(files, perfettoTrace)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoCapture, dir)
	}
	var out []HostFile
	for h, p := range files {
		out = append(out, HostFile{Host: h, Path: p})
	}
	slices.SortFunc(out, func(a, b HostFile) int { return strings.Compare(a.Host, b.Host) })
	return out, nil
}

// Resolve returns the one file that path means; see Hosts. host picks a host
// when a run folder holds several.
func Resolve(path, run, host string) (string, error) {
	hs, err := Hosts(path, run)
	if err != nil {
		return "", err
	}
	if host != "" {
		for _, h := range hs {
			if h.Host == host {
				return h.Path, nil
			}
		}
		return "", fmt.Errorf("load: no host %q in %s (hosts: %s)", host, path, hostNames(hs))
	}
	if len(hs) > 1 {
		return "", fmt.Errorf("%w (hosts: %s)", ErrManyHosts, hostNames(hs))
	}
	return hs[0].Path, nil
}

func hostNames(hs []HostFile) string {
	var s []string
	for _, h := range hs {
		s = append(s, h.Host)
	}
	return strings.Join(s, ", ")
}

func hostOf(name string) string {
	for _, suf := range captureSuffixes {
		if strings.HasSuffix(name, suf) {
			return strings.TrimSuffix(strings.TrimSuffix(name, suf), ".trace")
		}
	}
	return name
}

// runFolder finds the run folder a directory means: itself if it holds
// capture files; else among its run folders (directly or under
// plugins/profile/), the one named run or the newest.
func runFolder(dir, run string) (string, error) {
	if run == "" && holdsCaptures(dir) {
		return dir, nil
	}
	for _, root := range []string{filepath.Join(dir, "plugins", "profile"), dir} {
		ents, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		var runs []string
		for _, e := range ents {
			if e.IsDir() && runName.MatchString(e.Name()) {
				runs = append(runs, e.Name())
			}
		}
		if len(runs) == 0 {
			continue
		}
		slices.Sort(runs)
		if run == "" {
			return filepath.Join(root, runs[len(runs)-1]), nil
		}
		if slices.Contains(runs, run) {
			return filepath.Join(root, run), nil
		}
		return "", fmt.Errorf("%w %q in %s (runs: %s)", ErrNoRun, run, root, strings.Join(runs, ", "))
	}
	if run != "" {
		return "", fmt.Errorf("%w %q under %s", ErrNoRun, run, dir)
	}
	return "", fmt.Errorf("%w in %s", ErrNoCapture, dir)
}

func holdsCaptures(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if _, ok := isCaptureName(e.Name()); ok {
			return true
		}
	}
	return false
}
