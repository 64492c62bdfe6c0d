// Command depscheck asserts sessiond's import rules with `go list`: the
// one direction of imports between its packages and one importing package
// per third-party library. It exits non-zero and says why on a violation.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// forbidden maps a package to the packages it must never import.
var forbidden = map[string][]string{
	"sessiond/ttl":         {"sessiond/shard", "sessiond/replication", "sessiond/server"},
	"sessiond/shard":       {"sessiond/replication", "sessiond/server", "sessiond/script"},
	"sessiond/replication": {"sessiond/server", "github.com/tidwall/redcon"},
	"sessiond/script":      {"sessiond/server", "sessiond/replication"},
}

// owners maps each third-party library to the one package that may
// import it (test files excluded).
var owners = map[string]string{
	"github.com/tidwall/redcon":           "sessiond/server",
	"github.com/cespare/xxhash/v2":        "sessiond/shard",
	"github.com/hashicorp/raft":           "sessiond/replication",
	"github.com/hashicorp/raft-boltdb/v2": "sessiond/replication",
	"github.com/hashicorp/go-hclog":       "sessiond/replication",
	"go.etcd.io/bbolt":                    "sessiond/replication",
	"github.com/yuin/gopher-lua":          "sessiond/script",
}

func main() {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "depscheck: go list:", err)
		os.Exit(2)
	}
	var bad []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		pkg, imports := f[0], f[1:]
		for _, imp := range imports {
			for _, no := range forbidden[pkg] {
				if imp == no || strings.HasPrefix(imp, no+"/") {
					bad = append(bad, fmt.Sprintf("%s imports %s", pkg, imp))
				}
			}
			if owner, ok := owners[imp]; ok && owner != pkg {
				bad = append(bad, fmt.Sprintf("%s imports %s, which only %s may import", pkg, imp, owner))
			}
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		fmt.Fprintln(os.Stderr, "depscheck: import rules broken:")
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "  "+b)
		}
		os.Exit(1)
	}
	fmt.Println("depscheck: import rules hold")
}
