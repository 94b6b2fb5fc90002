/* launch_none.c - the "none" launcher (launcher.h): --launch none, and a
 * Slurm step whose agents the SPANK plugin started. It starts nothing;
 * agents join by themselves (parade launch, parade-agent, the plugin), and
 * status counts those connected. It cannot scale. */
#include "launcher.h"

static int none_start(pd_launcher *l, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	l->target = 0;
	return 0;
}

const pd_launcher_ops pd_launcher_none = {
	.name = "none",
	.own_settings = 1,
	.start = none_start,
};
