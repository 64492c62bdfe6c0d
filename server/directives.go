package server

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sessiond/shard"
)

// Config directives: one table of redis.conf names serves the config
// file, the command-line flags, CONFIG GET and CONFIG SET, so a directive
// parses, validates and prints the same way everywhere.

// setMode says whether CONFIG SET may change a directive at runtime.
type setMode uint8

const (
	mutable   setMode = iota // CONFIG SET changes it live
	immutable                // start-up only: "can't set immutable config"
	protected                // start-up only: "can't set protected config" (Redis's dir)
)

// directive is one configuration setting.
type directive struct {
	name     string
	alias    string // older name accepted everywhere ("hash-max-ziplist-entries")
	multiArg bool   // takes several arguments (bind, save); else exactly one
	mode     setMode
	// get formats the current value as CONFIG GET prints it.
	get func(c *Config) string
	// set parses args (one element unless multiArg) into c. Its error
	// text is Redis's ("argument must be a memory value").
	set func(c *Config, args []string) error
	// apply, if set, makes a CONFIG SET change take effect on a running
	// server (beyond the new Config being visible through s.config()).
	apply func(s *Server, c *Config)
}

// Eviction policies and log levels, in the order Redis lists them in its
// error messages.
var (
	evictionPolicies = []string{"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
		"allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"}
	logLevels = []string{"debug", "verbose", "notice", "warning"}
)

// directives returns the directive table. The order is CONFIG GET's
// order for patterns.
func directives() []directive {
	return append([]directive{
		intDirective("port", "", 0, 65535, immutable, func(c *Config) *int { return &c.Port }),
		{name: "bind", multiArg: true, mode: immutable,
			get: func(c *Config) string { return c.Bind },
			set: setBind},
		{name: "dir", mode: protected,
			get: func(c *Config) string {
				// Like redis-server, which chdirs into dir: report it absolute.
				if abs, err := filepath.Abs(c.Dir); err == nil {
					return abs
				}
				return c.Dir
			},
			set: func(c *Config, a []string) error {
				if a[0] == "" {
					return errors.New("dir must not be empty")
				}
				c.Dir = a[0]
				return nil
			}},
		{name: "requirepass",
			get: func(c *Config) string { return c.RequirePass },
			set: func(c *Config, a []string) error { c.RequirePass = a[0]; return nil }},
		intDirective("maxclients", "", 1, math.MaxUint32, mutable, func(c *Config) *int { return &c.MaxClients }),
		{name: "timeout",
			get: func(c *Config) string { return strconv.FormatInt(int64(c.Timeout/time.Second), 10) },
			set: func(c *Config, a []string) error {
				n, err := parseIntArg(a[0], 0, math.MaxInt32)
				if err != nil {
					return err
				}
				c.Timeout = time.Duration(n) * time.Second
				return nil
			}},
		// proto-max-bulk-len and hash-max-listpack-*: parsing reads the
		// current config and stamps the limits into each write it builds.
		memDirective("proto-max-bulk-len", 1<<20, math.MaxInt64, func(c *Config) *int64 { return &c.ProtoMaxBulkLen }),
		withApply(memDirective("maxmemory", 0, math.MaxInt64, func(c *Config) *int64 { return &c.MaxMemory }),
			applyMaxMemory),
		enumDirective("maxmemory-policy", evictionPolicies, func(c *Config) *string { return &c.MaxMemoryPolicy },
			applyMemoryConfig),
		intDirective("maxmemory-samples", "", 1, math.MaxInt32, mutable, func(c *Config) *int { return &c.MaxMemorySamples }),
		enumDirective("loglevel", logLevels, func(c *Config) *string { return &c.LogLevel },
			func(s *Server, c *Config) { SetLogLevel(s.log, c.LogLevel) }),
		intDirective("hash-max-listpack-entries", "hash-max-ziplist-entries", 1, math.MaxInt32, mutable,
			func(c *Config) *int { return &c.HashMaxListpackEntries }),
		intDirective("hash-max-listpack-value", "hash-max-ziplist-value", 1, math.MaxInt32, mutable,
			func(c *Config) *int { return &c.HashMaxListpackValue }),
		{name: "databases", mode: immutable,
			get: func(*Config) string { return "1" },
			set: func(_ *Config, a []string) error {
				if a[0] != "1" {
					return errors.New("sessiond has a single database: databases must be 1")
				}
				return nil
			}},
		{name: "notify-keyspace-events", apply: applyNotify,
			get: func(c *Config) string { return formatNotify(c.NotifyKeyspaceEvents) },
			set: func(c *Config, a []string) error {
				f, err := parseNotify(a[0])
				if err != nil {
					return err
				}
				c.NotifyKeyspaceEvents = f
				return nil
			}},
		{name: "client-output-buffer-limit", multiArg: true,
			get: func(c *Config) string { return c.ClientOutputBufferLimit.String() },
			set: func(c *Config, a []string) error {
				if len(a) == 1 && a[0] == "" {
					return nil
				}
				return c.ClientOutputBufferLimit.parse(a)
			}},
		intDirective("slowlog-log-slower-than", "", math.MinInt32, math.MaxInt32, mutable, func(c *Config) *int { return &c.SlowlogLogSlowerThan }),
		intDirective("slowlog-max-len", "", 0, math.MaxInt32, mutable, func(c *Config) *int { return &c.SlowlogMaxLen }),
		intDirective("busy-reply-threshold", "lua-time-limit", 0, math.MaxInt32, mutable, func(c *Config) *int { return &c.BusyReplyThreshold }),
		{name: "latency-tracking",
			get: func(c *Config) string { return c.LatencyTracking },
			set: func(c *Config, a []string) error {
				switch v := strings.ToLower(a[0]); v {
				case "yes", "no":
					c.LatencyTracking = v
					return nil
				}
				return errors.New("argument must be 'yes' or 'no'")
			}},
		{name: "latency-tracking-info-percentiles", multiArg: true,
			get: func(c *Config) string { return formatPercentiles(c.LatencyPercentiles, " ") },
			set: func(c *Config, a []string) error {
				ps := []float64{} // empty, not nil: no percentiles
				for _, f := range strings.Fields(strings.Join(a, " ")) {
					p, err := strconv.ParseFloat(f, 64)
					if err != nil || math.IsNaN(p) {
						return errors.New("Invalid latency-tracking-info-percentiles parameters")
					}
					if p < 0 || p > 100 {
						return errors.New("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
					}
					ps = append(ps, p)
				}
				c.LatencyPercentiles = ps
				return nil
			}},
		fixedDirective("save", "", true, `sessiond does not write RDB snapshots: only save "" is accepted`),
		fixedDirective("appendonly", "no", false, "sessiond does not write an append-only file: only appendonly no is accepted"),
	}, append(replicationDirectives(), tlsDirectives()...)...)
}

func withApply(d directive, f func(*Server, *Config)) directive { d.apply = f; return d }

// applyMaxMemory makes a new limit take effect: eviction at once, and the
// garbage collector's soft limit when the process lets the server manage
// it (Config.ManageGC).
func applyMaxMemory(s *Server, c *Config) {
	applyMemoryConfig(s, c)
	if c.ManageGC {
		TuneGC(*c)
	}
}

// intDirective is an integer setting in [min, max].
func intDirective(name, alias string, min, max int64, mode setMode, field func(*Config) *int) directive {
	return directive{name: name, alias: alias, mode: mode,
		get: func(c *Config) string { return strconv.Itoa(*field(c)) },
		set: func(c *Config, a []string) error {
			n, err := parseIntArg(a[0], min, max)
			if err != nil {
				return err
			}
			*field(c) = int(n)
			return nil
		}}
}

// memDirective is a byte count in [min, max], written like Redis's memory
// values (1k = 1000, 1kb = 1024, 1m, 1mb, 1g, 1gb).
func memDirective(name string, min, max int64, field func(*Config) *int64) directive {
	return directive{name: name,
		get: func(c *Config) string { return strconv.FormatInt(*field(c), 10) },
		set: func(c *Config, a []string) error {
			n, err := parseMemory(a[0])
			if err != nil {
				return err
			}
			if n < min || n > max {
				return rangeError(min, max)
			}
			*field(c) = n
			return nil
		}}
}

// enumDirective is one of a fixed set of lower-case words (matched
// without regard to case).
func enumDirective(name string, words []string, field func(*Config) *string, apply func(*Server, *Config)) directive {
	return directive{name: name, apply: apply,
		get: func(c *Config) string { return *field(c) },
		set: func(c *Config, a []string) error {
			v := strings.ToLower(a[0])
			for _, w := range words {
				if v == w {
					*field(c) = w
					return nil
				}
			}
			return errors.New("argument(s) must be one of the following: " + strings.Join(words, ", "))
		}}
}

// fixedDirective is a Redis setting that sessiond answers for tools'
// sake (redis-benchmark asks for save and appendonly) but does not
// implement: only its one value is accepted, anywhere.
func fixedDirective(name, value string, multiArg bool, msg string) directive {
	return directive{name: name, multiArg: multiArg,
		get: func(*Config) string { return value },
		set: func(_ *Config, a []string) error {
			if !strings.EqualFold(strings.Join(a, " "), value) {
				return errors.New(msg)
			}
			return nil
		}}
}

// setBind accepts one address ("*" means every IPv4 interface).
func setBind(c *Config, a []string) error {
	if len(a) != 1 {
		return errors.New("sessiond listens on one address: bind takes exactly one")
	}
	addr := strings.TrimPrefix(a[0], "-") // Redis's "optional address" marker
	switch addr {
	case "":
		return errors.New("bind address must not be empty")
	case "*":
		addr = "0.0.0.0"
	}
	c.Bind = addr
	return nil
}

// parseIntArg parses a decimal integer the way Redis's numeric configs
// do, with Redis's error texts.
func parseIntArg(s string, min, max int64) (int64, error) {
	n, ok := parseStrictInt(s)
	if !ok {
		return 0, errors.New("argument couldn't be parsed into an integer")
	}
	if n < min || n > max {
		return 0, rangeError(min, max)
	}
	return n, nil
}

// parseStrictInt is Redis's string2ll: an optional '-', no leading zeros,
// no '+', no spaces.
func parseStrictInt(s string) (int64, bool) {
	if s == "" || len(s) > 20 || s[0] == '+' || (len(s) > 1 && s[0] == '0') || strings.HasPrefix(s, "-0") {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func rangeError(min, max int64) error {
	return fmt.Errorf("argument must be between %d and %d inclusive", min, max)
}

// parseMemory parses a memory value as Redis's memtoll: digits followed
// by an optional unit, b, k (1000), kb (1024), m, mb, g or gb, in any case.
func parseMemory(s string) (int64, error) {
	errMem := errors.New("argument must be a memory value")
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errMem
	}
	var mul uint64
	switch strings.ToLower(s[i:]) {
	case "", "b":
		mul = 1
	case "k":
		mul = 1000
	case "kb":
		mul = 1024
	case "m":
		mul = 1000 * 1000
	case "mb":
		mul = 1024 * 1024
	case "g":
		mul = 1000 * 1000 * 1000
	case "gb":
		mul = 1024 * 1024 * 1024
	default:
		return 0, errMem
	}
	n, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mul {
		return 0, errMem
	}
	return int64(n * mul), nil
}

// findDirective looks a directive up by name or alias, ignoring case.
func findDirective(table []directive, name string) *directive {
	for i := range table {
		if strings.EqualFold(table[i].name, name) || (table[i].alias != "" && strings.EqualFold(table[i].alias, name)) {
			return &table[i]
		}
	}
	return nil
}

// validate checks every directive's value: each is printed and parsed
// back through the directive table, so a Config built in code obeys the
// same ranges and names as one read from a file.
func (c *Config) validate() error {
	for _, d := range directives() {
		v := d.get(c)
		args := []string{v}
		if d.multiArg {
			var err error
			if args, err = splitConfigLine(v); err != nil {
				return fmt.Errorf("invalid %s %q: %w", d.name, v, err)
			}
			if len(args) == 0 {
				args = []string{""}
			}
		}
		tmp := *c
		if err := d.set(&tmp, args); err != nil {
			return fmt.Errorf("invalid %s %q: %w", d.name, v, err)
		}
	}
	return nil
}

// ConfigError is a configuration sessiond refuses to start with. Its
// Error text is redis-server's "*** FATAL CONFIG FILE ERROR ***" report,
// naming the file line or command-line flag at fault.
type ConfigError struct {
	File string // the config file; "" when the error is in a flag
	Line int    // 1-based line number in File
	Flag string // the flag at fault ("--maxmemory") when File is ""
	Text string // the offending line as read
	Msg  string // what is wrong with it
}

func (e *ConfigError) Error() string {
	where := fmt.Sprintf("Reading the configuration file %s, at line %d", e.File, e.Line)
	if e.File == "" {
		where = "Reading the command-line argument " + e.Flag
	}
	return fmt.Sprintf("\n*** FATAL CONFIG FILE ERROR (sessiond %s) ***\n%s\n>>> '%s'\n%s",
		SessiondVersion, where, e.Text, e.Msg)
}

// LoadConfig builds a Config from command-line arguments in
// redis-server's form: an optional config file path first (in redis.conf
// syntax), then "--directive value..." pairs that override it. A
// directive that takes several values ("--bind", "--save") takes every
// argument up to the next "--name". A bad line or flag is reported as a
// *ConfigError; an unreadable file as a plain error.
func LoadConfig(args []string) (Config, error) {
	c := DefaultConfig()
	table := directives()
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		path := args[0]
		args = args[1:]
		data, err := os.ReadFile(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return c, fmt.Errorf("Fatal error, can't open config file '%s': %v", path, err)
		}
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		c.ConfigFile = path
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.Trim(line, " \t\r\n")
			if line == "" || line[0] == '#' {
				continue
			}
			fail := func(msg string) error {
				return &ConfigError{File: path, Line: i + 1, Text: line, Msg: msg}
			}
			words, err := splitConfigLine(line)
			if err != nil {
				return c, fail(err.Error())
			}
			if len(words) == 0 {
				continue
			}
			if msg := setDirective(&c, table, words[0], words[1:]); msg != "" {
				return c, fail(msg)
			}
		}
	}
	flags, err := splitFlags(args)
	if err != nil {
		return c, err
	}
	for _, f := range flags {
		if msg := setDirective(&c, table, f.name, f.args); msg != "" {
			text := f.name
			for _, a := range f.args {
				text += " " + reprArg(a)
			}
			return c, &ConfigError{Flag: "--" + f.name, Text: text, Msg: msg}
		}
	}
	return c, nil
}

// setDirective applies one directive line to c and returns Redis's
// message for a bad one, or "".
func setDirective(c *Config, table []directive, name string, args []string) string {
	d := findDirective(table, name)
	if d == nil {
		return "Bad directive or wrong number of arguments"
	}
	if len(args) == 0 || (!d.multiArg && len(args) != 1) {
		return "wrong number of arguments"
	}
	if err := d.set(c, args); err != nil {
		return err.Error()
	}
	return ""
}

// flag is one "--name value..." group from the command line.
type flag struct {
	name string
	args []string
}

// splitFlags groups command-line arguments as redis-server does: after
// "--name" the next argument is always its value (even one starting with
// "--"), and further arguments join it until the next "--name". "--save"
// directly followed by another flag or at the end means save "".
func splitFlags(args []string) ([]flag, error) {
	var out []flag
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") || len(a) == 2 {
			return nil, fmt.Errorf("unexpected argument '%s': directives are written --name value", a)
		}
		// "--port 6380" passed as one argument.
		words, err := splitConfigLine(a[2:])
		if err != nil || len(words) == 0 {
			return nil, fmt.Errorf("bad argument '%s'", a)
		}
		f := flag{name: strings.ToLower(words[0]), args: words[1:]}
		if len(f.args) == 0 {
			switch {
			case i+1 < len(args) && !(f.name == "save" && strings.HasPrefix(args[i+1], "--")):
				i++
				f.args = append(f.args, args[i])
			case f.name == "save":
				f.args = append(f.args, "")
			}
		}
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			i++
			f.args = append(f.args, args[i])
		}
		out = append(out, f)
	}
	return out, nil
}

// splitConfigLine splits a config line into words with Redis's
// sdssplitargs rules (see splitArgs): blanks separate words; "double
// quotes" allow \n \r \t \b \a \\ \" and \xHH escapes; 'single quotes'
// allow \'; a closing quote must be followed by a blank or the end.
func splitConfigLine(line string) ([]string, error) {
	words, err := splitArgs([]byte(line))
	if err != nil {
		return nil, errors.New("Unbalanced quotes in configuration line")
	}
	var out []string
	for _, w := range words {
		out = append(out, string(w))
	}
	return out, nil
}

// reprArg quotes s as Redis's sdscatrepr does, for error reports.
func reprArg(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		default:
			if c < 0x20 || c > 0x7e {
				fmt.Fprintf(&b, `\x%02x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// nameMatch reports whether name matches the glob pattern with Redis's
// stringmatchlen rules, ignoring case, as CONFIG GET and COMMAND LIST match
// configuration and command names.
func nameMatch(pattern, name string) bool {
	return shard.GlobMatch([]byte(strings.ToLower(pattern)), []byte(strings.ToLower(name)))
}
