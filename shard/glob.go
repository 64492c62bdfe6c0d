package shard

// globMatch reports whether s matches the glob pattern, with exactly the
// rules of Redis's stringmatchlen (case-sensitive), as KEYS, SCAN MATCH and
// HSCAN MATCH use it:
//
//   - '*' matches any run of bytes, '?' any one byte;
//   - "[abc]" one byte of the set, "[^abc]" one byte not in it, "[a-z]" a
//     range (also written reversed, "[z-a]"), "\x" inside a class the
//     literal x; an unterminated class ends at the end of the pattern;
//   - '\' makes the next byte literal (a trailing '\' is a literal '\');
//   - everything else matches itself.
//
// Like every Redis caller of stringmatchlen, globMatch treats the pattern
// "*" as "match everything", so it matches even the empty string (which
// stringmatchlen itself would refuse).
func globMatch(pattern, s []byte) bool {
	if len(pattern) == 1 && pattern[0] == '*' {
		return true
	}
	skipLonger := false
	return globMatchAt(pattern, s, &skipLonger, 0)
}

// GlobMatch reports whether s matches pattern with Redis's glob rules
// (see globMatch). Callers wanting Redis's case-insensitive matching (CONFIG
// GET, COMMAND LIST PATTERN) lower-case both sides first, which is what
// stringmatchlen's nocase mode amounts to.
func GlobMatch(pattern, s []byte) bool { return globMatch(pattern, s) }

// maxGlobNesting bounds the recursion of nested '*' (Redis refuses to match
// deeper than this, which protects its stack and ours).
const maxGlobNesting = 1000

// globMatchAt is stringmatchlen_impl. skipLonger is set once a '*' has
// tried every suffix of the string without success: no shorter suffix can
// then match for an enclosing '*' either, which bounds the work on
// patterns such as "*a*a*a*a*b". nesting counts the enclosing '*'.
func globMatchAt(p, s []byte, skipLonger *bool, nesting int) bool {
	if nesting > maxGlobNesting {
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if globMatchAt(p[1:], s, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			*skipLonger = true
			return false
		case '?':
			s = s[1:]
		case '[':
			var ok bool
			p, ok = matchClass(p[1:], s[0])
			if !ok {
				return false
			}
			s = s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}

// matchClass matches c against the class that starts at p (just after the
// '['). It returns the pattern positioned on the class's last byte (the
// ']', or the pattern's last byte when the class is unterminated), so that
// the caller's step moves past it, and whether c matched.
func matchClass(p []byte, c byte) ([]byte, bool) {
	// p[0] on an exhausted pattern reads as NUL, as the C code reads the
	// string's terminator.
	at := func(i int) byte {
		if i < len(p) {
			return p[i]
		}
		return 0
	}
	full := p
	not := at(0) == '^'
	if not {
		p = p[1:]
	}
	match := false
	for {
		switch {
		case at(0) == '\\' && len(p) >= 2:
			p = p[1:]
			if p[0] == c {
				match = true
			}
		case at(0) == ']':
			return p, match != not
		case len(p) == 0:
			// Unterminated: stay on the pattern's last byte.
			if len(full) == 0 {
				return full, false
			}
			return full[len(full)-1:], match != not
		case len(p) >= 3 && p[1] == '-':
			lo, hi := p[0], p[2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if c >= lo && c <= hi {
				match = true
			}
			p = p[2:]
		default:
			if p[0] == c {
				match = true
			}
		}
		p = p[1:]
	}
}
