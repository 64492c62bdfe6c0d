package server

import (
	"math"
	"testing"
)

// TestStringReplies checks string commands byte for byte, in the order of
// Redis's checks (syntax, then the key, then values). Each case runs on a
// fresh server; setup replies are not checked.
func TestStringReplies(t *testing.T) {
	tests := []struct {
		name  string
		setup []string // commands answered +OK or :1
		send  string
		want  string
	}{
		{"set past EXAT deletes", nil, "SET k v EXAT 1\r\nEXISTS k\r\n", "+OK\r\n:0\r\n"},
		{"set zero EX", nil, "SET k v EX 0\r\n", "-ERR invalid expire time in 'set' command\r\n"},
		{"set EX overflow", nil, "SET k v EX 9223372036854775807\r\n", "-ERR invalid expire time in 'set' command\r\n"},
		{"set PX overflow with now", nil, "SET k v PX 9223372036854775807\r\n", "-ERR invalid expire time in 'set' command\r\n"},
		{"set EX not a number", nil, "SET k v EX abc\r\n", "-ERR value is not an integer or out of range\r\n"},
		{"set KEEPTTL with EX", nil, "SET k v KEEPTTL EX 10\r\n", "-ERR syntax error\r\n"},
		{"set EX with PX", nil, "SET k v EX 10 PX 10\r\n", "-ERR syntax error\r\n"},
		{"set NX XX", nil, "SET k v NX XX\r\n", "-ERR syntax error\r\n"},
		{"set EX twice", nil, "SET k v EX 10 EX 20\r\nTTL k\r\n", "+OK\r\n:20\r\n"},
		{"set syntax before value error", nil, "SET k v EX abc FOO\r\n", "-ERR syntax error\r\n"},
		{"set GET wrong type after expiry check", []string{"HSET h f v"}, "SET h v GET EX 0\r\n", "-ERR invalid expire time in 'set' command\r\n"},
		{"set GET wrong type", []string{"HSET h f v"}, "SET h v GET\r\n", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
		{"set NX GET existing", []string{"SET k old"}, "SET k new NX GET\r\nGET k\r\n", "$3\r\nold\r\n$3\r\nold\r\n"},
		{"getex missing bad expiry", nil, "GETEX k EX 0\r\nGETEX k EX abc\r\n", "$-1\r\n$-1\r\n"},
		{"getex string bad expiry", []string{"SET k v"}, "GETEX k EX 0\r\nGETEX k PX abc\r\n", "-ERR invalid expire time in 'getex' command\r\n-ERR value is not an integer or out of range\r\n"},
		{"getex hash bad expiry", []string{"HSET h f v"}, "GETEX h EX abc\r\n", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
		{"getex syntax first", nil, "GETEX k EX 10 PERSIST\r\nGETEX k KEEPTTL\r\n", "-ERR syntax error\r\n-ERR syntax error\r\n"},
		{"getex sets expiry", []string{"SET k v"}, "GETEX k EX 100\r\nTTL k\r\nGETEX k PERSIST\r\nTTL k\r\n", "$1\r\nv\r\n:100\r\n$1\r\nv\r\n:-1\r\n"},
		{"incrbyfloat long double", []string{"SET f 0.1"}, "INCRBYFLOAT f 0.2\r\nGET f\r\n", "$3\r\n0.3\r\n$3\r\n0.3\r\n"},
		{"incrbyfloat type before increment", []string{"HSET h f v"}, "INCRBYFLOAT h abc\r\n", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
		{"incrbyfloat bad increment", nil, "INCRBYFLOAT f abc\r\nEXISTS f\r\n", "-ERR value is not a valid float\r\n:0\r\n"},
		{"incrbyfloat infinity", nil, "INCRBYFLOAT f inf\r\n", "-ERR increment would produce NaN or Infinity\r\n"},
		{"incrbyfloat huge", nil, "INCRBYFLOAT f 1e40\r\n", "$40\r\n9999999999999999999783686092270256259072\r\n"},
		{"decrby min", nil, "DECRBY n -9223372036854775808\r\n", "-ERR decrement would overflow\r\n"},
		{"setrange offset overflow", []string{"SET k v"}, "SETRANGE k 9223372036854775807 x\r\n", "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"},
		{"setrange negative", nil, "SETRANGE k -1 x\r\n", "-ERR offset is out of range\r\n"},
		{"mset odd", nil, "MSET a 1 b\r\n", "-ERR wrong number of arguments for 'mset' command\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{})
			rc := ts.raw(t)
			for _, s := range tc.setup {
				want := "+OK\r\n"
				if s[0] == 'H' {
					want = ":1\r\n"
				}
				rc.roundTrip(s+"\r\n", want)
			}
			rc.roundTrip(tc.send, tc.want)
		})
	}
}

// TestArityBeforeAuth checks Redis's order of checks for a client that has
// not authenticated: unknown command, then arity, then NOAUTH.
func TestArityBeforeAuth(t *testing.T) {
	ts := startServer(t, Config{RequirePass: "secret"})
	rc := ts.raw(t)
	rc.roundTrip("GET\r\n", "-ERR wrong number of arguments for 'get' command\r\n")
	rc.roundTrip("GET k\r\n", "-NOAUTH Authentication required.\r\n")
	rc.roundTrip("NOSUCH\r\n", "-ERR unknown command 'NOSUCH', with args beginning with: \r\n")
}

// TestFormatDouble checks doubles as Redis 7.2+ writes them (d2string).
func TestFormatDouble(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{1.5, "1.5"},
		{0.1, "0.1"},
		{-2, "-2"},
		{1e6, "1000000"},
		{1e17, "100000000000000000"},
		{1e19, "1e+19"},
		{1.5e17, "150000000000000000"},
		{123456.789, "123456.789"},
		{0.0001, "0.0001"},
		{0.00001, "1e-05"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
	}
	for _, tc := range tests {
		if got := formatDouble(tc.f); got != tc.want {
			t.Errorf("formatDouble(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}
