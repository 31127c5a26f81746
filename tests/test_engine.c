/*
 * test_engine.c - the Vectorscan entry points weir scans with must find every
 * match whatever the buffer alignment and however a stream is cut.  Both
 * cases below lose matches with Vectorscan 5.4.9's AVX2/AVX-512 code on
 * machines that have it (see src/engine.h); the reference is block mode over
 * the whole data, which is not affected.
 */
#include "engine.h"
#include "test.h"

#include <hs.h>

static int count_cb(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    ++*(int *)ctx;
    return 0;
}

/* Matches of pattern in data scanned as one block: the reference. */
static int block_count(const char *pattern, const char *data, size_t len)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    hs_scratch_t *scratch = NULL;
    if (hs_compile(pattern, 0, HS_MODE_BLOCK, NULL, &db, &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        return -1;
    }
    int n = 0;
    if (hs_alloc_scratch(db, &scratch) == HS_SUCCESS)
        hs_scan(db, data, (unsigned)len, 0, scratch, count_cb, &n);
    hs_free_scratch(scratch);
    hs_free_database(db);
    return n;
}

/* Matches of pattern in data streamed through weir's engine, cut before every
   position where cut[i] is non-zero. */
static int stream_count(const char *pattern, const char *data, size_t len, const uint8_t *cut)
{
    const weir__engine_t *eng = weir__engine();
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    hs_scratch_t *scratch = NULL;
    hs_stream_t *st = NULL;
    if (hs_compile(pattern, 0, HS_MODE_STREAM, NULL, &db, &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        return -1;
    }
    int n = 0;
    if (hs_alloc_scratch(db, &scratch) == HS_SUCCESS && eng->open_stream(db, 0, &st) == 0) {
        size_t from = 0;
        for (size_t i = 1; i <= len; i++) {
            if (i == len || cut[i]) {
                eng->scan_stream(st, data + from, (unsigned)(i - from), 0, scratch, count_cb, &n);
                from = i;
            }
        }
        eng->close_stream(st, scratch, count_cb, &n);
    }
    hs_free_scratch(scratch);
    hs_free_database(db);
    return n;
}

TEST(every_alignment)
{
    static const char text[] =
        "t@7317849d\r\n2015-10-18 18:06:26,139 ERROR [eventHandlingThread] "
        "org.apache.hadoop.yarn.YarnUncaughtExceptionHandler: Thread Thread[eventHand";
    static const char pattern[] = "[a-z]+(\\.[a-z0-9]+)+\\.[A-Z][A-Za-z]*Exception";
    static char buf[256] __attribute__((aligned(64)));
    size_t len = sizeof text - 1;
    uint8_t cut[256] = {0};
    int want = block_count(pattern, text, len);
    ASSERT_INT_EQ(want, 1);
    for (int a = 0; a < 64; a++) {
        memcpy(buf + a, text, len);
        int got = stream_count(pattern, buf + a, len, cut);
        if (got != want)
            T__FAIL("engine %s, alignment %d: %d matches, want %d", weir__engine()->isa, a, got,
                    want);
    }
}

TEST(line_by_line)
{
    /* A hex string with jumps and alternatives, fed one line at a time. */
    static const char pattern[] =
        "(?:\\xffa|b[\\x0a\\x1a\\x2a\\x3aJZjz\\x8a\\x9a\\xaa\\xba\\xca\\xda\\xea\\xfa]a)"
        "(?:[\\x00-\\xff]){0,14}(?:(?:a[\\x60-o]\\x20|x[\\x0a\\x1a\\x2a\\x3aJZjz\\x8a\\x9a"
        "\\xaa\\xba\\xca\\xda\\xea\\xfa]|x)(?:\\x5c\\x5c[\\x60-o]|b[\\x02\\x12\\x222BRbr\\x82"
        "\\x92\\xa2\\xb2\\xc2\\xd2\\xe2\\xf2]|\\x5c[\\x00-\\xff])|\\x00b\\x00[\\x60-o])"
        "(?:[\\x00-\\xff]){2,20}b";
    /* Lines shaped like the generated data that exposed it. */
    char data[2048];
    size_t len = 0;
    uint64_t x = 0x5eed;
    static const char alphabet[] = "ab x\\\"\n\x00\xff";
    while (len < 756) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        data[len++] = alphabet[(x >> 33) % (sizeof alphabet - 1)];
    }
    static const char tail[] = "b\naaaa\naa a abba\naa \\b\x00\\xa\xff \naxxb";
    memcpy(data + 500, tail, sizeof tail - 1);
    uint8_t cut[2048] = {0};
    for (size_t i = 0; i + 1 < len; i++)
        if (data[i] == '\n')
            cut[i + 1] = 1;
    int want = block_count(pattern, data, len);
    ASSERT(want > 0);
    ASSERT_INT_EQ(stream_count(pattern, data, len, cut), want);
}

TEST_MAIN(TEST_ENTRY(every_alignment), TEST_ENTRY(line_by_line))
