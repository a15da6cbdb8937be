/* regular_file.c — bounded whole-file reads of regular files (see regular_file.h). */
#include "regular_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

/* Reads exactly n bytes (a regular file does not return short reads before its end, but a
 * signal can interrupt one). 0, or -1 with errno set (0 for a file that got shorter). */
static int read_all(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0) errno = 0;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int read_regular_file(const char *path, size_t max_bytes, char **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        deit_fail(err, errlen, DEIT_EIO, "cannot open: %s", strerror(e));
        errno = e;
        return DEIT_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return deit_fail(err, errlen, DEIT_EINVAL, "not a regular file");
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        close(fd);
        return deit_fail(err, errlen, DEIT_ETOOBIG, "%lld bytes, over the limit of %zu", (long long)st.st_size,
                         max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *b = malloc(n + 1);
    if (!b) {
        close(fd);
        return deit_fail(err, errlen, DEIT_ENOMEM, "out of memory for %zu bytes", n);
    }
    /* O_NONBLOCK has no effect on a regular file's reads, so it can stay set */
    int rc = read_all(fd, b, n);
    int e = errno;
    close(fd);
    if (rc != 0) {
        explicit_bzero(b, n + 1);
        free(b);
        return deit_fail(err, errlen, DEIT_EIO, "read error: %s", e ? strerror(e) : "the file got shorter");
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return DEIT_OK;
}
