#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "parade";
static int log_level = PD_LOG_INFO;
static FILE *log_file;
static void (*log_before)(void *arg);
static void *log_before_arg;

void pd_log_init(const char *prog)
{
	const char *d = getenv("PARADE_DEBUG");

	if (prog)
		log_prog = prog;
	if (d && *d && strcmp(d, "0") != 0)
		log_level = PD_LOG_DEBUG;
}

void pd_log_set_level(int level)
{
	log_level = level;
}

int pd_log_get_level(void)
{
	return log_level;
}

void pd_log_set_file(FILE *f)
{
	log_file = f;
}

void pd_log_set_before(void (*before)(void *arg), void *arg)
{
	log_before = before;
	log_before_arg = arg;
}

void pd_log(int level, const char *fmt, ...)
{
	static const char *const names[] = {"error: ", "warning: ", "", "debug: "};
	FILE *f = log_file ? log_file : stderr;
	char line[2048];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	if (level < PD_LOG_ERROR || level > PD_LOG_DEBUG)
		level = PD_LOG_ERROR;
	n = snprintf(line, sizeof(line), "%s: %s", log_prog, names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (log_before)
		log_before(log_before_arg);
	/* one write per line so concurrent agents do not interleave mid-line */
	fprintf(f, "%s\n", line);
	fflush(f);
}

int pd_ratelimit_ok(pd_ratelimit *rl, uint32_t burst)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (rl->last_ms == 0) {
		rl->last_ms = now;
		rl->tokens = burst;
	}
	if (now > rl->last_ms) {
		uint64_t add = (now - rl->last_ms) / 1000;
		if (add) {
			rl->tokens = (uint32_t)((rl->tokens + add > burst) ? burst : rl->tokens + add);
			rl->last_ms = now;
		}
	}
	if (rl->tokens == 0) {
		rl->suppressed++;
		return 0;
	}
	rl->tokens--;
	return 1;
}

void pd_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
