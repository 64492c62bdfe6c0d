package server

import "testing"

// TestMultiReplies checks transactions byte for byte on one connection.
func TestMultiReplies(t *testing.T) {
	tests := []struct {
		name string
		send string
		want string
	}{
		{"empty", "MULTI\r\nEXEC\r\n", "+OK\r\n*0\r\n"},
		{"exec without multi", "EXEC\r\nDISCARD\r\n", "-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n"},
		{"nested", "MULTI\r\nMULTI\r\nEXEC\r\n", "+OK\r\n-ERR MULTI calls can not be nested\r\n*0\r\n"},
		{"queue and run", "MULTI\r\nSET a 1\r\nINCR a\r\nPING\r\nEXEC\r\n",
			"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:2\r\n+PONG\r\n"},
		{"unknown command aborts", "MULTI\r\nSET a 1\r\nNOSUCH\r\nEXEC\r\nEXISTS a\r\n",
			"+OK\r\n+QUEUED\r\n-ERR unknown command 'NOSUCH', with args beginning with: \r\n" +
				"-EXECABORT Transaction discarded because of previous errors.\r\n:0\r\n"},
		{"arity error aborts", "MULTI\r\nGET\r\nEXEC\r\n",
			"+OK\r\n-ERR wrong number of arguments for 'get' command\r\n" +
				"-EXECABORT Transaction discarded because of previous errors.\r\n"},
		{"errors at exec answer in place", "SET s x\r\nMULTI\r\nINCR s\r\nSET y 2 EX abc\r\nSET z 3\r\nEXEC\r\n",
			"+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n" +
				"-ERR value is not an integer or out of range\r\n" +
				"-ERR value is not an integer or out of range\r\n+OK\r\n"},
		{"getex expiry checked after lookup", "SET k v\r\nMULTI\r\nGETEX missing EX 0\r\nGETEX k EX 0\r\nGETEX k EX 100\r\nEXEC\r\n",
			"+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n$-1\r\n" +
				"-ERR invalid expire time in 'getex' command\r\n$1\r\nv\r\n"},
		{"watch inside multi", "MULTI\r\nWATCH k\r\nSET k 1\r\nEXEC\r\n",
			"+OK\r\n-ERR WATCH inside MULTI is not allowed\r\n+QUEUED\r\n*1\r\n+OK\r\n"},
		{"unknown subcommand aborts", "MULTI\r\nSET a 1\r\nOBJECT NOPE a\r\nEXEC\r\nEXISTS a\r\n",
			"+OK\r\n+QUEUED\r\n-ERR unknown subcommand 'NOPE'. Try OBJECT HELP.\r\n" +
				"-EXECABORT Transaction discarded because of previous errors.\r\n:0\r\n"},
		{"subcommand arity aborts", "MULTI\r\nCONFIG GET\r\nEXEC\r\n",
			"+OK\r\n-ERR wrong number of arguments for 'config|get' command\r\n" +
				"-EXECABORT Transaction discarded because of previous errors.\r\n"},
		{"object encoding reads in its place", "MULTI\r\nOBJECT ENCODING o\r\nSET o 12\r\nOBJECT ENCODING o\r\nMEMORY USAGE nokey\r\nEXEC\r\n",
			"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*4\r\n$-1\r\n+OK\r\n$3\r\nint\r\n$-1\r\n"},
		{"discard forgets the queue", "MULTI\r\nSET d 1\r\nDISCARD\r\nEXISTS d\r\n", "+OK\r\n+QUEUED\r\n+OK\r\n:0\r\n"},
		{"own write breaks watch", "SET w 1\r\nWATCH w\r\nSET w 2\r\nMULTI\r\nINCR w\r\nEXEC\r\nGET w\r\n",
			"+OK\r\n+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n$1\r\n2\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{})
			ts.raw(t).roundTrip(tc.send, tc.want)
		})
	}
}

// TestWatchOtherConnection checks that a write by another client aborts
// EXEC, and that EXEC forgets the watches.
func TestWatchOtherConnection(t *testing.T) {
	ts := startServer(t, Config{})
	a, b := ts.raw(t), ts.raw(t)
	a.roundTrip("SET w 1\r\nWATCH w\r\n", "+OK\r\n+OK\r\n")
	b.roundTrip("SET w 100\r\n", "+OK\r\n")
	a.roundTrip("MULTI\r\nINCR w\r\nEXEC\r\n", "+OK\r\n+QUEUED\r\n*-1\r\n")
	b.roundTrip("SET w 5\r\n", "+OK\r\n")
	a.roundTrip("MULTI\r\nINCR w\r\nEXEC\r\n", "+OK\r\n+QUEUED\r\n*1\r\n:6\r\n")
}
