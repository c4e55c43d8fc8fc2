/* test_docs.c: the C snippets of the documentation are quoted verbatim from example programs
 * that `make test` builds and runs, so they compile and work: docs/cancellation.md quotes
 * parts of examples/35-37_cancel_*.c, and docs/tutorial.md quotes every
 * examples/5?_tutorial_*.c whole, each followed by its output, which is checked too when the
 * program has been built. Run from the repository root (as `make test` does); elsewhere it
 * skips. */
#define _GNU_SOURCE
#include "cask_test.h"

#include <ctype.h>
#include <glob.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The program built from src_path (examples/NAME.c) beside this test binary
 * (build/<variant>/tests/run): build/<variant>/examples/NAME. False if it is not there or
 * older than its source (make unit does not rebuild the examples; make test does). */
static bool example_binary(const char *src_path, char *buf, size_t size)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = 0;
    for (int up = 0; up < 2; up++) { /* drop "/run", then "/tests" */
        char *slash = strrchr(exe, '/');
        if (!slash)
            return false;
        *slash = 0;
    }
    const char *base = strrchr(src_path, '/');
    base = base ? base + 1 : src_path;
    int len = snprintf(buf, size, "%s/examples/%.*s", exe, (int)strlen(base) - 2, base);
    struct stat bs, ss;
    return len > 0 && (size_t)len < size && access(buf, X_OK) == 0 && stat(buf, &bs) == 0 &&
           stat(src_path, &ss) == 0 && bs.st_mtime >= ss.st_mtime;
}

/* Whether got is the same text as want, except that numbers with a decimal point (times)
 * may differ by 0.1. */
static bool same_output(const char *got, const char *want)
{
    while (*got && *want) {
        if (isdigit((unsigned char)*got) && isdigit((unsigned char)*want)) {
            char *gend, *wend;
            double gv = strtod(got, &gend), wv = strtod(want, &wend);
            size_t glen = (size_t)(gend - got), wlen = (size_t)(wend - want);
            bool timed = memchr(got, '.', glen) || memchr(want, '.', wlen);
            if (timed ? fabs(gv - wv) > 0.1 + 1e-9 : glen != wlen || memcmp(got, want, glen))
                return false;
            got = gend;
            want = wend;
        } else if (*got++ != *want++) {
            return false;
        }
    }
    return *got == *want;
}

/* A whole program quoted in doc_path must be followed by an "Output:" block with what it
 * prints; after points just past the program's closing fence. If the program is built, runs
 * it and compares. */
static void check_output(const char *doc_path, const char *src_path, const char *after)
{
    static const char intro[] = "\n\nOutput:\n\n```text\n";
    if (strncmp(after, intro, sizeof intro - 1) != 0)
        ct_fail(__FILE__, __LINE__, "%s: no Output block after %s", doc_path, src_path);
    const char *want = after + sizeof intro - 1, *want_end = strstr(want, "```");
    CHECK(want_end != NULL);
    char bin[4200];
    if (!example_binary(src_path, bin, sizeof bin))
        return; /* not built, or stale: make test builds the examples first */
    /* a cross-built suite runs under an emulator (make sets CASK_RUNNER), slow enough that
     * two timers set a fraction of a millisecond apart may fall into different loop
     * iterations, and the tutorial's interleavings are timing: the native run checks them */
    const char *runner = getenv("CASK_RUNNER");
    if (runner && *runner)
        return;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "%s", bin);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    char *got = malloc(65536);
    CHECK(got != NULL);
    size_t n = fread(got, 1, 65535, f);
    got[n] = 0;
    int st = pclose(f);
    if (st != 0)
        ct_fail(__FILE__, __LINE__, "%s exited with status %d", bin, st);
    char *expect = strndup(want, (size_t)(want_end - want));
    CHECK(expect != NULL);
    if (!same_output(got, expect))
        ct_fail(__FILE__, __LINE__, "%s: the output shown for %s differs:\n%s\nit prints:\n%s",
                doc_path, src_path, expect, got);
    free(expect);
    free(got);
}

/*
 * Checks that every ```c block of the document at doc_path is found verbatim in one of the
 * files matching pattern (a glob); with whole, that each block is an entire file and that
 * every file is quoted with its output; and that there are at least min_blocks blocks. Skips (passes) if
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
            if (found && whole)
                check_output(doc_path, g.gl_pathv[i], end + 3);
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

TEST_T(docs_tutorial_quotes_every_tutorial_program, 60)
{
    check_quotes("docs/tutorial.md", "examples/5?_tutorial_*.c", true, 9);
}
