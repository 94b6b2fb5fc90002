#include "progress.h"

#include <math.h>
#include <stdlib.h>

#define REDRAW_MS 200
/* beyond this an estimate says nothing useful */
#define ETA_MAX_S (100.0 * 24 * 3600)

struct pd_progress {
	FILE *f;
	int enabled;
	uint64_t total;
	int started;
	int drawn;
	uint64_t start_ms;
	uint64_t last_ms;
	uint64_t last_done;
	uint64_t last_failed;
};

pd_progress *pd_progress_new(FILE *f, int enabled, uint64_t total)
{
	pd_progress *p;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->f = f;
	p->enabled = enabled && f;
	p->total = total;
	return p;
}

static void format_eta(char *buf, size_t len, uint64_t done, uint64_t total, double elapsed_s)
{
	double rate, eta;
	uint64_t s;

	if (done >= total) {
		snprintf(buf, len, "ETA 0s");
		return;
	}
	rate = elapsed_s > 0 ? (double)done / elapsed_s : 0;
	eta = rate > 0 ? (double)(total - done) / rate : INFINITY;
	if (!(eta <= ETA_MAX_S)) {
		snprintf(buf, len, "ETA --");
		return;
	}
	s = (uint64_t)llround(eta);
	/* never claim 0s while work remains */
	if (s == 0)
		s = 1;
	if (s < 60)
		snprintf(buf, len, "ETA %us", (unsigned)s);
	else if (s < 3600)
		snprintf(buf, len, "ETA %um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
	else
		snprintf(buf, len, "ETA %uh%02um", (unsigned)(s / 3600), (unsigned)(s / 60 % 60));
}

void pd_progress_format(char *buf, size_t len, uint64_t done, uint64_t total, uint64_t failed,
			double elapsed_s)
{
	char eta[32];
	double rate;

	if (!buf || !len)
		return;
	rate = elapsed_s > 0 ? (double)done / elapsed_s : 0;
	format_eta(eta, sizeof(eta), done, total, elapsed_s);
	snprintf(buf, len, "parade: %llu/%llu done, %llu failed, %.1f tasks/s, %s",
		 (unsigned long long)done, (unsigned long long)total,
		 (unsigned long long)failed, rate, eta);
}

void pd_progress_update(pd_progress *p, uint64_t done, uint64_t failed, uint64_t now_ms)
{
	char line[256];
	int final;

	if (!p || !p->enabled)
		return;
	if (!p->started) {
		p->started = 1;
		p->start_ms = now_ms;
	} else {
		/* the last count is drawn at once so the line never ends stale */
		final = done >= p->total && (done != p->last_done || failed != p->last_failed);
		if (now_ms - p->last_ms < REDRAW_MS && now_ms >= p->last_ms && !final)
			return;
	}
	p->last_ms = now_ms;
	p->last_done = done;
	p->last_failed = failed;
	pd_progress_format(line, sizeof(line), done, p->total, failed,
			   now_ms > p->start_ms ? (double)(now_ms - p->start_ms) / 1000.0 : 0);
	fprintf(p->f, "\r%s\033[K", line);
	fflush(p->f);
	p->drawn = 1;
}

void pd_progress_free(pd_progress *p)
{
	if (!p)
		return;
	if (p->enabled && p->drawn) {
		fputs("\r\033[K", p->f);
		fflush(p->f);
	}
	free(p);
}
