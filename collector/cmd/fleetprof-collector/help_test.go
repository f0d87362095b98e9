package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestHelp: flags spelled --flag as the README writes them, each default
// said once.
func TestHelp(t *testing.T) {
	var b strings.Builder
	_, _, err := parseFlags([]string{"--help"}, &b)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseFlags(--help) = %v, want ErrHelp", err)
	}
	for _, want := range []string{"\n  --data ", "\n  --listen "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if strings.Contains(b.String(), "\n  -data") {
		t.Errorf("help spells -data, want --data")
	}
	for line := range strings.Lines(b.String()) {
		if strings.Count(line, "(default ") > 1 {
			t.Errorf("help says the default twice: %q", line)
		}
	}
}
