package shard

// ResultKind is the shape of a Result; the server turns each shape into
// RESP2 or RESP3.
type ResultKind uint8

// Result shapes.
const (
	RNil     ResultKind = iota // null bulk (RESP2 $-1, RESP3 _)
	ROK                        // +OK
	RInt                       // Int
	RStr                       // Str as a bulk string
	RList                      // Vals as an array (Val.Nil entries are null bulks)
	RMap                       // Vals as field, value pairs: RESP3 map, RESP2 flat array
	RInts                      // Ints as an array of integers
	RScan                      // [Int as cursor string, Vals]; with Map set: pairs
	RErr                       // Err
	RMulti                     // Subs: one Result per queued op (EXEC)
	RNilList                   // null array (RESP2 *-1, RESP3 _): e.g. EXEC aborted by WATCH
	RPairs                     // Vals as pairs: RESP3 array of 2-arrays, RESP2 flat (HRANDFIELD WITHVALUES)
	RStatus                    // Str as a simple string (TYPE)
	RSet                       // Vals as a set: RESP3 set (~), RESP2 array (SMEMBERS, SINTER...)
	RDouble                    // Str, a score formatted as Redis does: RESP3 double, RESP2 bulk (ZSCORE, ZINCRBY)
	RScored                    // Vals as member, score pairs: RESP3 array of [bulk, double], RESP2 flat array of bulks (ZRANGE WITHSCORES)
	RDoubles                   // Vals as scores: RESP3 array of doubles (Nil: null), RESP2 array of bulks (ZMSCORE)
)

// Val is one element of a list result.
type Val struct {
	S   string
	Nil bool
}

// Result is what an op returns. Strings in a Result may share memory with
// the store's values, which are immutable: a caller may keep them.
type Result struct {
	Kind ResultKind
	Int  int64
	Str  string
	Vals []Val
	Ints []int64
	Err  error
	Subs []Result
}

// valBuf returns dst[:0] when it can hold n values, else a new slice
// with room for n (see Op.Scratch).
func valBuf(dst []Val, n int) []Val {
	if cap(dst) >= n {
		return dst[:0]
	}
	return make([]Val, 0, n)
}

// Int returns an integer Result.
func Int(n int64) Result { return Result{Kind: RInt, Int: n} }

// Str returns a bulk string Result.
func Str(s string) Result { return Result{Kind: RStr, Str: s} }

// Err returns an error Result.
func Err(err error) Result { return Result{Kind: RErr, Err: err} }

// Nil returns the null bulk Result (the zero Result).
func Nil() Result { return Result{} }

// OK returns the +OK Result.
func OK() Result { return Result{Kind: ROK} }
