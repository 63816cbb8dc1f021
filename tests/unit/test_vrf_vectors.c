/* test_vrf_vectors.c: runs tests/vectors/vrf_verify.vectors, one cmocka
 * test per vector (NAME EXPECTED OPERATIONS), then checks that the vectors
 * name every error code no input can avoid. VRF_VECTORS_VERBOSE=1 prints
 * each verdict with the verifier's detail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/test_vrf_support.h"

#define MAX_VECTORS 512

struct vector {
    char name[64];
    char expected[64];
    char ops[512];
    unsigned line;
};

static struct tv_pki pki;
static struct vector vectors[MAX_VECTORS];
static size_t n_vectors;

/* Codes no input can produce (tests/vectors/README). */
static const int unreachable[] = {VRF_ERR_ALLOC, VRF_ERR_CRYPTO,
                                  VRF_ERR_CHAIN_OTHER,
                                  /* the verifier process's reloads, not
                                   * vrf_verify (tests/integration/
                                   * trust.bats) */
                                  VRF_ERR_TRUST_CRL_EXPIRED,
                                  VRF_ERR_TRUST_READ};

static const char *vectors_path(void)
{
    static char path[4096];
    const char *root = getenv("HVPATCH_ROOT");

    snprintf(path, sizeof path, "%s/tests/vectors/vrf_verify.vectors",
             root != NULL ? root : ".");
    return path;
}

static int load_vectors(void)
{
    FILE *f = fopen(vectors_path(), "r");
    char line[1024];
    unsigned no = 0;

    if (f == NULL) {
        fprintf(stderr, "# cannot open %s\n", vectors_path());
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        struct vector *v;
        int n, consumed = 0;
        char *p = line;

        no++;
        line[strcspn(line, "\r\n")] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\0')
            continue;
        if (n_vectors == MAX_VECTORS) {
            fclose(f);
            return -1;
        }
        v = &vectors[n_vectors];
        n = sscanf(p, "%63s %63s %n", v->name, v->expected, &consumed);
        if (n != 2) {
            fprintf(stderr, "# line %u: NAME EXPECTED expected\n", no);
            fclose(f);
            return -1;
        }
        snprintf(v->ops, sizeof v->ops, "%s", p + consumed);
        v->line = no;
        n_vectors++;
    }
    fclose(f);
    return 0;
}

static void run_vector(void **state)
{
    const struct vector *v = *state;
    char why[256] = "";
    int want, got;

    if (vrf_errcode(v->expected, &want) != VRF_OK)
        fail_msg("line %u: unknown code %s", v->line, v->expected);
    got = tv_run(&pki, v->ops, why, sizeof why);
    if (getenv("VRF_VECTORS_VERBOSE") != NULL)
        fprintf(stderr, "# %-32s %s (%s)\n", v->name,
                vrf_errname(got) ? vrf_errname(got) : "?", why);
    if (got == INT32_MIN)
        fail_msg("line %u: malformed vector: %s", v->line, why);
    if (got != want)
        fail_msg("line %u (%s): expected %s, got %s (%s)", v->line, v->name,
                 v->expected, vrf_errname(got) ? vrf_errname(got) : "?", why);
}

/* Every defined code is some vector's expectation, unless unreachable. */
static void every_code_covered(void **state)
{
    size_t n;
    const int *codes = vrf_errcodes(&n);
    int missing = 0;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        int found = 0;

        for (size_t k = 0; k < sizeof unreachable / sizeof unreachable[0]; k++)
            found |= codes[i] == unreachable[k];
        for (size_t k = 0; !found && k < n_vectors; k++) {
            int c;

            found = vrf_errcode(vectors[k].expected, &c) == VRF_OK &&
                    c == codes[i];
        }
        if (!found) {
            fprintf(stderr, "# no vector expects %s\n", vrf_errname(codes[i]));
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

/* Names are unique. */
static void names_unique(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_vectors; i++)
        for (size_t k = i + 1; k < n_vectors; k++)
            if (strcmp(vectors[i].name, vectors[k].name) == 0)
                fail_msg("vector %s twice (lines %u, %u)", vectors[i].name,
                         vectors[i].line, vectors[k].line);
}

int main(void)
{
    static struct CMUnitTest tests[MAX_VECTORS + 2];
    size_t n = 0;
    int rc;

    if (load_vectors() != 0 || tv_pki_init(&pki) != 0) {
        fprintf(stderr, "# set-up failed\n");
        return 1;
    }
    for (size_t i = 0; i < n_vectors; i++) {
        tests[n].name = vectors[i].name;
        tests[n].test_func = run_vector;
        tests[n].initial_state = &vectors[i];
        n++;
    }
    tests[n].name = "every_code_covered";
    tests[n++].test_func = every_code_covered;
    tests[n].name = "vector_names_unique";
    tests[n++].test_func = names_unique;
    rc = _cmocka_run_group_tests("vrf_vectors", tests, n, NULL, NULL);
    tv_pki_free(&pki);
    return rc;
}
