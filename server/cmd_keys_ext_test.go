package server

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestClientNoTouch checks that reads of a CLIENT NO-TOUCH connection
// leave a key's idle time alone, that TOUCH still touches, and that OFF
// restores normal reads.
func TestClientNoTouch(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.resp(t)
	rc.do("SET", "k", "v")
	ts.clock.Advance(10 * time.Second)
	if got := rc.do("CLIENT", "NO-TOUCH", "ON"); got != "+OK\r\n" {
		t.Fatalf("CLIENT NO-TOUCH ON: %q", got)
	}
	rc.do("GET", "k")
	if got := rc.do("OBJECT", "IDLETIME", "k"); got != ":10\r\n" {
		t.Fatalf("idle time after a NO-TOUCH GET: %q, want 10", got)
	}
	rc.do("TOUCH", "k")
	if got := rc.do("OBJECT", "IDLETIME", "k"); got != ":0\r\n" {
		t.Fatalf("idle time after TOUCH: %q, want 0", got)
	}
	ts.clock.Advance(5 * time.Second)
	rc.do("CLIENT", "NO-TOUCH", "OFF")
	rc.do("GET", "k")
	if got := rc.do("OBJECT", "IDLETIME", "k"); got != ":0\r\n" {
		t.Fatalf("idle time after a normal GET: %q, want 0", got)
	}
	if got := rc.do("CLIENT", "NO-TOUCH", "maybe"); !strings.HasPrefix(got, "-ERR syntax error") {
		t.Fatalf("CLIENT NO-TOUCH maybe: %q", got)
	}
}

// TestSlowlog checks that SLOWLOG records commands over the threshold
// with Redis's entry shape, trims long arguments, keeps slowlog-max-len
// entries and leaves AUTH out.
func TestSlowlog(t *testing.T) {
	ts := startServer(t, Config{SlowlogLogSlowerThan: 0, SlowlogMaxLen: 3})
	rc := ts.resp(t)
	rc.do("SET", "k", strings.Repeat("x", 200))
	got := rc.do("SLOWLOG", "GET", "1")
	want := "*1\r\n*6\r\n:0\r\n"
	if !strings.HasPrefix(got, want) || !strings.Contains(got, "$3\r\nSET\r\n$1\r\nk\r\n") ||
		!strings.Contains(got, "... (72 more bytes)") {
		t.Fatalf("SLOWLOG GET 1 = %q", got)
	}
	for range 5 {
		rc.do("PING")
	}
	if got := rc.do("SLOWLOG", "LEN"); got != ":3\r\n" {
		t.Fatalf("SLOWLOG LEN = %q, want the 3 slowlog-max-len keeps", got)
	}
	rc.do("AUTH", "secret")
	if got := rc.do("SLOWLOG", "GET", "-1"); strings.Contains(got, "secret") {
		t.Fatalf("AUTH was logged: %q", got)
	}
	if got := rc.do("SLOWLOG", "RESET"); got != "+OK\r\n" {
		t.Fatalf("SLOWLOG RESET = %q", got)
	}
	if got := rc.do("SLOWLOG", "GET", "-2"); !strings.HasPrefix(got, "-ERR count should be greater than or equal to -1") {
		t.Fatalf("SLOWLOG GET -2 = %q", got)
	}
	rc.do("CONFIG", "SET", "slowlog-log-slower-than", "-1")
	rc.do("SLOWLOG", "RESET")
	rc.do("PING")
	if got := rc.do("SLOWLOG", "LEN"); got != ":0\r\n" {
		t.Fatalf("SLOWLOG LEN with logging off = %q", got)
	}
}

// TestMonitor checks that MONITOR streams other connections' commands in
// Redis's format, quoting like sdscatrepr, leaves AUTH out, and stops at
// RESET.
func TestMonitor(t *testing.T) {
	ts := startServer(t, Config{})
	mon := ts.resp(t)
	if got := mon.do("MONITOR"); got != "+OK\r\n" {
		t.Fatalf("MONITOR: %q", got)
	}
	rc := ts.resp(t)
	rc.do("AUTH", "secret")
	rc.do("SET", "k", "a b\n\x01\"")
	line, err := mon.br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "k" "a b\\n\\x01\\""\r\n$`)
	if !re.MatchString(line) {
		t.Fatalf("monitor line %q", line)
	}
	if got := mon.do("RESET"); got != "+RESET\r\n" {
		t.Fatalf("RESET on the monitor: %q", got)
	}
	rc.do("SET", "k", "2")
	if got := mon.do("PING"); got != "+PONG\r\n" {
		t.Fatalf("after RESET the monitor got %q, want only its PONG", got)
	}
}
