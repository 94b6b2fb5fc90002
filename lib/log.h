/* log.h - levelled logging to stderr (or a file) with a program prefix.
 *
 * Lines look like "parade: warning: message". Debug lines are off unless
 * PARADE_DEBUG=1 is set in the environment or pd_log_set_level() asks. */
#ifndef PD_LOG_H
#define PD_LOG_H

#include <stdio.h>
#include <stdint.h>

enum pd_log_level { PD_LOG_ERROR = 0, PD_LOG_WARN, PD_LOG_INFO, PD_LOG_DEBUG };

/* Sets the prefix (borrowed, must outlive logging) and reads PARADE_DEBUG. */
void pd_log_init(const char *prog);
void pd_log_set_level(int level);
int pd_log_get_level(void);
/* Redirects log lines to f (borrowed; NULL means stderr). */
void pd_log_set_file(FILE *f);
/* Calls before(arg) just before each line is written (NULL: none), e.g.
 * to erase a progress line on the same terminal. arg is borrowed. */
void pd_log_set_before(void (*before)(void *arg), void *arg);
void pd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pd_err(...) pd_log(PD_LOG_ERROR, __VA_ARGS__)
#define pd_warn(...) pd_log(PD_LOG_WARN, __VA_ARGS__)
#define pd_info(...) pd_log(PD_LOG_INFO, __VA_ARGS__)
#define pd_debug(...)                                                                              \
	do {                                                                                       \
		if (pd_log_get_level() >= PD_LOG_DEBUG)                                            \
			pd_log(PD_LOG_DEBUG, __VA_ARGS__);                                         \
	} while (0)

/* Formats an error message into err[errlen] (nothing when err is NULL or
 * errlen 0): the one way library functions fill their err arguments. */
void pd_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A token bucket for log lines an unauthenticated peer can provoke:
 * at most `burst` lines, refilled at one per second. Zero-initialise. */
typedef struct pd_ratelimit {
	uint64_t last_ms;
	uint32_t tokens;
	uint32_t suppressed;
} pd_ratelimit;

/* Returns 1 if a line may be logged now (and counts it), else 0. */
int pd_ratelimit_ok(pd_ratelimit *rl, uint32_t burst);

#endif
