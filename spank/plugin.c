/* plugin.c - parade.so's dispatch: the SPANK entry points and the option
 * table, switching on spank_context() into local.c (srun, sbatch, salloc)
 * and remote.c (slurmstepd). Every other context (slurmd, prolog/epilog)
 * only registers the options and does nothing else. What the contexts
 * share lives in common.c; this file holds no logic of its own. */
#include "plugin.h"
#include "common.h"
#include "local.h"
#include "remote.h"

SPANK_PLUGIN(parade, 1)

static int opt_workers(int val, const char *optarg, int remote);
static int opt_controller(int val, const char *optarg, int remote);

static struct spank_option options[] = {
    {"parade-workers", "N",
     "Start N parade agents for this step (spread over its nodes) that wait for a "
     "parade controller; task 0 finds the session in PARADE_STEP_SESSION.",
     1, 0, opt_workers},
    {"parade-controller", "FILE",
     "With --parade-workers: the agents join the controller of this connection file "
     "instead (default: $PARADE_CONNECT if set).",
     1, 0, opt_controller},
    SPANK_OPTIONS_TABLE_END,
};

static int local_context(void)
{
	spank_context_t c = spank_context();

	return c == S_CTX_LOCAL || c == S_CTX_ALLOCATOR;
}

static int opt_workers(int val, const char *optarg, int remote)
{
	(void)val;
	pd_sp_take_workers(optarg);
	if (!remote && local_context())
		return pd_local_workers();
	return 0;
}

static int opt_controller(int val, const char *optarg, int remote)
{
	(void)val;
	(void)remote;
	pd_sp_take_controller(optarg);
	return 0;
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	spank_context_t ctx = spank_context();
	int rv = 0;

	if (pd_sp_configure(ac, av) < 0) {
		/* srun/sbatch/salloc refuse to run; slurmstepd goes on (failing
		 * a step's init can drain the node) and tells the step's tasks
		 * if --parade-workers asks for agents */
		if (ctx == S_CTX_LOCAL || ctx == S_CTX_ALLOCATOR)
			rv = -1;
	}
	for (size_t i = 0; options[i].name; i++) {
		spank_err_t e = spank_option_register(sp, &options[i]);
		if (e != ESPANK_SUCCESS && ctx != S_CTX_SLURMD && ctx != S_CTX_JOB_SCRIPT) {
			pd_sp_error("cannot register --%s: %s", options[i].name, spank_strerror(e));
			if (ctx != S_CTX_REMOTE)
				rv = -1;
		}
	}
	return rv;
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	(void)sp;
	(void)ac;
	(void)av;
	if (local_context() && pd_sp.cfg_ok)
		return pd_local_init_post_opt();
	return 0;
}

int slurm_spank_local_user_init(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	if (spank_context() == S_CTX_LOCAL && pd_sp.cfg_ok)
		return pd_local_user_init(sp);
	return 0;
}

int slurm_spank_user_init(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	if (spank_context() == S_CTX_REMOTE)
		return pd_remote_user_init(sp);
	return 0;
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	if (spank_context() == S_CTX_REMOTE)
		return pd_remote_task_init(sp);
	return 0;
}

int slurm_spank_task_exit(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	if (spank_context() == S_CTX_REMOTE)
		return pd_remote_task_exit(sp);
	return 0;
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	if (spank_context() == S_CTX_REMOTE)
		return pd_remote_exit(sp);
	return 0;
}

void pd_spank_reset(void)
{
	pd_sp_reset();
	pd_local_reset();
	pd_remote_reset();
}
