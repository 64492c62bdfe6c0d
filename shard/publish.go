package shard

// Pub/sub through the log (PUBLISH reaching every node): to be built
// (issue 5). These stubs are the hooks ext.go calls.

// execPub runs a pub/sub op.
func (t *txn) execPub(op *Op) Result { return Err(ErrUnknownOp) }

// pubKindIsRead reports whether a pub/sub kind only reads.
func pubKindIsRead(k Kind) bool { return false }
