/*
 * gammadist.c - numerics for the gamma-sim example (see gammadist.h).
 *
 * Incomplete gamma: power series
 *     P(a,x) = x^a e^-x / Gamma(a) * sum_{n>=0} x^n / (a (a+1) ... (a+n))
 * and the continued fraction
 *     Q(a,x) = x^a e^-x / Gamma(a) *
 *              1/(x+1-a - 1(1-a)/(x+3-a - 2(2-a)/(x+5-a - ...)))
 * evaluated with the modified Lentz algorithm.
 */
#include "gammadist.h"

#include <float.h>
#include <math.h>

#define GD_EPS      (DBL_EPSILON * 0.5)
#define GD_TINY     1e-300
#define GD_MAX_ITER 100000

double gd_lgamma(double x)
{
    return lgamma(x);
}

/* log of x^a e^-x / Gamma(a), for a > 0, 0 < x < inf. */
static double log_prefactor(double a, double x)
{
    return a * log(x) - x - lgamma(a);
}

/* P(a,x) via the power series; caller guarantees a > 0, 0 < x < a+1. */
static double lower_series(double a, double x)
{
    double term = 1.0 / a;
    double sum = term;
    for (int n = 1; n < GD_MAX_ITER; n++) {
        term *= x / (a + n);
        sum += term;
        if (fabs(term) < fabs(sum) * GD_EPS)
            break;
    }
    return sum * exp(log_prefactor(a, x));
}

/* Q(a,x) via the continued fraction; caller guarantees a > 0, x >= a+1. */
static double upper_cf(double a, double x)
{
    double b = x + 1.0 - a;
    double c = 1.0 / GD_TINY;
    double d = 1.0 / b;
    double h = d;
    for (int i = 1; i < GD_MAX_ITER; i++) {
        double an = -(double)i * ((double)i - a);
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < GD_TINY)
            d = GD_TINY;
        c = b + an / c;
        if (fabs(c) < GD_TINY)
            c = GD_TINY;
        d = 1.0 / d;
        double delta = d * c;
        h *= delta;
        if (fabs(delta - 1.0) < GD_EPS)
            break;
    }
    return h * exp(log_prefactor(a, x));
}

static double clamp01(double p)
{
    if (p < 0.0)
        return 0.0;
    if (p > 1.0)
        return 1.0;
    return p;
}

double gd_regularized_lower_gamma(double a, double x)
{
    if (isnan(a) || isnan(x) || !(a > 0.0) || isinf(a))
        return NAN;
    if (x <= 0.0)
        return 0.0;
    if (isinf(x))
        return 1.0;
    if (x < a + 1.0)
        return clamp01(lower_series(a, x));
    return clamp01(1.0 - upper_cf(a, x));
}

double gd_regularized_upper_gamma(double a, double x)
{
    if (isnan(a) || isnan(x) || !(a > 0.0) || isinf(a))
        return NAN;
    if (x <= 0.0)
        return 1.0;
    if (isinf(x))
        return 0.0;
    if (x < a + 1.0)
        return clamp01(1.0 - lower_series(a, x));
    return clamp01(upper_cf(a, x));
}

double gd_gamma_cdf(double x, double shape, double scale)
{
    if (isnan(x) || !(scale > 0.0) || isinf(scale))
        return NAN;
    return gd_regularized_lower_gamma(shape, x / scale);
}

/* ------------------------------------------------------------------ */
/* PRNG: splitmix64 for seeding, xoshiro256** for the stream.          */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void gd_rng_seed(gd_rng *r, uint64_t seed)
{
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&sm);
    /* splitmix64 is a bijection of distinct counters, so the state can
     * never be all-zero; keep a guard anyway. */
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;
    r->spare_normal = 0.0;
    r->has_spare = 0;
}

uint64_t gd_rng_next(gd_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gd_rng_uniform(gd_rng *r)
{
    for (;;) {
        /* Top 53 bits -> k * 2^-53 in [0,1); reject exact 0. */
        uint64_t k = gd_rng_next(r) >> 11;
        if (k != 0)
            return (double)k * 0x1.0p-53;
    }
}

double gd_rng_normal(gd_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare_normal;
    }
    double u, v, s;
    do {
        u = 2.0 * gd_rng_uniform(r) - 1.0;
        v = 2.0 * gd_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    r->spare_normal = v * f;
    r->has_spare = 1;
    return u * f;
}

/* Marsaglia & Tsang (2000), valid for shape >= 1. */
static double gamma_mt(gd_rng *r, double shape)
{
    double d = shape - 1.0 / 3.0;
    double c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double z, v;
        do {
            z = gd_rng_normal(r);
            v = 1.0 + c * z;
        } while (v <= 0.0);
        v = v * v * v;
        double u = gd_rng_uniform(r);
        double z2 = z * z;
        if (u < 1.0 - 0.0331 * z2 * z2)
            return d * v;
        if (log(u) < 0.5 * z2 + d * (1.0 - v + log(v)))
            return d * v;
    }
}

double gd_rng_gamma(gd_rng *r, double shape, double scale)
{
    if (!(shape > 0.0) || isinf(shape) || !(scale > 0.0) || isinf(scale))
        return NAN;
    if (shape < 1.0) {
        /* Gamma(a) = Gamma(a+1) * U^(1/a); done in log space. */
        double g = gamma_mt(r, shape + 1.0);
        double u = gd_rng_uniform(r);
        return scale * g * exp(log(u) / shape);
    }
    return scale * gamma_mt(r, shape);
}

/* ------------------------------------------------------------------ */
/* Kolmogorov-Smirnov                                                  */

double gd_ks_statistic(const double *sorted_x, size_t n,
                       double (*cdf)(double x, void *ctx), void *ctx)
{
    if (n == 0 || sorted_x == NULL || cdf == NULL)
        return NAN;
    double dn = (double)n;
    double d = 0.0;
    for (size_t i = 0; i < n; i++) {
        double f = cdf(sorted_x[i], ctx);
        if (isnan(f))
            return NAN;
        double above = (double)(i + 1) / dn - f; /* F_n just right of x_i */
        double below = f - (double)i / dn;       /* F_n just left of x_i  */
        if (above > d)
            d = above;
        if (below > d)
            d = below;
    }
    return d;
}

double gd_ks_q(double lambda)
{
    if (isnan(lambda))
        return NAN;
    if (lambda <= 0.0)
        return 1.0;
    if (lambda < 1.18) {
        /* For small lambda the alternating series converges slowly; use
         * the equivalent (Jacobi theta transform) form of the CDF:
         * 1 - Q = sqrt(2 pi)/lambda * sum_{j>=1} exp(-(2j-1)^2 pi^2 / (8 lambda^2)). */
        const double pi = 3.14159265358979323846;
        double k = -pi * pi / (8.0 * lambda * lambda);
        double sum = 0.0;
        for (int j = 1; j < 100; j++) {
            double m = 2.0 * j - 1.0;
            double term = exp(k * m * m);
            sum += term;
            if (term <= sum * 1e-17)
                break;
        }
        return clamp01(1.0 - sqrt(2.0 * pi) / lambda * sum);
    }
    double k = -2.0 * lambda * lambda;
    double sum = 0.0;
    double sign = 1.0;
    for (int j = 1; j < 100; j++) {
        double term = exp(k * (double)j * (double)j);
        sum += sign * term;
        if (term <= fabs(sum) * 1e-17)
            break;
        sign = -sign;
    }
    return clamp01(2.0 * sum);
}

double gd_ks_pvalue(double d, size_t n)
{
    if (n == 0 || isnan(d))
        return NAN;
    double sn = sqrt((double)n);
    return gd_ks_q((sn + 0.12 + 0.11 / sn) * d);
}
