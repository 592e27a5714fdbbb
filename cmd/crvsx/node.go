package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol"
	"github.com/spf13/cobra"
)

// logFlags are the logging flags of the commands that run nodes.
type logFlags struct {
	level, format string
}

// register adds --log-level (its default, "" for the configuration's)
// and --log-format.
func (f *logFlags) register(cmd *cobra.Command, level, levelUsage string) {
	cmd.Flags().StringVar(&f.level, "log-level", level, levelUsage)
	cmd.Flags().StringVar(&f.format, "log-format", "text", "text (key=value lines) or json (one JSON object per line)")
}

// logger is the slog logger of the flags at level, writing to w.
func (f *logFlags) logger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	switch level {
	case "debug":
		l = slog.LevelDebug
	case "", "info":
		l = slog.LevelInfo
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch f.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.format)
}

func newNodeCmd(e *env) *cobra.Command {
	var cfgPath string
	var lf logFlags
	cmd := &cobra.Command{
		Use:   "node --config FILE",
		Short: "Run a member node",
		Long: `Run one member node from a configuration file (JSON; see node.Config): its
registry replica (Raft over pinned mutual TLS), its store, and four listeners:

  peer    https, mutual TLS with node keys pinned in the registry:
          POST /v1/messages from other members, /v1/registry/…
  local   the national system's API, bearer tokens:
          POST /v1/outbox, GET /v1/outbox/{id}, GET /v1/inbox, POST /v1/inbox/ack
  admin   operations, the operators' own bearer tokens:
          GET /v1/admin/backup, GET /v1/admin/audit
  health  /livez, /readyz, /metrics (Prometheus)

Secrets (private keys, tokens, the webhook secret) are read from files that
only the node's user may read. SIGTERM or SIGINT stop the node cleanly:
listeners close, in-flight requests finish, queued deliveries stay in the
store for the next start.`,
		Example: `  crvsx node --config /etc/crvsx/node.json
  crvsx node --config /etc/crvsx/node.json --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return errors.New("--config FILE is required")
			}
			cfg, err := node.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			if lf.level != "" {
				cfg.LogLevel = lf.level
			}
			log, err := lf.logger(e.stderr, cfg.LogLevel)
			if err != nil {
				return err
			}
			n, err := node.New(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			return n.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "the node's configuration file (required)")
	lf.register(cmd, "", "override the configuration's log level (debug, info, warn, error)")
	cmd.AddCommand(newNodeBackupCmd(e), newNodeHealthcheckCmd(e), newNodeInstallSecretsCmd(e))
	return cmd
}

func newNodeBackupCmd(e *env) *cobra.Command {
	var cfgPath, out, tokenFile, admin string
	cmd := &cobra.Command{
		Use:   "backup --config FILE --out PATH",
		Short: "Copy a running node's store consistently to a file",
		Long: `Ask a running node (its admin API) for a consistent copy of its store — taken
in one read transaction while the node goes on working — and write it to
PATH durably (a temporary file, fsync, rename). The admin address and the
operators' token come from the node's configuration unless --admin and
--token-file say otherwise. The copy is a complete store file: a node started on it has
every accepted message, receipt and queued delivery of that moment.`,
		Example: `  crvsx node backup --config /etc/crvsx/node.json --out /backup/node-$(date +%F).db`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out PATH is required")
			}
			if cfgPath != "" {
				cfg, err := node.LoadConfig(cfgPath)
				if err != nil {
					return err
				}
				if admin == "" {
					admin = cfg.Listen.Admin
				}
				if tokenFile == "" {
					tokenFile = cfg.Admin.TokensFile
				}
			}
			if admin == "" || tokenFile == "" {
				return errors.New("--config, or --admin and --token-file, are required")
			}
			token, err := firstToken(tokenFile)
			if err != nil {
				return err
			}
			n, err := backup(cmd.Context(), "http://"+admin+"/v1/admin/backup", token, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "wrote %s (%d bytes)\n", out, n)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "the node's configuration file")
	cmd.Flags().StringVar(&out, "out", "", "where to write the copy (required)")
	cmd.Flags().StringVar(&admin, "admin", "", "the admin listener host:port (default: from --config)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "an admin tokens file (\"name token\" lines; default: admin.tokensFile of --config)")
	return cmd
}

// firstToken reads the token a client presents from a tokens file.
func firstToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok, err := server.FirstToken(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return tok, nil
}

func backup(ctx context.Context, url, token, out string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, protocol.MaxProblemBytes))
		return 0, fmt.Errorf("backup: %w", protocol.DecodeProblem(resp.Request.URL.Host, resp.StatusCode, resp.Header.Get("Content-Type"), b))
	}
	var n int64
	err = replaceFileFrom(out, 0o600, func(w io.Writer) error {
		var err error
		n, err = io.Copy(w, resp.Body)
		if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
			err = fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}
