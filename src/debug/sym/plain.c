/* plain.c: cask__symbolize in builds without libdw: dladdr only. */
#define _GNU_SOURCE
#include "sym.h"

size_t cask__symbolize(const void *pc, bool return_address, char *buf, size_t n)
{
    return cask__sym_dladdr(pc, return_address, buf, n);
}
