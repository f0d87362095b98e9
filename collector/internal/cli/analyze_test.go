package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
)

func TestRulesOption(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("rules:\n  - component: copies\n    category: copy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("rules:\n  - component: x\n    kernel: \"(\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"seed", "default"} {
		if got, err := rulesOption(name); err != nil || got != name {
			t.Errorf("rulesOption(%q) = %q, %v; want the name itself", name, got, err)
		}
	}
	if got, err := rulesOption(good); err != nil || !strings.Contains(got, "category: copy") {
		t.Errorf("rulesOption(file) = %q, %v; want its contents", got, err)
	}
	if _, err := rulesOption(bad); !errors.Is(err, bucket.ErrInvalid) || !strings.Contains(err.Error(), "rules[0].kernel (line 3)") {
		t.Errorf("rulesOption(bad file) err = %v, want bucket.ErrInvalid naming rules[0].kernel", err)
	}
	if _, err := rulesOption(filepath.Join(dir, "seeed")); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "default, seed") {
		t.Errorf("rulesOption(missing) err = %v, want ErrNotExist naming the built-in sets", err)
	}
}
