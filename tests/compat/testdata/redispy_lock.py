"""redis-py's Lock class against a server, unmodified.

Usage: redispy_lock.py PORT
Exits 0 and prints "ok: redis-py lock ..." when every check passed. The
Lock class runs its release, extend and reacquire steps as Lua scripts
(EVALSHA, falling back to EVAL/SCRIPT LOAD on NOSCRIPT).
"""
import sys
import time

import redis
from redis.exceptions import LockError, LockNotOwnedError

r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
r.delete("lock:sess:42")

lock = r.lock("lock:sess:42", timeout=10, blocking_timeout=0.2)
assert lock.acquire() is True
assert lock.owned() is True
assert r.ttl("lock:sess:42") > 0

# A second owner cannot take it while it is held.
other = r.lock("lock:sess:42", timeout=10, blocking_timeout=0.2)
assert other.acquire() is False

# extend (Lua), reacquire (Lua).
assert lock.extend(20) is True
assert 20 < r.pttl("lock:sess:42") / 1000.0 <= 30
assert lock.reacquire() is True
assert 9 < r.pttl("lock:sess:42") / 1000.0 <= 10

# release (Lua compare-and-delete); a second release is an error.
lock.release()
assert r.exists("lock:sess:42") == 0
try:
    lock.release()
    raise AssertionError("released twice")
except LockError:
    pass

# The other owner takes it now; the first cannot release the other's lock.
assert other.acquire() is True
lock.local.token = b"not-the-owner"
try:
    lock.release()
    raise AssertionError("released a lock it does not own")
except LockNotOwnedError:
    pass
other.release()

# The context-manager form.
with r.lock("lock:sess:43", timeout=5):
    assert r.exists("lock:sess:43") == 1
assert r.exists("lock:sess:43") == 0

print("ok: redis-py lock", redis.__version__)
