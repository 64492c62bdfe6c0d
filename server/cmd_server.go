package server

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Server commands: CONFIG, TIME, LASTSAVE and the subcommand machinery of
// CONFIG, CLIENT and COMMAND. INFO is in cmd_server_info.go, CLIENT in
// cmd_server_client.go, COMMAND in cmd_server_command.go.

var errClientName = errors.New("ERR Client names cannot contain spaces, newlines or special characters.")

// validClientName checks a CLIENT SETNAME / HELLO SETNAME name: every
// byte must be printable ASCII other than space, as Redis requires. The
// empty name (which clears the name) is valid.
func validClientName(name []byte) error {
	if !validClientAttr(name) {
		return errClientName
	}
	return nil
}

// validClientAttr reports whether every byte of v is in '!'..'~'.
func validClientAttr(v []byte) bool {
	for _, b := range v {
		if b < '!' || b > '~' {
			return false
		}
	}
	return true
}

// serverSubcommands returns the subcommand tables of CONFIG, CLIENT and
// COMMAND, keyed by container name. Entries are named "container|sub",
// as COMMAND INFO shows them.
func serverSubcommands() map[string][]*command {
	sub := func(name string, arity int, flags cmdFlag, acl string, r runFunc) *command {
		c := def(name, arity, flags, noKeys, acl)
		c.run = r
		return c
	}
	const (
		adm     = flagAdmin | flagNoScript | flagLoading | flagStale
		admACL  = "@admin @slow @dangerous"
		conn    = flagNoScript | flagLoading | flagStale
		connACL = "@slow @connection"
		admConn = "@admin @slow @dangerous @connection"
		help    = flagLoading | flagStale
	)
	return map[string][]*command{
		"config": {
			sub("config|get", -3, adm, admACL, cmdConfigGet),
			sub("config|set", -4, adm, admACL, cmdConfigSet),
			sub("config|resetstat", 2, adm, admACL, cmdConfigResetStat),
			sub("config|rewrite", 2, adm, admACL, cmdConfigRewrite),
			sub("config|help", 2, help, "@slow", cmdConfigHelp),
		},
		"client": {
			sub("client|id", 2, conn, connACL, cmdClientID),
			sub("client|getname", 2, conn, connACL, cmdClientGetName),
			sub("client|setname", 3, conn, connACL, cmdClientSetName),
			sub("client|setinfo", 4, conn, connACL, cmdClientSetInfo),
			sub("client|list", -2, adm, admConn, cmdClientList),
			sub("client|info", 2, conn, connACL, cmdClientInfo),
			sub("client|kill", -3, adm, admConn, cmdClientKill),
			sub("client|unblock", -3, adm, admConn, cmdClientUnblock),
			sub("client|pause", -3, adm, admConn, cmdClientPause),
			sub("client|unpause", 2, adm, admConn, cmdClientUnpause),
			sub("client|no-evict", 3, adm, admConn, cmdClientNoEvict),
			sub("client|no-touch", 3, flagNoScript|flagLoading|flagStale, "@slow @connection", cmdClientNoTouch),
			sub("client|help", 2, help, connACL, cmdClientHelp),
		},
		"cluster": clusterSubcommands(),
		"command": {
			sub("command|count", 2, help, connACL, cmdCommandCount),
			sub("command|info", -2, help, connACL, cmdCommandInfo),
			sub("command|docs", -2, help, connACL, cmdCommandDocs),
			sub("command|list", -2, help, connACL, cmdCommandList),
			sub("command|getkeys", -4, help, connACL, cmdCommandGetKeys),
			sub("command|help", 2, help, connACL, cmdCommandHelp),
		},
	}
}

// addSubcommands attaches the CONFIG, CLIENT and COMMAND subcommand
// tables to their containers in m; commandTable calls it.
func addSubcommands(m map[string]*command) {
	for name, subs := range serverSubcommands() {
		if c := m[name]; c != nil {
			c.subs = subs
		}
	}
}

// subcommands returns the subcommands of the container command parent.
func (s *Server) subcommands(parent string) []*command {
	if c := s.cmds[parent]; c != nil && c.subs != nil {
		return c.subs
	}
	return serverSubcommands()[parent]
}

// runSubcommand finds args[1] among parent's subcommands, checks its
// arity and runs it, answering Redis's errors otherwise.
func (c *client) runSubcommand(parent string, args [][]byte) {
	want := parent + "|" + strings.ToLower(string(args[1]))
	for _, sc := range c.s.subcommands(parent) {
		if sc.name != want {
			continue
		}
		if !sc.arityOK(len(args)) {
			c.rejectStat(sc)
			c.w.err(errWrongArgs(sc.name))
			return
		}
		c.stat = sc // commandstats count config|get, not config
		c.info.setLastCmd(&sc.name, c.s.clock.Now())
		sc.run(c, args)
		return
	}
	c.stat = nil // an unknown subcommand counts for no command, as in Redis
	name := args[1]
	if len(name) > 128 {
		name = name[:128]
	}
	c.w.errorText("ERR unknown subcommand '" + string(name) + "'. Try " + strings.ToUpper(string(args[0])) + " HELP.")
}

// helpLines writes a HELP reply: one status line per element.
func (w *replyWriter) helpLines(lines []string) {
	w.array(len(lines))
	for _, l := range lines {
		w.simple(l)
	}
}

func cmdConfig(c *client, args [][]byte) { c.runSubcommand("config", args) }

func cmdConfigHelp(c *client, _ [][]byte) {
	c.w.helpLines([]string{
		"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		"REWRITE",
		"    Rewrite the configuration file.",
		"HELP",
		"    Prints this help.",
	})
}

// cmdConfigGet answers the directives matching any of the patterns, each
// once: exact names as the client spelled them, glob patterns in table
// order. RESP3 gets a map, RESP2 a flat array.
func cmdConfigGet(c *client, args [][]byte) {
	cfg := c.s.config()
	table := directives()
	var out []string // name, value pairs
	seen := make(map[string]bool)
	add := func(name, value string) {
		seen[strings.ToLower(name)] = true
		out = append(out, name, value)
	}
	for _, a := range args[2:] {
		pat := string(a)
		if !strings.ContainsAny(pat, "[*?") {
			if d := findDirective(table, pat); d != nil && !seen[strings.ToLower(pat)] {
				add(pat, d.get(cfg))
			}
			continue
		}
		for i := range table {
			d := &table[i]
			for _, n := range []string{d.name, d.alias} {
				if n != "" && !seen[n] && nameMatch(pat, n) {
					add(n, d.get(cfg))
				}
			}
		}
	}
	c.w.mapHeader(len(out) / 2)
	for _, s := range out {
		c.w.bulk(s)
	}
}

// cmdConfigSet sets every name/value pair or none: all names are checked
// first, then every value is parsed into a copy of the configuration,
// which replaces the live one only when all succeeded.
func cmdConfigSet(c *client, args [][]byte) {
	if len(args)%2 != 0 {
		c.w.err(errWrongArgs("config|set"))
		return
	}
	table := directives()
	n := (len(args) - 2) / 2
	set := make([]*directive, n)
	var unknown, errArg, errMsg string
	invalid := false
	for i := 0; i < n; i++ {
		name := string(args[2+2*i])
		d := findDirective(table, name)
		if d == nil {
			if !invalid {
				unknown, invalid = name, true
			}
			continue
		}
		if invalid {
			continue
		}
		switch d.mode {
		case immutable:
			errArg, errMsg, invalid = name, "can't set immutable config", true
		case protected:
			errArg, errMsg, invalid = name, "can't set protected config", true
		}
		for j := 0; j < i; j++ {
			if set[j] == d {
				errArg, errMsg, invalid = name, "duplicate parameter", true
				break
			}
		}
		set[i] = d
	}
	if unknown != "" {
		c.w.errorText("ERR Unknown option or number of arguments for CONFIG SET - '" + unknown + "'")
		return
	}
	if invalid {
		c.w.errorText("ERR CONFIG SET failed (possibly related to argument '" + errArg + "') - " + errMsg)
		return
	}
	s := c.s
	s.confMu.Lock()
	defer s.confMu.Unlock()
	cfg := *s.config()
	for i, d := range set {
		value := string(args[3+2*i])
		vals := []string{value}
		if d.multiArg {
			var err error
			if vals, err = splitConfigLine(value); err != nil {
				vals = []string{value}
			}
			if len(vals) == 0 {
				vals = []string{""}
			}
		}
		if err := d.set(&cfg, vals); err != nil {
			c.w.errorText("ERR CONFIG SET failed (possibly related to argument '" + string(args[2+2*i]) + "') - " + err.Error())
			return
		}
	}
	if i := slices.IndexFunc(set, isTLSDirective); i >= 0 {
		if err := s.reconfigureTLS(&cfg); err != nil {
			s.log.Warn("CONFIG SET: TLS not updated", "err", err)
			c.w.errorText("ERR CONFIG SET failed (possibly related to argument '" + set[i].name + "') - Unable to update TLS configuration. Check server logs.")
			return
		}
	}
	s.conf.Store(&cfg)
	for _, d := range set {
		if d.apply != nil {
			d.apply(s, &cfg)
		}
	}
	c.w.ok()
}

// cmdConfigResetStat zeroes the counters INFO stats reports.
func cmdConfigResetStat(c *client, _ [][]byte) {
	st := &c.s.stats
	for _, v := range []interface{ Store(int64) }{
		&st.connsReceived, &st.connsRejected, &st.commands, &st.netInput, &st.netOutput,
		&st.errorReplies,
	} {
		v.Store(0)
	}
	c.s.resetCommandStats()
	for _, u := range c.s.local() {
		ss := u.store.Stats()
		for _, v := range []interface{ Store(int64) }{
			&ss.ExpiredKeys, &ss.ExpiredFields, &ss.EvictedKeys, &ss.Hits, &ss.Misses,
		} {
			v.Store(0)
		}
	}
	c.w.ok()
}

// cmdConfigRewrite writes the live configuration back to the config file
// the server was started with.
func cmdConfigRewrite(c *client, _ [][]byte) {
	s := c.s
	s.confMu.Lock()
	defer s.confMu.Unlock()
	cfg := s.config()
	if cfg.ConfigFile == "" {
		c.w.errorText("ERR The server is running without a config file")
		return
	}
	if err := rewriteConfigFile(cfg.ConfigFile, cfg); err != nil {
		s.log.Warn("CONFIG REWRITE failed", "file", cfg.ConfigFile, "err", err)
		c.w.errorText("ERR Rewriting config file: " + err.Error())
		return
	}
	c.w.ok()
}

// rewriteConfigFile rewrites path as Redis's CONFIG REWRITE does: the
// first line of each directive gets the live value, later duplicates are
// dropped, comments and unknown lines stay, and directives that differ
// from their default but have no line yet are appended. The file is
// replaced atomically.
func rewriteConfigFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	table := directives()
	def := DefaultConfig()
	done := make(map[string]bool)
	var out []string
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(data) == 0 {
		lines = nil
	}
	for _, line := range lines {
		words, err := splitConfigLine(strings.TrimSpace(line))
		if err != nil || len(words) == 0 || strings.HasPrefix(strings.TrimSpace(line), "#") {
			out = append(out, line)
			continue
		}
		d := findDirective(table, words[0])
		if d == nil {
			out = append(out, line)
			continue
		}
		if done[d.name] {
			continue
		}
		done[d.name] = true
		out = append(out, directiveLine(d, cfg))
	}
	header := false
	for i := range table {
		d := &table[i]
		if done[d.name] || d.get(cfg) == d.get(&def) {
			continue
		}
		if !header {
			out = append(out, "# Generated by CONFIG REWRITE")
			header = true
		}
		out = append(out, directiveLine(d, cfg))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sessiond-conf-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(strings.Join(out, "\n") + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if fi, err := os.Stat(path); err == nil {
		os.Chmod(tmp.Name(), fi.Mode().Perm())
	}
	return os.Rename(tmp.Name(), path)
}

// directiveLine formats d's current value as a config file line, quoting
// values that need it.
func directiveLine(d *directive, cfg *Config) string {
	v := d.get(cfg)
	plain := v != ""
	for i := 0; i < len(v); i++ {
		if b := v[i]; b <= ' ' || b > '~' || b == '"' || b == '\'' || b == '\\' {
			plain = false
		}
	}
	if plain || (d.multiArg && v != "") {
		return d.name + " " + v
	}
	return d.name + " " + reprArg(v)
}

func cmdTime(c *client, _ [][]byte) {
	now := c.s.clock.Now()
	c.w.array(2)
	c.w.bulk(strconv.FormatInt(now.Unix(), 10))
	c.w.bulk(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

// cmdLastSave answers the server's start time: sessiond never saves a
// snapshot to disk, and Redis answers its start time until it first does.
func cmdLastSave(c *client, _ [][]byte) { c.w.int(c.s.lastSave()) }

// cmdShutdown is SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: it asks the
// process to stop as on SIGTERM (a leader hands its groups over first)
// and closes the connection without a reply, as Redis does. Every
// acknowledged write is in the Raft log already, so SAVE and NOSAVE stop
// alike; nothing is ever in progress for ABORT to cancel.
func cmdShutdown(c *client, args [][]byte) {
	var save, nosave, abort, other bool
	for _, a := range args[1:] {
		switch {
		case eq(a, "save"):
			save = true
		case eq(a, "nosave"):
			nosave = true
		case eq(a, "abort"):
			abort = true
		case eq(a, "now"), eq(a, "force"):
			other = true
		default:
			c.w.errorText(errSyntax.Error())
			return
		}
	}
	if save && nosave || abort && (save || nosave || other) {
		c.w.errorText(errSyntax.Error())
		return
	}
	if abort {
		c.w.errorText("ERR No shutdown in progress.")
		return
	}
	c.s.log.Warn("User requested shutdown...", "client", c.addr)
	select {
	case c.s.shutdown <- struct{}{}:
	default: // one is pending already
	}
	c.quit = true
}

// ShutdownRequests delivers a value for each SHUTDOWN command; the
// process that runs the server stops it then (cmd/sessiond).
func (s *Server) ShutdownRequests() <-chan struct{} { return s.shutdown }
