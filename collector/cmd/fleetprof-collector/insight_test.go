package main

import (
	"io"
	"strings"
	"testing"
)

func TestInsightFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		webhook string
		size    int
		thresh  float64
	}{
		{"defaults", nil, "", "", 5, 0.10},
		{"set", []string{"--alert-webhook", "http://127.0.0.1:9/hook", "--baseline-size", "7", "--regression-threshold", "0.2"}, "", "http://127.0.0.1:9/hook", 7, 0.2},
		{"bad webhook", []string{"--alert-webhook", "ftp://x"}, "--alert-webhook", "", 0, 0},
		{"relative webhook", []string{"--alert-webhook", "/hook"}, "--alert-webhook", "", 0, 0},
		{"baseline 0", []string{"--baseline-size", "0"}, "--baseline-size", "", 0, 0},
		{"threshold 0", []string{"--regression-threshold", "0"}, "--regression-threshold", "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := parseFlags(append([]string{"--data", t.TempDir()}, tt.args...), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags(%v) err = %v, want one naming %s", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ic := cfg.Insight; ic.AlertWebhook != tt.webhook || ic.BaselineSize != tt.size || ic.Threshold != tt.thresh {
				t.Errorf("Insight = %+v, want webhook %q, size %d, threshold %g", ic, tt.webhook, tt.size, tt.thresh)
			}
		})
	}
}
