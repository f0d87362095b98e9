package filecmd

import "testing"

func TestHandles(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"trim", "a.xplane.pb", "-o", "b.trace.json.gz"}, true},
		{[]string{"trim", "a.xplane.pb", "-o", "b.trace.json.gz", "--gap", "2ms", "-q", "-v"}, true},
		{[]string{"inspect", "a.xplane.pb", "--format", "json"}, true},
		{[]string{"trim", "--help"}, true},
		{[]string{"trim"}, true}, // the usage error is the front's to give
		{[]string{"trim", "a", "--collector", "x:1"}, false},
		{[]string{"trim", "a", "--gap", "soon"}, false},
		{[]string{"-v", "trim", "a"}, false},
		{[]string{"captures"}, false},
		{[]string{"help", "trim"}, false},
		{[]string{"--help"}, false},
	} {
		if got := Handles(c.args); got != c.want {
			t.Errorf("Handles(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
