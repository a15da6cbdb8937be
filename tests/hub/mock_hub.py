#!/usr/bin/python3
"""mock_hub.py — a Hugging Face Hub on loopback for the hub tests: the resolve endpoint as
huggingface_hub meets it (HEAD metadata headers, 302 to a CDN for LFS files, X-Error-Code errors),
a CDN with Range support, failure modes (token required, gated, corrupt bytes, dropped connection,
slow transfers, hanging metadata, an absent file answered at another commit, a relative redirect too
long to follow) and request counters.

    mock_hub.py --port-file F --repo test-org/fashion-deit=models/fashion-deit [--repo ...]

Control (not counted): GET /_mock/stats (JSON counters), GET /_mock/reset,
GET /_mock/config?auth=none|private|gated&token=T&corrupt=0|1&drop=N&slow_ms=M&head_delay_ms=M
&entry_commit=C&long_redirect=0|1&fail_status=S&bare_200=0|1&cdn_error_kb=K (every key optional; the
others keep their values). entry_commit: the X-Repo-Commit of EntryNotFound answers ("" = the commit
asked); long_redirect: every resolve HEAD answers a relative 307 whose URL is longer than
deit-server's 2 KiB; fail_status: every resolve request answers that HTTP status (a hub in
trouble: 503, 429...; 0 = off); bare_200: every resolve HEAD answers 200 without the Hub's headers
(a proxy's page); cdn_error_kb: CDN downloads answer 503 with a body of that many KiB.
"""
import argparse
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_SUFFIXES = (".safetensors", ".bin")


class Repo:
    """A repo at one commit: its files, with git-blob sha1 etags (regular files) or sha256 (LFS)."""

    def __init__(self, repo_id, directory):
        self.repo_id = repo_id
        self.files = {}
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if not os.path.isfile(path) or name == "reference.json":
                continue
            data = open(path, "rb").read()
            lfs = name.endswith(LFS_SUFFIXES)
            if lfs:
                etag = hashlib.sha256(data).hexdigest()
            else:
                etag = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            self.files[name] = {"data": data, "lfs": lfs, "etag": etag}
        seed = repo_id + "".join(n + f["etag"] for n, f in sorted(self.files.items()))
        self.commit = hashlib.sha1(seed.encode()).hexdigest()
        # branches and tags; "refs/pr/1" exercises a revision with slashes
        self.revisions = {"main": self.commit, "v1.0": self.commit, "refs/pr/1": self.commit, self.commit: self.commit}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.config = {"auth": "none", "token": "hf_mocktoken", "corrupt": 0, "drop": 0, "slow_ms": 0,
                       "head_delay_ms": 0, "entry_commit": "", "long_redirect": 0, "fail_status": 0,
                       "bare_200": 0, "cdn_error_kb": 0, "oversize_get": 0, "cdn_redirect_body": 0}
        self.reset()

    def reset(self):
        self.stats = {"requests": 0, "head": 0, "get": 0, "cdn_get": 0, "cdn_range": 0, "cdn_bytes": 0,
                      "auth_to_cdn": 0, "paths": []}

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n


STATE = State()
REPOS = {}
ALIASES = {}  # renamed repos: old id -> new id (answered with a relative 307, like the hub)
CDN = {}      # sha256 -> bytes


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the tests read counters, not logs
        pass

    def send(self, status, headers=(), body=b"", head=False, length=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def error(self, status, code, message, head, extra=()):
        body = json.dumps({"error": message}).encode()
        self.send(status, [("X-Error-Code", code), ("X-Error-Message", message),
                           ("Content-Type", "application/json")] + list(extra), body, head)

    def do_HEAD(self):
        self.route(head=True)

    def do_GET(self):
        self.route(head=False)

    def route(self, head):
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/_mock/"):
            return self.control(url)
        STATE.count("requests")
        STATE.count("head" if head else "get")
        with STATE.lock:
            STATE.stats["paths"].append(("HEAD " if head else "GET ") + url.path)
        if url.path.startswith("/cdn-lfs/"):
            return self.cdn(url.path[len("/cdn-lfs/"):], head)
        parts = url.path.split("/")
        # /ORG/NAME/resolve/REV/FILE (REV percent-encoded, as huggingface_hub quotes it)
        if len(parts) != 6 or parts[3] != "resolve":
            return self.error(404, "EntryNotFound", "not a resolve URL", head)
        repo_id = parts[1] + "/" + parts[2]
        rev = urllib.parse.unquote(parts[4])
        fname = urllib.parse.unquote(parts[5])
        if STATE.config["fail_status"]:
            return self.error(STATE.config["fail_status"], "", "The hub is having trouble", head)
        if STATE.config["bare_200"] and head:
            return self.send(200, [("Content-Type", "text/html")], b"<html>proxy login</html>", head)
        if STATE.config["long_redirect"] and head:
            # fits a 2 KiB header buffer, but not once the origin is put in front of it
            return self.send(307, [("Location", "/" + "x" * 2040)], b"", head)
        if repo_id in ALIASES:
            target = "/%s/resolve/%s/%s" % (ALIASES[repo_id], parts[4], parts[5])
            return self.send(307, [("Location", target)], b"", head)
        repo = REPOS.get(repo_id)
        cfg = STATE.config
        auth = self.headers.get("Authorization", "")
        good = auth == "Bearer " + cfg["token"]
        if repo is None:
            return self.error(401, "RepoNotFound", "Repository not found", head)
        if cfg["head_delay_ms"]:
            time.sleep(cfg["head_delay_ms"] / 1000.0)
        if cfg["auth"] == "private" and not good:
            return self.error(401, "RepoNotFound", "Repository not found", head)
        if cfg["auth"] == "gated" and not good:
            if auth:
                return self.error(403, "GatedRepo", "Access to model %s is restricted and you are not in the "
                                  "authorized list. Visit https://huggingface.co/%s to ask for access." % (repo_id, repo_id), head)
            return self.error(401, "GatedRepo", "Access to model %s is restricted. You must have access to it "
                              "and be authenticated to access it. Please log in." % repo_id, head)
        commit = repo.revisions.get(rev)
        if commit is None:
            return self.error(404, "RevisionNotFound", "Invalid rev id: %s" % rev, head)
        f = repo.files.get(fname)
        if f is None:
            return self.error(404, "EntryNotFound", "Entry not found", head,
                              [("X-Repo-Commit", cfg["entry_commit"] or commit)])
        if f["lfs"]:
            # What the hub answers for an LFS file: a redirect to the CDN (absolute, signed), with the
            # file's own etag and size in X-Linked-*; the ETag is the pointer file's.
            pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (
                f["etag"].encode(), len(f["data"]))
            host = "localhost:%d" % self.server.server_address[1]
            loc = "http://%s/cdn-lfs/%s?X-Amz-Signature=mock&response-content-disposition=%s" % (
                host, f["etag"], urllib.parse.quote('attachment; filename="%s";' % fname))
            hdrs = [("X-Repo-Commit", commit), ("X-Linked-Etag", '"%s"' % f["etag"]),
                    ("X-Linked-Size", str(len(f["data"]))),
                    ("ETag", '"%s"' % hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest()),
                    ("Location", loc)]
            return self.send(302, hdrs, b"", head)
        hdrs = [("X-Repo-Commit", commit), ("ETag", '"%s"' % f["etag"]), ("Content-Type", "text/plain")]
        return self.send(200, hdrs, f["data"], head)

    def cdn(self, rest, head):
        sha = rest.split("?")[0]
        data = CDN.get(sha)
        if data is None:
            return self.send(404, [], b"no such object", head)
        STATE.count("cdn_get")
        if self.headers.get("Authorization"):
            STATE.count("auth_to_cdn")
        cfg = STATE.config
        if cfg["cdn_error_kb"] and not head:
            return self.send(503, [("Content-Type", "text/html")], b"x" * (1024 * cfg["cdn_error_kb"]), head)
        if cfg["cdn_redirect_body"] and not head:
            # a redirect (to itself) whose body never ends: libcurl reads a redirect's body itself
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            piece = b"x" * 65536
            try:
                while True:
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            STATE.count("cdn_range")
        if start > len(data):
            return self.send(416, [("Content-Range", "bytes */%d" % len(data))], b"", head)
        body = data[start:]
        if cfg["oversize_get"] and not start:
            # a proxy's page in place of the file the HEAD described: three times its size
            body = b"<html>" + b"p" * (3 * len(data))
        if cfg["corrupt"] and len(body) > 100:
            mid = len(body) // 2
            body = body[:mid] + bytes([body[mid] ^ 0x5A]) + body[mid + 1:]
        status, hdrs = 200, [("ETag", '"%s"' % sha), ("Accept-Ranges", "bytes")]
        if start:
            status = 206
            hdrs.append(("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data))))
        drop = False
        with STATE.lock:
            if cfg["drop"] > 0:
                cfg["drop"] -= 1
                drop = True
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        # a dropped connection: a third of the body, then the socket closes mid-file
        end = len(body) // 3 if drop else len(body)
        chunk = 65536
        try:
            for off in range(0, end, chunk):
                piece = body[off:min(off + chunk, end)]
                self.wfile.write(piece)
                STATE.count("cdn_bytes", len(piece))
                if cfg["slow_ms"]:
                    self.wfile.flush()
                    time.sleep(cfg["slow_ms"] / 1000.0)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (a cancelled download)
            self.close_connection = True
            return
        if drop:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)

    def control(self, url):
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/_mock/reset":
            with STATE.lock:
                STATE.reset()
        elif url.path == "/_mock/config":
            with STATE.lock:
                for k, v in q.items():
                    if k in STATE.config:
                        STATE.config[k] = v if k in ("auth", "token", "entry_commit") else int(v)
        with STATE.lock:
            body = json.dumps({"stats": STATE.stats, "config": STATE.config,
                               "repos": {k: r.commit for k, r in REPOS.items()}}).encode()
        self.send(200, [("Content-Type", "application/json")], body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--repo", action="append", default=[], help="ORG/NAME=DIR")
    ap.add_argument("--alias", action="append", default=[], help="OLD/NAME=ORG/NAME (a renamed repo)")
    a = ap.parse_args()
    for spec in a.repo:
        rid, d = spec.split("=", 1)
        REPOS[rid] = Repo(rid, d)
        for f in REPOS[rid].files.values():
            if f["lfs"]:
                CDN[f["etag"]] = f["data"]
    for spec in a.alias:
        old, new = spec.split("=", 1)
        ALIASES[old] = new
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
