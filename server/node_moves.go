package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sessiond/replication"
	"sessiond/shard"
)

// What a node's dir records of the replica moves (moves.go) where groups
// are held by some nodes only:
//
//   - held: the groups this node holds, written on first start from the
//     placement and rewritten (atomically) whenever it takes or drops one;
//     the next start opens exactly those;
//   - layout.json: for a node that joined such a cluster, the layout the
//     cluster gave it (its peers), so that it restarts without asking;
//   - joined: that node took its share of replicas;
//   - retired: this node's replicas were moved away (SESSIOND-LEAVE); it
//     takes no new ones;
//   - left: the nodes removed by SESSIOND-LEAVE, with when, and
//     incarnation: when this dir was first used (left.go).

// nodeHost opens and discards a node's groups (moves.go's groupHost).
type nodeHost struct {
	rc   replication.Config // the node's group config, without group specifics
	dir  string
	tune func(*replication.Config)
}

func (h *nodeHost) open(i int, store *shard.Store) (*replication.Group, error) {
	gc := h.rc
	gc.Store = store
	gc.GroupID = byte(i)
	gc.Dir = groupDir(h.dir, i)
	gc.Join = true
	gc.Peers = nil
	if h.tune != nil {
		h.tune(&gc)
	}
	g, err := replication.Open(gc)
	if err != nil {
		return nil, fmt.Errorf("shard group %d: %w", i, err)
	}
	return g, nil
}

func (h *nodeHost) hasLog(i int) bool {
	return fileExists(filepath.Join(groupDir(h.dir, i), "raft"))
}

// discard closes g and deletes group i's data: its directory is first
// renamed (atomically) out of the way, so that a crash midway never
// leaves part of a log where hasLog would find it.
func (h *nodeHost) discard(i int, g *replication.Group) error {
	err := g.Close()
	d := groupDir(h.dir, i)
	if i == 0 {
		d = filepath.Join(d, "raft")
	}
	tomb := d + ".dropped"
	if rerr := os.RemoveAll(tomb); rerr != nil && err == nil {
		err = rerr
	}
	if rerr := os.Rename(d, tomb); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		if err == nil {
			err = rerr
		}
		return err
	}
	if rerr := os.RemoveAll(tomb); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

func (h *nodeHost) saveHeld(held []int) error {
	parts := make([]string, len(held))
	for i, g := range held {
		parts[i] = strconv.Itoa(g)
	}
	return writeFileAtomic(filepath.Join(h.dir, "held"), []byte(strings.Join(parts, ",")+"\n"))
}

func (h *nodeHost) mark(name string) error {
	return writeFileAtomic(filepath.Join(h.dir, name), []byte("yes\n"))
}

func (h *nodeHost) saveLeft(left map[string]int64) error {
	b, err := json.Marshal(left)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(h.dir, "left"), append(b, '\n'))
}

// loadLeft reads dir/left: the nodes removed by SESSIOND-LEAVE (none
// when the file is missing).
func loadLeft(dir string) (map[string]int64, error) {
	left := map[string]int64{}
	b, err := os.ReadFile(filepath.Join(dir, "left"))
	if errors.Is(err, os.ErrNotExist) {
		return left, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &left)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "left"), err)
	}
	return left, nil
}

// loadIncarnation reads dir/incarnation, when this dir was first used
// (Unix ns), writing it first if missing: now for a new dir, 0 for one
// that held groups before sessiond recorded it (a removal of this node's
// ID then applies to it whenever it was).
func loadIncarnation(dir string, fresh bool) (int64, error) {
	p := filepath.Join(dir, "incarnation")
	b, err := os.ReadFile(p)
	if err == nil {
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p, err)
		}
		return n, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("incarnation: %w", err)
	}
	var n int64
	if fresh {
		n = time.Now().UnixNano()
	}
	return n, writeFileAtomic(p, []byte(strconv.FormatInt(n, 10)+"\n"))
}

// loadHeld reads dir/held: the groups held, and whether the file exists.
func loadHeld(dir string) ([]int, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "held"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("held: %w", err)
	}
	var out []int
	for _, f := range strings.Split(strings.TrimSpace(string(b)), ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n >= MaxShards {
			return nil, false, fmt.Errorf("%s: %q is not a shard group", filepath.Join(dir, "held"), f)
		}
		out = append(out, n)
	}
	return out, true, nil
}

// joinLayoutWait bounds how long a joining node asks for the layout.
const joinLayoutWait = 30 * time.Second

// loadJoinLayout returns, for a node started with --join, the layout of
// a cluster whose groups are held by some nodes only: the one its dir
// recorded when it joined, else the cluster's (SESSIOND-LAYOUT). It is
// nil for a cluster where every node holds every group, which a node
// joins by joining every group (membership.go).
func loadJoinLayout(cfg Config) (*layoutReply, error) {
	p := filepath.Join(cfg.Dir, "layout.json")
	if b, err := os.ReadFile(p); err == nil {
		var l layoutReply
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return &l, nil
	}
	if fileExists(filepath.Join(cfg.Dir, "raft")) {
		return nil, nil // joined a cluster where every node holds every group
	}
	addrs, err := parseJoin(cfg.Join)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), joinLayoutWait)
	defer cancel()
	var last error
	for i := 0; ctx.Err() == nil; i++ {
		cctx, ccancel := context.WithTimeout(ctx, dirTimeout)
		b, err := callNode(cctx, addrs[i%len(addrs)], cfg.RequirePass, "SESSIOND-LAYOUT")
		ccancel()
		switch {
		case err == nil:
			var l layoutReply
			if err := json.Unmarshal([]byte(b), &l); err != nil {
				return nil, fmt.Errorf("--join: layout from %s: %w", addrs[i%len(addrs)], err)
			}
			if l.Replicas == 0 {
				return nil, nil
			}
			return &l, nil
		case strings.Contains(err.Error(), "unknown command"):
			return nil, nil // a node from before replica moves
		case strings.HasPrefix(err.Error(), "NOAUTH") || strings.HasPrefix(err.Error(), "WRONGPASS") ||
			strings.HasPrefix(err.Error(), "AUTH: "):
			return nil, fmt.Errorf("--join: %s refused this node's password (--requirepass must match the cluster's): %w", addrs[i%len(addrs)], err)
		}
		if cfg.Logger != nil {
			cfg.Logger.Info("--join: asking for the cluster's layout failed; retrying", "via", addrs[i%len(addrs)], "err", err)
		}
		last = err
		select {
		case <-ctx.Done():
		case <-time.After(joinRetry):
		}
	}
	return nil, fmt.Errorf("--join: no node answered with the cluster's layout: %w", last)
}

// saveJoinLayout records l in dir/layout.json.
func saveJoinLayout(dir string, l *layoutReply) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "layout.json"), b)
}

// writeFileAtomic replaces file p with b: a crash leaves the old or the
// new contents.
func writeFileAtomic(p string, b []byte) error {
	tmp := p + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
