/*
 * alloc.c: the one allocation hook. Every heap allocation of the library passes here, so
 * tests can count allocations and make the n-th one fail.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <stdlib.h>

static struct cask_allocator hook = {malloc, realloc, free};

void cask_set_allocator(const struct cask_allocator *a)
{
    if (a && a->malloc && a->realloc && a->free)
        hook = *a;
    else
        hook = (struct cask_allocator){malloc, realloc, free};
}

void *cask__malloc(size_t n) { return hook.malloc(n ? n : 1); }

void *cask__calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t total = n * size;
    void *p = hook.malloc(total ? total : 1);
    if (p)
        memset(p, 0, total);
    return p;
}

void *cask__realloc(void *p, size_t n) { return hook.realloc(p, n ? n : 1); }

void cask__free(void *p)
{
    if (p)
        hook.free(p);
}
