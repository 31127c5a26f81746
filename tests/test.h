/*
 * test.h - weir's own small test harness.  Each tests/test_<module>.c defines
 * TEST(name) functions and lists them in a TEST_MAIN(...) block; asserts print
 * both sides and the place, and the runner ends with "N passed, N failed".
 */
#ifndef WEIR_TEST_H
#define WEIR_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int test__failed_now; /* the running test has failed */

#define TEST(name) static void test_##name(void)

#define T__FAIL(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        test__failed_now = 1;                                                                      \
    } while (0)

/* Each ASSERT returns from the test on failure; CHECK_* carry on. */
#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            T__FAIL("assertion failed: %s", #cond);                                                \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_INT_EQ(a, b)                                                                        \
    do {                                                                                           \
        long long t__a = (long long)(a), t__b = (long long)(b);                                    \
        if (t__a != t__b) {                                                                        \
            T__FAIL("%s == %s: %lld != %lld", #a, #b, t__a, t__b);                                 \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Like ASSERT_INT_EQ, but the test carries on. */
#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long c__a = (long long)(a), c__b = (long long)(b);                                    \
        if (c__a != c__b)                                                                          \
            T__FAIL("%s == %s: %lld != %lld", #a, #b, c__a, c__b);                                 \
    } while (0)

#define ASSERT_UINT_EQ(a, b)                                                                       \
    do {                                                                                           \
        unsigned long long t__a = (unsigned long long)(a), t__b = (unsigned long long)(b);         \
        if (t__a != t__b) {                                                                        \
            T__FAIL("%s == %s: %llu != %llu", #a, #b, t__a, t__b);                                 \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *t__a = (a), *t__b = (b);                                                       \
        if (!t__a || !t__b || strcmp(t__a, t__b) != 0) {                                           \
            T__FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, t__a ? t__a : "(null)",                  \
                    t__b ? t__b : "(null)");                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                                     \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0) {                                                          \
            T__FAIL("%s == %s over %zu bytes: differ", #a, #b, (size_t)(n));                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* A table of tests: TEST_MAIN(TEST_ENTRY(a), TEST_ENTRY(b)) */
struct test__entry {
    const char *name;
    void (*fn)(void);
};
#define TEST_ENTRY(name)                                                                           \
    {                                                                                              \
#name, test_##name                                                                         \
    }

/*
 * The runner: runs every test (or those whose names contain argv[1]), prints
 * one line per failure and a closing "N passed, N failed".  Exit status is 1
 * when anything failed.
 */
#define TEST_MAIN(...)                                                                             \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const struct test__entry tests[] = {__VA_ARGS__};                                   \
        int passed = 0, failed = 0;                                                                \
        for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {                              \
            if (argc > 1 && !strstr(tests[i].name, argv[1]))                                       \
                continue;                                                                          \
            test__failed_now = 0;                                                                  \
            clock_t t0 = clock();                                                                  \
            tests[i].fn();                                                                         \
            double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;                                 \
            if (getenv("WEIR_TEST_TIMES"))                                                         \
                fprintf(stderr, "  %-40s %8.2f s cpu\n", tests[i].name, secs);                     \
            if (test__failed_now) {                                                                \
                fprintf(stderr, "FAIL %s\n", tests[i].name);                                       \
                failed++;                                                                          \
            } else {                                                                               \
                passed++;                                                                          \
            }                                                                                      \
        }                                                                                          \
        printf("%d passed, %d failed\n", passed, failed);                                          \
        return failed ? 1 : 0;                                                                     \
    }

#endif /* WEIR_TEST_H */
