package server

import (
	"errors"
	"strings"

	"sessiond/shard"
)

// Keyspace notifications (notify-keyspace-events). Every node applies the
// same log, so every node's stores report the same events (shard.Event,
// from Apply) and each node publishes them to its own subscribers,
// locally: an event is never sent through the log again.

// Keyspace event flags, Redis's bits for notify-keyspace-events.
const (
	notifyKeyspace uint32 = 1 << iota // K
	notifyKeyevent                    // E
	notifyGeneric                     // g
	notifyString                      // $
	notifyList                        // l
	notifySet                         // s
	notifyHash                        // h
	notifyZSet                        // z
	notifyExpired                     // x
	notifyEvicted                     // e
	notifyStream                      // t
	notifyKeyMiss                     // m
	notifyModule                      // d
	notifyNew                         // n

	// notifyAll is A: every class but m and n.
	notifyAll = notifyGeneric | notifyString | notifyList | notifySet | notifyHash | notifyZSet |
		notifyExpired | notifyEvicted | notifyStream | notifyModule
)

// errNotifyClass is Redis's message for a bad notify-keyspace-events.
var errNotifyClass = errors.New("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")

// parseNotify parses notify-keyspace-events's letters into flags.
func parseNotify(s string) (uint32, error) {
	var f uint32
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'A':
			f |= notifyAll
		case 'g':
			f |= notifyGeneric
		case '$':
			f |= notifyString
		case 'l':
			f |= notifyList
		case 's':
			f |= notifySet
		case 'h':
			f |= notifyHash
		case 'z':
			f |= notifyZSet
		case 'x':
			f |= notifyExpired
		case 'e':
			f |= notifyEvicted
		case 'K':
			f |= notifyKeyspace
		case 'E':
			f |= notifyKeyevent
		case 't':
			f |= notifyStream
		case 'm':
			f |= notifyKeyMiss
		case 'd':
			f |= notifyModule
		case 'n':
			f |= notifyNew
		default:
			return 0, errNotifyClass
		}
	}
	return f, nil
}

// formatNotify is CONFIG GET's form of flags, as redis-server writes it:
// A or the class letters in a fixed order, then K, E and m.
func formatNotify(f uint32) string {
	var b strings.Builder
	if f&notifyAll == notifyAll {
		b.WriteByte('A')
	} else {
		for _, c := range []struct {
			bit uint32
			ch  byte
		}{{notifyGeneric, 'g'}, {notifyString, '$'}, {notifyList, 'l'}, {notifySet, 's'},
			{notifyHash, 'h'}, {notifyZSet, 'z'}, {notifyExpired, 'x'}, {notifyEvicted, 'e'},
			{notifyStream, 't'}, {notifyModule, 'd'}, {notifyNew, 'n'}} {
			if f&c.bit != 0 {
				b.WriteByte(c.ch)
			}
		}
	}
	if f&notifyKeyspace != 0 {
		b.WriteByte('K')
	}
	if f&notifyKeyevent != 0 {
		b.WriteByte('E')
	}
	if f&notifyKeyMiss != 0 {
		b.WriteByte('m')
	}
	return b.String()
}

// classFlag maps a store's event class to its notify flag.
func classFlag(c shard.EventClass) uint32 {
	switch c {
	case shard.EventGeneric:
		return notifyGeneric
	case shard.EventString:
		return notifyString
	case shard.EventList:
		return notifyList
	case shard.EventSet:
		return notifySet
	case shard.EventHash:
		return notifyHash
	case shard.EventZSet:
		return notifyZSet
	case shard.EventExpired:
		return notifyExpired
	case shard.EventEvicted:
		return notifyEvicted
	case shard.EventNew:
		return notifyNew
	case shard.EventKeyMiss:
		return notifyKeyMiss
	}
	return 0
}

// notifyEventsOn reports whether flags make any event be published: a
// class and at least one of K and E.
func notifyEventsOn(f uint32) bool {
	return f&(notifyKeyspace|notifyKeyevent) != 0 && f&^(notifyKeyspace|notifyKeyevent) != 0
}

// applyNotify turns the stores' event reporting on or off for the
// current notify-keyspace-events (CONFIG SET's apply, and New).
// CONFIG SET stores the configuration before it applies it, so
// refreshEvents reads the new value.
func applyNotify(s *Server, _ *Config) { s.refreshEvents() }

// keyspace events are published in database 0's channels.
const (
	keyspacePrefix = "__keyspace@0__:"
	keyeventPrefix = "__keyevent@0__:"
)

// storeEvent is the sink installed on every store: a published message
// (a KindPublish op applied) or a keyspace event. It runs inside Apply
// with stripes locked and only queues messages.
func (s *Server) storeEvent(h *hub, u *unit, e shard.Event) {
	if e.Class == shard.EventRestored {
		// A snapshot replaced the data without per-key events: every
		// waiting client's keys may have changed.
		s.blocked.wakeAll()
		return
	}
	s.blocked.wake(e)
	cfg := s.config()
	if cfg == nil {
		return // the server is being built: nobody is subscribed
	}
	lim := cfg.ClientOutputBufferLimit.class(classPubSub)
	deliver := func(channel, msg string) {
		h.publish(channel, msg, lim, s.logOutputLimit)
		s.relayFrom(u, channel, msg)
	}
	if e.Class == shard.EventPublish {
		deliver(e.Key, e.Name)
		return
	}
	f := cfg.NotifyKeyspaceEvents
	if f&classFlag(e.Class) == 0 {
		return
	}
	if f&notifyKeyspace != 0 {
		deliver(keyspacePrefix+e.Key, e.Name)
	}
	if f&notifyKeyevent != 0 {
		deliver(keyeventPrefix+e.Name, e.Key)
	}
}

// logOutputLimit logs a subscriber disconnected for its output buffer.
func (s *Server) logOutputLimit(id int64, addr string) {
	s.log.Warn("client scheduled to be closed ASAP for overcoming of output buffer limits", "id", id, "addr", addr)
}
