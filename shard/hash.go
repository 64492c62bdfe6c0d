package shard

// Hash operations. (Stubs: implemented by the hash work.)

// fieldDeadline returns the earliest field deadline of hash e, or 0.
func fieldDeadline(e entry) int64 { return 0 }

// reapFields removes the fields of hash key (entry e) that are due at
// t.now and returns how many it removed.
func (t *txn) reapFields(key []byte, e entry) int64 { return 0 }

// size is the accounted size of a large value beyond its entry.
func (l *large) size() int64 { return 0 }

func (t *txn) hset(op *Op) Result         { return Err(ErrUnknownOp) }
func (t *txn) hget(op *Op) Result         { return Err(ErrUnknownOp) }
func (t *txn) hmget(op *Op) Result        { return Err(ErrUnknownOp) }
func (t *txn) hgetAll(op *Op) Result      { return Err(ErrUnknownOp) }
func (t *txn) hdel(op *Op) Result         { return Err(ErrUnknownOp) }
func (t *txn) hlen(op *Op) Result         { return Err(ErrUnknownOp) }
func (t *txn) hexists(op *Op) Result      { return Err(ErrUnknownOp) }
func (t *txn) hkeys(op *Op) Result        { return Err(ErrUnknownOp) }
func (t *txn) hvals(op *Op) Result        { return Err(ErrUnknownOp) }
func (t *txn) hincrBy(op *Op) Result      { return Err(ErrUnknownOp) }
func (t *txn) hincrByFloat(op *Op) Result { return Err(ErrUnknownOp) }
func (t *txn) hstrLen(op *Op) Result      { return Err(ErrUnknownOp) }
func (t *txn) hscan(op *Op) Result        { return Err(ErrUnknownOp) }
func (t *txn) hrandField(op *Op) Result   { return Err(ErrUnknownOp) }
func (t *txn) hexpire(op *Op) Result      { return Err(ErrUnknownOp) }
func (t *txn) httl(op *Op) Result         { return Err(ErrUnknownOp) }
func (t *txn) hpersist(op *Op) Result     { return Err(ErrUnknownOp) }
func (t *txn) hgetEx(op *Op) Result       { return Err(ErrUnknownOp) }
func (t *txn) hsetEx(op *Op) Result       { return Err(ErrUnknownOp) }
func (t *txn) hgetDel(op *Op) Result      { return Err(ErrUnknownOp) }
