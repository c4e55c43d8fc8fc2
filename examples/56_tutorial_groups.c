/* 56_tutorial_groups.c: tutorial step 7: a task group crawls a small site; pages spawn their
 * links into the same group; one broken page cancels the rest. */
#define _GNU_SOURCE
#include <cask.h>
#include <stdio.h>

#define E_HTTP_500 (CASK_EUSER - 500)

struct page {
    const char *url;
    double delay;          /* how long the fetch takes */
    bool broken;           /* the server fails on this one */
    struct page *links[2]; /* pages it links to */
    cask_group *group;     /* the crawl it belongs to */
};

static int crawl(void *arg)
{
    struct page *p = arg;
    int rc = cask_sleep(p->delay); /* fetch the page */
    if (rc < 0) {
        printf("  %s: %s\n", p->url, cask_errname(rc));
        return rc;
    }
    if (p->broken) {
        printf("  %s: server error\n", p->url);
        return E_HTTP_500;
    }
    printf("  %s: ok\n", p->url);
    for (int i = 0; i < 2 && p->links[i] && rc == 0; i++) {
        p->links[i]->group = p->group;
        rc = cask_group_spawn(p->group, NULL, crawl, p->links[i]); /* tg.create_task() */
    }
    return rc;
}

static int crawl_site(struct page *home)
{
    cask_group g;
    int rc = cask_group_open(&g); /* async with asyncio.TaskGroup() as tg: */
    if (rc < 0)
        return rc;
    home->group = &g;
    rc = cask_group_spawn(&g, NULL, crawl, home);
    return cask_group_close(&g, rc); /* waits for every page, also those spawned later */
}

static int main_task(void *arg)
{
    (void)arg;
    struct page about = {"/about", 0.1, false, {NULL}, NULL};
    struct page blog = {"/blog", 0.2, false, {NULL}, NULL};
    struct page home = {"/", 0.1, false, {&about, &blog}, NULL};
    printf("crawl 1\n");
    int rc = crawl_site(&home);
    printf("crawl 1: %s\n", cask_errname(rc));

    about.broken = true; /* now /about fails while /blog is still loading */
    printf("crawl 2\n");
    rc = crawl_site(&home);
    printf("crawl 2: %s\n", cask_errname(rc));
    return rc == E_HTTP_500 ? 0 : -EPROTO;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cask_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "groups: %s\n", cask_strerror(rc));
    return rc < 0;
}
