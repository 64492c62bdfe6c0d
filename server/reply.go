package server

import (
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"

	"sessiond/shard"
)

// replyWriter appends RESP replies to a buffer, in RESP2 or RESP3 as the
// connection negotiated with HELLO. The plain RESP2 shapes are encoded by
// redcon; the RESP3-only shapes (maps, sets, doubles, nulls, pushes,
// verbatim strings) are encoded here.
type replyWriter struct {
	b     []byte
	resp3 bool
}

func (w *replyWriter) ok()                { w.b = append(w.b, "+OK\r\n"...) }
func (w *replyWriter) simple(s string)    { w.b = redcon.AppendString(w.b, s) }
func (w *replyWriter) int(n int64)        { w.b = redcon.AppendInt(w.b, n) }
func (w *replyWriter) bulk(s string)      { w.b = redcon.AppendBulkString(w.b, s) }
func (w *replyWriter) bulkBytes(b []byte) { w.b = redcon.AppendBulk(w.b, b) }
func (w *replyWriter) array(n int)        { w.b = redcon.AppendArray(w.b, n) }

// errorText writes an error line. msg must start with an error code
// ("ERR ...", "WRONGTYPE ..."); line breaks are replaced by spaces, as
// Redis does.
func (w *replyWriter) errorText(msg string) {
	if strings.ContainsAny(msg, "\r\n") {
		msg = strings.NewReplacer("\r", " ", "\n", " ").Replace(msg)
	}
	w.b = append(w.b, '-')
	w.b = append(w.b, msg...)
	w.b = append(w.b, '\r', '\n')
}

// err writes err as an error reply: its text is used as is when it starts
// with an upper-case error code, otherwise it is prefixed with "ERR ".
func (w *replyWriter) err(err error) { w.errorText(errorLine(err)) }

func errorLine(err error) string {
	msg := err.Error()
	if hasErrorCode(msg) {
		return msg
	}
	return "ERR " + msg
}

func hasErrorCode(msg string) bool {
	sp := strings.IndexByte(msg, ' ')
	if sp <= 0 {
		return false
	}
	for i := 0; i < sp; i++ {
		if c := msg[i]; (c < 'A' || c > 'Z') && c != '_' {
			return false
		}
	}
	return true
}

// null writes a null bulk string (RESP2 $-1, RESP3 _).
func (w *replyWriter) null() {
	if w.resp3 {
		w.b = append(w.b, "_\r\n"...)
		return
	}
	w.b = redcon.AppendNull(w.b)
}

// doubleText writes a score already formatted as Redis formats it
// ("1.5", "inf", "-inf"): a RESP3 double, or a RESP2 bulk string.
func (w *replyWriter) doubleText(s string) {
	if w.resp3 {
		w.b = append(w.b, ',')
		w.b = append(w.b, s...)
		w.b = append(w.b, '\r', '\n')
		return
	}
	w.bulk(s)
}

// nullArray writes a null array (RESP2 *-1, RESP3 _).
func (w *replyWriter) nullArray() {
	if w.resp3 {
		w.b = append(w.b, "_\r\n"...)
		return
	}
	w.b = append(w.b, "*-1\r\n"...)
}

func (w *replyWriter) header(c byte, n int) {
	w.b = append(w.b, c)
	w.b = strconv.AppendInt(w.b, int64(n), 10)
	w.b = append(w.b, '\r', '\n')
}

// mapHeader starts a map of n pairs (RESP2: an array of 2n elements).
func (w *replyWriter) mapHeader(n int) {
	if w.resp3 {
		w.header('%', n)
		return
	}
	w.array(2 * n)
}

// setHeader starts a set (RESP2: an array).
func (w *replyWriter) setHeader(n int) {
	if w.resp3 {
		w.header('~', n)
		return
	}
	w.array(n)
}

// pushHeader starts an out-of-band push (RESP2: an array).
func (w *replyWriter) pushHeader(n int) {
	if w.resp3 {
		w.header('>', n)
		return
	}
	w.array(n)
}

// double writes a double (RESP3) or its bulk-string form (RESP2), as Redis
// 7.2+ formats doubles (d2string): inf and -inf, integers without a
// point up to 2**62, otherwise the shortest digits that read back as f,
// in %.17g's layout (exponent form below 1e-4 and from 1e17).
func (w *replyWriter) double(f float64) {
	s := formatDouble(f)
	if w.resp3 {
		w.b = append(w.b, ',')
		w.b = append(w.b, s...)
		w.b = append(w.b, '\r', '\n')
		return
	}
	w.bulk(s)
}

// formatDouble formats f as double writes it.
func formatDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0:
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	if math.Abs(f) <= math.MaxInt64/2 && f == math.Trunc(f) {
		return strconv.FormatInt(int64(f), 10)
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	if exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:]); exp < -4 || exp >= 17 {
		return e
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// boolean writes a RESP3 boolean, or 1/0 in RESP2.
func (w *replyWriter) boolean(v bool) {
	if w.resp3 {
		if v {
			w.b = append(w.b, "#t\r\n"...)
		} else {
			w.b = append(w.b, "#f\r\n"...)
		}
		return
	}
	if v {
		w.int(1)
	} else {
		w.int(0)
	}
}

// verbatim writes a RESP3 verbatim string of format "txt" (RESP2: bulk).
func (w *replyWriter) verbatim(s string) {
	if !w.resp3 {
		w.bulk(s)
		return
	}
	w.header('=', len(s)+4)
	w.b = append(w.b, "txt:"...)
	w.b = append(w.b, s...)
	w.b = append(w.b, '\r', '\n')
}

// resultOrLateError writes res with cmd's formatter, or late's error when
// late is set and res found a value (see errIfFound).
func (w *replyWriter) resultOrLateError(cmd *command, res shard.Result, late *errIfFound) {
	if late != nil && res.Kind != shard.RErr && res.Kind != shard.RNil {
		w.err(late.err)
		return
	}
	if res.Kind == shard.RErr || cmd.reply == nil {
		w.result(res)
		return
	}
	cmd.reply(w, res)
}

// result writes an op's Result in its default shape.
func (w *replyWriter) result(r shard.Result) {
	switch r.Kind {
	case shard.RNil:
		w.null()
	case shard.ROK:
		w.ok()
	case shard.RInt:
		w.int(r.Int)
	case shard.RStr:
		w.bulk(r.Str)
	case shard.RStatus:
		w.simple(r.Str)
	case shard.RList:
		w.vals(r.Vals)
	case shard.RMap:
		w.mapHeader(len(r.Vals) / 2)
		w.valsBody(r.Vals)
	case shard.RPairs:
		if w.resp3 {
			w.array(len(r.Vals) / 2)
			for i := 0; i+1 < len(r.Vals); i += 2 {
				w.array(2)
				w.val(r.Vals[i])
				w.val(r.Vals[i+1])
			}
			return
		}
		w.vals(r.Vals)
	case shard.RInts:
		w.array(len(r.Ints))
		for _, n := range r.Ints {
			w.int(n)
		}
	case shard.RScan:
		w.array(2)
		w.bulk(strconv.FormatUint(uint64(r.Int), 10))
		w.vals(r.Vals)
	case shard.RErr:
		w.err(r.Err)
	case shard.RNilList:
		w.nullArray()
	case shard.RMulti:
		w.array(len(r.Subs))
		for _, s := range r.Subs {
			w.result(s)
		}
	case shard.RSet:
		w.setHeader(len(r.Vals))
		w.valsBody(r.Vals)
	case shard.RDouble:
		w.doubleText(r.Str)
	case shard.RScored:
		if w.resp3 {
			w.array(len(r.Vals) / 2)
			for i := 0; i+1 < len(r.Vals); i += 2 {
				w.array(2)
				w.val(r.Vals[i])
				w.doubleText(r.Vals[i+1].S)
			}
			return
		}
		w.vals(r.Vals)
	case shard.RDoubles:
		w.array(len(r.Vals))
		for _, v := range r.Vals {
			if v.Nil {
				w.null()
			} else {
				w.doubleText(v.S)
			}
		}
	default:
		w.errorText("ERR internal error: unknown result kind")
	}
}

func (w *replyWriter) vals(vs []shard.Val) {
	w.array(len(vs))
	w.valsBody(vs)
}

func (w *replyWriter) valsBody(vs []shard.Val) {
	for _, v := range vs {
		w.val(v)
	}
}

func (w *replyWriter) val(v shard.Val) {
	if v.Nil {
		w.null()
		return
	}
	w.bulk(v.S)
}
