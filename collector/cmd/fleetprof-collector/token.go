package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/auth"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// tokenMain runs `fleetprof-collector token create|list|revoke` on a
// stopped collector's data folder (the bootstrap of the first admin token)
// and returns the exit code.
func tokenMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintf(stderr, "Usage:\n"+
			"  fleetprof-collector token create --data DIR --role viewer|operator|admin --name NAME\n"+
			"  fleetprof-collector token list   --data DIR\n"+
			"  fleetprof-collector token revoke --data DIR TOKEN_ID\n\n"+
			"Works on the data folder of a stopped collector (the first admin token); with the\n"+
			"collector running, use 'fleetprof token ...' with an admin token instead.\n")
	}
	if len(args) == 0 || (args[0] != "create" && args[0] != "list" && args[0] != "revoke") {
		usage()
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("fleetprof-collector token "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "the collector's data folder (required)")
	var role, name string
	if verb == "create" {
		fs.StringVar(&role, "role", "", "viewer, operator or admin (required)")
		fs.StringVar(&name, "name", "", "whose token or what for (required)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	bad := func(msg string) int {
		fmt.Fprintf(stderr, "fleetprof-collector token %s: %s\n", verb, msg)
		return 2
	}
	switch {
	case *data == "":
		return bad("--data is required")
	case verb == "revoke" && fs.NArg() != 1:
		return bad("give the TOKEN_ID to revoke")
	case verb != "revoke" && fs.NArg() > 0:
		return bad(fmt.Sprintf("unexpected arguments %q", fs.Args()))
	case verb == "create" && (role == "" || name == ""):
		return bad("--role and --name are required")
	}
	if err := runToken(ctx, verb, *data, role, name, fs.Arg(0), stdout); err != nil {
		fmt.Fprintf(stderr, "fleetprof-collector token %s: %v\n", verb, err)
		if errors.Is(err, auth.ErrBadRole) || errors.Is(err, auth.ErrBadName) {
			return 2
		}
		return 1
	}
	return 0
}

// runToken opens the store (failing fast while a collector holds it) and
// runs one token command.
func runToken(ctx context.Context, verb, data, role, name, id string, stdout io.Writer) error {
	var r auth.Role
	if verb == "create" {
		var err error
		if r, err = auth.ParseRole(role); err != nil {
			return err
		}
	}
	db, err := store.Open(filepath.Join(data, store.FileName), store.Options{Timeout: time.Second})
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%s is in use: stop the collector, or use 'fleetprof token %s' against it with an admin token", data, verb)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	switch verb {
	case "create":
		c, err := auth.Create(ctx, db, name, r)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", c.Token)
		fmt.Fprintf(stdout, "# token %s (%s, role %s): shown only now; the collector keeps its SHA-256\n", c.Record.ID, c.Record.Name, c.Record.Role)
	case "list":
		ts, err := auth.List(ctx, db)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, time.Unix(0, t.CreatedNS).UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	case "revoke":
		t, err := auth.Revoke(ctx, db, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked token %s (%s, role %s)\n", t.ID, t.Name, t.Role)
	}
	return nil
}
