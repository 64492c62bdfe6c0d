// Package compat is sessiond's client-compatibility suite: it proves that
// unmodified Redis clients and tools work against the real sessiond binary.
//
// TestMain builds cmd/sessiond once; every test starts its own sessiond
// process on a free 127.0.0.1 port with a temporary --dir, talks to it with
// a real client (go-redis v9 over RESP2 and RESP3, redigo, Debian's
// redis-py run by /usr/bin/python3, redis-cli, redis-benchmark) and stops
// it with SIGTERM, expecting a clean exit.
//
// External tools that are missing make their tests skip with a message,
// except when CI=true, where a missing tool fails the test.
//
// Setting COMPAT_RACE=1 builds sessiond with the race detector: a data
// race inside the server under real client load then fails the test that
// stops it (a race-enabled binary exits with status 66).
//
// Setting COMPAT_AGAINST=redis-server runs the same suite against the
// reference redis-server (found on PATH) instead of sessiond. That checks
// the suite itself: every assertion here is Redis's documented behaviour,
// so the suite must pass against Redis too (sessiond-only checks, such as
// its --version flag, are skipped in that mode).
package compat
