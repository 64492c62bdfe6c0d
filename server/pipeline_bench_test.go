package server

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"testing"

	"sessiond/ttl"
)

// benchPipeline sends b.N commands in pipelines of depth 16 over one
// connection and reads every reply line, for profiling the server's
// per-command path (go test -bench Pipeline -cpuprofile).
func benchPipeline(b *testing.B, mk func(i int) string) {
	ts := startServer(b, Config{Clock: ttl.SystemClock{}})
	const conns = 50
	per := b.N/conns + 1
	var wg sync.WaitGroup
	b.ResetTimer()
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			pipelineConn(b, ts.addr, c*per, per, mk)
		}(c)
	}
	wg.Wait()
}

func pipelineConn(b *testing.B, addr string, first, count int, mk func(i int) string) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Error(err)
		return
	}
	defer nc.Close()
	rd := bufio.NewReaderSize(nc, 64<<10)
	const depth = 16
	var buf []byte
	for i := first; i < first+count; i += depth {
		buf = buf[:0]
		n := min(depth, first+count-i)
		for j := 0; j < n; j++ {
			buf = append(buf, mk(i+j)...)
		}
		if _, err := nc.Write(buf); err != nil {
			b.Error(err)
			return
		}
		for j := 0; j < n; j++ {
			line, err := rd.ReadSlice('\n')
			if err != nil {
				b.Error(err)
				return
			}
			if line[0] == '$' && line[1] != '-' {
				if _, err := rd.ReadSlice('\n'); err != nil {
					b.Error(err)
					return
				}
			}
		}
	}
}

func BenchmarkPipelineSet(b *testing.B) {
	benchPipeline(b, func(i int) string {
		k := fmt.Sprintf("key:%06d", i%100000)
		return fmt.Sprintf("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nxxx\r\n", len(k), k)
	})
}

func BenchmarkPipelineGet(b *testing.B) {
	benchPipeline(b, func(i int) string {
		k := fmt.Sprintf("key:%06d", i%100000)
		return fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k)
	})
}

func BenchmarkPipelineExpire(b *testing.B) {
	benchPipeline(b, func(i int) string {
		k := fmt.Sprintf("key:%06d", i%1000)
		if i < 1000 {
			return fmt.Sprintf("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nxxx\r\n", len(k), k)
		}
		return fmt.Sprintf("*3\r\n$6\r\nEXPIRE\r\n$%d\r\n%s\r\n$4\r\n1800\r\n", len(k), k)
	})
}

func BenchmarkPipelineHSet(b *testing.B) {
	benchPipeline(b, func(i int) string {
		k := fmt.Sprintf("sess:%06d", i%100000)
		return fmt.Sprintf("*4\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$4\r\nuser\r\n$5\r\nu1234\r\n", len(k), k)
	})
}
