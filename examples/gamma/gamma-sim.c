/*
 * gamma-sim ALPHA BETA N_SIM
 *
 * Draws 1000 samples from Gamma(shape=ALPHA, scale=BETA) using the integer
 * seed N_SIM, and prints the sample mean, the sample variance (n-1
 * denominator) and the p-value of a one-sample Kolmogorov-Smirnov test of
 * the sample against Gamma(ALPHA, BETA):
 *
 *     mean=<%.17g>
 *     var=<%.17g>
 *     ks_p=<%.17g>
 *
 * Exit status: 0 on success, 2 on a usage error, 1 on an internal failure.
 */
#include "gammadist.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SAMPLES 1000

static const char *prog = "gamma-sim";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s ALPHA BETA N_SIM\n"
            "\n"
            "Draw %d samples from Gamma(shape=ALPHA, scale=BETA) seeded with\n"
            "N_SIM and print three lines:\n"
            "  mean=<sample mean>\n"
            "  var=<sample variance, n-1 denominator>\n"
            "  ks_p=<one-sample Kolmogorov-Smirnov p-value vs Gamma(ALPHA, BETA)>\n"
            "\n"
            "ALPHA and BETA must be finite positive numbers; N_SIM must be a\n"
            "non-negative integer (the PRNG seed).\n",
            prog, N_SAMPLES);
}

/* Parse a finite, strictly positive double occupying the whole string. */
static int parse_positive(const char *s, double *out)
{
    if (*s == '\0' || isspace((unsigned char)*s))
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE)
        return -1;
    if (!isfinite(v) || !(v > 0.0))
        return -1;
    *out = v;
    return 0;
}

/* Parse a non-negative decimal integer (digits only) fitting in uint64_t. */
static int parse_seed(const char *s, uint64_t *out)
{
    if (*s == '\0')
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

struct gamma_params {
    double shape;
    double scale;
};

static double cdf_cb(double x, void *ctx)
{
    const struct gamma_params *g = ctx;
    return gd_gamma_cdf(x, g->shape, g->scale);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    if (argc != 4) {
        fprintf(stderr, "%s: expected 3 arguments (ALPHA BETA N_SIM), got %d\n",
                prog, argc - 1);
        usage(stderr);
        return 2;
    }

    double alpha, beta;
    uint64_t seed;
    if (parse_positive(argv[1], &alpha) != 0) {
        fprintf(stderr, "%s: alpha '%s' is not a positive number\n", prog, argv[1]);
        return 2;
    }
    if (parse_positive(argv[2], &beta) != 0) {
        fprintf(stderr, "%s: beta '%s' is not a positive number\n", prog, argv[2]);
        return 2;
    }
    if (parse_seed(argv[3], &seed) != 0) {
        fprintf(stderr, "%s: n_sim '%s' is not a non-negative integer\n", prog, argv[3]);
        return 2;
    }

    static double x[N_SAMPLES];
    gd_rng rng;
    gd_rng_seed(&rng, seed);

    /* Welford's running mean/variance. */
    double mean = 0.0, m2 = 0.0;
    for (int i = 0; i < N_SAMPLES; i++) {
        double v = gd_rng_gamma(&rng, alpha, beta);
        x[i] = v;
        double delta = v - mean;
        mean += delta / (i + 1);
        m2 += delta * (v - mean);
    }
    double var = m2 / (N_SAMPLES - 1);

    qsort(x, N_SAMPLES, sizeof x[0], cmp_double);
    struct gamma_params gp = { alpha, beta };
    double d = gd_ks_statistic(x, N_SAMPLES, cdf_cb, &gp);
    double p = gd_ks_pvalue(d, N_SAMPLES);

    if (printf("mean=%.17g\nvar=%.17g\nks_p=%.17g\n", mean, var, p) < 0
        || fflush(stdout) != 0) {
        fprintf(stderr, "%s: error writing output\n", prog);
        return 1;
    }
    return 0;
}
