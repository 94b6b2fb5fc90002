/* common.c - the plugin's shared state (see common.h). */
#include <stdio.h>
#include <string.h>

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

void pd_sp_reset(void)
{
	memset(&pd_sp, 0, sizeof(pd_sp));
}
