package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/spf13/cobra"
)

// healthcheckEnv overrides the URL that `crvsx node healthcheck` probes
// (the image's HEALTHCHECK has no arguments to change).
const healthcheckEnv = "CRVSX_HEALTHCHECK_URL"

// newNodeHealthcheckCmd is the probe a container runtime runs inside the
// node's own container (scratch has no curl): a GET of /livez (or
// /readyz) on the health listener.
func newNodeHealthcheckCmd(e *env) *cobra.Command {
	var cfgPath, url, path string
	var timeout time.Duration
	var show bool
	cmd := &cobra.Command{
		Use:   "healthcheck [--config FILE | --url URL]",
		Short: "Probe a node's health listener (for a container's HEALTHCHECK)",
		Long: `GET the node's /livez (or --path /readyz) on its health listener and exit
0 if it answers 2xx, 1 otherwise: Docker's HEALTHCHECK rule (any other code
is reserved there), so this command does not use crvsx's exit code 3.

The URL is --url, else $` + healthcheckEnv + `, else built from the health
listener of --config (a 0.0.0.0 or :: address is probed on loopback), else
http://127.0.0.1:9090 (node.DefaultConfig).`,
		Example: `  crvsx node healthcheck
  crvsx node healthcheck --config /srv/crvsx/node.json --path /readyz
  crvsx node healthcheck --url http://127.0.0.1:9090/livez
  crvsx node healthcheck --path /metrics --show`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target := url
			if target == "" {
				target = os.Getenv(healthcheckEnv)
			}
			if target == "" {
				addr := node.DefaultConfig().Listen.Health
				if cfgPath != "" {
					cfg, err := node.LoadConfig(cfgPath)
					if err != nil {
						return &exitError{code: exitInvalid, err: err}
					}
					addr = cfg.Listen.Health
				}
				host, port, err := net.SplitHostPort(addr)
				if err != nil {
					return &exitError{code: exitInvalid, err: fmt.Errorf("health listener %q: %w", addr, err)}
				}
				if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
					host = "127.0.0.1"
				}
				target = "http://" + net.JoinHostPort(host, port) + path
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return &exitError{code: exitInvalid, err: err}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return &exitError{code: exitInvalid, err: fmt.Errorf("unhealthy: %w", err)}
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if show {
				e.stdout.Write(body)
			}
			if resp.StatusCode/100 != 2 {
				return &exitError{code: exitInvalid, err: fmt.Errorf("unhealthy: %s answered %s", target, resp.Status)}
			}
			fmt.Fprintf(e.stdout, "healthy: %s answered %s\n", target, resp.Status)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "the node's configuration file (its health listener's address)")
	cmd.Flags().StringVar(&url, "url", "", "the URL to probe (overrides --config and $"+healthcheckEnv+")")
	cmd.Flags().StringVar(&path, "path", "/livez", "the path to probe when the URL is built from the configuration")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	cmd.Flags().BoolVar(&show, "show", false, "print the answer's body (the reasons of /readyz, the lines of /metrics): in a container without a shell, docker exec NODE /crvsx node healthcheck --path /readyz --show")
	return cmd
}
