package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
)

// callAdmin runs fn with an AdminService client.
func (r *remote) callAdmin(fn func(collectorv1.AdminServiceClient) error) error {
	return callWith(r, collectorv1.NewAdminServiceClient, fn)
}

// newToken is `fleetprof token create|list|revoke` (admin role).
func newToken(e *env, r *remote) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the collector's API tokens (admin)",
		Long: `token manages the bearer tokens people and tools use with the collector.
Roles: viewer (read), operator (+ start captures, analyze, schedules),
admin (+ tokens, retention, restore). The collector keeps only each token's
SHA-256: a new token is printed once. The first admin token comes from
'fleetprof-collector token create --data DIR' on the stopped collector.`,
		Example: `  fleetprof token create --role operator --name ci
  fleetprof token list
  fleetprof token revoke t-1a2b3c4d5e6f`,
	}
	var role, name string
	create := &cobra.Command{
		Use:   "create --role viewer|operator|admin --name NAME",
		Short: "Create a token; it is printed once",
		Args:  filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			rv, ok := collectorv1.Role_value["ROLE_"+strings.ToUpper(role)]
			if !ok || rv == 0 || name == "" {
				return fmt.Errorf("%w: --role viewer|operator|admin and --name are required", filecmd.ErrUsage)
			}
			return r.callAdmin(func(c collectorv1.AdminServiceClient) error {
				resp, err := c.CreateToken(cmd.Context(), &collectorv1.CreateTokenRequest{Name: name, Role: collectorv1.Role(rv)})
				if err != nil {
					return err
				}
				fmt.Fprintln(e.Stdout, resp.GetToken())
				fmt.Fprintf(e.Stderr, "token %s (%s, %s): shown only now; store it as a secret\n",
					resp.GetInfo().GetTokenId(), resp.GetInfo().GetName(), roleName(resp.GetInfo().GetRole()))
				return nil
			})
		},
	}
	create.Flags().StringVar(&role, "role", "", "viewer, operator or admin (required)")
	create.Flags().StringVar(&name, "name", "", "whose token or what for (required)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tokens (never the tokens themselves)",
		Args:  filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.callAdmin(func(c collectorv1.AdminServiceClient) error {
				resp, err := c.ListTokens(cmd.Context(), &collectorv1.ListTokensRequest{})
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED")
				for _, t := range resp.GetTokens() {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.GetTokenId(), t.GetName(), roleName(t.GetRole()), t.GetCreatedAt().AsTime().UTC().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke a token: calls with it fail from then on",
		Args:  filecmd.UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.callAdmin(func(c collectorv1.AdminServiceClient) error {
				resp, err := c.RevokeToken(cmd.Context(), &collectorv1.RevokeTokenRequest{TokenId: args[0]})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "revoked token %s (%s, %s)\n", resp.GetInfo().GetTokenId(), resp.GetInfo().GetName(), roleName(resp.GetInfo().GetRole()))
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// roleName is "viewer" for ROLE_VIEWER.
func roleName(r collectorv1.Role) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "ROLE_"))
}
