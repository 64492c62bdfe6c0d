package shard

import (
	"bytes"
	"strings"
	"testing"
)

// globCases were checked against redis-server 7.0 (KEYS pattern on a
// database holding the string).
var globCases = []struct {
	pattern, s string
	want       bool
}{
	{"", "", true},
	{"", "a", false},
	{"*", "", true}, // callers treat "*" as match-all
	{"**", "", false},
	{"*", "anything", true},
	{"a*", "a", true},
	{"a*", "abc", true},
	{"a*", "ba", false},
	{"*a", "bba", true},
	{"*a", "ab", false},
	{"a**b", "ab", true},
	{"a*b*c", "axxbyyc", true},
	{"a*b*c", "axxbyy", false},
	{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaa", false},
	{"?", "", false},
	{"?", "a", true},
	{"?", "ab", false},
	{"a?c", "abc", true},
	{"a?c", "ac", false},
	{"h?llo", "hello", true},
	{"h[ae]llo", "hallo", true},
	{"h[ae]llo", "hillo", false},
	{"h[^e]llo", "hallo", true},
	{"h[^e]llo", "hello", false},
	{"h[a-b]llo", "hbllo", true},
	{"h[a-b]llo", "hcllo", false},
	{"[z-a]", "m", true}, // reversed range
	{"[z-a]", "A", false},
	{"[a-]", "]", true}, // "a-]" is a range; the class is unterminated
	{"[a-]", "-", false},
	{"[a-]x", "bx", false},
	{"[]", "]", false},
	{"[]]", "]", false},
	{"[]a]", "]", false},
	{"[^]", "a", true},
	{"[^]", "", false},
	{"[", "[", false},
	{"[a", "a", true}, // unterminated class
	{"[a", "b", false},
	{"[ab", "b", true},
	{"[^a", "b", true},
	{"[\\]]", "]", true},
	{"[\\-]", "-", true},
	{"[\\a-c]", "-", true},
	{"[\\a-c]", "b", false},
	{"[a\\-c]", "b", false},
	{"[a\\-c]", "-", true},
	{"[a-c-e]", "-", true},
	{"[a-c-e]", "d", false},
	{"[\\", "\\", true},
	{"\\*", "*", true},
	{"\\*", "a", false},
	{"\\?", "?", true},
	{"\\[a]", "[a]", true},
	{"\\", "\\", true}, // a trailing backslash is literal
	{"a\\", "a\\", true},
	{"\\a", "a", true},
	{"A", "a", false}, // no case folding
	{"[A-Z]", "a", false},
	{"*\\*", "abc*", true},
	{"*[", "a[", false},
	{"a*[", "a", false}, // only trailing stars may match nothing at the end
	{"a[*", "a", false},
	{"a[*", "a*", true},
	{"\x00", "\x00", true},
	{"[\x00-\x02]", "\x01", true},
	{"\xff*", "\xff\xfe", true},
}

func TestGlobMatch(t *testing.T) {
	for _, c := range globCases {
		if got := globMatch([]byte(c.pattern), []byte(c.s)); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestGlobMatchNestingLimit(t *testing.T) {
	// Redis gives up past 1000 nested stars rather than recurse further.
	s := []byte(strings.Repeat("a", 1100) + "b")
	shallow := []byte(strings.Repeat("a*", 999) + "b")
	if !globMatch(shallow, s) {
		t.Errorf("999 nested stars: want a match")
	}
	deep := []byte(strings.Repeat("a*", 1002) + "b")
	if globMatch(deep, s) {
		t.Errorf("1002 nested stars: want no match (nesting limit)")
	}
}

// FuzzGlobMatch checks properties that hold for any pattern: matching
// never panics, a fully escaped string matches exactly itself, and a
// pattern made of the string with '*' appended matches it.
func FuzzGlobMatch(f *testing.F) {
	for _, c := range globCases {
		f.Add([]byte(c.pattern), []byte(c.s))
	}
	f.Fuzz(func(t *testing.T, pattern, s []byte) {
		globMatch(pattern, s)
		var esc []byte
		for _, c := range s {
			esc = append(esc, '\\', c)
		}
		if !globMatch(esc, s) {
			t.Fatalf("escaped %q does not match itself", s)
		}
		if len(s) > 0 && globMatch(esc, s[:len(s)-1]) {
			t.Fatalf("escaped %q matches a shorter string", s)
		}
		if !globMatch(append(esc, '*'), s) {
			t.Fatalf("escaped %q followed by * does not match", s)
		}
		if bytes.IndexAny(s, "*?[\\") < 0 && !globMatch(s, s) {
			t.Fatalf("literal %q does not match itself", s)
		}
	})
}
