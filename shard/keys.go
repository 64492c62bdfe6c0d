package shard

// Keyspace operations. (Stubs: implemented by the keyspace work.)

func (t *txn) delKeys(op *Op) Result   { return Err(ErrUnknownOp) }
func (t *txn) exists(op *Op) Result    { return Err(ErrUnknownOp) }
func (t *txn) typeOf(op *Op) Result    { return Err(ErrUnknownOp) }
func (t *txn) touch(op *Op) Result     { return Err(ErrUnknownOp) }
func (t *txn) rename(op *Op) Result    { return Err(ErrUnknownOp) }
func (t *txn) expire(op *Op) Result    { return Err(ErrUnknownOp) }
func (t *txn) ttl(op *Op) Result       { return Err(ErrUnknownOp) }
func (t *txn) persist(op *Op) Result   { return Err(ErrUnknownOp) }
func (t *txn) scan(op *Op) Result      { return Err(ErrUnknownOp) }
func (t *txn) keys(op *Op) Result      { return Err(ErrUnknownOp) }
func (t *txn) randomKey(op *Op) Result { return Err(ErrUnknownOp) }
func (t *txn) dbSize(op *Op) Result    { return Err(ErrUnknownOp) }
func (t *txn) flush(op *Op) Result     { return Err(ErrUnknownOp) }
