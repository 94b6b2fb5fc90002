/*
 * gammadist.h - small, dependency-free numerics for the gamma-sim example.
 *
 * Everything here is pure (no I/O, no global state); the only state is the
 * caller-owned gd_rng.  All functions are thread-safe given distinct gd_rng
 * objects.
 */
#ifndef PARADE_EXAMPLES_GAMMADIST_H
#define PARADE_EXAMPLES_GAMMADIST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* log|Gamma(x)| for x > 0 (thin wrapper around libm lgamma). */
double gd_lgamma(double x);

/* Regularized lower incomplete gamma P(a,x) = gamma(a,x)/Gamma(a).
 * Returns NaN if a or x is NaN or a <= 0 (or a is infinite); 0 if x <= 0;
 * 1 if x = +inf.  Series for x < a+1, continued fraction otherwise;
 * relative accuracy ~1e-12 for moderate a (say a < 1e3). */
double gd_regularized_lower_gamma(double a, double x);

/* Regularized upper incomplete gamma Q(a,x) = 1 - P(a,x), computed directly
 * (accurate in the upper tail).  Same domain rules as above, with the
 * values 1 for x <= 0 and 0 for x = +inf. */
double gd_regularized_upper_gamma(double a, double x);

/* CDF of the gamma distribution with the given shape (k) and scale (theta):
 * P(shape, x/scale).  NaN if shape or scale is not a finite positive number
 * or x is NaN; 0 for x <= 0. */
double gd_gamma_cdf(double x, double shape, double scale);

/* Pseudo-random generator: xoshiro256** state, seeded via splitmix64.
 * Deterministic: the same seed always yields the same stream. */
typedef struct gd_rng {
    uint64_t s[4];
    double   spare_normal;   /* cached second normal deviate ...     */
    int      has_spare;      /* ... valid when has_spare is non-zero */
} gd_rng;

/* (Re)initialise *r from an arbitrary 64-bit seed (0 is allowed). */
void gd_rng_seed(gd_rng *r, uint64_t seed);

/* Next raw 64-bit output of the generator. */
uint64_t gd_rng_next(gd_rng *r);

/* Uniform double strictly inside (0,1), 53-bit resolution. */
double gd_rng_uniform(gd_rng *r);

/* Standard normal N(0,1) deviate (Marsaglia polar method). */
double gd_rng_normal(gd_rng *r);

/* Gamma(shape, scale) deviate, mean shape*scale (Marsaglia-Tsang; for
 * shape < 1 uses Gamma(shape+1) * U^(1/shape)).  Returns NaN unless shape
 * and scale are finite and positive. */
double gd_rng_gamma(gd_rng *r, double shape, double scale);

/* One-sample Kolmogorov-Smirnov statistic D_n = sup_x |F_n(x) - F(x)| for
 * n ascending-sorted observations against cdf(x, ctx).  Returns NaN if
 * n == 0 or sorted_x/cdf is NULL. */
double gd_ks_statistic(const double *sorted_x, size_t n,
                       double (*cdf)(double x, void *ctx), void *ctx);

/* Kolmogorov survival function Q_KS(lambda) =
 * 2 * sum_{j>=1} (-1)^(j-1) exp(-2 j^2 lambda^2), clamped to [0,1];
 * 1 for lambda <= 0, NaN for NaN. */
double gd_ks_q(double lambda);

/* Asymptotic KS p-value with Stephens' small-sample correction:
 * Q_KS((sqrt(n) + 0.12 + 0.11/sqrt(n)) * d).  NaN if n == 0 or d is NaN. */
double gd_ks_pvalue(double d, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* PARADE_EXAMPLES_GAMMADIST_H */
