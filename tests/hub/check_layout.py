#!/usr/bin/python3
"""check_layout.py — asserts that a cache holds exactly what huggingface_hub (>= 0.19, the
"blobs + snapshots + refs + .no_exist + .locks" layout) writes for one repo after hf_hub_download of
each file at a branch, so deit-server and Python tools share one cache. Derived from
huggingface_hub's file_download.py (no huggingface_hub here to run), function by function:

  repo_folder_name                  models--ORG--NAME ('/' -> '--')
  blob path                         <repo>/blobs/<etag>; etag = X-Linked-Etag or ETag, quotes and W/
                                    stripped: the git-blob sha1 of a regular file, the sha256 of an LFS file
  _chmod_and_move                   a blob's mode is a new file's in the cache: 0666 & ~umask
  _create_symlink                   <repo>/snapshots/<commit>/<file> -> os.path.relpath(blob, snapshot dir)
                                    = "../../blobs/<etag>"
  _cache_commit_hash_for_specific_revision
                                    <repo>/refs/<revision> = the commit, no newline (nothing for a commit id)
  EntryNotFoundError branch         <repo>/.no_exist/<commit>/<file>, empty
  lock path                         <cache>/.locks/models--ORG--NAME/<etag>.lock (WeakFileLock; left behind)
  no <etag>.incomplete remains once the blob is complete.

    check_layout.py CACHE ORG/NAME SOURCE_DIR COMMIT REVISION [ABSENT_FILE ...]

Every path under CACHE is compared (type, symlink target, bytes, mode); anything extra or missing is
reported. Exit 0 when identical, 1 otherwise.
"""
import hashlib
import os
import stat
import sys


def etag_of(name, data):
    if name.endswith((".safetensors", ".bin")):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def main():
    cache, repo_id, src, commit, revision = sys.argv[1:6]
    absent = sys.argv[6:]
    umask = os.umask(0)
    os.umask(umask)
    folder = "models--" + repo_id.replace("/", "--")
    exp = {}  # relative path -> ("d",) | ("f", bytes, mode or None) | ("l", target)

    def add_dirs(rel):
        parts = rel.split("/")
        for i in range(1, len(parts)):
            exp.setdefault("/".join(parts[:i]), ("d",))

    def add(rel, entry):
        add_dirs(rel)
        exp[rel] = entry

    for name in ("config.json", "model.safetensors", "preprocessor_config.json"):
        path = os.path.join(src, name)
        if not os.path.exists(path):
            continue
        data = open(path, "rb").read()
        etag = etag_of(name, data)
        add("%s/blobs/%s" % (folder, etag), ("f", data, 0o666 & ~umask))
        add("%s/snapshots/%s/%s" % (folder, commit, name), ("l", "../../blobs/" + etag))
        add(".locks/%s/%s.lock" % (folder, etag), ("f", None, None))
    for name in absent:
        add("%s/.no_exist/%s/%s" % (folder, commit, name), ("f", b"", None))
    if revision != commit:
        add("%s/refs/%s" % (folder, revision), ("f", commit.encode(), None))

    got = {}
    for root, dirs, files in os.walk(cache):
        for n in dirs + files:
            full = os.path.join(root, n)
            rel = os.path.relpath(full, cache)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                got[rel] = ("l", os.readlink(full))
                if n in dirs:
                    dirs.remove(n)
            elif stat.S_ISDIR(st.st_mode):
                got[rel] = ("d",)
            else:
                got[rel] = ("f", open(full, "rb").read(), stat.S_IMODE(st.st_mode))

    bad = []
    for rel in sorted(set(exp) | set(got)):
        e, g = exp.get(rel), got.get(rel)
        if e is None:
            bad.append("unexpected %s" % rel)
        elif g is None:
            bad.append("missing %s" % rel)
        elif e[0] != g[0]:
            bad.append("%s: a %s, expected a %s" % (rel, g[0], e[0]))
        elif e[0] == "l" and e[1] != g[1]:
            bad.append("%s -> %s, expected -> %s" % (rel, g[1], e[1]))
        elif e[0] == "f" and e[1] is not None and e[1] != g[1]:
            bad.append("%s: %d bytes differ from the expected %d" % (rel, len(g[1]), len(e[1])))
        elif e[0] == "f" and e[2] is not None and e[2] != g[2]:
            bad.append("%s: mode %o, expected %o" % (rel, g[2], e[2]))
    for b in bad:
        print("layout: " + b)
    if not bad:
        print("layout: %d entries as huggingface_hub writes them" % len(exp))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
