package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer is a tiny in-process RESP server for tests: it answers each
// command with whatever reply returns (raw RESP) and counts commands by
// name.
type fakeServer struct {
	addr   string
	reply  func(cmd []string) string
	mu     sync.Mutex
	counts map[string]int
}

// startFake listens on 127.0.0.1:0 and serves until the test ends.
func startFake(t *testing.T, reply func(cmd []string) string) *fakeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{addr: l.Addr().String(), reply: reply, counts: map[string]int{}}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		l.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			conns.Store(nc, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				f.serve(nc)
			}()
		}
	}()
	return f
}

// serve answers one connection's commands in order.
func (f *fakeServer) serve(nc net.Conn) {
	r, w := bufio.NewReader(nc), bufio.NewWriter(nc)
	for {
		req, err := readReply(r)
		if err != nil {
			return
		}
		cmd := make([]string, len(req.Elems))
		for i, e := range req.Elems {
			cmd[i] = e.Str
		}
		f.mu.Lock()
		f.counts[strings.ToUpper(cmd[0])]++
		f.mu.Unlock()
		w.WriteString(f.reply(cmd))
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

// count returns how many commands named name the server received.
func (f *fakeServer) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[name]
}

// sessionReply answers like a server holding every session but key 7.
func sessionReply(cmd []string) string {
	switch strings.ToUpper(cmd[0]) {
	case "HGETALL":
		if cmd[1] == paddedKey(sessPrefix, 7) {
			return "*0\r\n"
		}
		return "*4\r\n$7\r\nuser_id\r\n$2\r\nu1\r\n$4\r\ncsrf\r\n$2\r\nt9\r\n"
	case "HSET":
		return ":0\r\n"
	case "EXPIRE":
		return ":1\r\n"
	}
	return "-ERR unknown command '" + cmd[0] + "'\r\n"
}

func TestRunMix(t *testing.T) {
	tests := []struct {
		name        string
		reply       func([]string) string
		readPercent int
		pipeline    int
		wantErrors  bool
	}{
		{"80% reads, no pipelining", sessionReply, 80, 1, false},
		{"80% reads, pipeline 16", sessionReply, 80, 16, false},
		{"writes only", sessionReply, 0, 4, false},
		{"EXPIRE missing", func(cmd []string) string {
			if cmd[0] == "EXPIRE" {
				return "-ERR unknown command 'EXPIRE'\r\n"
			}
			return sessionReply(cmd)
		}, 50, 8, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, tt.reply)
			cfg := MixConfig{Addr: f.addr, Conns: 4, Pipeline: tt.pipeline, Requests: 2000,
				Duration: time.Minute, Keys: 10, ReadPercent: tt.readPercent, Seed: 1}
			res, err := RunMix(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops != 2000 || res.Reads+res.Writes != res.Ops {
				t.Fatalf("ops = %d (reads %d + writes %d), want 2000", res.Ops, res.Reads, res.Writes)
			}
			if got := f.count("HGETALL"); int64(got) != res.Reads {
				t.Errorf("server saw %d HGETALL, generator counted %d reads", got, res.Reads)
			}
			if f.count("HSET") != int(res.Writes) || f.count("EXPIRE") != int(res.Writes) {
				t.Errorf("server saw %d HSET and %d EXPIRE for %d writes", f.count("HSET"), f.count("EXPIRE"), res.Writes)
			}
			wantReads := int64(2000 * tt.readPercent / 100)
			if res.Reads < wantReads-200 || res.Reads > wantReads+200 {
				t.Errorf("reads = %d, want about %d", res.Reads, wantReads)
			}
			if res.Reads > 0 && (res.Misses == 0 || res.Misses >= res.Reads) {
				t.Errorf("misses = %d of %d reads, want about a tenth (key 7 of 10 is absent)", res.Misses, res.Reads)
			}
			if tt.wantErrors {
				if res.Errors != res.Writes || res.FirstError != "ERR unknown command 'EXPIRE'" {
					t.Errorf("errors = %d (%q), want one per write (%d)", res.Errors, res.FirstError, res.Writes)
				}
			} else if res.Errors != 0 {
				t.Errorf("errors = %d (%q), want none", res.Errors, res.FirstError)
			}
			if res.RPS <= 0 || res.P50Ms <= 0 || res.P99Ms < res.P50Ms || res.MaxMs < res.P99Ms {
				t.Errorf("implausible figures: %+v", res)
			}
		})
	}
}

func TestRunMixStopsOnTime(t *testing.T) {
	f := startFake(t, sessionReply)
	cfg := MixConfig{Addr: f.addr, Conns: 2, Pipeline: 1, Requests: 1 << 40,
		Duration: 100 * time.Millisecond, Keys: 10, ReadPercent: 80, Seed: 1}
	res, err := RunMix(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.Ops >= int64(cfg.Requests) {
		t.Fatalf("ops = %d, want some but fewer than the count bound", res.Ops)
	}
}

func TestRunMixConnectionLost(t *testing.T) {
	var n atomic.Int64
	f := startFake(t, func(cmd []string) string {
		if n.Add(1) == 50 {
			return "$garbage\r\n" // a protocol error ends the run
		}
		return sessionReply(cmd)
	})
	cfg := MixConfig{Addr: f.addr, Conns: 2, Pipeline: 2, Requests: 1000, Duration: time.Minute, Keys: 10, ReadPercent: 80, Seed: 1}
	if _, err := RunMix(context.Background(), cfg); !errors.Is(err, errProtocol) {
		t.Fatalf("err = %v, want a protocol error", err)
	}
}

func TestMixConfigArgsRoundTrip(t *testing.T) {
	want := MixConfig{Addr: "127.0.0.1:4242", Conns: 7, Pipeline: 16, Requests: 12345,
		Duration: 1500 * time.Millisecond, Keys: 999, ReadPercent: 65, Seed: 42}
	got := DefaultMixConfig()
	fs := flag.NewFlagSet("mix", flag.ContinueOnError)
	got.RegisterFlags(fs)
	if err := fs.Parse(want.Args()); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("round trip = %+v, want %+v", got, want)
	}
}

func TestMixConfigValidate(t *testing.T) {
	ok := DefaultMixConfig()
	if err := ok.validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	for name, mutate := range map[string]func(*MixConfig){
		"no conns":     func(c *MixConfig) { c.Conns = 0 },
		"no pipeline":  func(c *MixConfig) { c.Pipeline = 0 },
		"no requests":  func(c *MixConfig) { c.Requests = 0 },
		"no keys":      func(c *MixConfig) { c.Keys = 0 },
		"no duration":  func(c *MixConfig) { c.Duration = 0 },
		"read pct 101": func(c *MixConfig) { c.ReadPercent = 101 },
	} {
		c := ok
		mutate(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: validate accepted %+v", name, c)
		}
	}
}

func TestClaim(t *testing.T) {
	var b atomic.Int64
	b.Store(20)
	var got []int
	for range 4 {
		got = append(got, claim(&b, 8))
	}
	if want := []int{8, 8, 4, 0}; !equalInts(got, want) {
		t.Fatalf("claims = %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoad(t *testing.T) {
	f := startFake(t, func(cmd []string) string {
		if cmd[0] == "HSET" && cmd[1] == paddedKey(sessPrefix, 500) {
			return "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
		}
		return "+OK\r\n"
	})
	ctx := context.Background()
	err := load(ctx, f.addr, 1000, 3, 64, func(c *Conn, i int) int {
		c.Send("SET", paddedKey(strPrefix, i), "v")
		return 1
	})
	if err != nil || f.count("SET") != 1000 {
		t.Fatalf("load: err %v, server saw %d SET, want 1000", err, f.count("SET"))
	}
	err = load(ctx, f.addr, 1000, 3, 64, func(c *Conn, i int) int {
		c.Send("HSET", paddedKey(sessPrefix, i), "f", "v")
		c.Send("EXPIRE", paddedKey(sessPrefix, i), "60")
		return 2
	})
	var re *ReplyError
	if !errors.As(err, &re) || !strings.HasPrefix(re.Msg, "OOM") {
		t.Fatalf("load err = %v, want the OOM reply", err)
	}
	if f.count("HSET") != 1000 || f.count("EXPIRE") != 1000 {
		t.Fatalf("server saw %d HSET, %d EXPIRE; an error reply must not stop the load", f.count("HSET"), f.count("EXPIRE"))
	}
}
