/* opts.c - plugstack arguments and option values of the SPANK plugin. */
#include "hostlist.h"
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void pd_spank_cfg_default(pd_spank_cfg *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->agent, sizeof(c->agent), "%s", PD_AGENT_PATH);
	c->max_workers = PD_SPANK_MAX_WORKERS;
	c->agent_log = PD_LOG_SESSION;
}

/* Strict unsigned decimal: digits only, no sign or blanks, at most max.
 * 0 or -EINVAL (empty, not a number) or -ERANGE (above max). */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned long d = (unsigned long)(*s - '0');

		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > max / 10 || d > max - v * 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int pd_spank_parse_workers(const char *s, unsigned max, unsigned *out, char *err, size_t errlen)
{
	unsigned long v = 0;
	int rv = parse_uint(s, max, &v);

	*out = 0;
	if (rv == 0 && v >= 1) {
		*out = (unsigned)v;
		return 0;
	}
	if (rv == -ERANGE)
		snprintf(err, errlen,
		         "--parade-workers=%s: expected a whole number from 1 to %u "
		         "(max_workers=%u in plugstack.conf)",
		         s, max, max);
	else
		snprintf(err, errlen, "--parade-workers=%s: expected a whole number from 1 to %u",
		         s ? s : "", max);
	return -EINVAL;
}

int pd_spank_parse_ports(const char *s, unsigned *lo, unsigned *hi)
{
	char a[16], b[16];
	const char *dash = s ? strchr(s, '-') : NULL;
	unsigned long l, h;
	size_t n;

	if (!dash)
		return -EINVAL;
	n = (size_t)(dash - s);
	if (n == 0 || n >= sizeof(a) || strlen(dash + 1) >= sizeof(b))
		return -EINVAL;
	memcpy(a, s, n);
	a[n] = 0;
	snprintf(b, sizeof(b), "%s", dash + 1);
	if (parse_uint(a, 65535, &l) < 0 || parse_uint(b, 65535, &h) < 0 || l < 1 || l > h)
		return -EINVAL;
	*lo = (unsigned)l;
	*hi = (unsigned)h;
	return 0;
}

enum { K_AGENT = 1, K_MAX = 2, K_PORTS = 4, K_DEBUG = 8, K_LOG = 16 };

static const struct {
	const char *name;
	int bit;
} keys[] = {{"agent", K_AGENT},
            {"max_workers", K_MAX},
            {"port_range", K_PORTS},
            {"debug", K_DEBUG},
            {"agent_log", K_LOG}};

/* Applies one known key's value. 0 or -EINVAL with the problem in err. */
static int apply(pd_spank_cfg *c, int bit, const char *arg, const char *v, char *err, size_t errlen)
{
	unsigned long n;

	switch (bit) {
	case K_AGENT:
		if (v[0] != '/' || strlen(v) >= sizeof(c->agent)) {
			snprintf(err, errlen,
			         "plugstack argument '%s': expected the absolute path of "
			         "parade-agent",
			         arg);
			return -EINVAL;
		}
		snprintf(c->agent, sizeof(c->agent), "%s", v);
		return 0;
	case K_MAX:
		if (parse_uint(v, PD_SPANK_MAX_WORKERS_LIMIT, &n) < 0 || n < 1) {
			snprintf(err, errlen,
			         "plugstack argument '%s': expected a whole number from 1 to %u",
			         arg, PD_SPANK_MAX_WORKERS_LIMIT);
			return -EINVAL;
		}
		c->max_workers = (unsigned)n;
		return 0;
	case K_PORTS:
		if (pd_spank_parse_ports(v, &c->port_lo, &c->port_hi) < 0) {
			snprintf(err, errlen,
			         "plugstack argument '%s': expected LO-HI with 1 <= LO <= HI <= "
			         "65535",
			         arg);
			return -EINVAL;
		}
		return 0;
	case K_DEBUG:
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
			snprintf(err, errlen,
			         "plugstack argument '%s': expected debug=0 or debug=1", arg);
			return -EINVAL;
		}
		c->debug = v[0] == '1';
		return 0;
	case K_LOG:
		if (strcmp(v, "session") == 0) {
			c->agent_log = PD_LOG_SESSION;
		} else if (strcmp(v, "none") == 0) {
			c->agent_log = PD_LOG_NONE;
		} else {
			snprintf(err, errlen,
			         "plugstack argument '%s': expected agent_log=session or "
			         "agent_log=none",
			         arg);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

int pd_spank_parse_args(pd_spank_cfg *c, int ac, char **av, char *err, size_t errlen)
{
	int seen = 0;

	pd_spank_cfg_default(c);
	for (int i = 0; i < ac; i++) {
		const char *arg = av[i] ? av[i] : "", *eq = strchr(arg, '=');
		size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
		int bit = 0;

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strlen(keys[k].name) == klen && !strncmp(arg, keys[k].name, klen))
				bit = keys[k].bit;
		if (!bit) {
			snprintf(err, errlen,
			         "plugstack argument '%s': unknown key '%.*s' (known: agent, "
			         "max_workers, port_range, debug, agent_log)",
			         arg, (int)klen, arg);
			goto fail;
		}
		if (!eq) {
			snprintf(err, errlen, "plugstack argument '%s': expected %s=VALUE", arg,
			         arg);
			goto fail;
		}
		if (seen & bit) {
			snprintf(err, errlen, "plugstack argument '%s': %.*s is given twice", arg,
			         (int)klen, arg);
			goto fail;
		}
		seen |= bit;
		if (apply(c, bit, arg, eq + 1, err, errlen) < 0)
			goto fail;
	}
	return 0;
fail:
	pd_spank_cfg_default(c);
	return -EINVAL;
}

unsigned pd_spank_node_share(unsigned n, unsigned nnodes, unsigned nodeid)
{
	return pd_hostlist_share(n, nnodes, nodeid);
}

unsigned pd_spank_pick_port(unsigned lo, unsigned hi, uint32_t rnd)
{
	if (!lo || hi < lo || hi > 65535) {
		lo = PD_STEP_PORT_LO;
		hi = PD_STEP_PORT_HI;
	}
	return lo + rnd % (hi - lo + 1);
}

int pd_spank_key_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
		      (s[n] >= 'A' && s[n] <= 'F')))
			return 0;
	return n == 64;
}

/* Whether the argument a[0,n) is --parade-workers, --parade-workers=V, or
 * an abbreviation of it that getopt_long takes as unique (the plugin's other
 * option, --parade-controller, shares the prefix up to "--parade-"). */
static int names_workers(const char *a, size_t n)
{
	static const char full[] = "--parade-workers";
	size_t k = 0;

	while (k < n && a[k] != '=')
		k++;
	return k >= strlen("--parade-w") && k <= strlen(full) && !memcmp(a, full, k);
}

int pd_spank_cmdline_explicit(const char *buf, size_t len)
{
	size_t off = 0;

	if (!buf || !len)
		return 0;
	off = strnlen(buf, len) + 1; /* argv[0] */
	while (off < len) {
		const char *a = buf + off;
		size_t n = strnlen(a, len - off);

		if (n == 2 && !memcmp(a, "--", 2))
			break;
		if (names_workers(a, n))
			return 1;
		off += n + 1;
	}
	return 0;
}

int pd_spank_should_act(uint32_t stepid, const char *explicit_env)
{
	if (stepid == PD_STEP_BATCH)
		return 1;
	if (stepid == PD_STEP_EXTERN)
		return 0;
	return explicit_env && strcmp(explicit_env, "1") == 0;
}

int pd_spank_step_name(uint32_t stepid, char *buf, size_t len)
{
	int n;

	if (stepid == PD_STEP_BATCH)
		n = snprintf(buf, len, "batch");
	else if (stepid == PD_STEP_EXTERN)
		n = snprintf(buf, len, "extern");
	else if (stepid == PD_STEP_INTERACTIVE)
		n = snprintf(buf, len, "interactive");
	else
		n = snprintf(buf, len, "%u", (unsigned)stepid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pd_spank_session_name(uint32_t jobid, uint32_t stepid, char *buf, size_t len)
{
	char step[16];
	int n;

	if (pd_spank_step_name(stepid, step, sizeof(step)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(buf, len, "slurm-%u.%s", (unsigned)jobid, step);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
