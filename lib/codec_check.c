/* codec_check.c - codec.h: what a peer claims, checked where it enters.
 *
 * A HELLO's strings reach log lines, `parade status --agents`, the result
 * table and the journal; a result's fields reach the table and decide a
 * task. Both are checked here, once, so that no later use has to escape
 * or range-check anything. */
#include "codec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* limits of the HELLO strings (the controller's copies are this big + 1) */
#define HELLO_ID_MAX 127u
#define HELLO_HOST_MAX 127u
#define HELLO_MODE_MAX 15u
#define HELLO_SLURM_MAX 31u

/* a result's numbers: far above anything real, far below overflow */
#define RESULT_US_MAX 1000000000000000ull /* 10^15 us: 31 years */
#define RESULT_RSS_MAX (1ull << 40)       /* KiB: 1 PiB */
#define RESULT_SIGNAL_MAX 64
#define RESULT_ERROR_MAX 4096u /* the agent's own message, not task output */

static void say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* printable ASCII only: no control byte (a newline would fake a log line,
 * ESC starts a terminal sequence), no DEL, no byte >= 0x80 (a UTF-8 C1
 * control is one) and no NUL inside the length */
static int clean_str(const char *s, uint32_t len, uint32_t max, int spaces, const char *field,
                     char *why, size_t whylen)
{
	for (uint32_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || (c == ' ' && !spaces)) {
			say(why, whylen, "%s holds the byte 0x%02x (printable ASCII only)", field,
			    c);
			return -EPROTO;
		}
	}
	if (len > max) {
		say(why, whylen, "%s is %u bytes long (at most %u)", field, len, max);
		return -EPROTO;
	}
	return 0;
}

int pd_hello_field_ok(int field, const char *s, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		uint32_t max;
		int spaces;
	} f[] = {
	    [PD_HELLO_F_ID] = {"agent id", HELLO_ID_MAX, 1},
	    [PD_HELLO_F_HOST] = {"host", HELLO_HOST_MAX, 0},
	    [PD_HELLO_F_MODE] = {"mode", HELLO_MODE_MAX, 0},
	    [PD_HELLO_F_SLURM] = {"slurm field", HELLO_SLURM_MAX, 0},
	};
	size_t len;

	if (field < 0 || field > PD_HELLO_F_SLURM || !s) {
		say(why, whylen, "no such HELLO field");
		return -EINVAL;
	}
	len = strlen(s);
	if (len > UINT32_MAX || clean_str(s, (uint32_t)len, f[field].max, f[field].spaces,
	                                  f[field].name, why, whylen) < 0)
		return -EINVAL;
	if (field == PD_HELLO_F_MODE && len == 0) {
		say(why, whylen, "mode is empty");
		return -EINVAL;
	}
	return 0;
}

int pd_hello_decode_why(const uint8_t *p, size_t n, pd_hello *h, char *why, size_t whylen)
{
	pd_reader r;
	pd_hello t;
	uint32_t magic, lid, lhost, lmode, ljob, lstep;
	int rv;

	if (why && whylen)
		why[0] = '\0';
	pd_reader_init(&r, p, n);
	if (pd_get_u32(&r, &magic) < 0 || magic != PD_HELLO_MAGIC)
		goto malformed;
	if (pd_get_u32(&r, &t.version) < 0)
		goto malformed;
	if (t.version != PD_PROTO_VERSION) {
		h->version = t.version;
		return -EPROTONOSUPPORT;
	}
	if (pd_get_str(&r, &t.agent_id, &lid) < 0 || pd_get_str(&r, &t.host, &lhost) < 0 ||
	    pd_get_u32(&r, &t.pid) < 0 || pd_get_u32(&r, &t.slots) < 0 ||
	    pd_get_str(&r, &t.mode, &lmode) < 0 || pd_get_str(&r, &t.slurm_job, &ljob) < 0 ||
	    pd_get_str(&r, &t.slurm_step, &lstep) < 0 || pd_get_u32(&r, &t.features) < 0 ||
	    pd_reader_end(&r) < 0)
		goto malformed;
	if ((rv = clean_str(t.agent_id, lid, HELLO_ID_MAX, 1, "agent id", why, whylen)) < 0 ||
	    (rv = clean_str(t.host, lhost, HELLO_HOST_MAX, 0, "host", why, whylen)) < 0 ||
	    (rv = clean_str(t.mode, lmode, HELLO_MODE_MAX, 0, "mode", why, whylen)) < 0 ||
	    (rv = clean_str(t.slurm_job, ljob, HELLO_SLURM_MAX, 0, "slurm job", why, whylen)) < 0 ||
	    (rv = clean_str(t.slurm_step, lstep, HELLO_SLURM_MAX, 0, "slurm step", why, whylen)) <
	        0)
		return rv;
	if (lmode == 0) {
		say(why, whylen, "mode is empty");
		return -EPROTO;
	}
	*h = t;
	return 0;
malformed:
	say(why, whylen, "HELLO is malformed");
	return -EPROTO;
}

int pd_hello_decode(const uint8_t *p, size_t n, pd_hello *h)
{
	return pd_hello_decode_why(p, n, h, NULL, 0);
}

int pd_result_check(const pd_result_msg *r, uint32_t out_limit, char *why, size_t whylen)
{
	if (r->status > PD_ST_LOST) {
		say(why, whylen, "status %u is not a status (0 to 3)", r->status);
		return -EPROTO;
	}
	if (r->flags & ~(unsigned)(PD_RF_OUT_TRUNC | PD_RF_ERR_TRUNC)) {
		say(why, whylen, "flags 0x%x hold unknown bits", r->flags);
		return -EPROTO;
	}
	if (r->exit_code < -1 || r->exit_code > 255) {
		say(why, whylen, "exit code %d is not -1 to 255", (int)r->exit_code);
		return -EPROTO;
	}
	if (r->signal < 0 || r->signal > RESULT_SIGNAL_MAX) {
		say(why, whylen, "signal %d is not 0 to %d", (int)r->signal, RESULT_SIGNAL_MAX);
		return -EPROTO;
	}
	if (r->status == PD_ST_OK && (r->exit_code != 0 || r->signal != 0)) {
		say(why, whylen, "status ok with exit code %d and signal %d", (int)r->exit_code,
		    (int)r->signal);
		return -EPROTO;
	}
	if (r->wall_us > RESULT_US_MAX || r->cpu_us > RESULT_US_MAX ||
	    r->maxrss_kb > RESULT_RSS_MAX) {
		say(why, whylen,
		    "wall %llu us, cpu %llu us, maxrss %llu KiB: over the limits "
		    "(%llu us, %llu KiB)",
		    (unsigned long long)r->wall_us, (unsigned long long)r->cpu_us,
		    (unsigned long long)r->maxrss_kb, RESULT_US_MAX, RESULT_RSS_MAX);
		return -EPROTO;
	}
	if (out_limit && (r->out_len > out_limit || r->err_len > out_limit)) {
		say(why, whylen, "stdout %u and stderr %u bytes: over the %u-byte limit",
		    r->out_len, r->err_len, out_limit);
		return -EPROTO;
	}
	if (r->error && strnlen(r->error, RESULT_ERROR_MAX + 1) > RESULT_ERROR_MAX) {
		say(why, whylen, "error message over %u bytes", RESULT_ERROR_MAX);
		return -EPROTO;
	}
	return 0;
}
