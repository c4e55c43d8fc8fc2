/*
 * dns.c: name resolution that never blocks the loop. Numeric addresses are converted in place;
 * names go to getaddrinfo on a worker thread of the pool (cask_to_thread_ex), whose request
 * record is heap memory so that a cancelled lookup can finish on its thread and be freed later.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <netdb.h>
#include <stdio.h>

struct lookup {
    char *host;
    char port[8];
    int family, socktype;
    struct addrinfo *res;
    int rc;  /* getaddrinfo's result */
    int err; /* errno for EAI_SYSTEM */
};

static int lookup_run(void *p)
{
    struct lookup *q = p;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = q->family;
    hints.ai_socktype = q->socktype;
    hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
    q->rc = getaddrinfo(q->host, q->port, &hints, &q->res);
    q->err = errno;
    return 0;
}

static void lookup_free(void *p)
{
    struct lookup *q = p;
    if (q->res)
        freeaddrinfo(q->res);
    cask__free(q->host);
    cask__free(q);
}

static int eai_to_errno(int rc, int err)
{
    switch (rc) {
    case EAI_AGAIN: return -EAGAIN;
    case EAI_MEMORY: return -ENOMEM;
    case EAI_FAMILY: return -EAFNOSUPPORT;
    case EAI_SERVICE:
    case EAI_SOCKTYPE:
    case EAI_BADFLAGS: return -EINVAL;
    case EAI_SYSTEM: return err > 0 ? -err : -EIO;
    default: /* EAI_NONAME, EAI_NODATA, EAI_FAIL, EAI_ADDRFAMILY */ return -EHOSTUNREACH;
    }
}

int cask_resolve(const char *host, uint16_t port, int family, int socktype, struct cask_addr *out,
                 size_t max)
{
    cask_task *self = cask__self();
    if (!self)
        return -EPERM;
    if (!host || !out || max == 0)
        return -EINVAL;
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    if (cask__cancelled(self))
        return cask__cancel_now(self);
    if (cask_addr_ip(out, host, port) == 0) {
        if (family != AF_UNSPEC && out->u.sa.sa_family != family)
            return -EAFNOSUPPORT;
        return 1;
    }
    struct lookup *q = cask__calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    size_t hl = strlen(host);
    q->host = cask__malloc(hl + 1);
    if (!q->host) {
        cask__free(q);
        return -ENOMEM;
    }
    memcpy(q->host, host, hl + 1);
    snprintf(q->port, sizeof q->port, "%u", (unsigned)port);
    q->family = family;
    q->socktype = socktype ? socktype : SOCK_STREAM;
    int rc = cask_to_thread_ex(lookup_run, q, lookup_free);
    if (rc < 0) {
        if (rc != -ECANCELED) /* on -ECANCELED the pool owns q now and frees it */
            lookup_free(q);
        return rc;
    }
    if (q->rc != 0) {
        rc = eai_to_errno(q->rc, q->err);
        lookup_free(q);
        return rc;
    }
    size_t n = 0;
    for (struct addrinfo *ai = q->res; ai && n < max; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        if ((size_t)ai->ai_addrlen > sizeof out[n].u)
            continue;
        bool dup = false; /* getaddrinfo repeats addresses for each protocol it knows */
        for (size_t i = 0; i < n && !dup; i++)
            dup = out[i].len == ai->ai_addrlen && !memcmp(&out[i].u, ai->ai_addr, ai->ai_addrlen);
        if (dup)
            continue;
        memset(&out[n], 0, sizeof out[n]);
        memcpy(&out[n].u, ai->ai_addr, ai->ai_addrlen);
        out[n].len = (socklen_t)ai->ai_addrlen;
        n++;
    }
    lookup_free(q);
    return n ? (int)n : -EHOSTUNREACH;
}
