package server

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCommandGoRedis(t *testing.T) {
	ts := startServer(t, Config{})
	for _, proto := range []int{2, 3} {
		cmds, err := ts.goRedis(t, proto).Command(context.Background()).Result()
		if err != nil {
			t.Fatalf("RESP%d COMMAND: %v", proto, err)
		}
		if len(cmds) != len(ts.cmds) {
			t.Errorf("RESP%d COMMAND returned %d commands, table has %d", proto, len(cmds), len(ts.cmds))
		}
		get := cmds["get"]
		if get == nil || get.Arity != 2 || get.FirstKeyPos != 1 || get.LastKeyPos != 1 || get.StepCount != 1 ||
			!get.ReadOnly || !slices.Equal(get.ACLFlags, []string{"@read", "@string", "@fast"}) {
			t.Errorf("RESP%d COMMAND get = %+v", proto, get)
		}
		if mset := cmds["mset"]; mset == nil || mset.LastKeyPos != -1 || mset.StepCount != 2 || mset.ReadOnly {
			t.Errorf("RESP%d COMMAND mset = %+v", proto, mset)
		}
		if cmds["config"] == nil || cmds["client"] == nil || cmds["info"] == nil {
			t.Errorf("RESP%d COMMAND lacks server commands", proto)
		}
	}
}

func TestCommandReplies(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.resp(t)
	getInfo2 := "*10\r\n" + respBulk("get") + ":2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n" +
		"*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"COMMAND", "INFO", "get"}, "*1\r\n" + getInfo2},
		{[]string{"COMMAND", "INFO", "GET", "nosuch"}, "*2\r\n" + getInfo2 + "$-1\r\n"},
		{[]string{"COMMAND", "INFO", "config|get"}, "*1\r\n*10\r\n" + respBulk("config|get") + ":-3\r\n" +
			"*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n" +
			"*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n"},
		{[]string{"COMMAND", "COUNT"}, ":" + strconv.Itoa(len(ts.cmds)) + "\r\n"},
		{[]string{"COMMAND", "DOCS", "get"}, "*2\r\n" + respBulk("get") + "*6\r\n" + respBulk("summary") +
			respBulk("Returns the string value of a key.") + respBulk("since") + respBulk("1.0.0") + respBulk("group") + respBulk("string")},
		{[]string{"COMMAND", "DOCS", "nosuch"}, "*0\r\n"},
		{[]string{"COMMAND", "LIST", "FILTERBY", "PATTERN", "conf*"}, "*6\r\n" + respBulk("config") +
			respBulk("config|get") + respBulk("config|set") + respBulk("config|resetstat") + respBulk("config|rewrite") + respBulk("config|help")},
		{[]string{"COMMAND", "LIST", "FILTERBY", "PATTERN", "hget*"}, "*4\r\n" + respBulk("hget") + respBulk("hgetall") + respBulk("hgetdel") + respBulk("hgetex")},
		{[]string{"COMMAND", "LIST", "FILTERBY", "ACLCAT", "bogus"}, "*0\r\n"},
		{[]string{"COMMAND", "LIST", "FILTERBY", "MODULE", "x"}, "*0\r\n"},
		{[]string{"COMMAND", "LIST", "x"}, respError("ERR syntax error")},
		{[]string{"COMMAND", "LIST", "FILTERBY", "x", "y"}, respError("ERR syntax error")},
		{[]string{"COMMAND", "GETKEYS", "get", "a"}, "*1\r\n" + respBulk("a")},
		{[]string{"COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"}, "*2\r\n" + respBulk("a") + respBulk("b")},
		{[]string{"COMMAND", "GETKEYS", "del", "a", "b", "c"}, "*3\r\n" + respBulk("a") + respBulk("b") + respBulk("c")},
		{[]string{"COMMAND", "GETKEYS", "rename", "a", "b"}, "*2\r\n" + respBulk("a") + respBulk("b")},
		{[]string{"COMMAND", "GETKEYS", "nosuch", "a"}, respError("ERR Invalid command specified")},
		{[]string{"COMMAND", "GETKEYS", "set", "a"}, respError("ERR Invalid number of arguments specified for command")},
		{[]string{"COMMAND", "GETKEYS", "ping", "x"}, respError("ERR The command has no key arguments")},
		{[]string{"COMMAND", "GETKEYS", "get"}, respError("ERR wrong number of arguments for 'command|getkeys' command")},
		{[]string{"COMMAND", "COUNT", "x"}, respError("ERR wrong number of arguments for 'command|count' command")},
		{[]string{"COMMAND", "foo"}, respError("ERR unknown subcommand 'foo'. Try COMMAND HELP.")},
		{[]string{"HELLO", "3"}, ""},
		{[]string{"COMMAND", "INFO", "get", "nosuch"}, "*2\r\n*10\r\n" + respBulk("get") + ":2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n" +
			"~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~0\r\n~0\r\n_\r\n"},
		{[]string{"COMMAND", "DOCS", "time"}, "%1\r\n" + respBulk("time") + "%3\r\n" + respBulk("summary") +
			respBulk("Returns the server time.") + respBulk("since") + respBulk("2.6.0") + respBulk("group") + respBulk("server")},
	}
	for _, tt := range tests {
		if got := rc.do(tt.args...); tt.want != "" && got != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.args, got, tt.want)
		}
	}
}

func TestCommandContainers(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.resp(t)
	got := rc.do("COMMAND", "INFO", "config", "client", "command")
	for _, sub := range []string{"config|get", "config|set", "client|list", "client|setinfo", "command|docs"} {
		if !strings.Contains(got, respBulk(sub)) {
			t.Errorf("COMMAND INFO lacks subcommand %s", sub)
		}
	}
	docs := rc.do("COMMAND", "DOCS", "client")
	if !strings.Contains(docs, respBulk("subcommands")) || !strings.Contains(docs, respBulk("Sets the connection name.")) {
		t.Errorf("COMMAND DOCS client: %q", docs)
	}
	// Every documentation line is well formed.
	since := regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	for _, l := range allDocLines() {
		f := strings.Split(l, "|")
		if len(f) != 4 && len(f) != 5 {
			t.Errorf("bad doc line %q", l)
			continue
		}
		f = f[len(f)-3:]
		if f[0] == "" || !since.MatchString(f[1]) || f[2] == "" {
			t.Errorf("bad doc line %q", l)
		}
	}
	if got, want := len(commandDocs()), len(allDocLines()); got != want {
		t.Errorf("commandDocs has %d entries for %d lines", got, want)
	}
	all := rc.do("COMMAND", "DOCS")
	if !strings.HasPrefix(all, "*"+strconv.Itoa(2*len(ts.cmds))+"\r\n") {
		t.Errorf("COMMAND DOCS header: %q", all[:20])
	}
	list := rc.do("COMMAND", "LIST")
	if n := strings.Count(list, "\r\n$"); n < len(ts.cmds)+20 {
		t.Errorf("COMMAND LIST has %d names", n)
	}
	help := rc.do("COMMAND", "HELP")
	if !strings.Contains(help, "+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n") {
		t.Errorf("COMMAND HELP: %q", help)
	}
}
