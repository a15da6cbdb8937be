/* hub_internal.h — the pieces behind hub.h: repo names (hub_ref.c), the cache layout (hub_cache.c),
 * the HTTP exchanges (hub_http.c). Not part of the engine's interface. */
#ifndef DEIT_HUB_INTERNAL_H
#define DEIT_HUB_INTERNAL_H

#include <limits.h>
#include <stddef.h>

#include "hub.h"

/* ---- names (hub_ref.c) ------------------------------------------------------------------------ */

/* A repo id and revision as the user wrote them, validated the way huggingface_hub validates them. */
typedef struct {
    char repo[97];             /* "ORG/NAME" or "NAME": [A-Za-z0-9_.-], no "--" or "..", <= 96 chars */
    char name[97];             /* NAME */
    char folder[112];          /* "models--ORG--NAME": the repo's folder in the cache */
    char revision[256];        /* branch, tag or commit; path components without "." / ".." */
} hub_ref;

/* Parses "ORG/NAME[@REV]" (no scheme). require_org: a bare NAME is refused (the schemeless form).
 * 0, or -1 with a message. */
int hub_ref_parse(const char *s, int require_org, hub_ref *r, char *err, size_t errlen);
/* 1 if s is 40 lowercase hex digits (a commit id). */
int hub_is_commit(const char *s);
/* 1 if s is 64 lowercase hex digits (an LFS file's SHA-256, the hub's etag for it). */
int hub_is_sha256(const char *s);
/* A server's ETag / X-Linked-Etag made a file name: W/ and quotes stripped; refused (-1) unless it is
 * 1..128 of [A-Za-z0-9_-] (it names a file in the cache, so nothing else gets through). */
int hub_etag_normalize(const char *raw, char *out, size_t cap);
/* Percent-encodes everything outside [A-Za-z0-9._~-] (huggingface_hub quotes revisions with safe=""). */
int hub_url_quote(const char *s, char *out, size_t cap);

/* ---- cache (hub_cache.c) ---------------------------------------------------------------------- */

/* snprintf for paths: 0, or -1 (ENAMETOOLONG) when the result would not fit. */
int hub_pathf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 1 if path exists following symlinks (a snapshot entry whose blob is there). */
int hub_path_exists(const char *path);
/* mkdir -p, mode 0777 (umask applies). 0 or -1 (errno). */
int hub_mkdirs(const char *path);
/* refs/<revision> -> commit (40 hex); 0, or -1 when absent or malformed. */
int hub_cache_read_ref(const char *repo_dir, const char *revision, char commit[41]);
/* Opens a cache file to write (flags: O_RDWR / O_WRONLY, O_CREAT, O_EXCL...) never through a symbolic
 * link planted in its place (others may write a shared cache), and only if it is a regular file with
 * one link. An fd (close-on-exec), or -1 with errno and a message naming the path and the problem. */
int hub_open_regular(const char *path, int flags, char *err, size_t errlen);
/* Writes refs/<revision> (the commit, no newline) unless it already says so; never for a revision
 * that is a commit id (huggingface_hub writes none). 0, or -1 with errno and a message. */
int hub_cache_write_ref(const char *repo_dir, const char *revision, const char *commit, char *err, size_t errlen);
/* snapshots/<commit>/<file> -> ../../blobs/<etag> (relative symlink, replaced atomically; the same link
 * made meanwhile by another thread or process counts as success). 0, or -1 with a message. */
int hub_cache_link(const char *repo_dir, const char *commit, const char *file, const char *etag,
                   char *err, size_t errlen);
/* Creates the empty .no_exist/<commit>/<file>. 0, or -1 with errno and a message. */
int hub_cache_mark_absent(const char *repo_dir, const char *commit, const char *file, char *err, size_t errlen);
/* Takes <o->cache_dir>/.locks/<folder>/<etag>.lock (flock), waiting as long as another download holds
 * it: polls o->cancelled, and says through o->log when it starts waiting and every 10 s after. An fd,
 * or -1 with errno (ECANCELED when cancelled) and a message naming the lock. */
int hub_cache_lock(const hub_options *o, const char *folder, const char *etag, char *err, size_t errlen);
void hub_cache_unlock(int fd);

/* ---- HTTP (hub_http.c) ------------------------------------------------------------------------ */

/* What a metadata HEAD said. */
typedef struct {
    long status;               /* final HTTP status (after relative redirects); 0 when no answer */
    int no_answer;             /* 1: DNS, connect, TLS or timeout failure (the cache may be used) */
    char commit[64];           /* X-Repo-Commit */
    char etag[160];            /* normalized X-Linked-Etag, else ETag; "" if absent or refused */
    long long size;            /* X-Linked-Size, else Content-Length; -1 if absent */
    char location[2048];       /* where to GET: an absolute redirect's Location, else the URL asked
                                  (after the relative redirects of a renamed repo) */
    int on_hub;                /* 1: the file is served by the hub itself (no absolute redirect) */
    char error_code[64];       /* X-Error-Code (RepoNotFound, GatedRepo, EntryNotFound, RevisionNotFound) */
    char error_message[256];   /* X-Error-Message */
    char transport[256];       /* libcurl's message when no_answer */
    int requests;              /* HTTP requests made (1 + relative redirects followed) */
} hub_meta;

/* HEAD url (following relative redirects only, at most 5), with the token and Accept-Encoding: identity. */
int hub_http_head(const hub_options *o, const char *url, hub_meta *m);

/* GETs url into `incomplete` (resuming what is there, with Range), following redirects; retries
 * dropped transfers from where they stopped. The file must end exactly `size` bytes long and, when
 * sha256 is given, hash to it (else it is deleted). file names the file in messages and progress.
 * *fetched += bytes received. 0, or a DEIT_E* status with a message. */
int hub_http_download(const hub_options *o, const char *url, int send_token, const char *incomplete,
                      const char *file, long long size, const char *sha256, long long *fetched,
                      int *requests, char *err, size_t errlen);

#endif
