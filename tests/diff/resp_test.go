package diff

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
)

// reply is one RESP2 or RESP3 reply as it came off the wire. Encoding it
// again with raw gives back exactly the bytes that were read, so two
// replies compare byte for byte through raw.
//
// A reply with kind 0 is not from the wire: it describes what happened
// instead of a reply (the connection closed, nothing arrived in time, the
// bytes were not valid RESP), in its head.
type reply struct {
	kind  byte     // '+', '-', ':', '$', '*', '%', '~', '>', ',', '#', '_', '(', '=', '!', '|', or 0
	head  string   // the header line after the type byte, without CRLF
	body  []byte   // the payload of '$', '=' and '!' (nil for a null bulk)
	elems []*reply // aggregates: elements; maps and attributes: key, value, key, value...
	attr  *reply   // a RESP3 attribute that preceded the reply
}

// Pseudo replies.
var (
	replyClosed = &reply{head: "<connection closed>"}
	replyOpen   = &reply{head: "<connection still open>"}
)

// isAggregate reports whether kind announces elements.
func isAggregate(kind byte) bool {
	switch kind {
	case '*', '~', '>', '%', '|':
		return true
	}
	return false
}

// isPairs reports whether kind's elements come as key, value pairs.
func isPairs(kind byte) bool { return kind == '%' || kind == '|' }

// raw encodes r as the server sent it.
func (r *reply) raw() []byte { return r.appendRaw(nil) }

func (r *reply) appendRaw(b []byte) []byte {
	if r.attr != nil {
		b = r.attr.appendRaw(b)
	}
	if r.kind == 0 {
		return append(b, r.head...)
	}
	b = append(b, r.kind)
	b = append(b, r.head...)
	b = append(b, '\r', '\n')
	if r.body != nil {
		b = append(b, r.body...)
		b = append(b, '\r', '\n')
	}
	for _, e := range r.elems {
		b = e.appendRaw(b)
	}
	return b
}

// String quotes r's bytes for a report.
func (r *reply) String() string {
	if r.kind == 0 {
		return r.head
	}
	return strconv.Quote(string(r.raw()))
}

// text returns the string payload of a simple, bulk or verbatim string.
func (r *reply) text() (string, bool) {
	switch r.kind {
	case '+':
		return r.head, true
	case '$', '=':
		if r.body != nil {
			return string(r.body), true
		}
	}
	return "", false
}

// errBadReply marks bytes that are not valid RESP.
var errBadReply = errors.New("invalid RESP")

// readReply reads one complete reply. A read error other than a malformed
// reply is returned as is (io.EOF, a timeout).
func readReply(br *bufio.Reader) (*reply, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		if line != "" && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: line %q", errBadReply, line)
	}
	r := &reply{kind: line[0], head: line[1 : len(line)-2]}
	switch r.kind {
	case '+', '-', ',', '#', '(', '_':
		return r, nil
	case ':':
		if _, err := strconv.ParseInt(r.head, 10, 64); err != nil {
			return nil, fmt.Errorf("%w: integer %q", errBadReply, line)
		}
		return r, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(r.head)
		if err != nil || n < -1 {
			return nil, fmt.Errorf("%w: length %q", errBadReply, line)
		}
		if n == -1 {
			return r, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return nil, fmt.Errorf("%w: bulk of %d bytes not followed by CRLF", errBadReply, n)
		}
		r.body = buf[:n]
		return r, nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(r.head)
		if err != nil || n < -1 {
			return nil, fmt.Errorf("%w: length %q", errBadReply, line)
		}
		if isPairs(r.kind) {
			n *= 2
		}
		for i := 0; i < n; i++ {
			e, err := readReply(br)
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
			r.elems = append(r.elems, e)
		}
		if r.kind == '|' {
			next, err := readReply(br)
			if err != nil {
				return nil, err
			}
			next.attr = r
			return next, nil
		}
		return r, nil
	}
	return nil, fmt.Errorf("%w: type byte in %q", errBadReply, line)
}

// readOrDescribe reads one reply and turns a failure into a pseudo reply.
// broken reports that the connection cannot be used any more.
func readOrDescribe(br *bufio.Reader) (r *reply, broken bool) {
	r, err := readReply(br)
	switch {
	case err == nil:
		return r, false
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), isReset(err):
		return replyClosed, true
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &reply{head: "<no reply within " + replyTimeout.String() + ">"}, true
	}
	return &reply{head: "<" + err.Error() + ">"}, true
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || errors.Is(err, io.ErrUnexpectedEOF))
}

// sortElems sorts elems in groups of size (1, or 2 for pairs) by their
// bytes, in place.
func sortElems(elems []*reply, size int) {
	type group struct {
		key   []byte
		elems []*reply
	}
	gs := make([]group, 0, len(elems)/size)
	for i := 0; i+size <= len(elems); i += size {
		var k []byte
		for _, e := range elems[i : i+size] {
			k = e.appendRaw(k)
		}
		gs = append(gs, group{k, append([]*reply(nil), elems[i:i+size]...)})
	}
	sort.SliceStable(gs, func(i, j int) bool { return bytes.Compare(gs[i].key, gs[j].key) < 0 })
	out := elems[:0]
	for _, g := range gs {
		out = append(out, g.elems...)
	}
}

// sortReply returns r with its elements put in byte order, in groups of
// two for maps or when pairs is set (unless the elements are themselves
// the pairs, as RESP3 sends HRANDFIELD WITHVALUES). Replies without
// elements are returned as they are.
func sortReply(r *reply, pairs bool) *reply {
	if !isAggregate(r.kind) || len(r.elems) == 0 {
		return r
	}
	c := *r
	c.elems = append([]*reply(nil), r.elems...)
	size := 1
	if isPairs(r.kind) || pairs && !isAggregate(r.elems[0].kind) {
		size = 2 // a RESP3 array of 2-element arrays sorts by element
	}
	sortElems(c.elems, size)
	return &c
}

// mask returns r with the values of the named keys replaced by a marker.
// r is a RESP3 map or, in RESP2, a flat array of key, value pairs.
func mask(r *reply, keys []string) *reply {
	if !isAggregate(r.kind) || len(r.elems)%2 != 0 {
		return r
	}
	c := *r
	c.elems = append([]*reply(nil), r.elems...)
	for i := 0; i+1 < len(c.elems); i += 2 {
		k, ok := c.elems[i].text()
		if !ok {
			continue
		}
		for _, m := range keys {
			if k == m {
				c.elems[i+1] = &reply{kind: '+', head: "<masked>"}
			}
		}
	}
	return &c
}

// shape describes r's structure without its contents: the type bytes,
// element counts, and which strings are null.
func shape(r *reply) string {
	var b strings.Builder
	writeShape(&b, r)
	return b.String()
}

func writeShape(b *strings.Builder, r *reply) {
	switch {
	case r.kind == 0:
		b.WriteString(r.head)
	case isAggregate(r.kind):
		b.WriteByte(r.kind)
		b.WriteByte('[')
		for i, e := range r.elems {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeShape(b, e)
		}
		b.WriteByte(']')
	case (r.kind == '$' || r.kind == '*') && r.head == "-1":
		b.WriteString(string(r.kind) + "-1")
	default:
		b.WriteByte(r.kind)
	}
}

// approxEqual reports whether a and b are equal except that integers may
// differ by up to tol.
func approxEqual(a, b *reply, tol int64) bool {
	if a.kind != b.kind || len(a.elems) != len(b.elems) {
		return false
	}
	if a.kind == ':' {
		x, _ := strconv.ParseInt(a.head, 10, 64)
		y, _ := strconv.ParseInt(b.head, 10, 64)
		d := x - y
		return -tol <= d && d <= tol
	}
	if !isAggregate(a.kind) {
		return bytes.Equal(a.raw(), b.raw())
	}
	if a.head != b.head {
		return false
	}
	for i := range a.elems {
		if !approxEqual(a.elems[i], b.elems[i], tol) {
			return false
		}
	}
	return true
}
