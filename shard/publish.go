package shard

// Pub/sub through the log. PUBLISH goes through the Raft log of the
// channel's shard group as a KindPublish op, so that every replica
// applies it and hands the message to its server, which delivers it to
// the subscribers connected to that node: a message published on any node
// reaches subscribers on every node.

// Pub/sub kinds (the 230-239 range). Persisted: never renumber.
const (
	KindPublish Kind = 230 // Key = channel, Args[0] = message
)

// EventPublish is the class of the Event a KindPublish op hands to the
// store's sink: Key is the channel and Name the message. It is not a
// keyspace event: it is reported whether or not EnableEvents is on, and
// notify-keyspace-events does not filter it.
const EventPublish EventClass = 'P'

// execPub runs a pub/sub op. The op changes no data; its result is OK.
func (t *txn) execPub(op *Op) Result {
	switch op.Kind {
	case KindPublish:
		if len(op.Args) != 1 {
			return Err(ErrUnknownOp)
		}
		if sink := t.s.sink; sink != nil && !t.read {
			sink(Event{Class: EventPublish, Name: string(op.Args[0]), Key: string(op.Key)})
		}
		return Result{Kind: ROK}
	}
	return Err(ErrUnknownOp)
}

// pubKindIsRead reports whether a pub/sub kind only reads: none does.
func pubKindIsRead(Kind) bool { return false }
