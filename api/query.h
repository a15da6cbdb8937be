/* query.h — bounded parsing of the query-string values the endpoints accept (top_k). */
#ifndef DEIT_API_QUERY_H
#define DEIT_API_QUERY_H

#include <stddef.h>

/* Parses a decimal integer s[len] (no sign, no spaces, at most 9 digits) that must lie in
 * [min, max]. Returns 0 and sets *out, or -1 with a message naming `what` in err. s == NULL
 * (parameter absent) yields *out = def and 0. */
int query_int(const char *s, size_t len, const char *what, int def, int min, int max, int *out,
              char *err, size_t errlen);

#endif
