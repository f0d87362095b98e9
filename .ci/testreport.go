// Command testreport reads `go test -json` on stdin and prints what a plain
// `go test` would have printed (each package's closing "ok"/"FAIL" line,
// the output of failed tests, build errors), then lists every skipped test
// with its reason, loudly, and the command that installs a missing tool,
// on stderr, so stdout stays what go test prints.
//
//	go test -json ./... | go run .ci/testreport.go
//
// It exits 1 when a test or package failed, so a pipeline without pipefail
// still fails; the Makefile also sets pipefail so go test's own status wins.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of test2json (go doc test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// installs maps words of a skip reason to the command that installs the tool.
var installs = []struct{ word, cmd string }{
	{"chromium", "apt-get install -y chromium"},
	{"rsvg-convert", "apt-get install -y librsvg2-bin"},
	{"systemd-analyze", "apt-get install -y systemd"},
	{"curl", "apt-get install -y curl"},
	{"sha256sum", "apt-get install -y coreutils"},
	{"shared test data", "the shared folder (../shared/testdata) must sit beside the checkout"},
	{"fixture", "the shared folder (../shared/testdata) must sit beside the checkout"},
}

type skip struct{ pkg, test, reason string }

func main() {
	failed, err := report(os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// report copies the plain go test output of in to out, then lists the skips
// on errOut. It reports whether anything failed.
func report(in io.Reader, out, errOut io.Writer) (bool, error) {
	w := bufio.NewWriter(out)
	pkgOut := map[string]*strings.Builder{} // a package's own lines and its failed tests' output
	testOut := map[string]*strings.Builder{}
	var skips []skip
	failed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// Not test2json (e.g. a build error): pass it on as it is.
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		key := e.Package + "\x00" + e.Test
		buf := func(m map[string]*strings.Builder, k string) *strings.Builder {
			if m[k] == nil {
				m[k] = &strings.Builder{}
			}
			return m[k]
		}
		switch {
		case e.Action == "output" && e.Test != "":
			if !verboseOnly(e.Output) {
				buf(testOut, key).WriteString(e.Output)
			}
		case e.Action == "build-output":
			// Compiler errors: plain go test prints them on stderr, first.
			w.Flush()
			io.WriteString(errOut, e.Output)
		case e.Action == "output":
			buf(pkgOut, e.Package).WriteString(e.Output)
		case e.Action == "build-fail":
			failed = true
		case e.Test != "" && (e.Action == "pass" || e.Action == "skip" || e.Action == "fail"):
			text := str(testOut[key])
			delete(testOut, key)
			switch e.Action {
			case "skip":
				skips = append(skips, skip{e.Package, e.Test, reason(text)})
			case "fail":
				failed = true
				buf(pkgOut, e.Package).WriteString(failFirst(text))
			}
		case e.Test == "" && (e.Action == "pass" || e.Action == "skip" || e.Action == "fail"):
			text := str(pkgOut[e.Package])
			delete(pkgOut, e.Package)
			if e.Action == "fail" {
				failed = true
				w.WriteString(text)
				continue
			}
			// A passing package prints only its closing line.
			for l := range strings.Lines(text) {
				if strings.HasPrefix(l, "ok  ") || strings.HasPrefix(l, "?   ") {
					w.WriteString(l)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		w.Flush()
		return true, fmt.Errorf("read go test -json: %w", err)
	}
	for _, text := range pkgOut { // a package with no closing event (killed)
		w.WriteString(text.String())
	}
	if failed {
		w.WriteString("FAIL\n") // go test's last line when anything failed
	}
	if err := w.Flush(); err != nil {
		return true, fmt.Errorf("write: %w", err)
	}
	writeSkips(errOut, skips)
	return failed, nil
}

// failFirst moves a failed test's "--- FAIL" line in front of its log
// lines, where go test without -v prints it.
func failFirst(text string) string {
	var head, rest strings.Builder
	for l := range strings.Lines(text) {
		if strings.HasPrefix(strings.TrimSpace(l), "--- FAIL") && head.Len() == 0 {
			head.WriteString(l)
			continue
		}
		rest.WriteString(l)
	}
	return head.String() + rest.String()
}

// str is b's text; "" for nil.
func str(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	return b.String()
}

// verboseOnly reports whether a test's output line is one go test prints
// only with -v.
func verboseOnly(l string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- SKIP"} {
		if strings.HasPrefix(strings.TrimSpace(l), p) {
			return true
		}
	}
	return false
}

// reason is a skipped test's own log lines, on one line.
func reason(text string) string {
	var parts []string
	for l := range strings.Lines(text) {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}

// writeSkips lists the skipped tests, grouped by the install command that
// would let them run.
func writeSkips(w io.Writer, skips []skip) {
	if len(skips) == 0 {
		return
	}
	sort.Slice(skips, func(i, j int) bool {
		if skips[i].pkg != skips[j].pkg {
			return skips[i].pkg < skips[j].pkg
		}
		return skips[i].test < skips[j].test
	})
	bar := strings.Repeat("=", 72)
	fmt.Fprintf(w, "\n%s\nSKIPPED: %d tests did not run\n%s\n", bar, len(skips), bar)
	fixes := map[string]bool{}
	for _, s := range skips {
		fmt.Fprintf(w, "SKIP %s %s: %s\n", s.pkg, s.test, s.reason)
		low := strings.ToLower(s.reason)
		for _, in := range installs {
			if strings.Contains(low, in.word) {
				fixes[in.cmd] = true
				break
			}
		}
	}
	if len(fixes) > 0 {
		cmds := make([]string, 0, len(fixes))
		for c := range fixes {
			cmds = append(cmds, c)
		}
		sort.Strings(cmds)
		fmt.Fprintf(w, "\nTo run them:\n")
		for _, c := range cmds {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	fmt.Fprintln(w, bar)
}
