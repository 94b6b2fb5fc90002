/* progress.h - a one-line progress display on stderr when it is a terminal:
 * "parade: 1234/10000 done, 2 failed, 850.3 tasks/s, ETA 10s".
 * The line is erased before anything else is written to its terminal
 * (log lines always, the table's rows when attached), and drawn again at
 * the next update, so it never mixes into them. */
#ifndef PD_PROGRESS_H
#define PD_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "output.h"

typedef struct pd_progress pd_progress;

/* enabled: draw at all (the caller passes isatty(2)). f borrowed. While
 * it is drawn the progress erases its line before every log line
 * (pd_log_set_before; one progress at a time). */
pd_progress *pd_progress_new(FILE *f, int enabled, uint64_t total);
/* The table's rows go to o: when o's file is the terminal the line is
 * drawn on (`parade run` with no -o on a terminal), the line is erased
 * before each row is written, so rows stay whole and in order. o is
 * borrowed and must outlive p (pd_progress_free detaches). NULL-safe. */
void pd_progress_attach(pd_progress *p, pd_output *o);
/* Updates counts; redraws at most ~5 times a second (now_ms from the
 * caller's monotonic clock), and at once when the line was erased for
 * other output, so it is always there after a row. */
void pd_progress_update(pd_progress *p, uint64_t done, uint64_t failed, uint64_t now_ms);
/* Erases the line if it is drawn (the next update draws it again). */
void pd_progress_erase(pd_progress *p);
/* Clears the line (so later output starts clean), detaches and frees. */
void pd_progress_free(pd_progress *p);
/* Formats the line into buf (pure; for tests): rate is tasks per second
 * since start, ETA from the rate ("ETA --" when unknown). */
void pd_progress_format(char *buf, size_t len, uint64_t done, uint64_t total, uint64_t failed,
			double elapsed_s);

#endif
