package server

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestReaderForgetsLargeRequest checks that once a large request has been
// answered, nothing in the reader still points at its bytes: an idle
// connection must not keep a big value alive.
func TestReaderForgetsLargeRequest(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	in := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + strconv.Itoa(len(big)) + "\r\n" + big + "\r\n*1\r\n$4\r\nPING\r\n"
	rd := newReader(bytes.NewBufferString(in), 512<<20, func() bool { return true })
	args, err := rd.next(true)
	if err != nil || len(args) != 3 || len(args[2]) != len(big) {
		t.Fatalf("first command: %d args, err %v", len(args), err)
	}
	args, err = rd.next(true)
	if err != nil || len(args) != 1 || string(args[0]) != "PING" {
		t.Fatalf("second command: %q, err %v", args, err)
	}
	rd.shrink()
	for i, a := range rd.args[:cap(rd.args)] {
		if a != nil {
			t.Fatalf("args[%d] still holds %d bytes after shrink", i, len(a))
		}
	}
	if len(rd.buf) > idleReadBuf {
		t.Fatalf("buffer of %d bytes kept after shrink", len(rd.buf))
	}
}

// TestReaderHugeProtoMaxBulkLen checks that the largest proto-max-bulk-len
// Redis accepts (2^63-1) does not overflow the reader's limits.
func TestReaderHugeProtoMaxBulkLen(t *testing.T) {
	rd := newReader(bytes.NewBufferString("*1\r\n$4\r\nPING\r\n"), math.MaxInt64, func() bool { return true })
	args, err := rd.next(true)
	if err != nil || len(args) != 1 || string(args[0]) != "PING" {
		t.Fatalf("got %q, err %v", args, err)
	}
}

// TestSelectParsesLikeRedis checks SELECT's integer parsing: Redis's
// string2ll refuses "-0", "+0" and "00".
func TestSelectParsesLikeRedis(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.raw(t)
	rc.roundTrip("SELECT 0\r\n", "+OK\r\n")
	for _, arg := range []string{"-0", "+0", "00", "x"} {
		rc.roundTrip("SELECT "+arg+"\r\n", "-ERR value is not an integer or out of range\r\n")
	}
	rc.roundTrip("SELECT 1\r\n", "-ERR DB index is out of range\r\n")
}
