/*
 * dw.c: symbolization with elfutils' libdw (built when the Makefile finds its header): the
 * function of a code address from the symbol tables, static functions included, and its
 * file:line from the DWARF line tables. libdw is opened with dlopen on first use, so programs
 * link without it and run where it is missing (then dladdr.c answers). One Dwfl session for
 * the process, refreshed when an address falls outside every module it knows (a dlopen since).
 */
#define _GNU_SOURCE
#include "sym.h"

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static Dwfl *dwfl;
static char *debuginfo_path;
static Dwfl_Callbacks callbacks = {.debuginfo_path = &debuginfo_path};

/* libdw's entry points, found with dlsym */
#define DW_FUNCS(X)                                                                                \
    X(dwfl_begin) X(dwfl_end) X(dwfl_report_begin) X(dwfl_linux_proc_report) X(dwfl_report_end) \
    X(dwfl_addrmodule) X(dwfl_module_addrinfo) X(dwfl_module_info) X(dwfl_module_getsrc)       \
    X(dwfl_lineinfo) X(dwfl_linux_proc_find_elf) X(dwfl_standard_find_debuginfo)
#define DECLARE(f) static __typeof__(f) *p_##f;
DW_FUNCS(DECLARE)
static int loaded; /* 0 not tried, 1 loaded, -1 not there */

static bool load(void)
{
    if (loaded)
        return loaded > 0;
    loaded = -1;
    void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return false;
#define LOOKUP(f)                                                                                  \
    if (!(*(void **)&p_##f = dlsym(h, #f)))                                                        \
        return false;
    DW_FUNCS(LOOKUP)
    callbacks.find_elf = p_dwfl_linux_proc_find_elf;
    callbacks.find_debuginfo = p_dwfl_standard_find_debuginfo;
    loaded = 1; /* the handle stays open for the life of the process */
    return true;
}

static Dwfl *session(bool refresh)
{
    if (!load())
        return NULL;
    if (dwfl && !refresh)
        return dwfl;
    if (dwfl)
        p_dwfl_end(dwfl);
    dwfl = p_dwfl_begin(&callbacks);
    if (!dwfl)
        return NULL;
    p_dwfl_report_begin(dwfl);
    if (p_dwfl_linux_proc_report(dwfl, getpid()) != 0 || p_dwfl_report_end(dwfl, NULL, NULL) != 0) {
        p_dwfl_end(dwfl);
        dwfl = NULL;
    }
    return dwfl;
}

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

size_t cask__symbolize(const void *pc, bool return_address, char *buf, size_t n)
{
    /* a return address points after the call: look up the call itself */
    Dwarf_Addr a = (Dwarf_Addr)(uintptr_t)pc - (return_address ? 1 : 0);
    int len = 0;
    pthread_mutex_lock(&mu);
    Dwfl *d = session(false);
    Dwfl_Module *m = d ? p_dwfl_addrmodule(d, a) : NULL;
    if (!m && d)
        m = (d = session(true)) ? p_dwfl_addrmodule(d, a) : NULL;
    if (m) {
        GElf_Off off = 0;
        GElf_Sym sym;
        const char *name = p_dwfl_module_addrinfo(m, a, &off, &sym, NULL, NULL, NULL);
        const char *modname = p_dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        Dwfl_Line *line = p_dwfl_module_getsrc(m, a);
        int lineno = 0;
        const char *file = line ? p_dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
        if (name && file)
            len = snprintf(buf, n, "%s (%s:%d)", name, base(file), lineno);
        else if (name)
            len = snprintf(buf, n, "%s+0x%" PRIx64 " (%s)", name, (uint64_t)off,
                           modname ? base(modname) : "?");
        else
            len = snprintf(buf, n, "%p (%s)", pc, modname ? base(modname) : "?");
    } else {
        pthread_mutex_unlock(&mu);
        return cask__sym_dladdr(pc, return_address, buf, n);
    }
    pthread_mutex_unlock(&mu);
    return len < 0 ? 0 : (size_t)len < n ? (size_t)len : n ? n - 1 : 0;
}
