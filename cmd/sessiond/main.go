// Command sessiond runs one sessiond node: a Redis-protocol session cache.
//
// Usage mirrors redis-server: an optional config file in redis.conf syntax,
// then --directive value pairs that override it:
//
//	sessiond [sessiond.conf] [--port 6379] [--bind 127.0.0.1] [--dir ./data] ...
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"sessiond/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sessiond:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	for _, a := range args {
		switch a {
		case "-v", "--version":
			fmt.Printf("sessiond v=%s redis_version=%s\n", server.SessiondVersion, server.Version)
			return nil
		case "-h", "--help":
			fmt.Println("usage: sessiond [/path/to/sessiond.conf] [--directive value ...]")
			fmt.Println("Directives are redis.conf's: --port, --bind, --dir, --maxmemory, --maxmemory-policy,")
			fmt.Println("--maxclients, --timeout, --proto-max-bulk-len, --loglevel, --requirepass ...")
			return nil
		}
	}
	cfg, err := server.LoadConfig(args)
	if err != nil {
		return err
	}
	cfg.Logger = server.NewLogger(os.Stderr, cfg.LogLevel)
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	srv, err := server.New(cfg, nil, nil)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	cfg.Logger.Info("sessiond ready to accept connections", "bind", cfg.Bind, "port", cfg.Port, "dir", cfg.Dir)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.New(cfg.Logger.Handler()).Info("shutting down")
	return srv.Close()
}
