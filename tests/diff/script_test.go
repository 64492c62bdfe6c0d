package diff

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// step is one line of a script: a command (or raw bytes) and how to
// compare its replies. See the package comment in diff_test.go.
type step struct {
	line    int
	text    string   // the line as written, for reports
	args    [][]byte // the command's arguments; with raw, the pieces to send
	conn    int      // connection number, 1 by default
	raw     bool     // send args concatenated, as they are
	replies int      // replies to read (default 1)
	eof     bool     // the server must close the connection afterwards
	ignore  bool     // send, read, do not compare
	shape   bool     // compare only the shape
	typ     bool     // compare only the reply's type byte
	approx  int64    // > 0: integers may differ by this much
	order   string   // "" exact; "elems", "pairs", "scan", "scanpairs": unordered
	mask    []string // map keys whose values are not compared
	scanAll string   // "": no; "elems" or "pairs": iterate the cursor to 0
	until   *string  // repeat the command until its value is this
	stats   bool     // an INFO reply: compare its cmdstat_ and errorstat_ lines only
}

// script is a parsed testdata file.
type script struct {
	name   string
	protos []int // protocols to run the script in
	steps  []step
}

// maxConns bounds @connN.
const maxConns = 9

// parseScript reads a script file.
func parseScript(path, name string) (*script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sc := &script{name: name, protos: []int{2, 3}}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			continue
		case strings.HasPrefix(trimmed, "#!"):
			if err := sc.pragma(strings.TrimSpace(trimmed[2:])); err != nil {
				return nil, fmt.Errorf("%s:%d: %v", name, i+1, err)
			}
			continue
		case strings.HasPrefix(trimmed, "#"):
			continue
		}
		st, err := parseStep(trimmed)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, i+1, err)
		}
		st.line = i + 1
		sc.steps = append(sc.steps, st)
	}
	return sc, nil
}

// pragma applies a "#!" line.
func (sc *script) pragma(p string) error {
	switch p {
	case "resp2":
		sc.protos = []int{2}
	case "resp3":
		sc.protos = []int{3}
	default:
		return fmt.Errorf("unknown pragma %q", p)
	}
	return nil
}

// parseStep parses one command line: modifiers, then arguments.
func parseStep(line string) (step, error) {
	st := step{text: line, conn: 1, replies: 1}
	rest := line
	for strings.HasPrefix(rest, "@") {
		tok, after, _ := strings.Cut(rest, " ")
		rest = strings.TrimLeft(after, " \t")
		if err := st.modifier(tok[1:]); err != nil {
			return st, err
		}
	}
	args, err := splitArgs(rest)
	if err != nil {
		return st, err
	}
	if len(args) == 0 {
		return st, fmt.Errorf("no command after the modifiers")
	}
	st.args = args
	if !st.raw && st.replies != 1 {
		return st, fmt.Errorf("@replies needs @raw")
	}
	if st.until != nil && (st.raw || st.scanAll != "") {
		return st, fmt.Errorf("@until goes with neither @raw nor @scanall")
	}
	if st.scanAll != "" && scanCursorIndex(args) < 0 {
		return st, fmt.Errorf("@scanall needs SCAN or HSCAN with a cursor")
	}
	if name := strings.ToLower(string(args[0])); !st.raw && name == "hello" && st.mask == nil {
		st.mask = []string{"id", "version"}
	}
	return st, nil
}

// modifier applies one "@name[=value]" token.
func (st *step) modifier(tok string) error {
	name, val, hasVal := strings.Cut(tok, "=")
	needNone := func() error {
		if hasVal {
			return fmt.Errorf("@%s takes no value", name)
		}
		return nil
	}
	switch {
	case strings.HasPrefix(name, "conn") && len(name) > 4:
		n, err := strconv.Atoi(name[4:])
		if err != nil || n < 1 || n > maxConns {
			return fmt.Errorf("bad connection %q (conn1..conn%d)", name, maxConns)
		}
		st.conn = n
		return needNone()
	case name == "raw":
		st.raw = true
		return needNone()
	case name == "replies":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fmt.Errorf("bad @replies=%q", val)
		}
		st.replies = n
	case name == "eof":
		st.eof = true
		return needNone()
	case name == "ignore":
		st.ignore = true
		return needNone()
	case name == "shape":
		st.shape = true
		return needNone()
	case name == "stats":
		st.stats = true
		return needNone()
	case name == "type":
		st.typ = true
		return needNone()
	case name == "approx":
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("bad @approx=%q", val)
		}
		st.approx = n
	case name == "unordered":
		switch val {
		case "":
			st.order = "elems"
		case "pairs", "scan", "scanpairs":
			st.order = val
		default:
			return fmt.Errorf("bad @unordered=%q (pairs, scan, scanpairs)", val)
		}
	case name == "until":
		if !hasVal {
			return fmt.Errorf("@until needs a value")
		}
		st.until = &val
	case name == "mask":
		if val == "" {
			return fmt.Errorf("@mask needs keys")
		}
		st.mask = strings.Split(val, ",")
	case name == "scanall":
		switch val {
		case "":
			st.scanAll = "elems"
		case "pairs":
			st.scanAll = val
		default:
			return fmt.Errorf("bad @scanall=%q (pairs)", val)
		}
	default:
		return fmt.Errorf("unknown modifier @%s", name)
	}
	return nil
}

// scanCursorIndex returns where a SCAN-family command holds its cursor,
// or -1.
func scanCursorIndex(args [][]byte) int {
	switch strings.ToLower(string(args[0])) {
	case "scan":
		if len(args) > 1 {
			return 1
		}
	case "hscan", "sscan", "zscan":
		if len(args) > 2 {
			return 2
		}
	}
	return -1
}

// splitArgs splits a line the way redis-cli does (sdssplitargs): spaces
// separate arguments; "double quotes" understand \n \r \t \b \a \\ \" and
// \xHH; 'single quotes' understand \'. A closing quote must be followed by
// a space or the end of the line.
func splitArgs(p string) ([][]byte, error) {
	var out [][]byte
	i := 0
	for {
		for i < len(p) && isSpace(p[i]) {
			i++
		}
		if i >= len(p) {
			return out, nil
		}
		cur := []byte{}
		inDQ, inSQ := false, false
	arg:
		for {
			switch {
			case inDQ:
				if i >= len(p) {
					return nil, fmt.Errorf("unbalanced double quote")
				}
				c := p[i]
				switch {
				case c == '\\' && i+3 < len(p) && p[i+1] == 'x' && isHex(p[i+2]) && isHex(p[i+3]):
					v, _ := strconv.ParseUint(p[i+2:i+4], 16, 8)
					cur = append(cur, byte(v))
					i += 4
				case c == '\\' && i+1 < len(p):
					e := p[i+1]
					switch e {
					case 'n':
						e = '\n'
					case 'r':
						e = '\r'
					case 't':
						e = '\t'
					case 'b':
						e = '\b'
					case 'a':
						e = '\a'
					}
					cur = append(cur, e)
					i += 2
				case c == '"':
					i++
					if i < len(p) && !isSpace(p[i]) {
						return nil, fmt.Errorf("closing quote must be followed by a space")
					}
					break arg
				default:
					cur = append(cur, c)
					i++
				}
			case inSQ:
				if i >= len(p) {
					return nil, fmt.Errorf("unbalanced single quote")
				}
				c := p[i]
				switch {
				case c == '\\' && i+1 < len(p) && p[i+1] == '\'':
					cur = append(cur, '\'')
					i += 2
				case c == '\'':
					i++
					if i < len(p) && !isSpace(p[i]) {
						return nil, fmt.Errorf("closing quote must be followed by a space")
					}
					break arg
				default:
					cur = append(cur, c)
					i++
				}
			default:
				if i >= len(p) || isSpace(p[i]) {
					break arg
				}
				switch p[i] {
				case '"':
					inDQ = true
				case '\'':
					inSQ = true
				default:
					cur = append(cur, p[i])
				}
				i++
			}
		}
		out = append(out, cur)
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
