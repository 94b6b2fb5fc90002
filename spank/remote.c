/* remote.c - slurmstepd (S_CTX_REMOTE).
 *
 * user_init (real uid 0, effective uid the user) starts this node's share
 * of the step's agents and sets the tasks' environment; task_init (in each
 * task, as the user) reports problems; the last local task_exit asks the
 * agents to leave (proctrack SIGKILLs what is left right after it); exit
 * (root) makes sure none is left. A problem here never fails the step:
 * failing user_init can drain the node, so it is recorded and told to the
 * tasks through PARADE_SPANK_ERROR.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_cmd.h"
#include "agents.h"
#include "common.h"
#include "remote.h"
#include "session.h" /* its names only (PD_SF_*, PD_HOME_DEFAULT, PD_SESSIONS_DIR): the plugin links no lib/session.c */

#define START_TIMEOUT_MS 10000
#define TASK_EXIT_GRACE_MS 1000 /* after the last task, before proctrack's SIGKILL */
#define EXIT_GRACE_MS 2000
#define PATHLEN 4200

static struct {
	int user_init_done;
	int act;          /* this step runs agents */
	char error[1024]; /* the first problem, for the tasks */
	unsigned tasks_exited;
	int stopping;
} R;

void pd_remote_reset(void)
{
	memset(&R, 0, sizeof(R));
	pd_agents_forget();
}

const char *pd_remote_error(void)
{
	return R.error;
}

static void __attribute__((format(printf, 1, 2))) problem(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* at error level slurmstepd would also show it on srun's stderr;
	 * task_init prints it there once, at error level (for the log too) */
	slurm_info("parade: %s", msg);
	if (!R.error[0])
		snprintf(R.error, sizeof(R.error), "%s", msg);
}

/* A variable of the job's environment, or NULL (unset, empty, too long). */
static const char *job_env(spank_t sp, const char *name, char *buf, int len)
{
	if (spank_getenv(sp, name, buf, len) != ESPANK_SUCCESS || !buf[0])
		return NULL;
	return buf;
}

static void task_env(spank_t sp, const char *name, const char *value)
{
	spank_err_t e = spank_setenv(sp, name, value, 1);

	if (e != ESPANK_SUCCESS)
		problem("cannot set %s for the tasks: %s", name, spank_strerror(e));
}

/* Everything the agents of this node need, prepared before any fork. */
struct launch {
	char session[128], stepname[16], nodename[256], num[16];
	char home[PATHLEN], sessions[PATHLEN], logdir[PATHLEN], conn[PATHLEN];
	char controller[PATHLEN];
	pd_agent_cmd cmd;
	pd_agent_argv argv;
	pd_agent_env env; /* the agents' whole environment */
	gid_t groups[NGROUPS_MAX + 1];
	pd_agent_spec spec;
};

static int fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The user, PARADE_HOME and the paths. 0 or -1 after problem(). */
static int prepare_paths(spank_t sp, struct launch *l, uid_t uid, uint32_t jobid)
{
	struct passwd pw, *pwp = NULL;
	char *pwbuf = NULL, tmp[PATHLEN];
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	int rv = -1, e;

	if (sz < 16384)
		sz = 16384;
	pwbuf = malloc((size_t)sz);
	if (!pwbuf) {
		problem("out of memory");
		return -1;
	}
	e = getpwuid_r(uid, &pw, pwbuf, (size_t)sz, &pwp);
	if (e || !pwp) {
		problem("cannot look up user %u: %s", (unsigned)uid,
		        e ? strerror(e) : "no such user");
		goto out;
	}
	if (pd_agent_env_add(&l->env, "HOME", pw.pw_dir) < 0 ||
	    pd_agent_env_add(&l->env, "USER", pw.pw_name) < 0 ||
	    pd_agent_env_add(&l->env, "LOGNAME", pw.pw_name) < 0)
		goto toolong;
	if (job_env(sp, "PARADE_HOME", tmp, sizeof(tmp))) {
		if (fmt(l->home, sizeof(l->home), "%s", tmp) < 0)
			goto toolong;
	} else if (fmt(l->home, sizeof(l->home), "%s/" PD_HOME_DEFAULT, pw.pw_dir) < 0) {
		goto toolong;
	}
	if (fmt(l->sessions, sizeof(l->sessions), "%s/" PD_SESSIONS_DIR, l->home) < 0 ||
	    fmt(l->conn, sizeof(l->conn), "%s/%s/" PD_SF_CONNECTION, l->sessions, l->session) < 0)
		goto toolong;
	if (l->controller[0])
		e = fmt(l->logdir, sizeof(l->logdir), "%s/slurm-%u.%s-agents", l->sessions,
		        (unsigned)jobid, l->stepname);
	else
		e = fmt(l->logdir, sizeof(l->logdir), "%s/%s", l->sessions, l->session);
	if (e < 0)
		goto toolong;
	rv = 0;
	goto out;
toolong:
	problem("the paths under PARADE_HOME (%s) are too long", l->home[0] ? l->home : pw.pw_dir);
out:
	free(pwbuf);
	return rv;
}

/* argv and the agents' minimal environment (none of the job's secrets),
 * after HOME, USER and LOGNAME (prepare_paths). 0 or -1 after problem(). */
static int prepare_exec(spank_t sp, struct launch *l, uint32_t jobid, uint32_t nodeid)
{
	char path[PATHLEN], num[2][16];
	pd_agent_cmd *c = &l->cmd;
	int e = 0;

	/* the step's own session: its controller may not have written the
	 * connection file yet, and may come and go within the grace period */
	c->program = pd_sp.cfg.agent;
	c->connect = l->controller[0] ? l->controller : l->conn;
	c->wait_connect = !l->controller[0];
	c->mode = "slurm";
	c->grace_s = l->controller[0] ? 0 : 30;
	c->verbose = pd_sp.cfg.debug;
	if (pd_agent_cmd_argv(c, &l->argv) < 0) {
		problem("cannot build the agents' command line");
		return -1;
	}

	if (!job_env(sp, "PATH", path, sizeof(path)))
		snprintf(path, sizeof(path), "/usr/local/bin:/usr/bin:/bin");
	snprintf(num[0], sizeof(num[0]), "%u", (unsigned)jobid);
	snprintf(num[1], sizeof(num[1]), "%u", (unsigned)nodeid);
	e |= pd_agent_env_add(&l->env, "PATH", path);
	e |= pd_agent_env_add(&l->env, "PARADE_HOME", l->home);
	e |= pd_agent_env_add(&l->env, "SLURM_JOB_ID", num[0]);
	e |= pd_agent_env_add(&l->env, "SLURM_STEP_ID", l->stepname);
	e |= pd_agent_env_add(&l->env, "SLURM_NODEID", num[1]);
	e |= pd_agent_env_add(&l->env, "SLURMD_NODENAME", l->nodename);
	if (e) {
		problem("the agents' environment is too long");
		return -1;
	}
	return 0;
}

static void node_name(spank_t sp, char *buf, size_t len)
{
	const char *env;

	if (job_env(sp, "SLURMD_NODENAME", buf, (int)len))
		return;
	env = getenv("SLURMD_NODENAME");
	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	if (gethostname(buf, len) < 0)
		snprintf(buf, len, "localhost");
	buf[len - 1] = 0;
	buf[strcspn(buf, ".")] = 0;
}

static mode_t job_umask(spank_t sp)
{
	char buf[16], *end;
	unsigned long v;

	if (!job_env(sp, "SLURM_UMASK", buf, sizeof(buf)))
		return 022;
	v = strtoul(buf, &end, 8);
	return *end || v > 0777 ? 022 : (mode_t)v;
}

/* The controller: --parade-controller, else $PARADE_CONNECT, else the
 * step's own session (l->controller left empty); relative paths are the
 * job's (our cwd). 0 or -1 after problem(). */
static int controller_path(spank_t sp, struct launch *l)
{
	char tmp[PATHLEN], cwd[PATHLEN];
	const char *c;
	int e;

	if (!pd_sp.controller_seen && !job_env(sp, "PARADE_CONNECT", tmp, sizeof(tmp)))
		return 0;
	c = pd_sp.controller_seen ? pd_sp.controller : tmp;
	if (c[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		e = fmt(l->controller, sizeof(l->controller), "%s", c);
	else
		e = fmt(l->controller, sizeof(l->controller), "%s/%s", cwd, c);
	if (e < 0 || pd_sp.controller_long || !c[0]) {
		problem("--parade-controller: bad or too long path");
		return -1;
	}
	return 0;
}

/* l->spec from what prepare_paths and prepare_exec made. */
static void fill_spec(spank_t sp, struct launch *l, uid_t uid, gid_t gid, uint32_t nodeid)
{
	/* slurmstepd runs user_init with the user's groups already set */
	int ng = getgroups(NGROUPS_MAX, l->groups);

	l->spec.path = pd_sp.cfg.agent;
	l->spec.argv = l->argv.argv;
	l->spec.envp = l->env.envp;
	l->spec.uid = uid;
	l->spec.gid = gid;
	l->spec.groups = l->groups;
	l->spec.ngroups = ng < 0 ? 0 : ng;
	l->spec.umask = job_umask(sp);
	l->spec.nodeid = nodeid;
	l->spec.timeout_ms = START_TIMEOUT_MS;
	if (!l->controller[0] || pd_sp.cfg.agent_log == PD_LOG_SESSION) {
		l->spec.dirs[0] = l->home;
		l->spec.dirs[1] = l->sessions;
		l->spec.dirs[2] = l->logdir;
	}
	if (pd_sp.cfg.agent_log == PD_LOG_SESSION)
		l->spec.logdir = l->logdir;
	/* a connection file left by an earlier step of the same name (job ids
	 * restart with a new cluster) would send agents to a dead controller;
	 * node 0 clears it before its tasks (task 0: the controller) start */
	if (!l->controller[0] && nodeid == 0)
		l->spec.stale = l->conn;
}

static void start_agents(spank_t sp, uint32_t jobid, uint32_t stepid)
{
	struct launch *l = calloc(1, sizeof(*l));
	uint32_t nnodes = 0, nodeid = 0;
	uid_t uid;
	gid_t gid;
	unsigned share, failed;
	char err[1024], tmp[PATHLEN];

	if (!l) {
		problem("out of memory");
		return;
	}
	pd_spank_step_name(stepid, l->stepname, sizeof(l->stepname));
	pd_spank_session_name(jobid, stepid, l->session, sizeof(l->session));
	node_name(sp, l->nodename, sizeof(l->nodename));

	if (controller_path(sp, l) < 0)
		goto out;

	/* the tasks' environment */
	snprintf(l->num, sizeof(l->num), "%u", pd_sp.workers);
	task_env(sp, "PARADE_STEP_WORKERS", l->num);
	if (l->controller[0])
		spank_unsetenv(sp, "PARADE_STEP_SESSION");
	else
		task_env(sp, "PARADE_STEP_SESSION", l->session);
	if (pd_sp.cfg.port_lo) {
		snprintf(tmp, sizeof(tmp), "%u-%u", pd_sp.cfg.port_lo, pd_sp.cfg.port_hi);
		task_env(sp, "PARADE_PORT_RANGE", tmp);
	}

	if (spank_get_item(sp, S_JOB_NNODES, &nnodes) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_NODEID, &nodeid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &gid) != ESPANK_SUCCESS) {
		problem("cannot read the step's nodes and user from Slurm");
		goto out;
	}
	/* Slurm leaves nnodes 0 for the batch step: it runs on one node */
	if (stepid == PD_STEP_BATCH || nnodes == 0) {
		nnodes = 1;
		nodeid = 0;
	}
	share = pd_spank_node_share(pd_sp.workers, nnodes, nodeid);
	pd_sp_trace("step %u.%s on %s (node %u of %u): %u of %u agents for %s", (unsigned)jobid,
	            l->stepname, l->nodename, (unsigned)nodeid, (unsigned)nnodes, share,
	            pd_sp.workers, l->controller[0] ? l->controller : l->session);
	if (!share)
		goto out;
	if (prepare_paths(sp, l, uid, jobid) < 0 || prepare_exec(sp, l, jobid, nodeid) < 0)
		goto out;

	fill_spec(sp, l, uid, gid, nodeid);

	pd_sp_trace("starting %s %s %s ... as uid %u, logs in %s", l->argv.argv[0], l->argv.argv[1],
	            l->argv.argv[2], (unsigned)uid,
	            pd_sp.cfg.agent_log == PD_LOG_SESSION ? l->logdir : "/dev/null");
	err[0] = 0;
	failed = pd_agents_start(&l->spec, share, err, sizeof(err));
	if (failed)
		problem("%s: %u of %u agents did not start: %s", l->nodename, failed, share, err);
	else if (err[0])
		problem("%s: %s", l->nodename, err);
	for (unsigned i = 0; pd_sp.cfg.debug && pd_agents_pid(i) > 0; i++)
		pd_sp_trace("agent %u: pid %d", i, (int)pd_agents_pid(i));
out:
	free(l);
}

int pd_remote_user_init(spank_t sp)
{
	uint32_t jobid = 0, stepid = 0;
	char explicit[8], step[16];
	const char *ex;

	if (R.user_init_done)
		return 0;
	R.user_init_done = 1;
	if (!pd_sp.workers_seen)
		return 0;
	if (spank_get_item(sp, S_JOB_ID, &jobid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &stepid) != ESPANK_SUCCESS) {
		R.act = 1;
		problem("cannot read the job and step id from Slurm");
		return 0;
	}
	pd_spank_step_name(stepid, step, sizeof(step));
	ex = job_env(sp, PD_EXPLICIT_ENV, explicit, sizeof(explicit));
	if (!pd_spank_should_act(stepid, ex)) {
		/* an inner srun of a batch job with --parade-workers: that
		 * belongs to the batch script, not to this step */
		pd_sp_trace("step %u.%s: --parade-workers=%s is inherited, no agents here",
		            (unsigned)jobid, step, pd_sp.workers_arg);
		spank_unsetenv(sp, "PARADE_STEP_SESSION");
		spank_unsetenv(sp, "PARADE_STEP_WORKERS");
		spank_unsetenv(sp, "PARADE_SPANK_ERROR");
		return 0;
	}
	R.act = 1;
	spank_unsetenv(sp, "PARADE_SPANK_ERROR");
	if (!pd_sp.cfg_ok) {
		problem("plugstack.conf: %s", pd_sp.cfg_err);
		return 0;
	}
	if (pd_sp.workers_bad) {
		problem("%s", pd_sp.workers_err);
		return 0;
	}
	start_agents(sp, jobid, stepid);
	return 0;
}

int pd_remote_task_init(spank_t sp)
{
	int id = -1;

	if (!R.act || !R.error[0])
		return 0;
	(void)spank_setenv(sp, "PARADE_SPANK_ERROR", R.error, 1);
	/* one line per node, from its first task (stderr is the task's now) */
	if (spank_get_item(sp, S_TASK_ID, &id) == ESPANK_SUCCESS && id == 0)
		pd_sp_error("%s", R.error);
	return 0;
}

int pd_remote_task_exit(spank_t sp)
{
	uint32_t ntasks = 1;

	if (!R.act || R.stopping)
		return 0;
	if (spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, &ntasks) != ESPANK_SUCCESS || !ntasks)
		ntasks = 1;
	if (++R.tasks_exited < ntasks)
		return 0;
	R.stopping = 1;
	if (pd_agents_alive()) {
		pd_sp_trace("last local task exited: asking %u agents to leave", pd_agents_alive());
		pd_agents_signal(SIGTERM);
		pd_agents_wait(TASK_EXIT_GRACE_MS);
	}
	return 0;
}

int pd_remote_exit(spank_t sp)
{
	unsigned n = pd_agents_alive();

	(void)sp;
	if (n)
		pd_sp_trace("step ends: stopping %u agents", n);
	pd_agents_stop(EXIT_GRACE_MS);
	n = pd_agents_alive();
	if (n)
		pd_sp_error("%u agents did not end after SIGKILL", n);
	return 0;
}
