/* hub_cache.c — huggingface_hub's cache layout on disk: refs, snapshot symlinks into blobs, absence
 * markers and per-blob locks. */
#include "hub_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How often a wait for another download's lock checks for cancellation, and how often it says so. */
#define LOCK_POLL_MS 100
#define LOCK_LOG_S 10

/* Numbers the temporary names of this process, so no two threads or calls share one (the pid tells
 * processes apart). */
static atomic_ulong tmp_serial;

int hub_pathf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int hub_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int hub_mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = saved;
            if (!saved)
                break;
        }
    }
    struct stat st;
    return stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

int hub_open_regular(const char *path, int flags, char *err, size_t errlen)
{
    /* O_NONBLOCK: a FIFO planted there must not hang the open (no effect on regular files). */
    int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0666);
    struct stat st;
    if (fd < 0) {
        int e = errno;
        int there = lstat(path, &st) == 0;
        if (there && S_ISLNK(st.st_mode))
            snprintf(err, errlen, "%s is a symbolic link: refusing to write through it (the cache makes it a "
                                  "regular file; remove the link)", path);
        else if (there && !S_ISREG(st.st_mode))
            snprintf(err, errlen, "%s is not a regular file: refusing to use it as a cache file (remove it)", path);
        else
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    int e = EINVAL;
    if (fstat(fd, &st) != 0)
        snprintf(err, errlen, "%s: %s", path, strerror(e = errno));
    else if (!S_ISREG(st.st_mode))
        snprintf(err, errlen, "%s is not a regular file: refusing to use it as a cache file (remove it)", path);
    else if (st.st_nlink > 1)
        snprintf(err, errlen, "%s has %ld hard links: refusing to write to a file that is also elsewhere "
                              "(remove it)", path, (long)st.st_nlink);
    else
        return fd;
    close(fd);
    errno = e;
    return -1;
}

/* "<dir>/.<name>.tmp<pid>.<serial>" beside `path`: a name no other live thread or process uses. */
static int tmp_beside(char *out, size_t cap, const char *path)
{
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path + 1) : 0;
    return hub_pathf(out, cap, "%.*s.%s.tmp%ld.%lu", dl, path, path + dl, (long)getpid(),
                     atomic_fetch_add(&tmp_serial, 1));
}

int hub_cache_read_ref(const char *repo_dir, const char *revision, char commit[41])
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/refs/%s", repo_dir, revision) >= (int)sizeof path)
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[64] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (!hub_is_commit(buf))
        return -1;
    memcpy(commit, buf, 41);
    return 0;
}

/* Writes `data` to `path` through a temporary file in the same directory and a rename, so a reader
 * never sees a half-written file. The temporary file is created new (O_EXCL: nothing planted under its
 * name is followed); a leftover of a dead process that had our pid is removed first. */
static int write_atomically(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (tmp_beside(tmp, sizeof tmp, path) != 0) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    unlink(tmp);
    int fd = hub_open_regular(tmp, O_WRONLY | O_CREAT | O_EXCL, err, errlen);
    if (fd < 0)
        return -1;
    ssize_t w = len ? write(fd, data, len) : 0;
    int e = w < 0 ? errno : w != (ssize_t)len ? EIO : 0;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int hub_cache_write_ref(const char *repo_dir, const char *revision, const char *commit, char *err, size_t errlen)
{
    char cur[41];
    if (hub_is_commit(revision))
        return 0; /* huggingface_hub writes no ref for a commit asked by its id */
    if (hub_cache_read_ref(repo_dir, revision, cur) == 0 && strcmp(cur, commit) == 0)
        return 0;
    char path[PATH_MAX];
    if (hub_pathf(path, sizeof path, "%s/refs/%s", repo_dir, revision) != 0) {
        snprintf(err, errlen, "%s/refs/%s: path too long", repo_dir, revision);
        return -1;
    }
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = hub_mkdirs(path);
    if (rc != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    *slash = '/';
    return write_atomically(path, commit, strlen(commit), err, errlen);
}

/* 1 if `link` is a symlink to `target`. */
static int links_to(const char *link, const char *target)
{
    char have[256];
    ssize_t n = readlink(link, have, sizeof have - 1);
    if (n < 0)
        return 0;
    have[n] = '\0';
    return strcmp(have, target) == 0;
}

int hub_cache_link(const char *repo_dir, const char *commit, const char *file, const char *etag,
                   char *err, size_t errlen)
{
    char dir[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX], target[256];
    snprintf(dir, sizeof dir, "%s/snapshots/%s", repo_dir, commit);
    if (hub_pathf(link, sizeof link, "%s/%s", dir, file) != 0 || tmp_beside(tmp, sizeof tmp, link) != 0) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    /* Relative, as huggingface_hub makes them (the cache folder can then be moved or mounted):
     * snapshots/<commit>/<file> -> ../../blobs/<etag>. Files here are top-level, hence two levels. */
    snprintf(target, sizeof target, "../../blobs/%s", etag);
    if (links_to(link, target))
        return 0;
    if (hub_mkdirs(dir) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    unlink(tmp); /* a leftover of a dead process that had our pid */
    if (symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
        int e = errno;
        unlink(tmp);
        /* Another thread or process may have made the same link meanwhile: that is success. */
        if (links_to(link, target))
            return 0;
        snprintf(err, errlen, "%s: %s", link, strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

int hub_cache_mark_absent(const char *repo_dir, const char *commit, const char *file, char *err, size_t errlen)
{
    char dir[PATH_MAX], path[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/.no_exist/%s", repo_dir, commit);
    if (hub_pathf(path, sizeof path, "%s/%s", dir, file) != 0) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    if (hub_mkdirs(dir) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", dir, strerror(e));
        errno = e;
        return -1;
    }
    int fd = hub_open_regular(path, O_WRONLY | O_CREAT, err, errlen);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Polls the lock instead of blocking on it, so that a cancellation (SIGTERM in the server) ends the
 * wait, and says every LOCK_LOG_S that it is waiting and for what (else a stuck download elsewhere
 * looks like a hang here). */
int hub_cache_lock(const hub_options *o, const char *folder, const char *etag, char *err, size_t errlen)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (hub_pathf(dir, sizeof dir, "%s/.locks/%s", o->cache_dir, folder) != 0 ||
        hub_pathf(path, sizeof path, "%s/%s.lock", dir, etag) != 0) {
        snprintf(err, errlen, "%s/.locks/%s: path too long", o->cache_dir, folder);
        errno = ENAMETOOLONG;
        return -1;
    }
    if (hub_mkdirs(dir) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", dir, strerror(e));
        errno = e;
        return -1;
    }
    int fd = hub_open_regular(path, O_RDWR | O_CREAT, err, errlen);
    if (fd < 0)
        return -1;
    double start = mono_s(), next_log = start;
    for (int said = 0;; said = 1) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        int e = errno;
        if (e != EWOULDBLOCK && e != EINTR) {
            snprintf(err, errlen, "%s: %s", path, strerror(e));
            close(fd);
            errno = e;
            return -1;
        }
        if (o->cancelled && o->cancelled(o->ctx)) {
            snprintf(err, errlen, "cancelled while waiting for %s (another download of this file holds it)", path);
            close(fd);
            errno = ECANCELED;
            return -1;
        }
        double now = mono_s();
        if (o->log && now >= next_log) {
            char msg[PATH_MAX + 160];
            if (!said)
                snprintf(msg, sizeof msg, "waiting for %s: another process or thread is downloading this file", path);
            else
                snprintf(msg, sizeof msg, "still waiting for %s (%.0f s)", path, now - start);
            o->log(o->ctx, HUB_LOG_INFO, msg);
            next_log = now + LOCK_LOG_S;
        }
        struct timespec ts = {0, LOCK_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void hub_cache_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}
