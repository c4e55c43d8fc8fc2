/*
 * dladdr.c: symbolization through dladdr(3), which needs nothing but libc: the dynamic symbol
 * table names exported functions (link programs with -rdynamic to export theirs), and every
 * address gets its module. The fallback of dw.c, and the whole story in builds without libdw.
 */
#define _GNU_SOURCE
#include "sym.h"

#include <dlfcn.h>
#include <stdio.h>

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

size_t cask__sym_dladdr(const void *pc, bool return_address, char *buf, size_t n)
{
    Dl_info info;
    const char *q = (const char *)pc - (return_address ? 1 : 0);
    int len;
    if (!dladdr(q, &info))
        len = snprintf(buf, n, "%p", pc);
    else if (info.dli_sname)
        len = snprintf(buf, n, "%s+0x%zx (%s)", info.dli_sname,
                       (size_t)((const char *)pc - (const char *)info.dli_saddr),
                       info.dli_fname ? base(info.dli_fname) : "?");
    else
        len = snprintf(buf, n, "%p (%s+0x%zx)", pc, info.dli_fname ? base(info.dli_fname) : "?",
                       (size_t)((const char *)pc - (const char *)info.dli_fbase));
    return len < 0 ? 0 : (size_t)len < n ? (size_t)len : n ? n - 1 : 0;
}
