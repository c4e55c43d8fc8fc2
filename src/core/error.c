/*
 * error.c: names and descriptions of statuses, generated from CASK_ERRNO_MAP in cask.h, and
 * the fatal-misuse exit.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <stdlib.h>
#include <string.h>

/* one buffer per function: both may be used in the same printf (as the failure report does) */
static __thread char strerror_buf[64];
static __thread char errname_buf[64];

const char *cask_strerror(int status)
{
    if (status >= 0)
        return "success";
    if (status <= CASK_EUSER) {
        snprintf(strerror_buf, sizeof strerror_buf, "application error %d", CASK_EUSER - status);
        return strerror_buf;
    }
    switch (-status) {
#define X(code, text)                                                                              \
    case code: return text;
        CASK_ERRNO_MAP(X)
#undef X
    default: return strerror(-status);
    }
}

const char *cask_errname(int status)
{
    if (status >= 0)
        return "OK";
    if (status <= CASK_EUSER) {
        snprintf(errname_buf, sizeof errname_buf, "EUSER-%d", CASK_EUSER - status);
        return errname_buf;
    }
    switch (-status) {
#define X(code, text)                                                                              \
    case code: return #code;
        CASK_ERRNO_MAP(X)
#undef X
    default: {
        const char *n = strerrorname_np(-status);
        if (n)
            return n;
        snprintf(errname_buf, sizeof errname_buf, "E%d", -status);
        return errname_buf;
    }
    }
}

void cask__fatal(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "cask: fatal: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cask__diag_fatal_backtrace(stderr); /* where the running task made the mistake */
    abort();
}
