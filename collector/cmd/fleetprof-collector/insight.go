package main

import (
	"flag"
	"fmt"
	"net/url"

	"github.com/fleetprof/fleetprof/collector/internal/server"
)

// addInsightFlags adds the fleet insight flags to fs; the returned func
// checks them once parsed.
func addInsightFlags(fs *flag.FlagSet, cfg *server.Config) func() error {
	ic := &cfg.Insight
	fs.StringVar(&ic.AlertWebhook, "alert-webhook", "", "URL that receives a POST of each regression as JSON (retried, bounded; see docs/fleet.md)")
	fs.IntVar(&ic.BaselineSize, "baseline-size", 5, "earlier captures of the same agent and options in a rolling baseline")
	fs.Float64Var(&ic.Threshold, "regression-threshold", 0.10, "smallest relative change of a figure that is a regression or an improvement")
	return func() error {
		if ic.BaselineSize < 1 || ic.BaselineSize > 100 {
			return fmt.Errorf("--baseline-size %d: want 1..100", ic.BaselineSize)
		}
		if ic.Threshold <= 0 || ic.Threshold >= 10 {
			return fmt.Errorf("--regression-threshold %g: want a fraction above 0, e.g. 0.10", ic.Threshold)
		}
		if ic.AlertWebhook != "" {
			u, err := url.Parse(ic.AlertWebhook)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("--alert-webhook %q: want an absolute http:// or https:// URL", ic.AlertWebhook)
			}
		}
		return nil
	}
}
