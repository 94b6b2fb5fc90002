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
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_cmd.h"
#include "agents.h"
#include "codec.h" /* PD_PROTO_VERSION only */
#include "common.h"
#include "hostlist.h"
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
	int fatal;        /* the tasks fail at once (task_init) */
	unsigned tasks_exited;
	int stopping;
	/* the step's connection text (its endpoint and secret), for the
	 * agents' stdin and each task's PARADE_STEP_FD; wiped at exit */
	char text[1200];
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
	pd_agent_env env; /* what the agents' environment sets over the job's */
	char **envp;      /* the agents' whole environment (merge_env) */
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

/* The names the agents' environment never takes from the job's: the
 * step's secret (taken out already; in case) and what the plugin tells
 * the step's tasks, parade's own secrets, and what prepare_exec sets
 * itself. */
static int env_dropped(const char *entry, const pd_agent_env *own)
{
	/* PARADE_STEP_* and PARADE_SPANK_* describe the step to its tasks:
	 * a task of an agent is not one (a `parade run` there is not the
	 * step's controller) */
	static const char *const secret[] = {"PARADE_STEP_", "PARADE_SPANK_", "PARADE_SECRET",
	                                     NULL};
	size_t n = strcspn(entry, "=");

	for (int i = 0; secret[i]; i++)
		if (!strncmp(entry, secret[i], strlen(secret[i])))
			return 1;
	for (size_t i = 0; i < own->n; i++)
		if (!strncmp(own->envp[i], entry, n) && own->envp[i][n] == '=')
			return 1;
	return 0;
}

/* The agents' whole environment: the job's, as a task of the step gets
 * it (what `module load` set before srun reaches the agents' tasks),
 * without parade's secrets, and l->env's variables over it. 0 or -1
 * after problem(). l->envp is freed with l. */
static int merge_env(spank_t sp, struct launch *l)
{
	char **job = NULL;
	size_t n = 0, k = 0;

	if (spank_get_item(sp, S_JOB_ENV, &job) != ESPANK_SUCCESS || !job)
		job = NULL;
	for (size_t i = 0; job && job[i]; i++)
		n++;
	l->envp = calloc(n + l->env.n + 1, sizeof(char *));
	if (!l->envp) {
		problem("out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (strchr(job[i], '=') && !env_dropped(job[i], &l->env))
			l->envp[k++] = job[i];
	for (size_t i = 0; i < l->env.n; i++)
		l->envp[k++] = l->env.envp[i];
	l->envp[k] = NULL;
	return 0;
}

/* Slots for each of this node's share agents: the step's CPUs on the
 * node divided among them (at least 1). */
static unsigned agent_slots(spank_t sp, unsigned share)
{
	uint16_t ncpus = 0;

	if (spank_get_item(sp, S_JOB_NCPUS, &ncpus) != ESPANK_SUCCESS || !share ||
	    ncpus < share)
		return 1;
	return ncpus / share;
}

/* argv and the agents' environment, after HOME, USER and LOGNAME
 * (prepare_paths). 0 or -1 after problem(). */
static int prepare_exec(spank_t sp, struct launch *l, uint32_t jobid, uint32_t nodeid,
                        unsigned share)
{
	char path[PATHLEN], num[2][16];
	pd_agent_cmd *c = &l->cmd;
	int e = 0;

	/* the step's own controller: endpoint and secret on stdin, kept open
	 * by slurmstepd (the agents leave when it goes); they wait for any
	 * number of controllers one after the other (several `parade run`
	 * in one batch script) */
	c->program = pd_sp.cfg.agent;
	c->connect = l->controller[0] ? l->controller : "-";
	c->stay = !l->controller[0];
	c->mode = "slurm";
	c->slots = agent_slots(sp, share);
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
	return merge_env(sp, l);
}

/* The step's connection text into R.text: the endpoint (node 0 of the
 * step, where task 0 runs, at the port srun chose) and the secret srun
 * made; both are taken out of the job's environment here, before any
 * task or agent starts. The batch step (one node, no srun) makes its
 * own. 0 or -1 after problem(). */
static int step_text(spank_t sp, struct launch *l, uint32_t stepid, uint32_t nnodes)
{
	char key[80] = "", port[16] = "", host[PD_HOST_MAX], list[8192];
	int have = job_env(sp, PD_STEP_KEY_ENV, key, sizeof(key)) &&
	           job_env(sp, PD_STEP_PORT_ENV, port, sizeof(port));
	int rv = -1, n;
	unsigned long pn;
	char *end;

	spank_unsetenv(sp, PD_STEP_KEY_ENV);
	spank_unsetenv(sp, PD_STEP_PORT_ENV);
	if (!have && stepid != PD_STEP_BATCH && nnodes > 1) {
		problem("srun passed no secret for this step's agents (is parade.so in the "
		        "plugstack where srun runs, and is srun's environment exported?)");
		goto out;
	}
	if (!have && pd_sp_make_key(key, port) < 0) {
		problem("cannot make a secret for this step's agents");
		goto out;
	}
	pn = strtoul(port, &end, 10);
	if (!pd_spank_key_ok(key) || *end || !pn || pn > 65535) {
		problem("the step's secret or port from srun is malformed");
		goto out;
	}
	if (stepid == PD_STEP_BATCH || nnodes <= 1 ||
	    (!job_env(sp, "SLURM_STEP_NODELIST", list, sizeof(list)) &&
	     !job_env(sp, "SLURM_JOB_NODELIST", list, sizeof(list))))
		snprintf(host, sizeof(host), "%s", l->nodename);
	else if (pd_hostlist_first(list, host, sizeof(host)) < 0) {
		problem("cannot find the step's first node in '%.200s'", list);
		goto out;
	}
	n = snprintf(R.text, sizeof(R.text),
	             "version=%u\nsession=%s\nendpoint=tls+tcp://%s:%lu\npsk_identity=parade\n"
	             "secret=%s\nend\n",
	             (unsigned)PD_PROTO_VERSION, l->session, host, pn, key);
	if (n < 0 || (size_t)n >= sizeof(R.text)) {
		memset(R.text, 0, sizeof(R.text));
		problem("the step's connection text is too long");
		goto out;
	}
	rv = 0;
out:
	memset(key, 0, sizeof(key));
	return rv;
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
	l->spec.envp = l->envp;
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
	/* a step's controller file must be readable here, as the user: the
	 * step fails at once when it is not (task_init) */
	if (l->controller[0])
		l->spec.check_file = l->controller;
	else
		l->spec.stdin_text = R.text;
	/* a connection file an older parade left for a step of the same name
	 * (job ids restart with a new cluster): no one reads it any more */
	if (!l->controller[0] && nodeid == 0)
		l->spec.stale = l->conn;
}

/* The program name in the job's PATH, into out. 0 or -1. */
static int find_program(spank_t sp, const char *name, char *out, size_t len)
{
	char path[PATHLEN], *save = NULL;

	if (!job_env(sp, "PATH", path, sizeof(path)))
		snprintf(path, sizeof(path), "/usr/local/bin:/usr/bin:/bin");
	for (char *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save))
		if (*d == '/' && fmt(out, len, "%s/%s", d, name) == 0 && access(out, X_OK) == 0)
			return 0;
	return -1;
}

/* A batch step of a job on several nodes: the batch script runs on the
 * job's first node only, so the agents of the other nodes come from one
 * srun step over them, started here as the user like the agents (and
 * ended with them), whose tasks are agents: srun hands the connection
 * text on its stdin (a pipe slurmstepd keeps) to every task. `rest`
 * agents in block distribution over the other nodes, which is how
 * pd_hostlist_share spreads them; the job's CPUs may be fewer
 * (--overcommit: the user asked for that many). */
static void spread_others(spank_t sp, struct launch *l, unsigned long jnodes, unsigned rest)
{
	char srun[PATHLEN], nodes[32], ntasks[32], exclude[PATHLEN], err[1024];
	char *argv[PD_AGENT_ARGV_MAX + 16];
	pd_agent_spec spec = l->spec;
	size_t n = 0;

	if (find_program(sp, "srun", srun, sizeof(srun)) < 0) {
		problem("cannot find srun on the job's PATH to start the agents of the job's "
		        "other nodes");
		return;
	}
	snprintf(nodes, sizeof(nodes), "--nodes=%lu", jnodes - 1 < rest ? jnodes - 1 : rest);
	snprintf(ntasks, sizeof(ntasks), "--ntasks=%u", rest);
	if (fmt(exclude, sizeof(exclude), "--exclude=%s", l->nodename) < 0)
		return;
	argv[n++] = srun;
	argv[n++] = "--quiet";
	argv[n++] = "--overlap";
	argv[n++] = "--overcommit";
	argv[n++] = "--kill-on-bad-exit=0";
	argv[n++] = "--distribution=block";
	argv[n++] = nodes;
	argv[n++] = ntasks;
	argv[n++] = exclude;
	for (size_t i = 0; l->argv.argv[i]; i++)
		argv[n++] = l->argv.argv[i];
	argv[n] = NULL;
	spec.path = srun;
	spec.argv = argv;
	memset(spec.dirs, 0, sizeof(spec.dirs));
	spec.stale = spec.check_file = NULL;
	spec.logname = "srun-agents.log";
	pd_sp_trace("starting %s for %u agents on the job's other nodes", srun, rest);
	err[0] = 0;
	if (pd_agents_start(&spec, 1, err, sizeof(err)))
		problem("%s: cannot start the agents of the job's other nodes: %s", l->nodename,
		        err);
}

/* The batch step's nodes: the job's (SLURM_JOB_NUM_NODES), 1 if unknown. */
static unsigned long job_nodes(spank_t sp)
{
	char buf[32], *end;
	unsigned long n;

	if (!job_env(sp, "SLURM_JOB_NUM_NODES", buf, sizeof(buf)))
		return 1;
	n = strtoul(buf, &end, 10);
	return *end || !n || n > PD_HOSTLIST_MAX ? 1 : n;
}

static void start_agents(spank_t sp, uint32_t jobid, uint32_t stepid)
{
	struct launch *l = calloc(1, sizeof(*l));
	uint32_t nnodes = 0, nodeid = 0;
	uid_t uid;
	gid_t gid;
	unsigned share, failed, rest = 0;
	unsigned long jn = 1;
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
	/* Slurm leaves nnodes 0 for the batch step: it runs on one node, and
	 * the job's other nodes get theirs through srun (spread_others) */
	if (stepid == PD_STEP_BATCH || nnodes == 0) {
		nnodes = 1;
		nodeid = 0;
		jn = stepid == PD_STEP_BATCH ? job_nodes(sp) : 1;
	}
	if (!l->controller[0] && step_text(sp, l, stepid, nnodes) < 0)
		goto out;
	if (jn > 1) {
		share = pd_spank_node_share(pd_sp.workers, jn, 0);
		rest = pd_sp.workers - share;
	} else {
		share = pd_spank_node_share(pd_sp.workers, nnodes, nodeid);
	}
	pd_sp_trace("step %u.%s on %s (node %u of %u): %u of %u agents for %s", (unsigned)jobid,
	            l->stepname, l->nodename, (unsigned)nodeid, (unsigned)nnodes, share,
	            pd_sp.workers, l->controller[0] ? l->controller : l->session);
	if (!share)
		goto out;
	if (prepare_paths(sp, l, uid, jobid) < 0 || prepare_exec(sp, l, jobid, nodeid, share) < 0)
		goto out;

	fill_spec(sp, l, uid, gid, nodeid);

	pd_sp_trace("starting %s %s %s ... as uid %u, logs in %s", l->argv.argv[0], l->argv.argv[1],
	            l->argv.argv[2], (unsigned)uid,
	            pd_sp.cfg.agent_log == PD_LOG_SESSION ? l->logdir : "/dev/null");
	err[0] = 0;
	failed = pd_agents_start(&l->spec, share, err, sizeof(err));
	if (failed && pd_agents_check_failed()) {
		/* the tasks would wait for agents that cannot join: fail them */
		R.fatal = 1;
		problem("%s: --parade-controller: %s", l->nodename, err);
	} else if (failed)
		problem("%s: %u of %u agents did not start: %s", l->nodename, failed, share, err);
	else if (err[0])
		problem("%s: %s", l->nodename, err);
	if (rest)
		spread_others(sp, l, jn, rest);
	for (unsigned i = 0; pd_sp.cfg.debug && pd_agents_pid(i) > 0; i++)
		pd_sp_trace("agent %u: pid %d", i, (int)pd_agents_pid(i));
out:
	free(l->envp);
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

/* In the task, as the user, before exec: a sealed memory file holding
 * the step's connection text, at a descriptor above 9 that exec keeps,
 * named by PARADE_STEP_FD (run_step.h: each `parade run` reads it from
 * its start, so several runs one after the other in a batch script find
 * it). A failure only means that `parade run` there cannot be the
 * controller; it says so itself. */
static void task_text(spank_t sp)
{
	size_t len = strlen(R.text);
	int m = memfd_create("parade-step", MFD_CLOEXEC | MFD_ALLOW_SEALING), fd = -1;
	char num[16];

	if (m < 0)
		return;
	if (write(m, R.text, len) == (ssize_t)len &&
	    fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0 &&
	    lseek(m, 0, SEEK_SET) == 0)
		fd = fcntl(m, F_DUPFD, 10); /* without close-on-exec */
	close(m);
	if (fd < 0)
		return;
	snprintf(num, sizeof(num), "%d", fd);
	(void)spank_setenv(sp, PD_STEP_FD_ENV, num, 1);
}

int pd_remote_task_init(spank_t sp)
{
	int id = -1;

	if (!R.act)
		return 0;
	if (R.text[0])
		task_text(sp);
	if (!R.error[0])
		return 0;
	(void)spank_setenv(sp, "PARADE_SPANK_ERROR", R.error, 1);
	/* one line per node, from its first task (stderr is the task's now) */
	if (spank_get_item(sp, S_TASK_ID, &id) == ESPANK_SUCCESS && id == 0)
		pd_sp_error("%s", R.error);
	/* a task that would wait for agents that cannot join fails now */
	return R.fatal ? -1 : 0;
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
	memset(R.text, 0, sizeof(R.text));
	n = pd_agents_alive();
	if (n)
		pd_sp_error("%u agents did not end after SIGKILL", n);
	return 0;
}
