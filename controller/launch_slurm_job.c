/* launch_slurm_job.c - the "slurm" launcher (launcher.h, launch_slurm.h):
 * each job holds N nodes; once it runs, the controller starts its agents
 * with srun --jobid (the connection text on srun's stdin), and watches it.
 *
 * A job goes PENDING -> STEP (srun runs) -> ENDING (srun exited; waiting
 * for the job's final state) -> DONE. Once a second a timer asks scontrol
 * about the jobs that are pending or ending (never about running ones:
 * their srun's exit is the news). A job that ends DONE without being asked
 * to is a failure: it is replaced by a new job of the same size while the
 * session has replacements left (--slurm-retries), else the launcher gives
 * up (health), and with no agent left the run ends with status 2 and the
 * job's state and reason. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd.h"
#include "agent_cmd.h"
#include "launch_slurm.h"
#include "launcher.h"
#include "log.h"
#include "spawn.h"
#include "ssh.h"

extern char **environ;

#define MAX_JOBS 64
#define TICK_MS 1000u
/* a job whose step ended still reads RUNNING for a moment at its time
 * limit; after this long it is the step that failed, not the job */
#define STEP_ALONE_MS 3000u
/* how long an ending job may take to reach its final state (Slurm's
 * KillWait is 30 s by default) */
#define ENDING_MAX_MS 45000u
#define STOP_GRACE_MS 5000u

enum { J_PENDING, J_STEP, J_ENDING, J_DONE };

typedef struct slurm_pool slurm_pool;

typedef struct sjob {
	slurm_pool *pool;
	char id[64];
	unsigned n;		  /* nodes = agents */
	int phase;
	pd_slurm_job_info ji;	  /* what scontrol said last */
	char final[32];		  /* DONE: the state it ended in (or "?") */
	pid_t srun;
	int pidfd, in_fd;
	int srun_st;		  /* srun's wait status */
	uint64_t ended_ms;	  /* when srun exited */
	int failed, left;
	char why[768];		  /* DONE: what happened, for status and the log */
	char log[4400];		  /* srun's output: a file in the session folder */
	off_t log_at;		  /* where this srun's output starts in it */
} sjob;

struct slurm_pool {
	pd_launcher *l;
	sjob jobs[MAX_JOBS];
	unsigned njobs;
	unsigned failures, retries;
	int stopping, gave_up;
	char gave_why[1000];
	pd_buf text;	/* the connection text: it holds the secret */
	pd_timer *tick;
	char agent[4096];
	pd_slurm_opts so; /* the run's, with the agents' --slots and -v */
};

static uint64_t now_ms(void)
{
	return pd_now_us() / 1000;
}

/* ---- submitting ---- */

/* Submits a job of n nodes; 0, 1 (--dry-run printed it) or -errno + err. */
static int submit(slurm_pool *p, unsigned n, char *err, size_t errlen)
{
	pd_launcher *l = p->l;
	pd_slurm_opts so = p->so;
	char name[160], path[4300];
	pd_buf script = {0};
	sjob *j;
	int rv;

	if (p->njobs == MAX_JOBS) {
		snprintf(err, errlen, "this session has submitted %d Slurm jobs already", MAX_JOBS);
		return -ENOSPC;
	}
	j = &p->jobs[p->njobs];
	so.n = n;
	snprintf(name, sizeof(name), "parade-%s", l->ctx.session);
	pd_session_sbatch_path(path, sizeof(path), l->ctx.dir, p->njobs ? p->njobs + 1 : 0);
	rv = pd_slurm_holder_script(&so, name, &script, err, errlen);
	if (rv == 0 && so.dry_run) {
		pd_slurm_srun srun;
		fwrite(pd_buf_head(&script), 1, pd_buf_size(&script), stdout);
		if (pd_slurm_srun_argv(&so, "JOBID", n, p->agent, &srun) == 0) {
			pd_buf line = {0};
			fputs("# once it runs, parade starts the agents with (the connection text "
			      "on srun's stdin):\n#", stdout);
			for (size_t i = 0; srun.argv[i]; i++) {
				const char *w = srun.argv[i];
				pd_buf_reset(&line);
				if (*w && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
						   "0123456789_./=:,+-@%") == strlen(w))
					pd_buf_append(&line, w, strlen(w));
				else
					pd_agent_cmd_quote(&line, w, strlen(w));
				printf(" %.*s", (int)pd_buf_size(&line), (const char *)pd_buf_head(&line));
			}
			putchar('\n');
			pd_buf_free(&line);
		}
		fflush(stdout);
		rv = 1;
	} else if (rv == 0) {
		memset(j, 0, sizeof(*j));
		j->pool = p;
		j->n = n;
		j->pidfd = j->in_fd = -1;
		j->phase = J_PENDING;
		snprintf(j->ji.state, sizeof(j->ji.state), "PENDING");
		rv = pd_slurm_submit(&so, path, &script, j->id, sizeof(j->id), err, errlen);
		if (rv == 0) {
			p->njobs++;
			pd_info("submitted Slurm job %s: %u node(s), one agent each (script %s)", j->id,
				n, path);
		}
	}
	pd_buf_free(&script);
	return rv;
}

/* ---- srun ---- */

/* The controller's environment less Slurm's job variables (it may itself
 * run in a job): srun takes its job from --jobid alone. malloc'd array of
 * borrowed strings, or NULL. */
static char **srun_env(void)
{
	size_t n = 0, k = 0;
	char **e;

	while (environ[n])
		n++;
	if (!(e = calloc(n + 1, sizeof(*e))))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "SLURM_", 6) || !strncmp(environ[i], "SLURM_CONF=", 11))
			e[k++] = environ[i];
	e[k] = NULL;
	return e;
}

/* The line of srun's output that says most: slurmstepd's (its "execve():
 * ...: No such file or directory", "*** STEP ... CANCELLED ... DUE TO TIME
 * LIMIT ***"), else an agent's error, else srun's first error line, else
 * the last line. */
static void srun_said(sjob *j, char *out, size_t len)
{
	char buf[8192], *line, *save = NULL, *best[4] = {NULL, NULL, NULL, NULL};
	ssize_t got;
	int fd;

	out[0] = 0;
	fd = open(j->log, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	got = pread(fd, buf, sizeof(buf) - 1, j->log_at);
	close(fd);
	if (got <= 0)
		return;
	buf[got] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = 0;
		if (!*line || strstr(line, "Job step aborted"))
			continue;
		if (!best[0] && strstr(line, "slurmstepd") && strstr(line, "error"))
			best[0] = line;
		else if (!best[1] && !strncmp(line, "parade-agent: ", 14) && strstr(line, "error"))
			best[1] = line;
		else if (!best[2] && strstr(line, "error:"))
			best[2] = line;
		best[3] = line;
	}
	for (int i = 0; i < 4; i++)
		if (best[i]) {
			snprintf(out, len, "%.300s", best[i]);
			return;
		}
}

static void finish(sjob *j);
static void fail(sjob *j, int retry, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void srun_ended(sjob *j, int st)
{
	slurm_pool *p = j->pool;
	char said[400];

	if (j->pidfd >= 0) {
		pd_loop_del(p->l->ctx.loop, j->pidfd);
		close(j->pidfd);
		j->pidfd = -1;
	}
	if (j->in_fd >= 0) {
		close(j->in_fd);
		j->in_fd = -1;
	}
	j->srun = 0;
	j->srun_st = st;
	j->ended_ms = now_ms();
	if (p->stopping) {
		j->phase = J_DONE;
		return;
	}
	pd_slurm_job_query(j->id, &j->ji);
	srun_said(j, said, sizeof(said));
	/* Every agent left, and the job goes on: they were told to leave
	 * (scale down), so the allocation is not needed. An agent that Slurm
	 * signals leaves with status 0 too: the job's state (COMPLETING,
	 * CANCELLED...) or slurmstepd's line in srun's output tells them
	 * apart. */
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strcmp(j->ji.state, "RUNNING") &&
	    !strstr(said, "*** STEP")) {
		j->left = 1;
		pd_debug("Slurm job %s: its agents left; cancelling the job", j->id);
		pd_slurm_cancel(j->id);
		snprintf(j->final, sizeof(j->final), "CANCELLED");
		snprintf(j->why, sizeof(j->why), "its agents left");
		j->phase = J_DONE;
		return;
	}
	j->phase = J_ENDING;
	finish(j);
}

static void on_srun_exit(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	sjob *j = arg;
	int st = 0;

	(void)l;
	(void)fd;
	(void)ev;
	if (pd_reap(j->srun, &st, NULL, 1) == j->srun)
		srun_ended(j, st);
}

/* The job runs: its agents start as a step of it. */
static void start_step(sjob *j)
{
	slurm_pool *p = j->pool;
	pd_launcher *l = p->l;
	int in[2] = {-1, -1}, logfd = -1, exec_err = 0, rv;
	char name[96], **env = NULL;
	pd_slurm_srun srun;
	pd_spawn_opts sp;
	struct stat sb;
	pid_t pid;

	snprintf(name, sizeof(name), "%s%s.log", PD_SF_SRUN_LOG, j->id);
	pd_session_path(j->log, sizeof(j->log), l->ctx.dir, name);
	if (pd_slurm_srun_argv(&p->so, j->id, j->n, p->agent, &srun) < 0) {
		fail(j, 0, "cannot start its agents: their command line is too long");
		return;
	}
	logfd = open(j->log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (logfd < 0 || pipe2(in, O_CLOEXEC) < 0 || !(env = srun_env())) {
		rv = errno;
		fail(j, 0, "cannot start its agents: %s: %s", logfd < 0 ? j->log : "srun",
		     strerror(rv));
		goto out;
	}
	j->log_at = fstat(logfd, &sb) == 0 ? sb.st_size : 0;
	pd_spawn_init(&sp, srun.argv);
	sp.envp = env;
	sp.fd[0] = in[0];
	sp.fd[1] = logfd;
	sp.fd[2] = logfd;
	sp.death_signal = SIGTERM;
	if ((rv = pd_spawn(&sp, &pid, &exec_err)) < 0) {
		fail(j, 0, "cannot start srun: %s", strerror(-rv));
		goto out;
	}
	if (exec_err) {
		pd_reap(pid, NULL, NULL, 0);
		fail(j, 0, "cannot run srun: %s", strerror(exec_err));
		goto out;
	}
	j->srun = pid;
	j->in_fd = in[1];
	in[1] = -1;
	j->phase = J_STEP;
	(void)pd_write_all(j->in_fd, pd_buf_head(&p->text), pd_buf_size(&p->text));
	j->pidfd = pd_pidfd(pid);
	if (j->pidfd >= 0 && pd_loop_add(l->ctx.loop, j->pidfd, PD_EV_IN, on_srun_exit, j) < 0) {
		close(j->pidfd);
		j->pidfd = -1;
	}
	pd_info("Slurm job %s runs on %s: starting its %u agent(s) (srun output in %s)", j->id,
		j->ji.nodes[0] ? j->ji.nodes : "its nodes", j->n, j->log);
out:
	free(env);
	if (logfd >= 0)
		close(logfd);
	if (in[0] >= 0)
		close(in[0]);
	if (in[1] >= 0)
		close(in[1]);
}

/* ---- watching ---- */

static void cancel_if_alive(sjob *j)
{
	if (!pd_slurm_state_final(j->ji.state))
		pd_slurm_cancel(j->id);
}

/* The job is over for this session, without being asked: replace it while
 * replacements are left (and retry: a job like it could run), else give
 * up. */
static void fail(sjob *j, int retry, const char *fmt, ...)
{
	slurm_pool *p = j->pool;
	char what[480], err[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	cancel_if_alive(j);
	j->phase = J_DONE;
	j->failed = 1;
	if (!j->final[0])
		snprintf(j->final, sizeof(j->final), "%s", j->ji.state[0] ? j->ji.state : "?");
	snprintf(j->why, sizeof(j->why), "%s", what);
	if (p->stopping)
		return;
	p->failures++;
	if (retry && p->failures <= p->retries) {
		pd_warn("Slurm job %s %s; submitting a job to replace it (replacement %u of %u, "
			"--slurm-retries)", j->id, what, p->failures, p->retries);
		if (submit(p, j->n, err, sizeof(err)) == 0)
			return;
		snprintf(p->gave_why, sizeof(p->gave_why),
			 "Slurm job %s %s, and its replacement could not be submitted: %s; giving up",
			 j->id, what, err);
	} else {
		snprintf(p->gave_why, sizeof(p->gave_why),
			 "Slurm job %s %s; giving up: %u job(s) ended before they were asked to "
			 "(--slurm-retries %u)", j->id, what, p->failures, p->retries);
		if (!retry)
			snprintf(p->gave_why, sizeof(p->gave_why),
				 "Slurm job %s %s; giving up (a job like it cannot start either)",
				 j->id, what);
	}
	/* logged when the run ends on it (health), or here when other jobs'
	 * agents go on */
	pd_warn("Slurm job %s %s; no replacement left (--slurm-retries %u)", j->id, what,
		p->retries);
	p->gave_up = 1;
}

/* "STATE" or "STATE (reason R)" of what scontrol said */
static const char *state_words(const pd_slurm_job_info *ji, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", ji->state, ji->reason[0] ? " (reason " : "", ji->reason,
		 ji->reason[0] ? ")" : "");
	return buf;
}

/* An ending job (its srun exited, not asked to): decide once its state
 * says how it ended. */
static void finish(sjob *j)
{
	uint64_t since = now_ms() - j->ended_ms;
	char said[400], sw[200], code[64];
	const char *st = j->ji.state;

	srun_said(j, said, sizeof(said));
	if (WIFEXITED(j->srun_st))
		snprintf(code, sizeof(code), "srun exited %d", WEXITSTATUS(j->srun_st));
	else
		snprintf(code, sizeof(code), "srun ended by signal %d", WTERMSIG(j->srun_st));
	state_words(&j->ji, sw, sizeof(sw));
	if (pd_slurm_state_final(st)) {
		snprintf(j->final, sizeof(j->final), "%s", st);
		fail(j, 1, "ended %s%s%s", sw, said[0] ? ": " : "", said);
	} else if (!strcmp(st, "PENDING") || !strcmp(st, "REQUEUED")) {
		/* Slurm requeued it (preemption, node failure): it runs again
		 * under the same id, and its agents start again then; it counts
		 * against --slurm-retries as a replacement would */
		if (j->pool->failures + 1 > j->pool->retries) {
			fail(j, 1, "was requeued (%s)%s%s", sw, said[0] ? ": " : "", said);
			return;
		}
		j->pool->failures++;
		j->phase = J_PENDING;
		pd_warn("Slurm job %s was requeued (%s); its agents start again when it runs "
			"(replacement %u of %u, --slurm-retries)", j->id, sw, j->pool->failures,
			j->pool->retries);
	} else if (!strcmp(st, "RUNNING") && since >= STEP_ALONE_MS) {
		/* the job outlives its step: the agents failed to start or all
		 * failed */
		snprintf(j->final, sizeof(j->final), "CANCELLED");
		fail(j, 1, "lost its agents' step (%s%s%s) while the job was RUNNING; job cancelled",
		     code, said[0] ? ": " : "", said);
	} else if (since >= ENDING_MAX_MS) {
		fail(j, 1, "ended its agents' step (%s%s%s); the job still reads %s", code,
		     said[0] ? ": " : "", said, sw);
	}
}

static void tick_job(sjob *j)
{
	char sw[200];

	if (j->phase != J_PENDING && j->phase != J_ENDING)
		return;
	if (j->phase == J_ENDING) {
		pd_slurm_job_query(j->id, &j->ji);
		finish(j);
		return;
	}
	pd_slurm_job_query(j->id, &j->ji);
	state_words(&j->ji, sw, sizeof(sw));
	if (!strcmp(j->ji.state, "RUNNING"))
		start_step(j);
	else if (pd_slurm_state_final(j->ji.state))
		fail(j, 1, "ended %s before its agents started", sw);
	else if (!strcmp(j->ji.state, "PENDING") && pd_slurm_reason_hopeless(j->ji.reason))
		fail(j, 0, "cannot start: it is %s, which waiting does not change; job cancelled", sw);
}

static void tick(pd_loop *lp, void *arg)
{
	slurm_pool *p = arg;

	(void)lp;
	if (p->stopping)
		return;
	/* fail() may submit: the new job is looked at next time */
	for (unsigned i = 0, n = p->njobs; i < n; i++) {
		sjob *j = &p->jobs[i];
		int st = 0;
		/* no pidfd (an old kernel): see whether srun has exited */
		if (j->phase == J_STEP && j->pidfd < 0 && pd_reap(j->srun, &st, NULL, 1) == j->srun)
			srun_ended(j, st);
		tick_job(j);
	}
	pd_timer_start(p->tick, TICK_MS);
}

/* ---- the launcher ---- */

/* agents on other nodes need a TCP listener */
static const char *slurm_listen_url(const pd_run_opts *o)
{
	(void)o;
	return "tls+tcp://0.0.0.0:0";
}

/* whether `--slots K` was given (it has a default of its own, 1, for the
 * local launcher) */
static unsigned slots_given(const pd_run_opts *o)
{
	const char *key, *val;

	for (unsigned i = 0; (key = pd_run_given_key(o, i, &val)) != NULL; i++)
		if (!strcmp(key, "slots"))
			return o->agent_slots;
	return 0;
}

static int slurm_start(pd_launcher *l, char *err, size_t errlen)
{
	slurm_pool *p;
	const pd_launch_ctx *x = &l->ctx;

	if (!(p = calloc(1, sizeof(*p)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->priv = p;
	p->l = l;
	p->so = x->o->slurm;
	p->so.slots = slots_given(x->o);
	p->so.verbose = pd_log_get_level() >= PD_LOG_DEBUG;
	p->retries = p->so.retries_set ? p->so.retries : PD_SLURM_RETRIES_DEFAULT;
	l->target = x->o->slurm.n;
	pd_agent_path(p->agent, sizeof(p->agent));
	if (!x->o->slurm.dry_run) {
		/* the agents read the session's endpoint and secret from srun's
		 * stdin (launch_slurm.h); a later replacement job needs them too */
		if (pd_ssh_conn_text(x->cf, x->cf->endpoint, &p->text) < 0 ||
		    !(p->tick = pd_timer_new(x->loop, tick, p))) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		/* a write to an srun that is gone must not end the controller */
		signal(SIGPIPE, SIG_IGN);
	}
	{
		int rv = submit(p, x->o->slurm.n, err, errlen);
		if (rv == 0)
			pd_timer_start(p->tick, TICK_MS);
		return rv;
	}
}

static int slurm_grow(pd_launcher *l, unsigned n, char *err, size_t errlen)
{
	int rv = submit(l->priv, n, err, errlen);

	return rv > 0 ? 0 : rv;
}

static void slurm_describe(pd_launcher *l, pd_jw *w)
{
	slurm_pool *p = l->priv;

	for (unsigned i = 0; p && i < p->njobs; i++) {
		const sjob *j = &p->jobs[i];
		const char *state = j->phase == J_STEP	 ? "RUNNING"
				    : j->phase == J_DONE ? j->final
							 : j->ji.state;
		pd_jw_obj_begin(w);
		pd_jw_key(w, "id");
		pd_jw_str(w, j->id);
		pd_jw_key(w, "state");
		pd_jw_str(w, state[0] ? state : "?");
		pd_jw_key(w, "reason");
		pd_jw_str(w, j->phase == J_DONE ? j->why : j->ji.reason);
		pd_jw_key(w, "nodes");
		pd_jw_u64(w, j->n);
		pd_jw_key(w, "ended");
		pd_jw_bool(w, j->phase == J_DONE);
		pd_jw_obj_end(w);
	}
}

static void slurm_health(pd_launcher *l, pd_launcher_health *h)
{
	slurm_pool *p = l->priv;
	unsigned live = 0;

	h->alive = (unsigned)pd_server_agents(l->ctx.srv);
	for (unsigned i = 0; p && i < p->njobs; i++)
		live += p->jobs[i].phase != J_DONE;
	if (p && p->gave_up && !live) {
		h->gave_up = 1;
		snprintf(h->why, sizeof(h->why), "%s", p->gave_why);
	}
}

/* The agents got BYE: the end of srun's stdin tells them to go too; then
 * srun is ended and reaped, and scancel ends each job. */
static void slurm_stop(pd_launcher *l)
{
	slurm_pool *p = l->priv;
	pid_t pids[MAX_JOBS];

	if (!p || p->stopping)
		return;
	p->stopping = 1;
	pd_timer_stop(p->tick);
	for (unsigned i = 0; i < p->njobs; i++) {
		sjob *j = &p->jobs[i];
		pids[i] = j->srun;
		if (j->in_fd >= 0) {
			close(j->in_fd);
			j->in_fd = -1;
		}
		if (j->pidfd >= 0) {
			pd_loop_del(l->ctx.loop, j->pidfd);
			close(j->pidfd);
			j->pidfd = -1;
		}
	}
	pd_stop_groups(pids, p->njobs, STOP_GRACE_MS, 2000);
	for (unsigned i = 0; i < p->njobs; i++) {
		sjob *j = &p->jobs[i];
		j->srun = 0;
		if (j->phase != J_DONE || !pd_slurm_state_final(j->final))
			pd_slurm_cancel(j->id);
		j->phase = J_DONE;
	}
}

static void slurm_free(pd_launcher *l)
{
	slurm_pool *p = l->priv;

	if (!p)
		return;
	pd_timer_free(p->tick);
	if (p->text.data)
		memset(p->text.data, 0, p->text.cap);
	pd_buf_free(&p->text);
	free(p);
}

const pd_launcher_ops pd_launcher_slurm = {
	.name = "slurm",
	.before_table = 1, /* --dry-run prints only the script */
	.listen_url = slurm_listen_url,
	.start = slurm_start,
	.grow = slurm_grow,
	.describe = slurm_describe,
	.health = slurm_health,
	.stop = slurm_stop,
	.free = slurm_free,
	.command = pd_slurm_main,
};
