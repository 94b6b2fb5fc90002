/*
 * test_gamma.c - CUnit tests for examples/gamma/gammadist.{h,c}.
 *
 * Build (from the repository root):
 *   gcc -std=gnu11 -Wall -Wextra -Iexamples/gamma \
 *       examples/gamma/gammadist.c tests/unit/test_gamma.c -lcunit -lm \
 *       -o test_gamma && ./test_gamma
 *
 * Reference values marked "mpmath" were computed independently with
 * mpmath 1.3 at 40 significant digits (gammainc(a, 0, x, regularized=True)
 * and a direct summation of the Kolmogorov series); the others come from
 * closed-form identities evaluated in the test itself.
 */
#include "gammadist.h"

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REL_TOL 1e-10

/* |got - want| <= tol * |want|, reporting the numbers on failure. */
static int check_rel(double got, double want, double tol, const char *what,
                     const char *file, int line)
{
    double err = fabs(got - want);
    int ok = !isnan(got) && err <= tol * fabs(want);
    if (!ok)
        fprintf(stderr, "\n  %s:%d: %s: got %.17g want %.17g (rel err %.3g, tol %.3g)\n",
                file, line, what, got, want, want != 0 ? err / fabs(want) : err, tol);
    return ok;
}

static int check_abs(double got, double want, double tol, const char *what,
                     const char *file, int line)
{
    int ok = !isnan(got) && fabs(got - want) <= tol;
    if (!ok)
        fprintf(stderr, "\n  %s:%d: %s: got %.17g want %.17g (abs tol %.3g)\n",
                file, line, what, got, want, tol);
    return ok;
}

#define ASSERT_REL(got, want, tol) \
    CU_ASSERT(check_rel((got), (want), (tol), #got, __FILE__, __LINE__))
#define ASSERT_ABS(got, want, tol) \
    CU_ASSERT(check_abs((got), (want), (tol), #got, __FILE__, __LINE__))

/* ------------------------------------------------------------------ */
/* Regularized lower incomplete gamma                                  */

/* P(1,x) = 1 - e^-x; x < 2 uses the series, x >= 2 the continued fraction. */
static void test_p_shape_one(void)
{
    const double xs[] = { 1e-8, 1e-3, 0.1, 0.5, 1.0, 1.5, 1.999,
                          2.0, 2.5, 5.0, 10.0, 20.0, 35.0 };
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        ASSERT_REL(gd_regularized_lower_gamma(1.0, xs[i]), -expm1(-xs[i]), REL_TOL);
}

/* P(1/2,x) = erf(sqrt(x)); x < 1.5 series, x >= 1.5 continued fraction. */
static void test_p_shape_half(void)
{
    const double xs[] = { 1e-6, 0.01, 0.2, 0.7, 1.0, 1.49,
                          1.5, 2.0, 3.0, 6.0, 10.0, 25.0 };
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        ASSERT_REL(gd_regularized_lower_gamma(0.5, xs[i]), erf(sqrt(xs[i])), REL_TOL);
}

/* Integer shape: P(n,x) = 1 - e^-x sum_{k<n} x^k/k!  (long double). */
static double p_integer_shape(int n, double x)
{
    long double term = 1.0L, sum = 1.0L;
    for (int k = 1; k < n; k++) {
        term *= (long double)x / k;
        sum += term;
    }
    return (double)(1.0L - expl(-(long double)x) * sum);
}

static void test_p_integer_shapes(void)
{
    /* The worked example from the brief: 1 - e^-2 (1 + 2 + 2). */
    ASSERT_REL(gd_regularized_lower_gamma(3.0, 2.0), 0.32332358381693654, REL_TOL);
    ASSERT_REL(p_integer_shape(3, 2.0), 0.32332358381693654, 1e-15);
    ASSERT_REL(gd_regularized_lower_gamma(10.0, 10.0), 0.54207028552814779, REL_TOL);

    const struct { int n; double x; } c[] = {
        { 2, 0.5 }, { 2, 3.0 }, { 3, 1.0 }, { 3, 4.0 }, { 4, 2.5 },
        { 5, 3.0 }, { 5, 6.0 }, { 5, 9.0 }, { 8, 4.0 }, { 8, 12.0 },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        ASSERT_REL(gd_regularized_lower_gamma(c[i].n, c[i].x),
                   p_integer_shape(c[i].n, c[i].x), REL_TOL);
}

/* Values computed independently with mpmath (40 digits). */
static const struct { double a, x, p; } p_table[] = {
    { 0.1,   0.01,  0.66262125995447979172 },      /* series */
    { 0.1,   0.5,   0.94140244589013351866 },      /* series */
    { 0.1,   3.0,   0.99843472825288564615 },      /* CF */
    { 0.5,   0.2,   0.47291074313446192633 },
    { 0.5,   4.0,   0.99532226501895273416 },
    { 2.5,   1.0,   0.15085496391539036377 },
    { 2.5,   7.0,   0.98439058389973308527 },
    { 3.0,   2.0,   0.32332358381693654053 },
    { 10.0,  10.0,  0.54207028552814779169 },      /* series, x near a */
    { 10.0,  3.0,   0.0011024881301154797421 },
    { 10.0,  25.0,  0.99977852336175121642 },
    { 20.0,  15.0,  0.1247812150325248227 },
    { 50.0,  45.0,  0.24680203440017027271 },
    { 50.0,  60.0,  0.91559331890630817038 },
    { 100.0, 90.0,  0.1582209891864301681 },
    { 100.0, 120.0, 0.97213626010947933852 },
    { 0.01,  1e-5,  0.89633679826719720097 },
    { 7.3,   9.1,   0.77023359334400794761 },      /* CF, x just past a+1 */
    { 1.5,   2.4,   0.81295825109509234064 },
    { 0.001, 1.0,   0.9997803916424144436 },
    { 30.0,  5.0,   2.8175176155779225599e-14 },   /* deep lower tail */
    { 200.0, 150.0, 5.7096885742082442735e-05 },
    { 3.0,   30.0,  0.99999999995498983352 },
};

static void test_p_reference_table(void)
{
    for (size_t i = 0; i < sizeof p_table / sizeof p_table[0]; i++)
        ASSERT_REL(gd_regularized_lower_gamma(p_table[i].a, p_table[i].x),
                   p_table[i].p, REL_TOL);
}

/* Recurrence P(a+1,x) = P(a,x) - x^a e^-x / Gamma(a+1), across branches. */
static void test_p_recurrence(void)
{
    const struct { double a, x; } c[] = {
        { 0.3, 0.2 }, { 0.3, 1.0 }, { 0.3, 2.0 }, { 1.7, 2.2 },
        { 2.2, 3.5 }, { 4.5, 5.0 }, { 4.5, 8.0 }, { 12.5, 14.0 },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        double a = c[i].a, x = c[i].x;
        double want = gd_regularized_lower_gamma(a, x)
                    - exp(a * log(x) - x - lgamma(a + 1.0));
        ASSERT_REL(gd_regularized_lower_gamma(a + 1.0, x), want, 1e-9);
    }
}

static void test_p_monotone_and_bounded(void)
{
    const double as[] = { 0.1, 0.5, 1.0, 3.7, 25.0 };
    for (size_t i = 0; i < sizeof as / sizeof as[0]; i++) {
        double prev = 0.0;
        int ok = 1;
        for (double x = 0.0; x <= 60.0; x += 0.05) {
            double p = gd_regularized_lower_gamma(as[i], x);
            if (!(p >= prev && p <= 1.0))
                ok = 0;
            prev = p;
        }
        CU_ASSERT(ok);
    }
}

static void test_p_edge_cases(void)
{
    CU_ASSERT_EQUAL(gd_regularized_lower_gamma(2.0, 0.0), 0.0);
    CU_ASSERT_EQUAL(gd_regularized_lower_gamma(2.0, -1.0), 0.0);
    CU_ASSERT_EQUAL(gd_regularized_lower_gamma(2.0, -INFINITY), 0.0);
    CU_ASSERT_EQUAL(gd_regularized_lower_gamma(2.0, INFINITY), 1.0);
    CU_ASSERT_EQUAL(gd_regularized_lower_gamma(0.1, INFINITY), 1.0);
    CU_ASSERT(isnan(gd_regularized_lower_gamma(0.0, 1.0)));
    CU_ASSERT(isnan(gd_regularized_lower_gamma(-1.0, 1.0)));
    CU_ASSERT(isnan(gd_regularized_lower_gamma(-0.5, 0.0)));
    CU_ASSERT(isnan(gd_regularized_lower_gamma(NAN, 1.0)));
    CU_ASSERT(isnan(gd_regularized_lower_gamma(1.0, NAN)));
    CU_ASSERT(isnan(gd_regularized_lower_gamma(-INFINITY, 1.0)));
    /* Huge x is effectively 1, tiny x with large a effectively 0. */
    CU_ASSERT_EQUAL(gd_regularized_lower_gamma(2.0, 1e6), 1.0);
    CU_ASSERT(gd_regularized_lower_gamma(50.0, 1e-3) >= 0.0);
    CU_ASSERT(gd_regularized_lower_gamma(50.0, 1e-3) < 1e-200);
}

/* Upper tail Q(a,x), mpmath values; also P + Q = 1. */
static void test_q_upper(void)
{
    static const struct { double a, x, q; } t[] = {
        { 10.0,  25.0,  0.00022147663824878358122 },
        { 3.0,   30.0,  4.501016648012123985e-11 },
        { 0.5,   10.0,  7.7442164310440836377e-6 },
        { 50.0,  60.0,  0.084406681093691829623 },
        { 100.0, 120.0, 0.027863739890520661484 },
        { 1.5,   2.4,   0.18704174890490765936 },
        { 2.5,   7.0,   0.015609416100266914735 },
        { 0.1,   3.0,   0.001565271747114353849 },
        { 0.1,   0.5,   0.058597554109866481343 },
        { 30.0,  50.0,  0.00091682886145607987385 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ASSERT_REL(gd_regularized_upper_gamma(t[i].a, t[i].x), t[i].q, REL_TOL);
        ASSERT_ABS(gd_regularized_upper_gamma(t[i].a, t[i].x)
                   + gd_regularized_lower_gamma(t[i].a, t[i].x), 1.0, 1e-14);
    }
    CU_ASSERT_EQUAL(gd_regularized_upper_gamma(2.0, 0.0), 1.0);
    CU_ASSERT_EQUAL(gd_regularized_upper_gamma(2.0, INFINITY), 0.0);
    CU_ASSERT(isnan(gd_regularized_upper_gamma(0.0, 1.0)));
}

/* ------------------------------------------------------------------ */
/* Gamma CDF                                                           */

static void test_gamma_cdf_scaling(void)
{
    const double shapes[] = { 0.2, 1.0, 2.5, 9.0 };
    const double scales[] = { 0.5, 1.0, 3.0, 250.0 };
    const double xs[] = { 0.05, 0.7, 2.0, 11.0 };
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++)
            for (size_t k = 0; k < 4; k++) {
                double x = xs[k] * scales[j];
                ASSERT_REL(gd_gamma_cdf(x, shapes[i], scales[j]),
                           gd_regularized_lower_gamma(shapes[i], xs[k]), 1e-13);
            }
    /* Exponential with mean theta. */
    ASSERT_REL(gd_gamma_cdf(3.0, 1.0, 2.0), -expm1(-1.5), REL_TOL);
    ASSERT_REL(gd_gamma_cdf(0.01, 1.0, 4.0), -expm1(-0.0025), REL_TOL);
    /* mpmath: P(3, 2) with scale 0.5 at x = 1. */
    ASSERT_REL(gd_gamma_cdf(1.0, 3.0, 0.5), 0.32332358381693654, REL_TOL);

    CU_ASSERT_EQUAL(gd_gamma_cdf(0.0, 2.0, 3.0), 0.0);
    CU_ASSERT_EQUAL(gd_gamma_cdf(-5.0, 2.0, 3.0), 0.0);
    CU_ASSERT_EQUAL(gd_gamma_cdf(INFINITY, 2.0, 3.0), 1.0);
    CU_ASSERT(isnan(gd_gamma_cdf(1.0, 2.0, 0.0)));
    CU_ASSERT(isnan(gd_gamma_cdf(1.0, 2.0, -1.0)));
    CU_ASSERT(isnan(gd_gamma_cdf(1.0, 0.0, 1.0)));
    CU_ASSERT(isnan(gd_gamma_cdf(NAN, 2.0, 1.0)));
}

/* ------------------------------------------------------------------ */
/* RNG                                                                 */

static void test_rng_deterministic(void)
{
    gd_rng a, b, c;
    gd_rng_seed(&a, 42);
    gd_rng_seed(&b, 42);
    gd_rng_seed(&c, 43);
    int same = 1, differs = 0;
    for (int i = 0; i < 1000; i++) {
        double ga = gd_rng_gamma(&a, 0.7, 2.0);
        double gb = gd_rng_gamma(&b, 0.7, 2.0);
        double gc = gd_rng_gamma(&c, 0.7, 2.0);
        if (memcmp(&ga, &gb, sizeof ga) != 0)
            same = 0;
        if (ga != gc)
            differs = 1;
    }
    CU_ASSERT(same);
    CU_ASSERT(differs);

    /* Re-seeding restarts the stream exactly (including the normal cache). */
    gd_rng_seed(&a, 7);
    double first[5];
    gd_rng_normal(&a); /* leave a spare cached */
    gd_rng_seed(&a, 7);
    for (int i = 0; i < 5; i++)
        first[i] = gd_rng_normal(&a);
    gd_rng_seed(&b, 7);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(gd_rng_normal(&b), first[i]);

    /* Seed 0 works and is not stuck. */
    gd_rng_seed(&a, 0);
    uint64_t r1 = gd_rng_next(&a), r2 = gd_rng_next(&a);
    CU_ASSERT(r1 != 0 || r2 != 0);
    CU_ASSERT(r1 != r2);
}

static void test_rng_uniform_normal(void)
{
    gd_rng r;
    gd_rng_seed(&r, 12345);
    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0;
    int in_range = 1;
    for (int i = 0; i < n; i++) {
        double u = gd_rng_uniform(&r);
        if (!(u > 0.0 && u < 1.0))
            in_range = 0;
        su += u;
        double z = gd_rng_normal(&r);
        sn += z;
        sn2 += z * z;
    }
    CU_ASSERT(in_range);
    ASSERT_ABS(su / n, 0.5, 0.005);          /* SE ~ 0.00065 */
    ASSERT_ABS(sn / n, 0.0, 0.012);          /* SE ~ 0.0022 */
    ASSERT_ABS(sn2 / n - (sn / n) * (sn / n), 1.0, 0.02);  /* SE ~ 0.0032 */
}

static void sample_moments(double shape, double scale, uint64_t seed, int n,
                           double *mean, double *var)
{
    gd_rng r;
    gd_rng_seed(&r, seed);
    double m = 0.0, m2 = 0.0;
    int positive = 1;
    for (int i = 0; i < n; i++) {
        double v = gd_rng_gamma(&r, shape, scale);
        if (!(v >= 0.0) || isinf(v))
            positive = 0;
        double d = v - m;
        m += d / (i + 1);
        m2 += d * (v - m);
    }
    CU_ASSERT(positive);
    *mean = m;
    *var = m2 / (n - 1);
}

static void test_rng_gamma_moments(void)
{
    double mean, var;
    /* Gamma(2,3): mean 6, var 18.  SE(mean) ~ 0.0095, SE(var) ~ 0.09. */
    sample_moments(2.0, 3.0, 2024, 200000, &mean, &var);
    ASSERT_ABS(mean, 6.0, 0.05);
    ASSERT_ABS(var, 18.0, 0.5);
    /* Gamma(0.3,1): boost branch; mean 0.3, var 0.3.
     * SE(mean) ~ 0.0012, SE(var) ~ 0.0032. */
    sample_moments(0.3, 1.0, 99, 200000, &mean, &var);
    ASSERT_ABS(mean, 0.3, 0.006);
    ASSERT_ABS(var, 0.3, 0.016);
    /* Gamma(0.1, 5): mean 0.5, var 2.5 (heavy skew, loose check). */
    sample_moments(0.1, 5.0, 5, 200000, &mean, &var);
    ASSERT_ABS(mean, 0.5, 0.025);
    /* Gamma(1, 1) is Exp(1); shape exactly 1 takes the main branch. */
    sample_moments(1.0, 1.0, 11, 200000, &mean, &var);
    ASSERT_ABS(mean, 1.0, 0.012);
    ASSERT_ABS(var, 1.0, 0.04);

    gd_rng r;
    gd_rng_seed(&r, 1);
    CU_ASSERT(isnan(gd_rng_gamma(&r, 0.0, 1.0)));
    CU_ASSERT(isnan(gd_rng_gamma(&r, -1.0, 1.0)));
    CU_ASSERT(isnan(gd_rng_gamma(&r, 1.0, 0.0)));
    CU_ASSERT(isnan(gd_rng_gamma(&r, NAN, 1.0)));
}

/* ------------------------------------------------------------------ */
/* Kolmogorov-Smirnov                                                  */

static double uniform_cdf(double x, void *ctx)
{
    (void)ctx;
    return x <= 0.0 ? 0.0 : x >= 1.0 ? 1.0 : x;
}

struct gparams { double shape, scale; };

static double gamma_cdf_cb(double x, void *ctx)
{
    const struct gparams *g = ctx;
    return gd_gamma_cdf(x, g->shape, g->scale);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_ks_statistic_small(void)
{
    double s1[] = { 0.1, 0.5, 0.9 };
    ASSERT_REL(gd_ks_statistic(s1, 3, uniform_cdf, NULL), 0.1 + 2.0 / 15.0, 1e-14);
    double s2[] = { 0.7, 0.8, 0.9 };
    ASSERT_REL(gd_ks_statistic(s2, 3, uniform_cdf, NULL), 0.7, 1e-14);
    double s3[] = { 0.05, 0.1, 0.15, 0.2 };
    ASSERT_REL(gd_ks_statistic(s3, 4, uniform_cdf, NULL), 0.8, 1e-14);
    double s4[] = { 0.5 };
    ASSERT_REL(gd_ks_statistic(s4, 1, uniform_cdf, NULL), 0.5, 1e-14);
    CU_ASSERT(isnan(gd_ks_statistic(s4, 0, uniform_cdf, NULL)));
    CU_ASSERT(isnan(gd_ks_statistic(NULL, 1, uniform_cdf, NULL)));
}

static void test_ks_q_values(void)
{
    /* Q_KS(1) from the brief and mpmath. */
    ASSERT_ABS(gd_ks_q(1.0), 0.26999967167735456, 1e-9);
    ASSERT_REL(gd_ks_q(1.0), 0.2699996716773545212, 1e-12);
    ASSERT_REL(gd_ks_q(0.5), 0.96394524366487509439, 1e-12);
    ASSERT_REL(gd_ks_q(0.8), 0.54414241157419807674, 1e-12);
    ASSERT_REL(gd_ks_q(1.18), 0.12345380942976571391, 1e-12);
    ASSERT_REL(gd_ks_q(1.5), 0.022217962616525128721, 1e-12);
    ASSERT_REL(gd_ks_q(2.0), 0.00067092525577969534654, 1e-12);
    ASSERT_REL(gd_ks_q(0.3), 0.99999069419866543338, 1e-12);
    /* Continuity across the internal switch between the two series. */
    ASSERT_REL(gd_ks_q(nextafter(1.18, 0.0)), gd_ks_q(1.18), 1e-12);
    CU_ASSERT_EQUAL(gd_ks_q(0.0), 1.0);
    CU_ASSERT_EQUAL(gd_ks_q(-1.0), 1.0);
    CU_ASSERT_EQUAL(gd_ks_q(1e-3), 1.0);
    CU_ASSERT(gd_ks_q(10.0) >= 0.0 && gd_ks_q(10.0) < 1e-80);
    CU_ASSERT(isnan(gd_ks_q(NAN)));

    /* Monotone decreasing, inside [0,1]. */
    double prev = 1.0;
    int ok = 1;
    for (double l = 0.0; l < 4.0; l += 0.001) {
        double q = gd_ks_q(l);
        if (!(q <= prev && q >= 0.0 && q <= 1.0))
            ok = 0;
        prev = q;
    }
    CU_ASSERT(ok);
}

static void test_ks_pvalue_correction(void)
{
    const size_t ns[] = { 1, 10, 100, 1000 };
    const double ds[] = { 0.01, 0.05, 0.2 };
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 3; j++) {
            double sn = sqrt((double)ns[i]);
            ASSERT_REL(gd_ks_pvalue(ds[j], ns[i]),
                       gd_ks_q((sn + 0.12 + 0.11 / sn) * ds[j]), 1e-15);
        }
    /* n = 100, d chosen so lambda = 1 exactly-ish. */
    double d = 1.0 / (10.0 + 0.12 + 0.011);
    ASSERT_ABS(gd_ks_pvalue(d, 100), 0.26999967167735456, 1e-9);
    CU_ASSERT(isnan(gd_ks_pvalue(0.1, 0)));
    CU_ASSERT(isnan(gd_ks_pvalue(NAN, 10)));
}

static void test_ks_perfect_and_shifted(void)
{
    enum { N = 1000 };
    static double x[N];
    /* Perfect Exp(theta=2) sample: x_i = F^-1((i + 1/2) / N). */
    struct gparams g = { 1.0, 2.0 };
    for (int i = 0; i < N; i++)
        x[i] = -2.0 * log1p(-(i + 0.5) / N);
    double d = gd_ks_statistic(x, N, gamma_cdf_cb, &g);
    ASSERT_REL(d, 0.5 / N, 1e-9);
    CU_ASSERT(gd_ks_pvalue(d, N) > 0.999);

    /* Same sample shifted right by 0.5 (a quarter of the mean). */
    for (int i = 0; i < N; i++)
        x[i] += 0.5;
    d = gd_ks_statistic(x, N, gamma_cdf_cb, &g);
    CU_ASSERT(d > 0.2);
    CU_ASSERT(gd_ks_pvalue(d, N) < 1e-30);

    /* Perfect Gamma(2.5, 1.5) sample via bisection on the CDF. */
    struct gparams h = { 2.5, 1.5 };
    for (int i = 0; i < N; i++) {
        double target = (i + 0.5) / N, lo = 0.0, hi = 100.0;
        for (int it = 0; it < 200; it++) {
            double mid = 0.5 * (lo + hi);
            if (gd_gamma_cdf(mid, h.shape, h.scale) < target)
                lo = mid;
            else
                hi = mid;
        }
        x[i] = 0.5 * (lo + hi);
    }
    d = gd_ks_statistic(x, N, gamma_cdf_cb, &h);
    CU_ASSERT(d < 0.5 / N + 1e-9);
    CU_ASSERT(gd_ks_pvalue(d, N) > 0.999);
    /* Tested against the wrong scale it is rejected. */
    struct gparams wrong = { 2.5, 1.8 };
    d = gd_ks_statistic(x, N, gamma_cdf_cb, &wrong);
    CU_ASSERT(gd_ks_pvalue(d, N) < 1e-6);
}

/* Simulated samples against their own CDF: the p-values should be roughly
 * uniform, so about 5% fall below 0.05 (seeded, hence deterministic). */
static void test_ks_simulated_calibration(void)
{
    enum { N = 1000, REPS = 300 };
    static double x[N];
    const double shapes[] = { 0.1, 0.3, 0.7, 1.0, 2.0, 5.5 };
    int below05 = 0, below50 = 0, total = 0;
    for (int rep = 0; rep < REPS; rep++) {
        struct gparams g = { shapes[rep % 6], 0.5 + (rep % 10) * 0.5 };
        gd_rng r;
        gd_rng_seed(&r, (uint64_t)rep + 1);
        for (int i = 0; i < N; i++)
            x[i] = gd_rng_gamma(&r, g.shape, g.scale);
        qsort(x, N, sizeof x[0], cmp_double);
        double p = gd_ks_pvalue(gd_ks_statistic(x, N, gamma_cdf_cb, &g), N);
        CU_ASSERT(p >= 0.0 && p <= 1.0);
        below05 += p < 0.05;
        below50 += p < 0.5;
        total++;
    }
    double f05 = (double)below05 / total, f50 = (double)below50 / total;
    /* Binomial SE at 300 reps: ~0.013 for 5%, ~0.029 for 50%. */
    ASSERT_ABS(f05, 0.05, 0.045);
    ASSERT_ABS(f50, 0.50, 0.12);
}

/* ------------------------------------------------------------------ */

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;

    CU_pSuite s = CU_add_suite("gammadist", NULL, NULL);
    if (s == NULL) {
        CU_cleanup_registry();
        return 2;
    }

    static const struct { const char *name; CU_TestFunc fn; } tests[] = {
        { "P(1,x) = 1 - exp(-x)", test_p_shape_one },
        { "P(1/2,x) = erf(sqrt(x))", test_p_shape_half },
        { "P(n,x) integer shapes", test_p_integer_shapes },
        { "P(a,x) mpmath reference table", test_p_reference_table },
        { "P(a+1,x) recurrence", test_p_recurrence },
        { "P monotone and bounded", test_p_monotone_and_bounded },
        { "P edge cases", test_p_edge_cases },
        { "Q(a,x) upper tail", test_q_upper },
        { "gamma_cdf scaling", test_gamma_cdf_scaling },
        { "rng deterministic", test_rng_deterministic },
        { "rng uniform/normal moments", test_rng_uniform_normal },
        { "rng gamma moments", test_rng_gamma_moments },
        { "KS statistic small samples", test_ks_statistic_small },
        { "KS Q_KS values", test_ks_q_values },
        { "KS p-value Stephens correction", test_ks_pvalue_correction },
        { "KS perfect and shifted samples", test_ks_perfect_and_shifted },
        { "KS simulated calibration", test_ks_simulated_calibration },
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (CU_add_test(s, tests[i].name, tests[i].fn) == NULL) {
            CU_cleanup_registry();
            return 2;
        }
    }

    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_ErrorCode err = CU_get_error();
    CU_cleanup_registry();
    return (failed != 0 || err != CUE_SUCCESS) ? 1 : 0;
}
