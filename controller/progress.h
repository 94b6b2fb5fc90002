/* progress.h - a one-line progress display on stderr when it is a terminal:
 * "parade: 1234/10000 done, 2 failed, 850.3 tasks/s, ETA 10s". */
#ifndef PD_PROGRESS_H
#define PD_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct pd_progress pd_progress;

/* enabled: draw at all (the caller passes isatty(2)). f borrowed. */
pd_progress *pd_progress_new(FILE *f, int enabled, uint64_t total);
/* Updates counts; redraws at most ~5 times a second (now_ms from the
 * caller's monotonic clock). */
void pd_progress_update(pd_progress *p, uint64_t done, uint64_t failed, uint64_t now_ms);
/* Clears the line (so later output starts clean) and frees. */
void pd_progress_free(pd_progress *p);
/* Formats the line into buf (pure; for tests): rate is tasks per second
 * since start, ETA from the rate ("ETA --" when unknown). */
void pd_progress_format(char *buf, size_t len, uint64_t done, uint64_t total, uint64_t failed,
			double elapsed_s);

#endif
