package server

import (
	"strconv"
	"time"
)

// MONITOR: every command this node receives, as Redis formats it
// (`+1700000000.123456 [0 127.0.0.1:50000] "set" "k" "v"`), streamed to
// the connections that asked for it. Delivery uses the pub/sub queues
// (pubsub_hub.go): it never blocks the command being monitored, and a
// monitor that cannot keep up is disconnected at the pubsub class's
// client-output-buffer-limit. Commands forwarded from another node show
// that node's forwarding connection as their client.

// cmdMonitor puts the connection in monitor mode.
func cmdMonitor(c *client, _ [][]byte) {
	sb := c.pubsubState()
	h := c.s.pubsub()
	h.mu.Lock()
	if h.monitors == nil {
		h.monitors = make(map[*subscriber]struct{})
	}
	if _, ok := h.monitors[sb]; !ok {
		h.monitors[sb] = struct{}{}
		c.s.monitoring.Add(1)
	}
	h.mu.Unlock()
	c.w.ok()
}

// stopMonitor takes sb out of monitor mode (RESET, or the connection
// ends).
func (h *hub) stopMonitor(s *Server, sb *subscriber) {
	h.mu.Lock()
	if _, ok := h.monitors[sb]; ok {
		delete(h.monitors, sb)
		s.monitoring.Add(-1)
	}
	h.mu.Unlock()
}

// feedMonitors sends args, received on c, to the monitors. AUTH and
// HELLO are not shown (they carry passwords), nor is MONITOR itself.
func (s *Server) feedMonitors(c *client, args [][]byte) {
	if eq(args[0], "auth") || eq(args[0], "hello") || eq(args[0], "monitor") {
		return
	}
	now := time.Now()
	b := make([]byte, 0, 64)
	b = append(b, '+')
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, '.')
	us := strconv.AppendInt(nil, int64(now.Nanosecond()/1000), 10)
	for range 6 - len(us) {
		b = append(b, '0')
	}
	b = append(b, us...)
	b = append(b, " [0 "...)
	b = append(b, c.addr...)
	b = append(b, ']')
	for _, a := range args {
		b = append(b, ' ')
		b = appendRepr(b, a)
	}
	b = append(b, '\r', '\n')
	m := &message{enc: [2][]byte{b, b}}
	lim := s.config().ClientOutputBufferLimit.class(classPubSub)
	h := s.pubsub()
	h.mu.RLock()
	defer h.mu.RUnlock()
	for sb := range h.monitors {
		if sb.c != c {
			sb.push(m, lim, now, nil)
		}
	}
}

// appendRepr appends a quoted like Redis's sdscatrepr: printable bytes as
// they are, \\ \" \n \r \t \a \b escaped, others as \xHH.
func appendRepr(b, a []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, ch := range a {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if ch >= 0x20 && ch < 0x7f {
				b = append(b, ch)
			} else {
				b = append(b, '\\', 'x', hex[ch>>4], hex[ch&15])
			}
		}
	}
	return append(b, '"')
}
