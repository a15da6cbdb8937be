/* check.h — a minimal test harness: CHECK-style assertions that count, and a closing summary line
 * "<name>: N passed, N failed" so CI can read the result. Include in exactly one file per test
 * binary. A test binary exits 1 if any check failed. */
#ifndef DEIT_TEST_CHECK_H
#define DEIT_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond) do { \
    if (cond) check_passed++; \
    else { check_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_MSG(cond, ...) do { \
    if (cond) check_passed++; \
    else { check_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
           fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
} while (0)

#define CHECK_INT_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    CHECK_MSG(a_ == b_, "%lld != %lld", a_, b_); } while (0)

#define CHECK_STR_EQ(a, b) do { const char *a_ = (a), *b_ = (b); \
    CHECK_MSG(a_ && b_ && strcmp(a_, b_) == 0, "\"%s\" != \"%s\"", a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } while (0)

#define CHECK_NEAR(a, b, tol) do { double a_ = (double)(a), b_ = (double)(b); \
    CHECK_MSG(fabs(a_ - b_) <= (tol), "%.9g vs %.9g (tol %g)", a_, b_, (double)(tol)); } while (0)

/* Prints the summary line and returns the process exit code. */
static inline int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
