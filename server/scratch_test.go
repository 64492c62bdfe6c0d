package server

import "testing"

// TestPipelinedListReads sends list reads back to back in one write: each
// reply must hold its own values although the client reuses one scratch
// slice for all of them.
func TestPipelinedListReads(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.raw(t)
	rc.roundTrip("HSET h1 a 1 b 2\r\nHSET h2 c 3\r\nMSET k1 x k2 y\r\n", ":2\r\n:1\r\n+OK\r\n")
	rc.roundTrip("HGETALL h1\r\nHGETALL h2\r\nMGET k1 k2 k3\r\nHMGET h1 b a\r\nHKEYS h2\r\n",
		"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"+
			"*2\r\n$1\r\nc\r\n$1\r\n3\r\n"+
			"*3\r\n$1\r\nx\r\n$1\r\ny\r\n$-1\r\n"+
			"*2\r\n$1\r\n2\r\n$1\r\n1\r\n"+
			"*1\r\n$1\r\nc\r\n")
}
