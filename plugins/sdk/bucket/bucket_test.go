package bucket

import (
	"errors"
	"os"
	"path/filepath"
	"regexp/syntax"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefault(t *testing.T) {
	rs := Default()
	tests := []struct {
		op, typ, want string
	}{
		{"jit(jitted_run_model)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/RPA-bq_32-bkvp_512-p_1-/pallas_call", "pallas_call", "attention.flash"},
		{"jit(jitted_run_model)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/transpose", "transpose", "attention.flash"},
		{"jit(jitted_run_model)/QWen3Attention/FlashAttention/reshape", "reshape", "attention.flash"},
		{"jit(f)/x/rpa-bq_32/pallas_call", "pallas_call", "attention.flash"},
		{"jit(jitted_run_model)/QWen3Attention/q_proj/dot_general", "dot_general", "attention.matmul"},
		{"jit(jitted_run_model)/QWen3Attention/q_norm/reduce_sum", "reduce_sum", "attention.misc"},
		{"jit(jitted_run_model)/QWen3Attention/q_proj/dot_general_x", "dot_general_x", "attention.misc"},
		{"jit(jitted_run_model)/Qwen3MLP/down_proj/dot_general", "dot_general", "mlp.matmul"},
		{"jit(jitted_run_model)/Qwen3MLP/mul", "mul", "mlp.misc"},
		{"jit(jitted_run_model)/LogitsProcessor/dot_general", "dot_general", "sampler/logits"},
		{"jit(jitted_sampler)/Sampler/cond/branch_0_fun/while/body/closed_call/reduce_sum", "reduce_sum", "sampler/logits"},
		{"conditional.3", "Unknown", "control_flow"},
		{"copy.3398", "Unknown", "control_flow"},
		{"jit(f)/while/body/add", "add", "control_flow"},
		{"jit(f)/cond/conditional_thing", "select", "control_flow"},
		{"jit(jitted_run_model)/Embed/gather", "gather", "other"},
		{"", "", "other"},
	}
	for _, tt := range tests {
		if got := rs.Component(tt.op, tt.typ); got != tt.want {
			t.Errorf("Default().Component(%q, %q) = %q, want %q", tt.op, tt.typ, got, tt.want)
		}
	}
	want := []string{"attention.flash", "attention.matmul", "attention.misc", "mlp.matmul", "mlp.misc", "sampler/logits", "control_flow", "other"}
	if diff := cmp.Diff(want, rs.Components()); diff != "" {
		t.Errorf("Default().Components() mismatch (-want +got):\n%s", diff)
	}
}

// TestDefaultDocument checks that DefaultDocument, the file beside the tests
// and Default agree.
func TestDefaultDocument(t *testing.T) {
	parsed, err := Parse([]byte(DefaultDocument))
	if err != nil {
		t.Fatalf("Parse(DefaultDocument): %v", err)
	}
	if diff := cmp.Diff(Default(), parsed, cmpRules); diff != "" {
		t.Errorf("Parse(DefaultDocument) differs from Default() (-want +got):\n%s", diff)
	}
	file, err := os.ReadFile(filepath.Join("testdata", "default.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(file) != DefaultDocument {
		t.Errorf("testdata/default.good.yaml differs from DefaultDocument")
	}
}

var cmpRules = cmp.Comparer(func(a, b Rule) bool {
	return a.Component == b.Component && a.Name == b.Name && a.Type == b.Type
})

func TestParseGood(t *testing.T) {
	tests := []struct {
		file string
		want *Rules
		// probes: operation, type -> component
		probes [][3]string
	}{
		{"default.good.yaml", Default(), [][3]string{{"Qwen3MLP/up/dot_general", "dot_general", "mlp.matmul"}}},
		{"minimal.good.json", &Rules{Default: "rest", Rules: []Rule{
			{Component: "flash", Name: "pallas_call"},
			{Component: "control_flow", Type: "^Unknown$"},
		}}, [][3]string{{"a/PALLAS_CALL", "x", "flash"}, {"while.1", "Unknown", "control_flow"}, {"add", "add", "rest"}}},
		{"inference.good.yaml", nil, [][3]string{
			{"jit(f)/QWen3Attention/FlashAttention/x/pallas_call", "pallas_call", "attention"},
			{"all-reduce.1", "Unknown", "collectives"},
			{"jit(f)/layer/RMSNorm/rsqrt", "rsqrt", "normalization"},
			{"jit(f)/Qwen3MLP/up_proj/dot_general", "dot_general", "matmul"},
			{"copy-start.168", "Unknown", "memory"},
			{"jit(f)/x/transpose", "transpose", "memory"},
			{"jit(f)/Sampler/reduce_max", "reduce_max", "sampling"},
			{"jit(f)/x/add", "add", "other"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(doc)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.file, err)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, got, cmpRules); diff != "" {
					t.Errorf("Parse(%s) mismatch (-want +got):\n%s", tt.file, diff)
				}
			}
			for _, p := range tt.probes {
				if c := got.Component(p[0], p[1]); c != p[2] {
					t.Errorf("Component(%q, %q) = %q, want %q", p[0], p[1], c, p[2])
				}
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		file  string
		field string
		line  int
		want  string // the whole error text
	}{
		{"bad-regex.bad.yaml", "rules[1].name", 5, "bucket: invalid rules: rules[1].name (line 5): bad regexp \"matmul((\": error parsing regexp: missing closing ): `(?i:matmul(()`"},
		{"bad-type-regex.bad.yaml", "rules[0].type", 3, "bucket: invalid rules: rules[0].type (line 3): bad regexp \"[dot\": error parsing regexp: missing closing ]: `[dot)`"},
		{"missing-component.bad.yaml", "rules[1].component", 4, "bucket: invalid rules: rules[1].component (line 4): missing: every rule names the component it sends ops to"},
		{"unknown-key.bad.yaml", "rules[0].nmae", 3, "bucket: invalid rules: rules[0].nmae (line 3): unknown key (known: component, name, type)"},
		{"unknown-top-key.bad.yaml", "defaults", 1, "bucket: invalid rules: defaults (line 1): unknown key (known: version, default, rules)"},
		{"no-match.bad.yaml", "rules[0].name", 2, "bucket: invalid rules: rules[0].name (line 2): a rule needs a name or a type expression (or both); ops no rule matches go to the default component"},
		{"no-rules.bad.yaml", "rules", 1, "bucket: invalid rules: rules (line 1): missing: give an ordered list of rules"},
		{"empty-rules.bad.yaml", "rules", 1, "bucket: invalid rules: rules (line 1): empty: give at least one rule"},
		{"bad-version.bad.yaml", "version", 1, "bucket: invalid rules: version (line 1): got \"2\", this fleetprof reads version 1"},
		{"not-a-list.bad.yaml", "rules", 2, "bucket: invalid rules: rules (line 2): must be a list of rules"},
		{"rule-not-mapping.bad.yaml", "rules[0]", 2, "bucket: invalid rules: rules[0] (line 2): must be a mapping with keys component, name and type"},
		{"name-not-string.bad.yaml", "rules[0].name", 3, "bucket: invalid rules: rules[0].name (line 3): must be a string"},
		{"repeated-key.bad.yaml", "rules[0].name", 4, "bucket: invalid rules: rules[0].name (line 4): repeated key"},
		{"syntax.bad.yaml", "", 0, "bucket: invalid rules: document: not YAML or JSON: fix the syntax: yaml: line 1: did not find expected '-' indicator"},
		{"empty.bad.yaml", "", 0, "bucket: invalid rules: document: empty document: give at least a rules list"},
		{"empty-default.bad.yaml", "default", 1, "bucket: invalid rules: default (line 1): empty: name the component of ops no rule matches, or leave the key out for \"other\""},
		{"top-list.bad.json", "", 1, "bucket: invalid rules: document (line 1): the document must be a mapping with keys version, default and rules"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := Parse(doc)
			if err == nil {
				t.Fatalf("Parse(%s) = %v, want an error", tt.file, rs)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%s) error %v does not wrap ErrInvalid", tt.file, err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%s) error %T is not a *FieldError", tt.file, err)
			}
			if fe.Field != tt.field || fe.Line != tt.line {
				t.Errorf("Parse(%s) error at %q line %d, want %q line %d", tt.file, fe.Field, fe.Line, tt.field, tt.line)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%s) error =\n%s\nwant\n%s", tt.file, err, tt.want)
			}
		})
	}
	// Every bad file in testdata is in the table.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.bad.*"))
	if len(files) != len(tests) {
		t.Errorf("%d bad files in testdata, %d in the table", len(files), len(tests))
	}
}

func TestRegexpErrorUnwraps(t *testing.T) {
	_, err := Parse([]byte("rules:\n  - component: x\n    name: \"a(\"\n"))
	var se *syntax.Error
	if !errors.As(err, &se) {
		t.Errorf("Parse error %v does not hold a *syntax.Error", err)
	}
}

func TestZeroRules(t *testing.T) {
	var rs Rules
	if got := rs.Component("anything", "dot_general"); got != DefaultComponent {
		t.Errorf("Rules{}.Component = %q, want %q", got, DefaultComponent)
	}
	var r Rule
	if r.Match("x", "y") {
		t.Errorf("Rule{}.Match = true, want false")
	}
}

func TestNewRule(t *testing.T) {
	r, err := NewRule("c", "", "^Unknown$")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Match("while.3", "unknown") || r.Match("while.3", "Unknownish") {
		t.Errorf("NewRule type match wrong")
	}
	if _, err := NewRule("c", "", ""); err == nil || !strings.Contains(err.Error(), "needs a name or a type") {
		t.Errorf("NewRule with no expressions: err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.*.*"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		rs, err := Parse(doc)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse error %v does not wrap ErrInvalid", err)
			}
			return
		}
		_ = rs.Component("jit(f)/attention/dot_general", "dot_general")
		if len(rs.Rules) == 0 {
			t.Errorf("Parse returned no rules without an error")
		}
	})
}
