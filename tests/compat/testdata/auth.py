"""redis-py against a server started with --requirepass.

Usage: auth.py PORT PASSWORD

Run by tests/compat (TestRequirePass). Exit status 0 and an "ok" line
when the right password works and a missing or wrong one is refused.
"""

import sys

import redis


def main():
    port, password = int(sys.argv[1]), sys.argv[2]
    r = redis.Redis(host="127.0.0.1", port=port, password=password, decode_responses=True, socket_timeout=30)
    assert r.ping() is True, "PING with the password"
    assert r.set("sess:auth", "v", ex=1800) is True, "SET with the password"
    assert r.get("sess:auth") == "v", "GET with the password"
    r.close()
    for kwargs, what in (({}, "no password"), ({"password": password + "x"}, "a wrong password")):
        bad = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30, **kwargs)
        try:
            bad.get("sess:auth")
        except redis.AuthenticationError as e:
            print("refused with %s: %s" % (what, e))
        except redis.ResponseError as e:  # older redis-py raise this for NOAUTH
            assert str(e).startswith(("NOAUTH", "WRONGPASS")), "%s: unexpected error %r" % (what, e)
            print("refused with %s: %s" % (what, e))
        else:
            raise AssertionError("GET with %s succeeded" % what)
        finally:
            bad.close()
    print("ok: redis-py %s with requirepass" % redis.__version__)


if __name__ == "__main__":
    main()
