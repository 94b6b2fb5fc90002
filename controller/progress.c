#include "progress.h"

#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define REDRAW_MS 200
/* beyond this an estimate says nothing useful */
#define ETA_MAX_S (100.0 * 24 * 3600)

static void erase_cb(void *arg);

struct pd_progress {
	FILE *f;
	int enabled;
	uint64_t total;
	int started;
	int drawn;  /* the line is on the terminal now */
	int erased; /* it was, and was erased for other output */
	pd_output *out; /* attached: rows share the terminal */
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
	if (p->enabled)
		pd_log_set_before(erase_cb, p);
	return p;
}

void pd_progress_attach(pd_progress *p, pd_output *o)
{
	struct stat a, b;
	FILE *rows = o ? pd_output_file(o) : NULL;

	if (!p || !p->enabled || !rows)
		return;
	/* rows to a file, a pipe or another terminal never meet the line */
	if (!isatty(fileno(rows)) || fstat(fileno(rows), &a) < 0 || fstat(fileno(p->f), &b) < 0 ||
	    a.st_rdev != b.st_rdev)
		return;
	p->out = o;
	pd_output_set_before(o, erase_cb, p);
}

void pd_progress_erase(pd_progress *p)
{
	if (!p || !p->enabled || !p->drawn)
		return;
	fputs("\r\033[K", p->f);
	fflush(p->f);
	p->drawn = 0;
	p->erased = 1;
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
		if (now_ms - p->last_ms < REDRAW_MS && now_ms >= p->last_ms && !final &&
		    !p->erased)
			return;
	}
	/* rows written just now go out before the line comes back */
	if (p->out)
		fflush(pd_output_file(p->out));
	p->last_ms = now_ms;
	p->last_done = done;
	p->last_failed = failed;
	pd_progress_format(line, sizeof(line), done, p->total, failed,
			   now_ms > p->start_ms ? (double)(now_ms - p->start_ms) / 1000.0 : 0);
	fprintf(p->f, "\r%s\033[K", line);
	fflush(p->f);
	p->drawn = 1;
	p->erased = 0;
}

static void erase_cb(void *arg)
{
	pd_progress_erase(arg);
}

void pd_progress_free(pd_progress *p)
{
	if (!p)
		return;
	pd_progress_erase(p);
	if (p->enabled)
		pd_log_set_before(NULL, NULL);
	if (p->out)
		pd_output_set_before(p->out, NULL, NULL);
	free(p);
}
