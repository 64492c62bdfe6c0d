package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// memLoadTimeout bounds the memory pass's load on one server.
const memLoadTimeout = 5 * time.Minute

// MemResult is the memory pass on one server: figures on the empty server
// (Baseline*) and after loading Sessions ten-field session hashes with a
// TTL. UsedError is set when INFO memory gave no used_memory; Error when
// the load or its check failed, which makes the figures meaningless.
type MemResult struct {
	Server       string  `json:"server"`
	Sessions     int     `json:"sessions"`
	Keys         int64   `json:"dbsize"`
	LoadSeconds  float64 `json:"load_seconds"`
	BaselineUsed int64   `json:"baseline_used_memory"`
	Used         int64   `json:"used_memory"`
	UsedError    string  `json:"used_memory_error,omitempty"`
	BaselineRSS  int64   `json:"baseline_rss"`
	RSS          int64   `json:"rss"`
	Error        string  `json:"error,omitempty"`
}

// UsedPerSession returns the growth of used_memory per loaded session, and
// false when it is unknown.
func (m MemResult) UsedPerSession() (float64, bool) {
	if m.Error != "" || m.UsedError != "" || m.Sessions == 0 {
		return 0, false
	}
	return float64(m.Used-m.BaselineUsed) / float64(m.Sessions), true
}

// RSSPerSession returns the growth of the resident set per loaded session,
// and false when it is unknown.
func (m MemResult) RSSPerSession() (float64, bool) {
	if m.Error != "" || m.RSS == 0 || m.Sessions == 0 {
		return 0, false
	}
	return float64(m.RSS-m.BaselineRSS) / float64(m.Sessions), true
}

// memory loads MemSessions sessions (HSET of the ten fields, then EXPIRE
// MemTTL, pipelined over four connections) into a fresh server and
// measures used_memory and RSS before and after.
func (r *runner) memory(ctx context.Context, spec ServerSpec) MemResult {
	res := MemResult{Server: spec.Name, Sessions: r.cfg.MemSessions}
	p, err := startServer(ctx, spec, r.cfg.Taskset, r.cfg.ServerCPU)
	if err != nil {
		res.Error = err.Error()
		r.logf("memory %s: %v", spec.Name, err)
		return res
	}
	defer func() {
		if err := p.stop(); err != nil && res.Error == "" {
			res.Error = err.Error()
		}
	}()
	res.BaselineUsed, err = p.usedMemory(ctx)
	if err != nil {
		res.UsedError = err.Error()
	}
	res.BaselineRSS, _ = p.rss()

	ttl := strconv.Itoa(r.cfg.MemTTL)
	hset := append([]string{"HSET", ""}, sessionArgs()...)
	loadCtx, cancel := context.WithTimeout(ctx, memLoadTimeout)
	defer cancel()
	start := time.Now()
	err = load(loadCtx, p.Addr, r.cfg.MemSessions, 4, 128, func(c *Conn, i int) int {
		cmd := append([]string(nil), hset...)
		cmd[1] = paddedKey(sessPrefix, i)
		c.Send(cmd...)
		c.Send("EXPIRE", cmd[1], ttl)
		return 2
	})
	res.LoadSeconds = time.Since(start).Seconds()
	if err == nil {
		res.Keys, err = p.dbsize(ctx)
		if err == nil && res.Keys != int64(r.cfg.MemSessions) {
			err = fmt.Errorf("DBSIZE is %d after loading %d sessions", res.Keys, r.cfg.MemSessions)
		}
	}
	if err != nil {
		res.Error = fmt.Sprintf("loading sessions: %v", err)
		r.logf("memory %s: %s", spec.Name, res.Error)
		return res
	}
	if res.UsedError == "" {
		if res.Used, err = p.usedMemory(ctx); err != nil {
			res.UsedError = err.Error()
		}
	}
	if res.RSS, err = p.rss(); err != nil {
		res.Error = fmt.Sprintf("reading RSS: %v", err)
	}
	used, _ := res.UsedPerSession()
	rss, _ := res.RSSPerSession()
	r.logf("memory %s: %d sessions in %.1fs, used_memory %d (%.0f B/session), RSS %d (%.0f B/session)",
		spec.Name, res.Sessions, res.LoadSeconds, res.Used, used, res.RSS, rss)
	return res
}
