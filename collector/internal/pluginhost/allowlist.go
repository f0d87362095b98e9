package pluginhost

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// AllowlistFile is the allowlist's name in a plugins folder.
const AllowlistFile = "plugins.sha256"

// maxAllowlistBytes bounds an allowlist file.
const maxAllowlistBytes = 1 << 20

// Allowlist maps a plugin's file name to the sha256 of its binary.
//
// Its file is what `sha256sum` prints, run inside the plugins folder: one
// line per plugin, the sum in hexadecimal, two spaces (or " *"), the file
// name. Blank lines and lines starting with '#' are ignored.
//
//	cd bin/plugins && sha256sum top_ops idle > plugins.sha256
type Allowlist map[string][sha256.Size]byte

// AllowlistError says which line of an allowlist is wrong and how.
type AllowlistError struct {
	// Path is the allowlist file.
	Path string
	// Line is the line number, from 1.
	Line int
	// Reason says what is wrong and what to do.
	Reason string
}

// Error implements error.
func (e *AllowlistError) Error() string {
	return fmt.Sprintf("%v: %s:%d: %s", ErrBadAllowlist, e.Path, e.Line, e.Reason)
}

// Unwrap returns ErrBadAllowlist.
func (e *AllowlistError) Unwrap() error { return ErrBadAllowlist }

// ReadAllowlist reads an allowlist file.
func ReadAllowlist(path string) (Allowlist, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist: write it with `cd %s && sha256sum <plugin>... > %s`",
			ErrNoAllowlist, path, filepath.Dir(path), filepath.Base(path))
	}
	if err != nil {
		return nil, fmt.Errorf("read allowlist: %w", err)
	}
	defer f.Close()
	return ParseAllowlist(f, path)
}

// ParseAllowlist parses an allowlist from r; path names it in errors.
func ParseAllowlist(r io.Reader, path string) (Allowlist, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAllowlistBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read allowlist %s: %w", path, err)
	}
	if len(data) > maxAllowlistBytes {
		return nil, &AllowlistError{Path: path, Line: 0, Reason: fmt.Sprintf("larger than %d bytes", maxAllowlistBytes)}
	}
	a := make(Allowlist)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxAllowlistBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, args ...any) error {
			return &AllowlistError{Path: path, Line: n, Reason: fmt.Sprintf(format, args...)}
		}
		sumHex, name, ok := strings.Cut(line, " ")
		if !ok {
			return nil, bad("want `<sha256 hex>  <file name>`, as sha256sum prints")
		}
		name = strings.TrimPrefix(strings.TrimLeft(name, " "), "*")
		name = strings.TrimPrefix(name, "./")
		sum, err := hex.DecodeString(sumHex)
		if err != nil || len(sum) != sha256.Size {
			return nil, bad("%q is not a sha256 in hexadecimal (64 digits)", sumHex)
		}
		if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			return nil, bad("%q is not a file name: list plugins by name, from inside their folder", name)
		}
		s := [sha256.Size]byte(sum)
		if old, dup := a[name]; dup && old != s {
			return nil, bad("%s is listed twice with different sums", name)
		}
		a[name] = s
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read allowlist %s: %w", path, err)
	}
	return a, nil
}

// Plugin is one plugin binary found in a plugins folder.
type Plugin struct {
	// Name is the binary's file name.
	Name string
	// Path is the binary's absolute path.
	Path string
	// SHA256 is the sum the allowlist gives it (and the file had when it
	// was discovered). The host checks it again when it starts the plugin.
	SHA256 [sha256.Size]byte
	// Err, when set, is why the plugin is refused (ErrNotAllowed,
	// ErrChecksum); the host reports it in the plugin's section and does
	// not run it.
	Err error
}

// Discover finds the plugins in dir and checks each against the allowlist
// dir/plugins.sha256 (see Allowlist). Plugins are the executable regular
// files of dir (symbolic links followed), except the allowlist and names
// starting with '.'; they are returned sorted by name. A plugin missing from
// the allowlist, or whose sha256 differs, is returned with Err set. A folder
// with no plugins needs no allowlist.
func Discover(dir string) ([]Plugin, error) {
	return DiscoverAllowlist(dir, filepath.Join(dir, AllowlistFile))
}

// DiscoverAllowlist is Discover with the allowlist read from allowlist, for
// setups that keep it apart from the binaries (writable by fewer people).
func DiscoverAllowlist(dir, allowlist string) ([]Plugin, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("discover plugins: %w", err)
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("discover plugins: %w", err)
	}
	allowAbs, _ := filepath.Abs(allowlist)
	var out []Plugin
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(abs, name)
		if strings.HasPrefix(name, ".") || path == allowAbs {
			continue
		}
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		out = append(out, Plugin{Name: name, Path: path})
	}
	if len(out) == 0 {
		return nil, nil
	}
	allow, err := ReadAllowlist(allowlist)
	if err != nil {
		return nil, err
	}
	for i := range out {
		p := &out[i]
		want, ok := allow[p.Name]
		if !ok {
			p.Err = fmt.Errorf("%w: %s is not listed in %s: if you trust it, add it with `cd %s && sha256sum %s >> %s`",
				ErrNotAllowed, p.Name, allowlist, abs, p.Name, filepath.Base(allowlist))
			continue
		}
		p.SHA256 = want
		got, err := fileSHA256(p.Path)
		if err != nil {
			p.Err = fmt.Errorf("%w: %s: %w", ErrChecksum, p.Name, err)
			continue
		}
		if got != want {
			p.Err = fmt.Errorf("%w: %s has sha256 %x, %s lists %x: the binary changed since it was allowed; check it and update the line",
				ErrChecksum, p.Name, got, allowlist, want)
		}
	}
	slices.SortFunc(out, func(a, b Plugin) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// fileSHA256 returns the sha256 of a file's contents.
func fileSHA256(path string) ([sha256.Size]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [sha256.Size]byte{}, err
	}
	return [sha256.Size]byte(h.Sum(nil)), nil
}
