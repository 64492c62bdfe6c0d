package server

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"100", 100, true},
		{"100b", 100, true},
		{"1k", 1000, true},
		{"1K", 1000, true},
		{"1kb", 1024, true},
		{"1KB", 1024, true},
		{"1m", 1000000, true},
		{"2mb", 2 << 20, true},
		{"1g", 1000000000, true},
		{"1Gb", 1 << 30, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"9223372036854775808", 0, false},
		{"8589934592gb", 0, false}, // overflows
		{"", 0, false},
		{"kb", 0, false},
		{"-1", 0, false},
		{"1.5g", 0, false},
		{"1t", 0, false},
		{" 1", 0, false},
		{"1 kb", 0, false},
	}
	for _, tt := range tests {
		got, err := parseMemory(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseMemory(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && err.Error() != "argument must be a memory value" {
			t.Errorf("parseMemory(%q) error %q", tt.in, err)
		}
	}
}

func TestParseIntArg(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"5", 5, ""},
		{"0", 0, ""},
		{"-0", 0, "argument couldn't be parsed into an integer"},
		{"05", 0, "argument couldn't be parsed into an integer"},
		{"+5", 0, "argument couldn't be parsed into an integer"},
		{"1k", 0, "argument couldn't be parsed into an integer"},
		{"1.5", 0, "argument couldn't be parsed into an integer"},
		{"", 0, "argument couldn't be parsed into an integer"},
		{"101", 0, "argument must be between 0 and 100 inclusive"},
		{"-1", 0, "argument must be between 0 and 100 inclusive"},
	}
	for _, tt := range tests {
		got, err := parseIntArg(tt.in, 0, 100)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("parseIntArg(%q) = %d, %q; want %d, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestSplitConfigLine(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"", nil, false},
		{"   ", nil, false},
		{"port 6379", []string{"port", "6379"}, false},
		{"  bind\t127.0.0.1   ", []string{"bind", "127.0.0.1"}, false},
		{`requirepass "a b"`, []string{"requirepass", "a b"}, false},
		{`requirepass ""`, []string{"requirepass", ""}, false},
		{`x "a\nb\t\"\\\x41\x4a"`, []string{"x", "a\nb\t\"\\AJ"}, false},
		{`x "\q"`, []string{"x", "q"}, false},
		{`x 'it\'s "raw" \n'`, []string{"x", `it's "raw" \n`}, false},
		{`x a"b c"d`, nil, true}, // closing quote followed by a letter
		{`x a"b c" d`, []string{"x", "ab c", "d"}, false},
		{`x "open`, nil, true},
		{`x 'open`, nil, true},
		{`x 'a'b`, nil, true},
	}
	for _, tt := range tests {
		got, err := splitConfigLine(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitConfigLine(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && err.Error() != "Unbalanced quotes in configuration line" {
			t.Errorf("splitConfigLine(%q) error %q", tt.in, err)
		}
	}
}

func TestSplitFlags(t *testing.T) {
	tests := []struct {
		in   []string
		want []flag
		err  bool
	}{
		{nil, nil, false},
		{[]string{"--port", "7000", "--bind", "0.0.0.0"},
			[]flag{{"port", []string{"7000"}}, {"bind", []string{"0.0.0.0"}}}, false},
		{[]string{"--PORT", "7000"}, []flag{{"port", []string{"7000"}}}, false},
		{[]string{"--port 7000"}, []flag{{"port", []string{"7000"}}}, false},
		{[]string{"--bind", "127.0.0.1", "::1", "--port", "1"},
			[]flag{{"bind", []string{"127.0.0.1", "::1"}}, {"port", []string{"1"}}}, false},
		// The first argument after a name is its value, even with a dash.
		{[]string{"--requirepass", "--secret"}, []flag{{"requirepass", []string{"--secret"}}}, false},
		{[]string{"--maxclients", "-5"}, []flag{{"maxclients", []string{"-5"}}}, false},
		// --save followed by a flag, or last, means save "".
		{[]string{"--save", "--port", "1"}, []flag{{"save", []string{""}}, {"port", []string{"1"}}}, false},
		{[]string{"--save"}, []flag{{"save", []string{""}}}, false},
		{[]string{"--save", ""}, []flag{{"save", []string{""}}}, false},
		{[]string{"--port"}, []flag{{"port", []string{}}}, false},
		{[]string{"port", "1"}, nil, true},
		{[]string{"--"}, nil, true},
	}
	for _, tt := range tests {
		got, err := splitFlags(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitFlags(%q) = %+v, %v; want %+v, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func writeTempConf(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	file := writeTempConf(t, "sessiond.conf", `# a comment
   # an indented comment

port 7001
bind 127.0.0.2
dir "/tmp/sess data"
requirepass 'p@ss word'
maxclients 50
timeout 30
proto-max-bulk-len 2mb
maxmemory 100MB
maxmemory-policy ALLKEYS-LRU
maxmemory-samples 7
loglevel warning
hash-max-ziplist-entries 10
hash-max-listpack-value 20
databases 1
save ""
appendonly no
appendfsync everysec
port 7002
`)
	cfg, err := LoadConfig([]string{file, "--port", "7003", "--maxmemory", "1gb", "--loglevel", "debug"})
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := DefaultConfig()
	want.Port = 7003 // the flag overrides both file lines
	want.Bind = "127.0.0.2"
	want.Dir = "/tmp/sess data"
	want.RequirePass = "p@ss word"
	want.MaxClients = 50
	want.Timeout = 30 * time.Second
	want.ProtoMaxBulkLen = 2 << 20
	want.MaxMemory = 1 << 30
	want.MaxMemoryPolicy = "allkeys-lru"
	want.MaxMemorySamples = 7
	want.LogLevel = "debug"
	want.HashMaxListpackEntries = 10
	want.HashMaxListpackValue = 20
	want.ConfigFile = file
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("LoadConfig:\n got %+v\nwant %+v", cfg, want)
	}

	// Flags alone, no file.
	cfg, err = LoadConfig([]string{"--port", "0", "--bind", "*", "--save", "--appendonly", "NO"})
	if err != nil {
		t.Fatalf("LoadConfig flags: %v", err)
	}
	if cfg.Port != 0 || cfg.Bind != "0.0.0.0" || cfg.ConfigFile != "" {
		t.Errorf("flags only: port %d bind %q file %q", cfg.Port, cfg.Bind, cfg.ConfigFile)
	}

	// No arguments: the defaults.
	cfg, err = LoadConfig(nil)
	if err != nil || !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Errorf("LoadConfig(nil) = %+v, %v", cfg, err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // config file content; "" means no file
		args []string
		line int    // expected line (file errors) or 0
		flag string // expected flag (flag errors)
		text string
		msg  string
	}{
		{name: "bad memory", file: "port 1\nmaxmemory abc\n", line: 2,
			text: "maxmemory abc", msg: "argument must be a memory value"},
		{name: "unknown directive", file: "\n\nfoo bar\n", line: 3,
			text: "foo bar", msg: "Bad directive or wrong number of arguments"},
		{name: "missing argument", file: "port\n", line: 1,
			text: "port", msg: "wrong number of arguments"},
		{name: "too many arguments", file: "port 1 2\n", line: 1,
			text: "port 1 2", msg: "wrong number of arguments"},
		{name: "unbalanced quotes", file: "requirepass \"abc\n", line: 1,
			text: "requirepass \"abc", msg: "Unbalanced quotes in configuration line"},
		{name: "port range", file: "port 70000\n", line: 1,
			text: "port 70000", msg: "argument must be between 0 and 65535 inclusive"},
		{name: "policy", file: "maxmemory-policy lru\n", line: 1, text: "maxmemory-policy lru",
			msg: "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"},
		{name: "loglevel", file: "loglevel loud\n", line: 1, text: "loglevel loud",
			msg: "argument(s) must be one of the following: debug, verbose, notice, warning"},
		{name: "small bulk len", file: "proto-max-bulk-len 1k\n", line: 1, text: "proto-max-bulk-len 1k",
			msg: "argument must be between 1048576 and 9223372036854775807 inclusive"},
		{name: "timeout", file: "timeout 1.5\n", line: 1, text: "timeout 1.5",
			msg: "argument couldn't be parsed into an integer"},
		{name: "databases", file: "databases 16\n", line: 1, text: "databases 16",
			msg: "sessiond has a single database: databases must be 1"},
		{name: "save", file: "save 3600 1\n", line: 1, text: "save 3600 1",
			msg: `sessiond does not write RDB snapshots: only save "" is accepted`},
		{name: "appendonly", file: "appendonly yes\n", line: 1, text: "appendonly yes",
			msg: "sessiond does not write an append-only file: only appendonly no is accepted"},
		{name: "two binds", file: "bind 127.0.0.1 -::1\n", line: 1, text: "bind 127.0.0.1 -::1",
			msg: "sessiond listens on one address: bind takes exactly one"},
		{name: "hash entries zero", file: "hash-max-listpack-entries 0\n", line: 1,
			text: "hash-max-listpack-entries 0", msg: "argument must be between 1 and 2147483647 inclusive"},
		{name: "flag bad value", args: []string{"--maxmemory", "abc"}, flag: "--maxmemory",
			text: `maxmemory "abc"`, msg: "argument must be a memory value"},
		{name: "flag unknown", args: []string{"--port", "1", "--foo", "bar"}, flag: "--foo",
			text: `foo "bar"`, msg: "Bad directive or wrong number of arguments"},
		{name: "flag missing value", args: []string{"--port"}, flag: "--port",
			text: "port", msg: "wrong number of arguments"},
		{name: "flag extra value", args: []string{"--port", "1", "2"}, flag: "--port",
			text: `port "1" "2"`, msg: "wrong number of arguments"},
		{name: "flag after good file", file: "port 1\n", args: []string{"--maxclients", "0"},
			flag: "--maxclients", text: `maxclients "0"`, msg: "argument must be between 1 and 4294967295 inclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			path := ""
			if tt.file != "" {
				path = writeTempConf(t, "bad.conf", tt.file)
				args = append([]string{path}, args...)
			}
			_, err := LoadConfig(args)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("LoadConfig error = %v, want a *ConfigError", err)
			}
			want := ConfigError{Line: tt.line, Flag: tt.flag, Text: tt.text, Msg: tt.msg}
			if tt.flag == "" {
				want.File = path
			}
			if *ce != want {
				t.Errorf("got %+v\nwant %+v", *ce, want)
			}
			report := ce.Error()
			if !strings.Contains(report, "*** FATAL CONFIG FILE ERROR") ||
				!strings.Contains(report, ">>> '"+tt.text+"'") || !strings.HasSuffix(report, tt.msg) {
				t.Errorf("report:\n%s", report)
			}
		})
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.conf")
	_, err := LoadConfig([]string{missing})
	if err == nil || err.Error() != "Fatal error, can't open config file '"+missing+"': no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
	_, err = LoadConfig([]string{"--port", "1", "stray"})
	if err == nil {
		t.Errorf("a stray argument after flags was accepted")
	}
	file := writeTempConf(t, "ok.conf", "port 1\n")
	_, err = LoadConfig([]string{file, "other.conf"})
	if err == nil || !strings.Contains(err.Error(), "unexpected argument 'other.conf'") {
		t.Errorf("second file: %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := DefaultConfig()
	if err := ok.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string
	}{
		{"port", func(c *Config) { c.Port = 70000 }, "invalid port"},
		{"policy", func(c *Config) { c.MaxMemoryPolicy = "lru" }, "invalid maxmemory-policy"},
		{"loglevel", func(c *Config) { c.LogLevel = "loud" }, "invalid loglevel"},
		{"maxmemory", func(c *Config) { c.MaxMemory = -1 }, "invalid maxmemory"},
		{"bulk", func(c *Config) { c.ProtoMaxBulkLen = 1000 }, "invalid proto-max-bulk-len"},
		{"samples", func(c *Config) { c.MaxMemorySamples = -3 }, "invalid maxmemory-samples"},
		{"bind", func(c *Config) { c.Bind = "a b" }, "invalid bind"},
		{"maxclients", func(c *Config) { c.MaxClients = -1 }, "invalid maxclients"},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.modify(&c)
		err := c.validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: validate() = %v, want %q...", tt.name, err, tt.want)
		}
		if _, err := New(c, nil, nil); err == nil {
			t.Errorf("%s: New accepted an invalid config", tt.name)
		}
	}
}

func TestNameMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "port", true},
		{"*", "", true},
		{"port", "PORT", true},
		{"PO*", "port", true},
		{"max*", "maxmemory-policy", true},
		{"max*policy", "maxmemory-policy", true},
		{"max*policy", "maxmemory-samples", false},
		{"*-*-*", "hash-max-listpack-value", true},
		{"p?rt", "port", true},
		{"p?rt", "prt", false},
		{"[pb]ort", "port", true},
		{"[pb]ort", "sort", false},
		{"[^pb]ort", "sort", true},
		{"[^pb]ort", "port", false},
		{"[a-q]ort", "port", true},
		{"[q-a]ort", "port", true},
		{"[A-Q]ort", "port", true},
		{`p\ort`, "port", true},
		{`p\*`, "p*", true},
		{`p\*`, "px", false},
		{"[p", "p", true}, // an unterminated class ends the pattern
		{"hash-max-*-entries", "hash-max-ziplist-entries", true},
		{"", "", true},
		{"", "a", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
	}
	for _, tt := range tests {
		if got := nameMatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("nameMatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestReprArg(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", `"abc"`},
		{"", `""`},
		{"a \"b\"\n\\", `"a \"b\"\n\\"`},
		{"\x01\xff", `"\x01\xff"`},
	}
	for _, tt := range tests {
		if got := reprArg(tt.in); got != tt.want {
			t.Errorf("reprArg(%q) = %s, want %s", tt.in, got, tt.want)
		}
		// What reprArg writes, splitConfigLine reads back.
		if back, err := splitConfigLine(reprArg(tt.in)); err != nil || len(back) != 1 || back[0] != tt.in {
			t.Errorf("splitConfigLine(reprArg(%q)) = %q, %v", tt.in, back, err)
		}
	}
}

// TestExampleConfig checks that the documented sessiond.conf at the
// repository root loads and states exactly the defaults.
func TestExampleConfig(t *testing.T) {
	path, err := filepath.Abs(filepath.Join("..", "sessiond.conf"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig([]string{path})
	if err != nil {
		t.Fatalf("sessiond.conf: %v", err)
	}
	want := DefaultConfig()
	want.ConfigFile = path
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("sessiond.conf differs from the defaults:\n got %+v\nwant %+v", cfg, want)
	}
	// Every directive is documented in it.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range directives() {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(d.name) + ` `).Match(data) {
			t.Errorf("sessiond.conf does not set %s", d.name)
		}
	}
}
