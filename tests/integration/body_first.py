#!/usr/bin/python3
"""body_first.py URL MODEL N KEY — Python's http.client (what requests uses) sends the whole body before
it reads; every error the server decides from the headers must still reach it. Prints "ok <count>" and
one "bad ..." line per wrong answer; exits 0 unless it could not run."""
import http.client
import json
import sys
import urllib.parse

url, model, n, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
u = urllib.parse.urlsplit(url)
auth = {"Authorization": "Bearer " + key}
LIMIT = 1 << 20
CASES = [  # method, path, headers, body size, status, error shape ("deit", "v2" or "torchserve")
    ("POST", "/nope", {"Content-Type": "image/png"}, 3 * LIMIT, 404, "deit"),
    ("POST", "/v2/models/nope/infer", dict(auth, **{"Content-Type": "application/json"}), 2 * LIMIT, 404, "v2"),
    ("POST", "/predictions/%s/9" % model, auth, LIMIT // 2, 404, "torchserve"),
    ("PUT", "/v1/predict", dict(auth, **{"Content-Type": "image/png"}), LIMIT // 2, 405, "deit"),
    ("POST", "/v1/predict", {"Content-Type": "image/png"}, 3 * LIMIT, 401, "deit"),
    ("POST", "/v1/predict", dict(auth, **{"Content-Type": "text/plain"}), 10 * 1024, 415, "deit"),
    ("POST", "/v1/predict?top_k=0", dict(auth, **{"Content-Type": "image/png"}), 100 * 1024, 400, "deit"),
    ("POST", "/v1/predict", dict(auth, **{"Content-Type": "image/png"}), 3 * LIMIT, 413, "deit"),
]
ok = 0
for method, path, headers, size, status, kind in CASES:
    body = b"x" * size
    for _ in range(n):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = json.loads(r.read())
            err = data.get("error")
            if kind == "torchserve":
                shape = data.get("code") == status and isinstance(data.get("type"), str) and "message" in data
            elif kind == "v2":
                shape = isinstance(err, str)
            else:
                shape = isinstance(err, dict) and err.get("code") == status
            if r.status == status and shape:
                ok += 1
            else:
                print("bad %s %s (%d bytes): %d %r" % (method, path, size, r.status, data))
        except Exception as e:  # a reset or broken pipe is the defect under test
            print("bad %s %s (%d bytes): %s: %s" % (method, path, size, type(e).__name__, e))
        finally:
            conn.close()
print("ok %d" % ok)
