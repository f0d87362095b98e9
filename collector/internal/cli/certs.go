package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/collector/internal/certs"
	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// newCerts is `fleetprof certs init|issue`: a development CA and the
// certificates of agents, collectors and clients.
func newCerts(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Make a development CA and mTLS certificates for agents, collectors and clients",
		Long: `certs makes a small certificate authority in a folder and issues the
certificates fleetprof's mutual TLS uses. Identities are URI SANs:

  spiffe://fleetprof/agent/<agent id>       an agent: it may register and upload only as <agent id>
  spiffe://fleetprof/collector/<name>       a collector (server certificate, --host names)
  spiffe://fleetprof/client/<role>/<name>   a person or tool with role viewer, operator or admin

Keys are ECDSA P-256, written with mode 0600. Existing files are kept unless --force.
For production, issue certificates from your own PKI with the same URI SANs.`,
		Example: `  fleetprof certs init --dir pki
  fleetprof certs issue --dir pki --name collector --kind collector --host collector.internal,10.0.0.5
  fleetprof certs issue --dir pki --name tpu-1 --kind agent
  fleetprof certs issue --dir pki --name alice --kind client --role operator`,
	}
	cmd.AddCommand(newCertsInit(e), newCertsIssue(e))
	return cmd
}

func newCertsInit(e *env) *cobra.Command {
	var dir string
	var force bool
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Create a development CA (ECDSA P-256, valid one year) in DIR",
		Args:  filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("%w: --dir is required", filecmd.ErrUsage)
			}
			ca, err := certs.Init(dir, force, time.Now())
			if err != nil {
				return certsErr(err)
			}
			fmt.Fprintf(e.Stdout, "CA %s valid until %s\nwrote %s/%s and %s/%s (keep the key secret)\n",
				ca.Cert.Subject.CommonName, ca.Cert.NotAfter.UTC().Format(time.RFC3339), dir, certs.CAFile, dir, certs.CAKeyFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "folder for ca.pem and ca-key.pem (required)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing CA (certificates it issued stop being trusted)")
	return cmd
}

func newCertsIssue(e *env) *cobra.Command {
	var (
		dir, name, kind, agentID, role, hosts string
		validFor                              time.Duration
		force                                 bool
	)
	cmd := &cobra.Command{
		Use:   "issue --dir DIR --name NAME --kind agent|collector|client",
		Short: "Issue a certificate signed by the CA in DIR: DIR/NAME.pem and DIR/NAME-key.pem",
		Args:  filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || name == "" || kind == "" {
				return fmt.Errorf("%w: --dir, --name and --kind are required", filecmd.ErrUsage)
			}
			ca, err := certs.Load(dir)
			if err != nil {
				return err
			}
			req := certs.Request{Name: name, Kind: ids.Kind(kind), AgentID: agentID, Role: role, Validity: validFor, Force: force}
			if hosts != "" {
				req.Hosts = strings.Split(hosts, ",")
			}
			is, err := ca.Issue(req, time.Now())
			if err != nil {
				return certsErr(err)
			}
			fmt.Fprintf(e.Stdout, "%s certificate %s (%s) valid until %s\nwrote %s and %s\n",
				kind, is.Cert.URIs[0], is.Cert.Subject.CommonName, is.Cert.NotAfter.UTC().Format(time.RFC3339), is.CertFile, is.KeyFile)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the CA's folder (from certs init; required)")
	f.StringVar(&name, "name", "", "file name and common name (required)")
	f.StringVar(&kind, "kind", "", "agent, collector or client (required)")
	f.StringVar(&hosts, "host", "", "collector: DNS names and IPs, comma-separated (default localhost,127.0.0.1,::1)")
	f.StringVar(&agentID, "agent-id", "", "agent: its id, the one it registers with (default --name)")
	f.StringVar(&role, "role", "", "client: viewer, operator or admin (default viewer)")
	f.DurationVar(&validFor, "valid-for", certs.DefaultValidity, "validity, capped at the CA's")
	f.BoolVar(&force, "force", false, "replace existing files")
	return cmd
}

// certsErr marks request errors as usage errors.
func certsErr(err error) error {
	if errors.Is(err, certs.ErrBadRequest) {
		return fmt.Errorf("%w: %w", filecmd.ErrUsage, err)
	}
	return err
}
