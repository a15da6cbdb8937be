/* cli_args.h — numeric option values of the command-line tools (deit-predict, deit-eval, deit-bench): the whole
 * argument a decimal integer within [min, max], or a message naming the option, the range and what
 * was given; and whether stdout took everything printed. Header-only: deit-eval links none of the
 * tools' objects. */
#ifndef DEIT_TOOLS_CLI_ARGS_H
#define DEIT_TOOLS_CLI_ARGS_H

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses v into *out and returns 0, or prints "PROG: OPT must be an integer from MIN to MAX (got "V")"
 * on stderr and returns -1. strtol's own range is checked too (errno): a value beyond a long must not
 * come back as LONG_MAX, and the bounds are checked before any narrowing cast, so "4294967297" is
 * refused rather than read as 1 through an int. */
static inline int cli_long_arg(const char *prog, const char *opt, const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    /* strtol skips leading whitespace: " 3" is no whole decimal integer */
    if (errno || end == v || *end || isspace((unsigned char)v[0]) || x < min || x > max) {
        fprintf(stderr, "%s: %s must be an integer from %ld to %ld (got \"%s\")\n", prog, opt, min, max, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* cli_long_arg for an int option (its bounds within an int). */
static inline int cli_int_arg(const char *prog, const char *opt, const char *v, int min, int max, int *out)
{
    long x;
    if (cli_long_arg(prog, opt, v, min, max, &x))
        return -1;
    *out = (int)x;
    return 0;
}

/* A number of seconds within [min, max] (decimal, as strtod reads it, nothing around it; no NaN or
 * infinity) into *out, or a message as cli_long_arg's and -1. */
static inline int cli_double_arg(const char *prog, const char *opt, const char *v, double min, double max,
                                 double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || isspace((unsigned char)v[0]) || !isfinite(x) || x < min || x > max) {
        fprintf(stderr, "%s: %s must be a number from %g to %g (got \"%s\")\n", prog, opt, min, max, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* Flushes stdout and reports whether everything printed reached it: output lost to a full disk or a
 * failed write must not end in a clean exit status, or a script takes the missing lines for a result. */
static inline int cli_stdout_ok(const char *prog)
{
    int flush_failed = fflush(stdout) != 0;
    int e = errno;
    if (!flush_failed && !ferror(stdout)) return 1;
    fprintf(stderr, "%s: cannot write the output: %s\n", prog, flush_failed ? strerror(e) : "write error");
    return 0;
}

#endif
