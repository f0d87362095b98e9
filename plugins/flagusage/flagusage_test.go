package flagusage

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestPrintDefaults(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var other bytes.Buffer
	fs.SetOutput(&other)
	fs.String("data", "", "the data folder")
	fs.Duration("grace", 30*time.Second, "time before SIGKILL")
	fs.Bool("o", false, "one letter")
	fs.Int("level", -1, "a level with\na second line mentioning -level")
	var b bytes.Buffer
	PrintDefaults(&b, fs)
	got := b.String()
	for _, want := range []string{
		"  --data string\n",
		"  --grace duration\n",
		"  -o\tone letter\n",
		"  --level int\n",
		"    \ta second line mentioning -level (default -1)\n", // help text is left alone
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\n  -data") || strings.Contains(got, "\n  -grace") {
		t.Errorf("a long flag kept one dash:\n%s", got)
	}
	if other.Len() != 0 {
		t.Errorf("wrote to the flag set's own output: %q", other.String())
	}
	if fs.Output() != &other {
		t.Error("the flag set's output was not restored")
	}
}
