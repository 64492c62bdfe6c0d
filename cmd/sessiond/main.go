// Command sessiond runs one sessiond node: a Redis-protocol session cache.
//
// Usage mirrors redis-server: an optional config file in redis.conf syntax,
// then --directive value pairs that override it:
//
//	sessiond [sessiond.conf] [--port 6379] [--bind 127.0.0.1] [--dir ./data] ...
//
// It exits 0 after a clean shutdown on SIGINT or SIGTERM, and 1 when the
// configuration is invalid or the server cannot start.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"sessiond/server"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

const usage = `Usage: sessiond [/path/to/sessiond.conf] [--directive value ...]
       sessiond -v or --version
       sessiond -h or --help

Directives are redis.conf's, given in the file or as --name value:
  port, bind, dir, requirepass, maxclients, timeout, proto-max-bulk-len,
  maxmemory, maxmemory-policy, maxmemory-samples, loglevel,
  hash-max-listpack-entries, hash-max-listpack-value,
  node-id, raft-port, peers, announce-ip, appendfsync, read-consistency,
  tls-port, tls-cert-file, tls-key-file, tls-ca-cert-file, tls-auth-clients
Examples:
  sessiond --port 7001 --bind 127.0.0.1
  sessiond --node-id n1 --port 7001 --raft-port 17001 --dir d1 \
           --peers n1=127.0.0.1:17001,n2=127.0.0.1:17002,n3=127.0.0.1:17003
  sessiond sessiond.conf --maxmemory 2gb --maxmemory-policy allkeys-lru
`

// run starts the server with redis-server style arguments and serves
// until SIGINT or SIGTERM.
func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "-v", "--version":
			fmt.Fprintf(stdout, "sessiond v=%s redis_version=%s\n", server.SessiondVersion, server.Version)
			return nil
		case "-h", "--help":
			fmt.Fprint(stdout, usage)
			return nil
		}
	}
	cfg, err := server.LoadConfig(args)
	if err != nil {
		return err
	}
	log := server.NewLogger(stderr, cfg.LogLevel)
	cfg.Logger = log
	cfg.ManageGC = true
	server.TuneGC(cfg)
	if err := cfg.CheckTLS(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("could not listen on %s:%d: %w", cfg.Bind, cfg.Port, err)
	}
	var tlsLn net.Listener // bound now, served with the plain port
	if cfg.TLSPort > 0 {
		if tlsLn, err = net.Listen("tcp", net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.TLSPort))); err != nil {
			ln.Close()
			return fmt.Errorf("could not listen on %s:%d (tls-port): %w", cfg.Bind, cfg.TLSPort, err)
		}
	}
	node, err := server.OpenNode(cfg, ln, server.NodeOptions{})
	if err != nil {
		ln.Close()
		if tlsLn != nil {
			tlsLn.Close()
		}
		return err
	}
	srv := node.Server
	node.WaitSingleLeader(10 * time.Second)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if tlsLn != nil {
		if err := srv.ServeTLS(tlsLn); err != nil {
			tlsLn.Close()
			node.Shutdown()
			<-errc
			return err
		}
		log.Info("Accepting TLS connections", "addr", tlsLn.Addr().String())
	}
	log.Info("Ready to accept connections", "addr", ln.Addr().String(), "pid", os.Getpid(),
		"version", server.SessiondVersion, "config_file", cfg.ConfigFile)
	select {
	case err := <-errc:
		node.Shutdown()
		return err
	case <-ctx.Done():
		log.Info("Received signal, shutting down")
	case <-srv.ShutdownRequests():
		log.Info("SHUTDOWN, shutting down")
	}
	stop() // a second signal kills the process
	if err := node.Shutdown(); err != nil {
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	log.Info("sessiond is now ready to exit, bye bye")
	return nil
}
