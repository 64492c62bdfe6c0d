package server

import (
	"net"
	"strconv"
	"sync"
	"time"

	"sessiond/shard"
)

// The pub/sub hub: who is subscribed to what on this node, and the
// delivery of messages to them.
//
// Delivery never blocks the publisher (a command, or the FSM applying a
// KindPublish op or a keyspace event with stripes locked): a message is
// appended to the subscriber's outbound queue (subscriber.q) and either
// the connection's own goroutine picks it up between commands (while it
// is running commands: busy) or a writer goroutine of the connection
// writes it (while the connection waits for input). Socket writes of the
// two are serialised by subscriber.writeMu, and the serve loop takes
// queued messages into its reply buffer at command boundaries, so a
// message never lands inside a reply and replies and messages keep the
// order in which they were produced. A subscriber whose queue passes the
// pubsub class's client-output-buffer-limit is disconnected, as Redis
// does.

// hub is the node's pub/sub state. The subscription maps are guarded by
// mu; each subscriber's own sets are touched only by its connection's
// goroutine, under mu when written.
type hub struct {
	mu       sync.RWMutex
	channels map[string]map[*subscriber]struct{}
	patterns map[string]map[*subscriber]struct{}
	monitors map[*subscriber]struct{} // connections in MONITOR mode (monitor.go)
}

func newHub() *hub {
	return &hub{
		channels: make(map[string]map[*subscriber]struct{}),
		patterns: make(map[string]map[*subscriber]struct{}),
	}
}

// subscriber is a connection's pub/sub state, made by its first
// (P)SUBSCRIBE and kept until the connection ends.
type subscriber struct {
	h  *hub
	c  *client
	nc net.Conn

	// Owned by the connection's goroutine (written under h.mu too).
	channels map[string]struct{}
	patterns map[string]struct{}

	writeMu sync.Mutex // serialises socket writes: the writer's and the serve loop's

	mu        sync.Mutex
	q         []byte    // messages not yet taken for writing
	writing   int       // bytes the writer took and has not finished writing
	busy      bool      // the serve loop is running commands: it takes q itself
	softSince time.Time // when pending output first passed the soft limit (zero: below)
	dead      bool      // disconnected for its output buffer: drop everything
	wake      chan struct{}
	done      chan struct{}
}

// count is the connection's number of subscriptions (channels and
// patterns), as the (un)subscribe replies report it.
func (sb *subscriber) count() int { return len(sb.channels) + len(sb.patterns) }

// pubsubState returns the connection's subscriber, making it (and its
// writer goroutine) on first use.
func (c *client) pubsubState() *subscriber {
	if c.ps != nil {
		return c.ps
	}
	sb := &subscriber{
		h:        c.s.pubsub(),
		c:        c,
		nc:       c.nc,
		channels: make(map[string]struct{}),
		patterns: make(map[string]struct{}),
		busy:     true, // made by a command: the serve loop is running
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	c.ps = sb
	c.s.wg.Add(1) // the serve goroutine is counted: Close's Wait has not returned
	go func() {
		defer c.s.wg.Done()
		sb.writer()
	}()
	return sb
}

// close removes every subscription and stops the writer (the connection
// is ending).
func (sb *subscriber) close() {
	sb.unsubscribeAll(nil, false)
	sb.unsubscribeAll(nil, true)
	sb.h.stopMonitor(sb.c.s, sb)
	close(sb.done)
}

// subscribe adds name (a pattern when pat) and reports whether it is new.
func (sb *subscriber) subscribe(name string, pat bool) bool {
	own, all := sb.channels, sb.h.channels
	if pat {
		own, all = sb.patterns, sb.h.patterns
	}
	if _, ok := own[name]; ok {
		return false
	}
	sb.h.mu.Lock()
	own[name] = struct{}{}
	set := all[name]
	if set == nil {
		set = make(map[*subscriber]struct{})
		all[name] = set
	}
	set[sb] = struct{}{}
	sb.h.mu.Unlock()
	sb.counted()
	return true
}

// counted publishes the subscription counts for CLIENT LIST.
func (sb *subscriber) counted() {
	sb.c.info.subs.Store(int32(len(sb.channels)))
	sb.c.info.psubs.Store(int32(len(sb.patterns)))
}

// unsubscribe removes name (a pattern when pat) and reports whether it
// was there.
func (sb *subscriber) unsubscribe(name string, pat bool) bool {
	own, all := sb.channels, sb.h.channels
	if pat {
		own, all = sb.patterns, sb.h.patterns
	}
	if _, ok := own[name]; !ok {
		return false
	}
	sb.h.mu.Lock()
	delete(own, name)
	if set := all[name]; set != nil {
		delete(set, sb)
		if len(set) == 0 {
			delete(all, name)
		}
	}
	sb.h.mu.Unlock()
	sb.counted()
	return true
}

// unsubscribeAll removes every channel (every pattern when pat), calling
// each, when not nil, after each removal.
func (sb *subscriber) unsubscribeAll(each func(name string), pat bool) {
	own := sb.channels
	if pat {
		own = sb.patterns
	}
	names := make([]string, 0, len(own))
	for n := range own {
		names = append(names, n)
	}
	for _, n := range names {
		sb.unsubscribe(n, pat)
		if each != nil {
			each(n)
		}
	}
}

// message is one published message, encoded for RESP2 and RESP3 on
// demand (each is built at most once per publish).
type message struct {
	channel, payload string
	pattern          string // for pmessage
	enc              [2][]byte
}

// bytes returns the message encoded for a RESP3 connection or not.
func (m *message) bytes(resp3 bool) []byte {
	i := 0
	if resp3 {
		i = 1
	}
	if m.enc[i] != nil {
		return m.enc[i]
	}
	w := replyWriter{resp3: resp3}
	if m.pattern != "" {
		w.pushHeader(4)
		w.bulk("pmessage")
		w.bulk(m.pattern)
	} else {
		w.pushHeader(3)
		w.bulk("message")
	}
	w.bulk(m.channel)
	w.bulk(m.payload)
	m.enc[i] = w.b
	return w.b
}

// publish delivers payload on channel to this node's subscribers (those
// of the channel, then those of each matching pattern) and returns how
// many messages it queued. It never blocks on a subscriber.
func (h *hub) publish(channel, payload string, lim bufferLimit, log func(id int64, addr string)) int {
	now := time.Now()
	n := 0
	h.mu.RLock()
	defer h.mu.RUnlock()
	if set := h.channels[channel]; len(set) > 0 {
		m := message{channel: channel, payload: payload}
		for sb := range set {
			sb.push(&m, lim, now, log)
			n++
		}
	}
	for pat, set := range h.patterns {
		if !shard.GlobMatch([]byte(pat), []byte(channel)) {
			continue
		}
		m := message{channel: channel, payload: payload, pattern: pat}
		for sb := range set {
			sb.push(&m, lim, now, log)
			n++
		}
	}
	return n
}

// receivers counts the subscriptions that a message on channel would
// reach on this node (PUBLISH's reply).
func (h *hub) receivers(channel string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := len(h.channels[channel])
	for pat, set := range h.patterns {
		if shard.GlobMatch([]byte(pat), []byte(channel)) {
			n += len(set)
		}
	}
	return n
}

// push queues m for the subscriber, or disconnects it when its pending
// output passes lim.
func (sb *subscriber) push(m *message, lim bufferLimit, now time.Time, log func(id int64, addr string)) {
	b := m.bytes(sb.c.info.resp.Load() == 3)
	sb.mu.Lock()
	if sb.dead {
		sb.mu.Unlock()
		return
	}
	sb.q = append(sb.q, b...)
	pending := int64(len(sb.q) + sb.writing)
	if lim.exceeded(pending, &sb.softSince, now) {
		sb.dead = true
		sb.q = nil
		sb.mu.Unlock()
		if log != nil {
			log(sb.c.id, sb.c.addr)
		}
		closeConn(sb.nc) // the serve loop's read fails and the connection ends
		return
	}
	wake := !sb.busy
	sb.mu.Unlock()
	if wake {
		select {
		case sb.wake <- struct{}{}:
		default:
		}
	}
}

// take appends the queued messages to out (the serve loop's reply
// buffer) and empties the queue.
func (sb *subscriber) take(out []byte) []byte {
	sb.mu.Lock()
	out = append(out, sb.q...)
	sb.q = sb.q[:0]
	if sb.writing == 0 {
		sb.softSince = time.Time{}
	}
	sb.mu.Unlock()
	return out
}

// setBusy records whether the serve loop is running commands (and so
// takes queued messages itself).
func (sb *subscriber) setBusy(busy bool) {
	sb.mu.Lock()
	sb.busy = busy
	sb.mu.Unlock()
}

// writer writes queued messages while the serve loop waits for input.
func (sb *subscriber) writer() {
	var buf []byte
	for {
		select {
		case <-sb.wake:
		case <-sb.done:
			return
		}
		sb.writeMu.Lock()
		sb.mu.Lock()
		if sb.busy || sb.dead || len(sb.q) == 0 {
			sb.mu.Unlock()
			sb.writeMu.Unlock()
			continue
		}
		buf, sb.q = sb.q, buf[:0]
		sb.writing = len(buf)
		sb.mu.Unlock()
		n, _ := sb.nc.Write(buf)
		sb.c.s.stats.netOutput.Add(int64(n))
		sb.mu.Lock()
		sb.writing = 0
		if len(sb.q) == 0 {
			sb.softSince = time.Time{}
		}
		if cap(buf) > idleReplyBuf {
			buf = nil
		}
		sb.mu.Unlock()
		sb.writeMu.Unlock()
	}
}

// bufferLimit is one class's client-output-buffer-limit: hard and soft
// byte limits (0: none) and how long output may stay above the soft one.
type bufferLimit struct {
	Hard, Soft  int64
	SoftSeconds int64
}

// exceeded reports whether pending bytes break the limit: above the hard
// limit, or above the soft one for more than SoftSeconds (since is when
// it first went above it; reset when it is below).
func (l bufferLimit) exceeded(pending int64, since *time.Time, now time.Time) bool {
	if l.Hard > 0 && pending >= l.Hard {
		return true
	}
	if l.Soft > 0 && pending >= l.Soft {
		if since.IsZero() {
			*since = now
			return false
		}
		return now.Sub(*since) > time.Duration(l.SoftSeconds)*time.Second
	}
	*since = time.Time{}
	return false
}

// String formats the limit as CONFIG GET shows it.
func (l bufferLimit) String() string {
	return strconv.FormatInt(l.Hard, 10) + " " + strconv.FormatInt(l.Soft, 10) + " " + strconv.FormatInt(l.SoftSeconds, 10)
}
