/* test_docs.c: the C snippets of the documentation are quoted verbatim from example programs
 * that `make test` builds and runs, so they compile and work: docs/cancellation.md quotes
 * parts of examples/35-37_cancel_*.c, and docs/tutorial.md quotes every
 * examples/5?_tutorial_*.c whole. Run from the repository root (as `make test` does);
 * elsewhere it skips. */
#define _GNU_SOURCE
#include "cask_test.h"

#include <glob.h>
#include <stdlib.h>

/* The whole file, NUL-terminated, in a buffer to free(); NULL if it cannot be read. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = NULL;
    size_t n = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)len + 1)))
            n = fread(b, 1, (size_t)len, f);
    }
    fclose(f);
    if (b)
        b[n] = 0;
    return b;
}

/*
 * Checks that every ```c block of the document at doc_path is found verbatim in one of the
 * files matching pattern (a glob); with whole, that each block is an entire file and that
 * every file is quoted; and that there are at least min_blocks blocks. Skips (passes) if
 * doc_path cannot be read: not run from the repository root.
 */
static void check_quotes(const char *doc_path, const char *pattern, bool whole, int min_blocks)
{
    char *doc = slurp(doc_path);
    if (!doc) {
        printf("  (skipped: not run from the repository root)\n");
        return;
    }
    glob_t g;
    CHECK_EQ(glob(pattern, 0, NULL, &g), 0);
    char **src = calloc(g.gl_pathc, sizeof *src);
    bool *quoted = calloc(g.gl_pathc, sizeof *quoted);
    CHECK(src != NULL && quoted != NULL);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        src[i] = slurp(g.gl_pathv[i]);
        if (!src[i])
            ct_fail(__FILE__, __LINE__, "cannot read %s", g.gl_pathv[i]);
    }
    int blocks = 0;
    for (char *p = strstr(doc, "```c\n"); p; p = strstr(p, "```c\n")) {
        char *start = p + 5, *end = strstr(start, "```");
        CHECK(end != NULL);
        *end = 0;
        bool found = false;
        for (size_t i = 0; i < g.gl_pathc && !found; i++) {
            found = whole ? strcmp(src[i], start) == 0 : strstr(src[i], start) != NULL;
            if (found)
                quoted[i] = true;
        }
        if (!found)
            ct_fail(__FILE__, __LINE__, "%s: snippet not found %sin %s:\n%s", doc_path,
                    whole ? "as a whole file " : "", pattern, start);
        blocks++;
        p = end + 1;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        if (whole && !quoted[i])
            ct_fail(__FILE__, __LINE__, "%s does not quote %s", doc_path, g.gl_pathv[i]);
        free(src[i]);
    }
    free(src);
    free(quoted);
    globfree(&g);
    free(doc);
    CHECK(blocks >= min_blocks);
}

TEST(docs_cancellation_snippets_are_quoted)
{
    check_quotes("docs/cancellation.md", "examples/3[5-7]_cancel_*.c", false, 10);
}

TEST(docs_tutorial_quotes_every_tutorial_program)
{
    check_quotes("docs/tutorial.md", "examples/5?_tutorial_*.c", true, 9);
}
