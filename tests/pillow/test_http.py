#!/usr/bin/python3
"""test_http.py — the new formats and ?exif_transpose over HTTP with Python's http.client: a
release server on the timm 224 model answers WebP (image/webp) and TIFF (image/tiff) uploads
with the logits deit-predict gives for the same file; ?exif_transpose=1 gives deit-predict
--exif-transpose's logits (and, for a file with EXIF orientation 5, different ones from the
default); a bad value is 400; --exif-transpose 1 makes 1 the default and ?exif_transpose=0 undoes it.

  test_http.py [--server build/deit-server] [--predict build/deit-predict] [FOLDER]
Prints "http: N passed, N failed".
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "fixtures", "models", "timm-deit-reduced")
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"http: FAIL: {what}")


def start(server, extra):
    log = tempfile.NamedTemporaryFile(prefix="deit-http-", delete=False)
    p = subprocess.Popen([server, "--model", MODEL, "--host", "127.0.0.1", "--port", "0"] + extra,
                         stderr=log, stdout=subprocess.DEVNULL)
    for _ in range(300):
        m = re.search(r"listening on [^\s]*:(\d+)\s", open(log.name, errors="replace").read())
        if m:
            port = int(m.group(1))
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    return p, port, log.name
            except OSError:
                pass
        time.sleep(0.1)
    p.terminate()
    sys.exit(f"http: server did not start: {open(log.name).read()[-2000:]}")


def post(port, path, body, ctype):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", path, body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"{}")


def cli(predict, f, exif):
    out = subprocess.run([predict, "--model", MODEL, "--logits", "--top-k", "3"] +
                         (["--exif-transpose"] if exif else []) + [f],
                         capture_output=True, text=True).stdout
    d = json.loads(out)
    return [p["index"] for p in d["fused"]], d["class_head"][0]["score"]


def top(resp):
    p = resp["predictions"][0]
    return [x["index"] for x in p["fused"]], p["class_head"][0]["score"]


def same(a, b):
    return a[0] == b[0] and abs(a[1] - b[1]) < 1e-5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="build/deit-server")
    ap.add_argument("--predict", default="build/deit-predict")
    ap.add_argument("folder", nargs="?", default=os.path.join(HERE, "..", "..", "..", "shared",
                                                              "fixtures", "pillow-dev"))
    a = ap.parse_args()
    d = a.folder
    cases = [("hopper.webp", "image/webp"), ("flower2.webp", "image/webp"),
             ("hopper_jpg.tif", "image/tiff"), ("tiff_strip_planar_lzw.tiff", "image/tiff"),
             ("hopper_orientation_5.jpg", "image/jpeg"), ("hopper_orientation_5.webp", "image/webp")]
    p, port, log = start(a.server, [])
    try:
        for name, ctype in cases:
            f = os.path.join(d, name)
            body = open(f, "rb").read()
            st, r = post(port, "/v1/predict?top_k=3", body, ctype)
            check(st == 200 and same(top(r), cli(a.predict, f, False)), f"{name} as {ctype}: {st} {r}")
            st, r = post(port, "/v1/predict?top_k=3&exif_transpose=1", body, ctype)
            check(st == 200 and same(top(r), cli(a.predict, f, True)),
                  f"{name} ?exif_transpose=1: {st} {r}")
        f = os.path.join(d, "hopper_orientation_5.jpg")
        check(not same(cli(a.predict, f, True), cli(a.predict, f, False)),
              "orientation 5 changes nothing")
        st, r = post(port, "/v1/predict?exif_transpose=2", open(f, "rb").read(), "image/jpeg")
        check(st == 400 and "exif_transpose" in json.dumps(r.get("error")), f"?exif_transpose=2: {st} {r}")
        st, r = post(port, "/v1/predict", b"II*\x00\x08\x00\x00\x00", "image/tiff")
        check(st == 400 and r.get("error"), f"broken TIFF: {st} {r}")
    finally:
        p.terminate()
        p.wait()
        os.unlink(log)
    p, port, log = start(a.server, ["--exif-transpose", "1"])
    try:
        f = os.path.join(d, "hopper_orientation_5.jpg")
        body = open(f, "rb").read()
        st, r = post(port, "/v1/predict?top_k=3", body, "image/jpeg")
        check(st == 200 and same(top(r), cli(a.predict, f, True)), f"--exif-transpose 1: {st} {r}")
        st, r = post(port, "/v1/predict?top_k=3&exif_transpose=0", body, "image/jpeg")
        check(st == 200 and same(top(r), cli(a.predict, f, False)), f"?exif_transpose=0: {st} {r}")
    finally:
        p.terminate()
        p.wait()
        os.unlink(log)
    print(f"http: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
