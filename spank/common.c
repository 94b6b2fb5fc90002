/* common.c - the plugin's shared state (see common.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common.h"

struct pd_spank_state pd_sp;

int pd_sp_configure(int ac, char **av)
{
	pd_sp.cfg_ok =
	    pd_spank_parse_args(&pd_sp.cfg, ac, av, pd_sp.cfg_err, sizeof(pd_sp.cfg_err)) == 0;
	if (pd_sp.cfg_ok)
		return 0;
	pd_sp_error("%s", pd_sp.cfg_err);
	return -1;
}

void pd_sp_take_workers(const char *optarg)
{
	pd_sp.workers_seen = 1;
	pd_sp.workers_calls++;
	snprintf(pd_sp.workers_arg, sizeof(pd_sp.workers_arg), "%s", optarg ? optarg : "");
	pd_sp.workers_bad =
	    pd_spank_parse_workers(optarg, pd_sp.cfg.max_workers, &pd_sp.workers, pd_sp.workers_err,
	                           sizeof(pd_sp.workers_err)) < 0;
}

void pd_sp_take_controller(const char *optarg)
{
	pd_sp.controller_seen = 1;
	pd_sp.controller_long = snprintf(pd_sp.controller, sizeof(pd_sp.controller), "%s",
	                                 optarg ? optarg : "") >= (int)sizeof(pd_sp.controller);
}

int pd_sp_make_key(char key[65], char port[8])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[36];
	size_t got = 0;

	while (got < sizeof(rnd)) {
		ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	for (int i = 0; i < 32; i++) {
		key[2 * i] = hex[rnd[i] >> 4];
		key[2 * i + 1] = hex[rnd[i] & 15];
	}
	key[64] = 0;
	snprintf(port, 8, "%u",
	         pd_spank_pick_port(pd_sp.cfg.port_lo, pd_sp.cfg.port_hi,
	                            (uint32_t)rnd[32] << 24 | (uint32_t)rnd[33] << 16 |
	                                (uint32_t)rnd[34] << 8 | rnd[35]));
	memset(rnd, 0, sizeof(rnd));
	return 0;
}

void pd_sp_reset(void)
{
	memset(&pd_sp, 0, sizeof(pd_sp));
}
