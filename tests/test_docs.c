/* test_docs.c: every C snippet of docs/cancellation.md is quoted verbatim from an example
 * program that `make test` builds and runs (examples/35-37_cancel_*.c), so the snippets
 * compile and work. Run from the repository root (as `make test` does); elsewhere it skips. */
#define _GNU_SOURCE
#include "cask_test.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char bufs[4][65536];
    static int next;
    char *b = bufs[next++ % 4];
    size_t n = fread(b, 1, sizeof bufs[0] - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

TEST(docs_cancellation_snippets_are_quoted)
{
    char *doc = slurp("docs/cancellation.md");
    if (!doc) {
        printf("  (skipped: not run from the repository root)\n");
        return;
    }
    const char *src[3] = {slurp("examples/35_cancel_sticky.c"),
                          slurp("examples/36_cancel_scopes.c"),
                          slurp("examples/37_cancel_groups.c")};
    for (int i = 0; i < 3; i++)
        CHECK(src[i] != NULL);
    int blocks = 0;
    for (char *p = strstr(doc, "```c\n"); p; p = strstr(p, "```c\n")) {
        char *start = p + 5, *end = strstr(start, "```");
        CHECK(end != NULL);
        *end = 0;
        bool found = false;
        for (int i = 0; i < 3 && !found; i++)
            found = strstr(src[i], start) != NULL;
        if (!found)
            ct_fail(__FILE__, __LINE__, "snippet not found in examples/3[5-7]_*.c:\n%s", start);
        blocks++;
        p = end + 1;
    }
    CHECK(blocks >= 10);
}
