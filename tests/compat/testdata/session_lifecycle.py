"""A session store's whole life cycle with redis-py, as Python session
libraries (Flask-Session, Django cache sessions, Starlette stores) use it.

Usage: session_lifecycle.py PORT PROTOCOL

Run by tests/compat (TestRedisPy) with Debian's /usr/bin/python3 and its
python3-redis against a freshly started, empty server on 127.0.0.1:PORT.
Exit status: 0 and a final "ok" line when every check holds; 1 with the
failed check on stderr otherwise; 77 with a "SKIP:" line when the installed
redis-py cannot speak the requested protocol.
"""

import inspect
import json
import sys
import threading
import time

import redis

SESSION_TTL = 1800
TOUCHED_TTL = 3600
TTL_SLACK = 60
SCAN_COUNT = 100
HASH_SESSIONS = 150
JSON_SESSIONS = 150


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def session_ids(tag, n):
    # The same ids as the Go side's sessionIDs, for readable failures.
    return ["%s%016x%08x" % (tag, ((i + 1) * 0x9E3779B97F4A7C15) % (1 << 64), i) for i in range(n)]


def session_json(i, csrf):
    return json.dumps({"cookie": {"maxAge": SESSION_TTL * 1000, "httpOnly": True, "path": "/"},
                       "user": "u%d" % i, "csrf": csrf}, sort_keys=True)


def check_ttl(r, key, set_to):
    got = r.ttl(key)
    check(isinstance(got, int) and set_to - TTL_SLACK < got <= set_to,
          "TTL %s = %r, want within %ds below %d" % (key, got, TTL_SLACK, set_to))


def client(port, protocol):
    kwargs = dict(host="127.0.0.1", port=port, decode_responses=True,
                  socket_timeout=30, socket_connect_timeout=5)
    if "protocol" in inspect.signature(redis.Redis.__init__).parameters:
        kwargs["protocol"] = protocol
    elif protocol != 2:
        print("SKIP: redis-py %s does not support protocol=%d" % (redis.__version__, protocol))
        sys.exit(77)
    return redis.Redis(**kwargs)


def check_protocol(r, protocol):
    hello = r.execute_command("HELLO")
    if isinstance(hello, list):  # RESP2 without a HELLO callback: name/value pairs
        hello = dict(zip(hello[::2], hello[1::2]))
    check(isinstance(hello, dict), "HELLO = %r, want a map" % (hello,))
    proto = hello.get("proto", hello.get(b"proto"))
    check(proto == protocol, "HELLO proto = %r, want %d (reply %r)" % (proto, protocol, hello))


def lifecycle(r, other):
    noise = ["user:1", "session-count", "xsess:1", "sess", "csrf:sess:1"]
    for k in noise:
        check(r.set(k, "noise") is True, "SET %s" % k)

    # Create: hash sessions with HSET + EXPIRE in a MULTI, JSON sessions with SET EX.
    hash_ids, json_ids = session_ids("h", HASH_SESSIONS), session_ids("j", JSON_SESSIONS)
    want = set()
    for i, sid in enumerate(hash_ids):
        key = "sess:" + sid
        with r.pipeline(transaction=True) as p:
            p.hset(key, mapping={"user": "u%d" % i, "csrf": "tok-" + sid, "created": "1700000000"})
            p.expire(key, SESSION_TTL)
            res = p.execute()
        check(res == [3, True], "create %s: MULTI HSET EXPIRE EXEC = %r, want [3, True]" % (key, res))
        want.add(key)
    for i, sid in enumerate(json_ids):
        key = "sess:" + sid
        check(r.set(key, session_json(i, "tok-" + sid), ex=SESSION_TTL) is True, "create %s: SET EX" % key)
        want.add(key)

    # Read, also through a non-transactional pipeline.
    with r.pipeline(transaction=False) as p:
        for sid in hash_ids:
            p.hgetall("sess:" + sid)
        got = p.execute()
    for i, sid in enumerate(hash_ids):
        exp = {"user": "u%d" % i, "csrf": "tok-" + sid, "created": "1700000000"}
        check(got[i] == exp, "HGETALL sess:%s = %r, want %r" % (sid, got[i], exp))
    for i, sid in enumerate(json_ids):
        raw = r.get("sess:" + sid)
        check(raw == session_json(i, "tok-" + sid), "GET sess:%s = %r" % (sid, raw))
        check(json.loads(raw)["csrf"] == "tok-" + sid, "GET sess:%s: JSON does not decode" % sid)
    check(r.get("sess:missing") is None, "GET of a missing session is not None")
    check(r.hgetall("sess:missing") == {}, "HGETALL of a missing session is not empty")
    check(r.exists("sess:" + hash_ids[0], "sess:" + json_ids[0], "sess:missing") == 2, "EXISTS != 2")

    # TTLs.
    hk, jk = "sess:" + hash_ids[0], "sess:" + json_ids[0]
    check_ttl(r, hk, SESSION_TTL)
    check_ttl(r, jk, SESSION_TTL)
    pttl = r.pttl(hk)
    check((SESSION_TTL - TTL_SLACK) * 1000 < pttl <= SESSION_TTL * 1000, "PTTL %s = %r" % (hk, pttl))
    check(r.ttl("sess:missing") == -2, "TTL of a missing key = %r, want -2" % r.ttl("sess:missing"))
    check(r.ttl(noise[0]) == -1, "TTL of a key without expiry = %r, want -1" % r.ttl(noise[0]))
    check(r.type(hk) == "hash", "TYPE %s = %r, want hash" % (hk, r.type(hk)))
    check(r.type(jk) == "string", "TYPE %s = %r, want string" % (jk, r.type(jk)))

    # Touch.
    check(r.expire(hk, TOUCHED_TTL) is True, "touch: EXPIRE %s is not True" % hk)
    check_ttl(r, hk, TOUCHED_TTL)
    got = r.getex(jk, ex=TOUCHED_TTL)
    check(got == session_json(0, "tok-" + json_ids[0]), "touch: GETEX %s EX = %r" % (jk, got))
    check_ttl(r, jk, TOUCHED_TTL)
    check(r.expire("sess:missing", TOUCHED_TTL) is False, "touch: EXPIRE of a missing key is not False")

    # Update fields; HSET and SET KEEPTTL keep the TTL, SET EX resets it.
    n = r.hset(hk, mapping={"csrf": "rotated", "last_seen": "1700000100"})
    check(n == 1, "update: HSET = %r, want 1" % n)
    check(r.hget(hk, "csrf") == "rotated", "update: HGET csrf")
    check(r.hincrby(hk, "hits", 1) == 1, "update: HINCRBY hits")
    got = r.hmget(hk, ["user", "nosuch", "hits"])
    check(got == ["u0", None, "1"], "update: HMGET = %r, want ['u0', None, '1']" % (got,))
    check(r.hdel(hk, "last_seen", "nosuch") == 1, "update: HDEL")
    check(r.hlen(hk) == 4, "update: HLEN = %r, want 4" % r.hlen(hk))
    check_ttl(r, hk, TOUCHED_TTL)
    updated = session_json(0, "rotated")
    check(r.set(jk, updated, keepttl=True) is True, "update: SET KEEPTTL")
    check_ttl(r, jk, TOUCHED_TTL)
    check(r.set(jk, updated, ex=SESSION_TTL) is True, "update: SET EX")
    check_ttl(r, jk, SESSION_TTL)
    check(r.get(jk) == updated, "update: GET after SET")

    # Optimistic updates with WATCH/MULTI/EXEC.
    def bump(pipe):
        hits = int(pipe.hget(hk, "hits"))
        pipe.multi()
        pipe.hset(hk, "hits", hits + 1)
        pipe.expire(hk, SESSION_TTL)

    res = r.transaction(bump, hk)
    check(res == [0, True], "r.transaction(bump) = %r, want [0, True]" % (res,))
    check(r.hget(hk, "hits") == "2", "hits after WATCH update = %r, want 2" % r.hget(hk, "hits"))
    check_ttl(r, hk, SESSION_TTL)
    with r.pipeline(transaction=True) as pipe:
        pipe.watch(hk)
        pipe.hget(hk, "hits")
        other.hset(hk, "user", "intruder")
        pipe.multi()
        pipe.hset(hk, "user", "mine")
        try:
            pipe.execute()
            raise CheckFailed("EXEC after a concurrent write to a watched key succeeded")
        except redis.WatchError:
            pass
    check(r.hget(hk, "user") == "intruder", "user after aborted EXEC = %r" % r.hget(hk, "user"))

    errors = []

    def worker():
        try:
            for _ in range(25):
                with r.pipeline(transaction=True) as pipe:
                    for _attempt in range(1000):
                        try:
                            pipe.watch(hk)
                            hits = int(pipe.hget(hk, "hits"))
                            pipe.multi()
                            pipe.hset(hk, "hits", hits + 1)
                            pipe.execute()
                            break
                        except redis.WatchError:
                            continue
                    else:
                        raise CheckFailed("1000 WATCH attempts all aborted")
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, "concurrent WATCH increments: %r" % errors)
    check(r.hget(hk, "hits") == "102", "hits after 100 concurrent increments = %r, want 102" % r.hget(hk, "hits"))

    # Delete.
    for sid in hash_ids[:10]:
        key = "sess:" + sid
        check(r.delete(key) == 1, "DEL %s != 1" % key)
        check(r.delete(key) == 0, "second DEL %s != 0" % key)
        want.discard(key)
    batch = ["sess:" + sid for sid in json_ids[:10]]
    for key in batch:
        want.discard(key)
    n = r.unlink(*batch)
    check(n == 10, "UNLINK of 10 sessions = %r" % n)
    check(r.exists(*batch) == 0, "EXISTS of deleted sessions != 0")

    # Scan: scan_iter and an explicit cursor loop find exactly the live sessions.
    found = set(r.scan_iter(match="sess:*", count=SCAN_COUNT))
    check(found == want, "scan_iter(sess:*): missing %r, unexpected %r" %
          (sorted(want - found)[:10], sorted(found - want)[:10]))
    found, cursor, calls = set(), 0, 0
    while True:
        cursor, keys = r.scan(cursor, match="sess:*", count=SCAN_COUNT)
        found.update(keys)
        calls += 1
        check(calls < 10000, "SCAN did not return cursor 0")
        if cursor == 0:
            break
    check(found == want, "SCAN loop: missing %r, unexpected %r" %
          (sorted(want - found)[:10], sorted(found - want)[:10]))
    check(r.dbsize() == len(want) + len(noise), "DBSIZE = %r, want %d" % (r.dbsize(), len(want) + len(noise)))


def expiry(r):
    check(r.set("sess:short-str", "v", px=150) is True, "SET PX 150")
    with r.pipeline(transaction=True) as p:
        p.hset("sess:short-hash", "user", "u1")
        p.pexpire("sess:short-hash", 150)
        p.execute()
    deadline = time.monotonic() + 20
    while r.exists("sess:short-str", "sess:short-hash") != 0:
        check(time.monotonic() < deadline, "sessions with a 150ms TTL still exist after 20s")
        time.sleep(0.02)  # poll interval
    check(r.get("sess:short-str") is None, "GET of an expired session is not None")
    check(r.hgetall("sess:short-hash") == {}, "HGETALL of an expired session is not empty")
    check(r.ttl("sess:short-hash") == -2, "TTL of an expired session != -2")
    check(list(r.scan_iter(match="sess:short*")) == [], "SCAN finds expired sessions")


def blocked_worker(r, other, fn):
    """Runs fn(r) in a worker thread and returns once the server counts it
    as blocked, with the list the thread appends fn's result to."""
    got = []
    worker = threading.Thread(target=lambda: got.append(fn(r)))
    worker.start()
    deadline = time.monotonic() + 20
    while other.info("clients").get("blocked_clients", 0) < 1:
        check(time.monotonic() < deadline, "the worker never blocked")
        time.sleep(0.02)  # poll interval
    return worker, got


def work_queue(r, other):
    """A job queue as RQ, Celery and Sidekiq keep one: a worker blocked in
    BRPOP (or BLMOVE, the reliable form) gets a job pushed later by
    another connection; an empty queue times out with None."""
    check(r.brpop("jobs:empty", timeout=0.1) is None, "BRPOP of an empty queue did not time out with None")
    worker, got = blocked_worker(r, other, lambda c: c.brpop(["jobs:high", "jobs:low"], timeout=20))
    other.lpush("jobs:low", "job-1")
    worker.join(25)
    res = got[0] if got else None
    check(res is not None and tuple(res) in ((b"jobs:low", b"job-1"), ("jobs:low", "job-1")),
          "BRPOP got %r, want jobs:low job-1" % (res,))
    worker, got = blocked_worker(r, other, lambda c: c.blmove("jobs:q", "jobs:doing", 20, "RIGHT", "LEFT"))
    other.lpush("jobs:q", "job-2")
    worker.join(25)
    check(got and got[0] in (b"job-2", "job-2"), "BLMOVE got %r, want job-2" % (got,))
    check(other.lrange("jobs:doing", 0, -1) in ([b"job-2"], ["job-2"]), "jobs:doing = %r" % (other.lrange("jobs:doing", 0, -1),))


def server_info(r, port):
    info = r.info("server")
    check(info.get("tcp_port") == port, "INFO server tcp_port = %r, want %d" % (info.get("tcp_port"), port))
    check(info.get("redis_mode") == "standalone", "INFO server redis_mode = %r" % info.get("redis_mode"))
    check("redis_version" in info, "INFO server has no redis_version")
    cfg = r.config_get("maxmemory")
    check(cfg == {"maxmemory": "0"}, "CONFIG GET maxmemory = %r" % (cfg,))


def main():
    port, protocol = int(sys.argv[1]), int(sys.argv[2])
    r, other = client(port, protocol), client(port, protocol)
    try:
        check(r.ping() is True, "PING")
        check_protocol(r, protocol)
        lifecycle(r, other)
        expiry(r)
        work_queue(r, other)
        server_info(r, port)
    except CheckFailed as e:
        print("FAIL (redis-py %s, protocol %d): %s" % (redis.__version__, protocol, e), file=sys.stderr)
        sys.exit(1)
    finally:
        r.close()
        other.close()
    print("ok: redis-py %s, protocol %d" % (redis.__version__, protocol))


if __name__ == "__main__":
    main()
