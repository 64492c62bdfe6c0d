"""Session reads and writes through redis-py's RedisCluster, unmodified.

Usage: rediscluster.py PORT [PORT...]  (client ports of the seed nodes)
Exits 0 and prints "ok: ..." when every check passed, 77 when the
installed redis-py has no RedisCluster.
"""
import sys
import time

import redis

try:
    from redis.cluster import ClusterNode, RedisCluster
except ImportError:
    print("redis-py", redis.__version__, "has no RedisCluster")
    sys.exit(77)

seeds = [ClusterNode("127.0.0.1", int(p)) for p in sys.argv[1:]]
rc = RedisCluster(startup_nodes=seeds, decode_responses=True)

# Keys over every slot: the client routes each by CRC16 itself.
for i in range(500):
    assert rc.set(f"sess:{i}", str(i)) is True
for i in range(500):
    got = rc.get(f"sess:{i}")
    assert got == str(i), (i, got)

# A session hash with a TTL, and multi-key commands within one slot.
assert rc.hset("sess:{u1}:data", mapping={"user": "u1", "csrf": "t9"}) == 2
assert rc.expire("sess:{u1}:data", 1800) is True
assert rc.hgetall("sess:{u1}:data") == {"user": "u1", "csrf": "t9"}
assert 0 < rc.ttl("sess:{u1}:data") <= 1800
assert rc.mset({"{u1}a": "1", "{u1}b": "2"}) is True
assert rc.mget("{u1}a", "{u1}b") == ["1", "2"]
assert rc.delete("{u1}a", "{u1}b") == 2

# Keys of several slots in one command: redis-py splits them by slot.
assert rc.mget_nonatomic(["sess:1", "sess:2", "sess:3"]) == ["1", "2", "3"]

# A raw cross-slot command gets Redis Cluster's error (which redis-py
# turns into ClusterCrossSlotError).
try:
    rc.execute_command("MGET", "sess:1", "sess:2", target_nodes=RedisCluster.PRIMARIES)
    raise AssertionError("cross-slot MGET answered")
except redis.exceptions.ClusterCrossSlotError as e:
    assert "don't hash to the same slot" in str(e), e

# Replica reads (READONLY on the replica connections): replication is
# asynchronous to followers, so wait for the last write to be visible.
ro = RedisCluster(startup_nodes=seeds, decode_responses=True, read_from_replicas=True)
deadline = time.time() + 10
for i in range(500):
    while True:
        got = ro.get(f"sess:{i}")
        if got == str(i):
            break
        assert time.time() < deadline, ("replica read", i, got)
        time.sleep(0.01)

nodes = rc.get_nodes()
assert len(nodes) == 3, nodes
print("ok: redis-py", redis.__version__, "RedisCluster over", len(nodes), "nodes")
