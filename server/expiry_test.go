package server

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// exWait polls cmd on c until it answers want, for up to 10 seconds: the
// reaper runs on its own ticker, so reclaiming is waited for, not timed.
func exWait(t *testing.T, c *biConn, cmd, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.send(cmd)
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
		if line == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q still answers %q, want %q", cmd, line, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestExpiryMillisecondPrecision: a key set with PX 150 is there at
// +100 ms (and +149) and gone at +151 and +200 (GET nil, EXISTS 0, PTTL
// -2), and the reaper reclaims it (DBSIZE 0) without anyone reading it.
func TestExpiryMillisecondPrecision(t *testing.T) {
	ts := startServer(t, Config{})
	c := biDial(t, ts.addr)
	c.send("SET k v PX 150\r\nSET other v PX 150\r\n")
	c.expect("+OK\r\n+OK\r\n")

	ts.clock.Advance(100 * time.Millisecond)
	c.send("GET k\r\nEXISTS k\r\nPTTL k\r\nTTL k\r\n")
	c.expect("$1\r\nv\r\n:1\r\n:50\r\n:0\r\n")
	ts.clock.Advance(49 * time.Millisecond) // +149
	c.send("GET k\r\nPTTL k\r\n")
	c.expect("$1\r\nv\r\n:1\r\n")

	ts.clock.Advance(2 * time.Millisecond) // +151
	c.send("GET k\r\nEXISTS k\r\nPTTL k\r\n")
	c.expect("$-1\r\n:0\r\n:-2\r\n")
	ts.clock.Advance(49 * time.Millisecond) // +200
	c.send("GET k\r\nEXISTS k other\r\nTTL k\r\n")
	c.expect("$-1\r\n:0\r\n:-2\r\n")

	// RESP3 says nil its own way.
	c.send("HELLO 3\r\n")
	skipRESP(t, c)
	c.send("GET k\r\n")
	c.expect("_\r\n")
	c.send("HELLO 2\r\n")
	skipRESP(t, c)

	// Never read again, "other" is still reclaimed.
	exWait(t, c, "DBSIZE\r\n", ":0\r\n")
	if used := ts.Store().UsedBytes(); used != 0 {
		t.Fatalf("memory account %d after reaping", used)
	}
}

// TestExpiryDeadlineMillisecond checks Redis's expiry edge through the
// server: a key (keyIsExpired: now > when) or hash field (Redis 7.4+) set
// to expire in 150 ms is still there at +150 ms, the deadline's own
// millisecond, with a PTTL of 0, and gone at +151 ms.
func TestExpiryDeadlineMillisecond(t *testing.T) {
	tests := []struct {
		name              string
		setup, setupReply string
		check             string // sent at +150 ms and again at +151 ms
		atDeadline, after string
	}{
		{"key",
			"SET k v PX 150\r\n", "+OK\r\n",
			"GET k\r\nPTTL k\r\nTTL k\r\nEXISTS k\r\n",
			"$1\r\nv\r\n:0\r\n:0\r\n:1\r\n",
			"$-1\r\n:-2\r\n:-2\r\n:0\r\n"},
		{"hash field",
			"HSET h f v g w\r\nHPEXPIRE h 150 FIELDS 1 f\r\n", ":2\r\n*1\r\n:1\r\n",
			"HGET h f\r\nHPTTL h FIELDS 1 f\r\nHTTL h FIELDS 1 f\r\nHLEN h\r\n",
			"$1\r\nv\r\n*1\r\n:0\r\n*1\r\n:0\r\n:2\r\n",
			"$-1\r\n*1\r\n:-2\r\n*1\r\n:-2\r\n:1\r\n"},
		{"last hash field",
			"HSET o f v\r\nHPEXPIRE o 150 FIELDS 1 f\r\n", ":1\r\n*1\r\n:1\r\n",
			"HGET o f\r\nHPTTL o FIELDS 1 f\r\nEXISTS o\r\n",
			"$1\r\nv\r\n*1\r\n:0\r\n:1\r\n",
			"$-1\r\n*1\r\n:-2\r\n:0\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{})
			c := biDial(t, ts.addr)
			c.send(tc.setup)
			c.expect(tc.setupReply)
			ts.clock.Advance(150 * time.Millisecond)
			c.send(tc.check)
			c.expect(tc.atDeadline)
			ts.clock.Advance(time.Millisecond)
			c.send(tc.check)
			c.expect(tc.after)
		})
	}
}

// skipRESP reads one RESP2 or RESP3 value of any shape.
func skipRESP(t *testing.T, c *biConn) {
	t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.br.ReadString('\n')
	if err != nil || len(line) < 3 {
		t.Fatalf("reading a reply: %q, %v", line, err)
	}
	var n int
	fmt.Sscan(strings.TrimSpace(line[1:]), &n)
	switch line[0] {
	case '$', '=', '!':
		if n >= 0 {
			if _, err := io.ReadFull(c.br, make([]byte, n+2)); err != nil {
				t.Fatal(err)
			}
		}
	case '*', '~', '>':
		for i := 0; i < n; i++ {
			skipRESP(t, c)
		}
	case '%', '|':
		for i := 0; i < 2*n; i++ {
			skipRESP(t, c)
		}
	}
}

// TestExpiryReclaimsUnreadKeys expires many keys and hash fields that
// nobody reads again: the reaper reclaims them all, the memory account
// goes back to where it was, and keys without a deadline stay.
func TestExpiryReclaimsUnreadKeys(t *testing.T) {
	ts := startServer(t, Config{})
	c := biDial(t, ts.addr)
	c.send("SET keep v\r\nHSET session f2 v2\r\n")
	c.expect("+OK\r\n:1\r\n")
	base := ts.Store().UsedBytes()

	var pipe strings.Builder
	const n = 5000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&pipe, "SET s:%d %s PX %d\r\n", i, strings.Repeat("x", 100), 100+i%200)
	}
	pipe.WriteString("HSET session f1 v1 f3 v3\r\nHPEXPIRE session 250 FIELDS 2 f1 f3\r\n")
	c.send(pipe.String())
	c.expect(strings.Repeat("+OK\r\n", n) + ":2\r\n*2\r\n:1\r\n:1\r\n")
	if keys, _ := ts.Store().Len(); keys != n+2 {
		t.Fatalf("%d keys before expiry", keys)
	}

	ts.clock.Advance(time.Second)
	exWait(t, c, "DBSIZE\r\n", ":2\r\n")
	deadline := time.Now().Add(10 * time.Second)
	for ts.Store().Stats().ExpiredFields.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("hash fields not reclaimed: ExpiredFields %d", ts.Store().Stats().ExpiredFields.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if used := ts.Store().UsedBytes(); used != base {
		t.Fatalf("memory account %d after reaping, %d before the expiring writes", used, base)
	}
	c.send("GET keep\r\nHGETALL session\r\n")
	c.expect("$1\r\nv\r\n*2\r\n$2\r\nf2\r\n$2\r\nv2\r\n")
}

// TestExpiryClockGoesBack: once a write was applied at a later time, a
// clock that steps back (a replica or new leader with a slower clock)
// does not bring expired keys back or stretch TTLs.
func TestExpiryClockGoesBack(t *testing.T) {
	ts := startServer(t, Config{})
	c := biDial(t, ts.addr)
	start := ts.clock.Now()
	c.send("SET a v PX 150\r\nSET b v PX 300\r\n")
	c.expect("+OK\r\n+OK\r\n")
	ts.clock.Advance(200 * time.Millisecond)
	c.send("SET stamp v\r\n") // applied at +200
	c.expect("+OK\r\n")
	ts.clock.Set(start.Add(100 * time.Millisecond))
	c.send("GET a\r\nEXISTS a\r\nPTTL b\r\n")
	c.expect("$-1\r\n:0\r\n:100\r\n")
	ts.clock.Set(start.Add(320 * time.Millisecond))
	c.send("GET b\r\n")
	c.expect("$-1\r\n")
}
