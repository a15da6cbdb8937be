/* hub_cache.c — huggingface_hub's cache layout on disk: refs, snapshot symlinks into blobs, absence
 * markers and per-blob locks. */
#include "hub_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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
 * never sees a half-written file. */
static int write_atomically(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        return -1;
    ssize_t w = len ? write(fd, data, len) : 0;
    if (close(fd) != 0 || w != (ssize_t)len || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int hub_cache_write_ref(const char *repo_dir, const char *revision, const char *commit)
{
    char cur[41];
    if (strcmp(revision, commit) == 0)
        return 0; /* huggingface_hub writes no ref for a commit asked by its id */
    if (hub_cache_read_ref(repo_dir, revision, cur) == 0 && strcmp(cur, commit) == 0)
        return 0;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/refs/%s", repo_dir, revision) >= (int)sizeof path)
        return -1;
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = hub_mkdirs(path);
    *slash = '/';
    return rc ? -1 : write_atomically(path, commit, strlen(commit));
}

int hub_cache_link(const char *repo_dir, const char *commit, const char *file, const char *etag,
                   char *err, size_t errlen)
{
    char dir[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX], target[256];
    snprintf(dir, sizeof dir, "%s/snapshots/%s", repo_dir, commit);
    if (snprintf(link, sizeof link, "%s/%s", dir, file) >= (int)sizeof link ||
        snprintf(tmp, sizeof tmp, "%s/.%s.tmp%ld", dir, file, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    /* Relative, as huggingface_hub makes them (the cache folder can then be moved or mounted):
     * snapshots/<commit>/<file> -> ../../blobs/<etag>. Files here are top-level, hence two levels. */
    snprintf(target, sizeof target, "../../blobs/%s", etag);
    char have[256];
    ssize_t hl = readlink(link, have, sizeof have - 1);
    if (hl >= 0) {
        have[hl] = '\0';
        if (strcmp(have, target) == 0)
            return 0;
    }
    if (hub_mkdirs(dir) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    unlink(tmp);
    if (symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
        snprintf(err, errlen, "%s: %s", link, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int hub_cache_mark_absent(const char *repo_dir, const char *commit, const char *file)
{
    char dir[PATH_MAX], path[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/.no_exist/%s", repo_dir, commit);
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path || hub_mkdirs(dir) != 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT, 0666);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

int hub_cache_lock(const char *root, const char *folder, const char *etag)
{
    char dir[PATH_MAX], path[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/.locks/%s", root, folder);
    if (snprintf(path, sizeof path, "%s/%s.lock", dir, etag) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (hub_mkdirs(dir) != 0)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

void hub_cache_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}
