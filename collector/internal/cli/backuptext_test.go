package cli

import "testing"

func TestBackupText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "-"},
		{"pending", "pending"},
		{"done", "done"},
		{"failed: upload gs://b/x: connection reset", "failed"},
	}
	for _, tt := range tests {
		if got := backupText(tt.in); got != tt.want {
			t.Errorf("backupText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
