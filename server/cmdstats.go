package server

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// INFO commandstats, errorstats and latencystats.

// errorCodes counts error replies by their code (INFO errorstats).
type errorCodes struct {
	mu       sync.Mutex
	counts   map[string]int64
	disabled bool // more than maxErrorCodes codes: only errorStatsDisabled counts
}

// maxErrorCodes is how many distinct error codes errorstats keeps, as
// Redis 7.2's ERROR_STATS_NUMBER: a client answered errors with ever new
// codes (a script's redis.error_reply) must not grow the table without
// end. The next new code empties it and leaves only errorStatsDisabled,
// which counts every error reply until CONFIG RESETSTAT.
const (
	maxErrorCodes      = 128
	errorStatsDisabled = "ERRORSTATS_DISABLED"
)

// errorCode is an error reply's code, as Redis takes it: the first word
// if a space ends it within the reply's first 32 bytes ('-' included),
// else "ERR".
func errorCode(reply []byte) []byte {
	msg := reply[1:] // after '-'
	if i := bytes.IndexByte(msg[:min(len(msg), 31)], ' '); i >= 0 {
		return msg[:i]
	}
	return []byte("ERR")
}

// countErrorCode counts an error reply ("-CODE message\r\n") in errorstats.
func (s *Server) countErrorCode(reply []byte) {
	code := errorCode(reply)
	e := &s.errorCodes
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts == nil {
		e.counts = map[string]int64{}
	}
	if e.disabled {
		e.counts[errorStatsDisabled]++
		return
	}
	if _, ok := e.counts[string(code)]; !ok && len(e.counts) >= maxErrorCodes {
		s.log.Warn("errorstats stopped counting error codes: more than the limit", "limit", maxErrorCodes)
		clear(e.counts)
		e.disabled = true
		e.counts[errorStatsDisabled] = 1
		return
	}
	e.counts[string(code)]++
}

// counted returns every command and subcommand that keeps statistics,
// by name (commandstats and latencystats list them so).
func (s *Server) counted() []*command {
	var all []*command
	for _, cmd := range s.cmds {
		for _, c := range append([]*command{cmd}, cmd.subs...) {
			if c.stats != nil {
				all = append(all, c)
			}
		}
	}
	slices.SortFunc(all, func(x, y *command) int { return strings.Compare(x.name, y.name) })
	return all
}

// resetCommandStats empties commandstats, latencystats and errorstats
// (CONFIG RESETSTAT).
func (s *Server) resetCommandStats() {
	for _, c := range s.counted() {
		st := c.stats
		st.calls.Store(0)
		st.nanos.Store(0)
		st.rejected.Store(0)
		st.failed.Store(0)
		st.hist.Store(nil)
	}
	s.errorCodes.mu.Lock()
	clear(s.errorCodes.counts)
	s.errorCodes.disabled = false
	s.errorCodes.mu.Unlock()
}

// infoCommandStats writes a cmdstat_ line for every command (and
// subcommand, as "config|get") called or refused since the start or the
// last CONFIG RESETSTAT, by name.
func (s *Server) infoCommandStats(b *infoBuilder) {
	for _, c := range s.counted() {
		calls, rejected, failed := c.stats.calls.Load(), c.stats.rejected.Load(), c.stats.failed.Load()
		if calls == 0 && rejected == 0 && failed == 0 {
			continue
		}
		usec := c.stats.nanos.Load() / 1000
		perCall := 0.0
		if calls > 0 {
			perCall = float64(c.stats.nanos.Load()) / 1000 / float64(calls)
		}
		b.kv("cmdstat_"+c.name, fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d",
			calls, usec, perCall, rejected, failed))
	}
}

// infoErrorStats writes an errorstat_ line per error code, in byte order
// as Redis's radix tree gives them.
func (s *Server) infoErrorStats(b *infoBuilder) {
	e := &s.errorCodes
	e.mu.Lock()
	codes := make([]string, 0, len(e.counts))
	for code := range e.counts {
		codes = append(codes, code)
	}
	counts := make(map[string]int64, len(e.counts))
	for k, v := range e.counts {
		counts[k] = v
	}
	e.mu.Unlock()
	slices.Sort(codes)
	for _, code := range codes {
		b.kv("errorstat_"+code, fmt.Sprintf("count=%d", counts[code]))
	}
}

// latencyHist counts a command's durations in buckets that grow with the
// value: exact below 16 ns, then 16 per power of two, so a bucket spans
// at most 1/16 of its values (Redis's hdr_histogram keeps 2 significant
// digits). Safe for concurrent use.
type latencyHist struct {
	counts [latencyBuckets]atomic.Int64
}

const (
	latencySub     = 16
	latencyBuckets = latencySub + 60*latencySub
)

// latencyBucket returns the bucket of a duration of ns nanoseconds.
func latencyBucket(ns int64) int {
	if ns < latencySub {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) - 5 // ns>>e is in [16, 32)
	return latencySub + e*latencySub + int(ns>>e) - latencySub
}

// latencyUpper returns the largest duration bucket i holds, in ns.
func latencyUpper(i int) int64 {
	if i < latencySub {
		return int64(i)
	}
	e := (i - latencySub) / latencySub
	m := int64(latencySub + (i-latencySub)%latencySub)
	return (m+1)<<e - 1
}

// countCall counts one call of cmd that ran for took nanoseconds in
// commandstats and, when track is set (latency-tracking), latencystats.
func (cmd *command) countCall(took int64, track bool) {
	if cmd.stats == nil {
		return
	}
	cmd.stats.calls.Add(1)
	cmd.stats.nanos.Add(took)
	if track {
		recordLatency(cmd.stats, took)
	}
}

// recordLatency adds one call of d nanoseconds to cmd's histogram.
func recordLatency(st *cmdStats, d int64) {
	h := st.hist.Load()
	if h == nil {
		st.hist.CompareAndSwap(nil, new(latencyHist))
		h = st.hist.Load()
	}
	h.counts[latencyBucket(d)].Add(1)
}

// percentiles returns the durations (µs) at each of ps (0..100), as the
// largest value of the bucket where the percentile falls; ok is false
// when nothing was recorded.
func (h *latencyHist) percentiles(ps []float64) (us []float64, ok bool) {
	var counts [latencyBuckets]int64
	var total int64
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return nil, false
	}
	for _, p := range ps {
		rank := max(int64(math.Ceil(p/100*float64(total))), 1)
		var seen int64
		for i, n := range counts {
			seen += n
			if seen >= rank {
				us = append(us, float64(latencyUpper(i))/1000)
				break
			}
		}
	}
	return us, true
}

// formatPercentiles writes percentiles as Redis does: 50, 99.9, 100.
func formatPercentiles(ps []float64, sep string) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = strconv.FormatFloat(p, 'f', -1, 64)
	}
	return strings.Join(parts, sep)
}

// infoLatencyStats writes, for every command with a latency histogram, by
// name, its latency-tracking-info-percentiles in µs:
// latency_percentiles_usec_get:p50=1.003,p99=2.007,p99.9=3.007.
func (s *Server) infoLatencyStats(b *infoBuilder) {
	ps := s.config().LatencyPercentiles
	for _, c := range s.counted() {
		h := c.stats.hist.Load()
		if h == nil {
			continue
		}
		us, ok := h.percentiles(ps)
		if !ok {
			continue
		}
		parts := make([]string, len(ps))
		for i, p := range ps {
			parts[i] = "p" + formatPercentiles([]float64{p}, "") + "=" + strconv.FormatFloat(us[i], 'f', 3, 64)
		}
		b.kv("latency_percentiles_usec_"+c.name, strings.Join(parts, ","))
	}
}
