/* regular_file.h — reading a whole operator-named file (a config, a PEM file, an image given on a
 * command line) that must be a regular file of bounded size. */
#ifndef DEIT_REGULAR_FILE_H
#define DEIT_REGULAR_FILE_H

#include <stddef.h>

/* Reads the regular file at path into *buf (malloc'd, with a NUL after its *len bytes).
 * The open is O_NONBLOCK, so a FIFO or device planted at path is refused at once instead of
 * holding the caller until a writer appears. Returns DEIT_OK; DEIT_EIO when it cannot be opened
 * (errno is kept: ENOENT means absent) or read; DEIT_EINVAL when it is not a regular file;
 * DEIT_ETOOBIG when it holds more than max_bytes. The message in err does not name the path (the
 * caller knows how to): "cannot open: No such file or directory", "not a regular file", ... On
 * failure *buf is NULL, and whatever was read has been zeroed (the file may hold a key). */
int read_regular_file(const char *path, size_t max_bytes, char **buf, size_t *len, char *err, size_t errlen);

#endif
