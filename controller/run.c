/* run.c - the controller of a session: `parade run` in the foreground,
 * `submit` and `resume` detached, `serve` long-lived. pd_run goes through
 * its seams in order: set-up (tasks, session, journal: setup_session),
 * the server (setup_server), listeners (setup_listeners, run_listen.c),
 * the launcher (start_launcher, launcher.h), the run (run_loop) and the
 * report (report, cleanup). Results go through record.c, requests through
 * control_ops.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "conn.h"
#include "ctl.h"
#include "launcher.h"
#include "lock.h"
#include "log.h"
#include "net.h"
#include "run_step.h"
#include "session.h"

/* ---- input ---- */

/* Reads stdin into a one-column table with an unnamed column: {} */
static int read_stdin_table(pd_table **out, char *err, size_t errlen)
{
	static const char *const unnamed[1] = {""};
	pd_buf b = {0};
	pd_table *t = NULL;
	char buf[65536], *text;
	size_t i, start;
	ssize_t n;

	while ((n = read(0, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "reading stdin: %s", strerror(errno));
			goto fail;
		}
		if (pd_buf_append(&b, buf, (size_t)n) < 0)
			goto nomem;
	}
	if (b.len && b.data[b.len - 1] != '\n' && pd_buf_append(&b, "\n", 1) < 0)
		goto nomem;
	if (pd_buf_append(&b, "", 1) < 0 || !(t = pd_table_new(unnamed, 1)))
		goto nomem;
	text = (char *)b.data;
	for (i = 0, start = 0; i + 1 < b.len; i++) {
		const char *cell[1];
		if (text[i] != '\n')
			continue;
		text[i] = 0;
		if (i > start && text[i - 1] == '\r')
			text[i - 1] = 0;
		cell[0] = text + start;
		if (pd_table_append(t, cell) < 0)
			goto nomem;
		t->lines[t->nrows - 1] = t->nrows;
		start = i + 1;
	}
	pd_buf_free(&b);
	*out = t;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory reading stdin");
fail:
	pd_buf_free(&b);
	pd_table_free(t);
	return -EINVAL;
}

/* ---- the loop's helpers ---- */

static void commit_cb(pd_loop *l, void *arg)
{
	(void)l;
	ctl_commit(arg);
}

/* Once a second: rate, agents that never come, a launcher with nobody left. */
static void watch_agents(pd_loop *l, void *arg)
{
	ctl *r = arg;

	ctl_rate_sample(r);
	/* agents that never come (a blocked port, a job still pending) would
	 * otherwise leave the run silent forever */
	if (pd_server_agents(r->srv) > 0 || r->serve) {
		r->lonely_s = 0;
	} else if (++r->lonely_s % 60 == 30) {
		pd_warn("no agent connected for %u s; still waiting (Ctrl-C to stop)", r->lonely_s);
	}
	/* every agent of the launcher is gone for good, and none is here */
	if (r->state == CTL_RUNNING && pd_launcher_gave_up(r->launcher)) {
		r->no_agents = 1;
		pd_loop_stop(l);
		return;
	}
	ctl_check_end(r);
	pd_timer_start(r->watch, 1000);
}

static void on_signal(pd_loop *l, int signo, void *arg)
{
	ctl *r = arg;

	r->interrupted = signo;
	pd_loop_stop(l);
}

/* ---- the run ---- */

/* The session a Slurm step prepared (the SPANK plugin started agents that
 * wait for it), or NULL: taken when no launcher and no name was asked
 * for (task 0 is its controller, other tasks follow it: run_step.h). */
static const char *step_session(const pd_run_opts *o)
{
	const char *s = getenv("PARADE_STEP_SESSION");

	if (!s || !*s || o->launch_set || o->name)
		return NULL;
	return s;
}

/* The tasks and how they become commands: a grid or stdin for run and
 * submit; the journal's for resume; for serve, a grid's header (and rows)
 * with a template, or else one "command" column run by sh -c. */
static int load_tasks(ctl *c, const pd_run_opts *o, char *err, size_t errlen)
{
	static const char *const cmd_col[1] = {"command"};
	static const char *const cmd_tpl[3] = {"sh", "-c", "{command}"};
	const char *const *words = (const char *const *)o->words;
	const char *shellword[1] = {o->shell};
	size_t nwords = (size_t)o->nwords;
	int shell = o->shell != NULL;

	if (o->mode == PD_MODE_RESUME) {
		if (ctl_journal_reopen(c, err, errlen) < 0)
			return -EINVAL;
	} else if (o->grid) {
		int fmt = o->grid_format >= 0 ? o->grid_format : pd_csv_format_for(o->grid);
		if (pd_table_load(o->grid, fmt, &c->tasks.grid, err, errlen) < 0)
			return -EINVAL;
		if (o->limit)
			pd_table_truncate(c->tasks.grid, o->limit);
	} else if (c->serve) {
		if (!(c->tasks.grid = pd_table_new(cmd_col, 1))) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	} else {
		if (isatty(0))
			pd_info("reading inputs from the terminal, one per line (end with Ctrl-D); "
				"use --grid FILE for a grid");
		if (read_stdin_table(&c->tasks.grid, err, errlen) < 0)
			return -EINVAL;
		c->tasks.stdin_input = 1;
		if (o->limit)
			pd_table_truncate(c->tasks.grid, o->limit);
	}
	if (shell) {
		words = shellword;
		nwords = 1;
	} else if (nwords == 0 && o->coproc_json) {
		static const char *const row_word[1] = {"-"};
		words = row_word; /* not used: the line is the row as JSON */
		nwords = 1;
	} else if (nwords == 0) {
		if (!c->serve || o->grid || c->tasks.grid->ncols != 1 ||
		    strcmp(c->tasks.grid->header[0], "command")) {
			snprintf(err, errlen, "no command: put it after -- (see --help)");
			return -EINVAL;
		}
		words = cmd_tpl; /* serve's tasks are command lines */
		nwords = 3;
	}
	if (o->schema && pd_schema_parse(o->schema, &c->tasks.schema, err, errlen) < 0)
		return -EINVAL;
	if (pd_template_compile(words, nwords, c->tasks.grid, shell, &c->tasks.tpl, err, errlen) <
	    0)
		return -EINVAL;
	/* the template is compiled: give the input column a name for the table */
	if (c->tasks.stdin_input && pd_table_rename(c->tasks.grid, 0, "input") < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return pd_output_check_columns(c->tasks.grid, c->tasks.schema, err, errlen);
}

static int task_argv(void *arg, uint64_t id, char ***argv, size_t *argc)
{
	ctl *c = arg;

	if (c->o->kind == PD_TASK_COPROC)
		return pd_template_line(c->tasks.tpl, c->tasks.grid, (size_t)id, c->o->coproc_json,
		                        argv, argc);
	return pd_template_expand(c->tasks.tpl, c->tasks.grid, (size_t)id, argv, argc);
}

static const char *end_state(const ctl *c)
{
	if (c->interrupted)
		return "interrupted";
	if (c->state == CTL_STOPPING)
		return c->cancel ? "cancelled" : "stopped";
	if (c->no_agents || c->write_failed)
		return "failed";
	return ctl_total(c) && ctl_done(c) >= ctl_total(c) ? "finished" : "stopped";
}

/* What pd_run keeps besides the controller's state. */
typedef struct run {
	pd_connfile cf; /* its secret wiped once the launcher started */
	pd_tls *tls;
	FILE *outf;
	const char *step;       /* the session a Slurm step prepared, or NULL */
	const char *listen_url; /* --listen, or the launcher's, or NULL */
	char step_url[64];      /* a Slurm step's: tls+tcp://0.0.0.0:PORT */
	const pd_launcher_ops *kind; /* the launcher kind (launcher.h) */
	int detached, ready_fd, have_session, created, up;
	char err[1024];
} run;

/* A restarted session: its folder, its lock (detached first), then (in
 * setup_session) its journal. 0 or -1 (logged). */
static int resume_session(ctl *c, run *r)
{
	snprintf(c->ses.name, sizeof(c->ses.name), "%s", c->o->name);
	if (pd_session_resume_at(c->o->name, c->ses.dir, sizeof(c->ses.dir), &c->ses.dir_fd,
	                         r->err, sizeof(r->err)) < 0) {
		pd_err("%s", r->err);
		return -1;
	}
	if (r->detached)
		ctl_detach(c, &r->ready_fd);
	if (pd_lock_take(c->ses.dir_fd, c->ses.dir, c->ses.name, &c->ses.lock_fd, r->err,
	                 sizeof(r->err)) < 0) {
		pd_err("%s", r->err);
		return -1;
	}
	r->have_session = 1;
	return 0;
}

/* The session of a Slurm step (the plugin made it): its folder. 0 or -1. */
static int step_session_open(ctl *c, run *r)
{
	const char *e = getenv("PARADE_SPANK_ERROR");

	if (e && *e) {
		pd_err("the Slurm plugin could not start this step's agents: %s", e);
		return -1;
	}
	snprintf(c->ses.name, sizeof(c->ses.name), "%s", r->step);
	if (pd_session_open(r->step, c->ses.dir, sizeof(c->ses.dir), &c->ses.dir_fd, r->err,
	                    sizeof(r->err)) < 0) {
		pd_err("%s", r->err);
		return -1;
	}
	return 0;
}

/* Set-up: the tasks (checked before anything starts), the output file,
 * the session's folder, lock and journal. 0 to go on; else the run ends
 * with *rv (0: an empty run printed its table's header). */
static int setup_session(ctl *c, run *r, int *rv)
{
	const pd_run_opts *o = c->o;

	*rv = 2;
	if (o->mode == PD_MODE_RESUME && resume_session(c, r) < 0)
		return -1;
	if (load_tasks(c, o, r->err, sizeof(r->err)) < 0) {
		pd_err("%s", r->err);
		return -1;
	}
	if (o->mode == PD_MODE_RUN && o->output && !(r->outf = fopen(o->output, "we"))) {
		pd_err("cannot write %s: %s", o->output, strerror(errno));
		r->outf = stdout;
		return -1;
	}
	if (o->mode == PD_MODE_RUN && c->tasks.grid->nrows == 0) {
		c->res.out = pd_output_new(r->outf, o->format, c->tasks.grid, c->tasks.schema,
		                           !o->unordered);
		*rv = c->res.out ? 0 : 2;
		return -1;
	}
	if (o->mode == PD_MODE_SUBMIT && c->tasks.grid->nrows == 0) {
		pd_err("nothing to submit: the input has no rows");
		return -1;
	}
	if (r->step) {
		if (step_session_open(c, r) < 0)
			return -1;
	} else if (o->mode != PD_MODE_RESUME) {
		if (pd_session_create(o->name, c->ses.dir, sizeof(c->ses.dir), c->ses.name,
		                      sizeof(c->ses.name), &c->ses.dir_fd, r->err,
		                      sizeof(r->err)) < 0) {
			pd_err("%s", r->err);
			return -1;
		}
		r->created = 1;
	}
	r->have_session = 1;
	if (r->detached && r->ready_fd < 0)
		ctl_detach(c, &r->ready_fd);
	if (c->ses.lock_fd < 0 && pd_lock_take(c->ses.dir_fd, c->ses.dir, c->ses.name,
	                                       &c->ses.lock_fd, r->err, sizeof(r->err)) < 0) {
		pd_err("%s", r->err);
		return -1;
	}
	/* a step's session outlives one run in it: no journal there */
	if (!r->step && !o->no_journal && o->mode != PD_MODE_RESUME &&
	    ctl_journal_create(c, r->err, sizeof(r->err)) < 0) {
		pd_err("%s", r->err);
		return -1;
	}
	return 0;
}

/* The loop, the server with the session's tasks (on resume, those without
 * a result). 0 or -1. */
static int setup_server(ctl *c, run *r)
{
	const pd_run_opts *o = c->o;
	pd_server_cbs cbs = {task_argv, ctl_on_result, ctl_on_agent, ctl_on_sent};
	pd_server_opts so;
	pd_setting cop;

	c->loop = pd_loop_new();
	if (!c->loop || !(c->res.commit_timer = pd_timer_new(c->loop, commit_cb, c))) {
		pd_err("cannot set up the controller");
		return -1;
	}
	pd_net_raise_nofile();
	pd_server_opts_default(&so);
	so.disp.round_robin = o->no_dispatcher;
	so.disp.chunk = o->chunk;
	so.disp.prefetch = o->chunk > 1 ? 2 * o->chunk : 2;
	so.disp.crash_limit = o->crash_limit;
	so.disp.retries = o->retries;
	so.kind = (uint8_t)o->kind;
	/* the coprocess COMMAND travels to every agent in WELCOME, unless the
	 * launcher's agents bring their own (--launch none: --coproc) */
	if (o->coproc && !r->kind->own_settings) {
		cop = (pd_setting){PD_TASK_COPROC, (uint32_t)strlen(o->coproc),
				   (const uint8_t *)o->coproc};
		so.settings = &cop;
		so.nsettings = 1;
	}
	so.timeout_ms = o->timeout_ms;
	so.out_limit = o->out_limit;
	so.max_frame = (size_t)o->max_frame;
	c->srv = pd_server_new(c->loop, &so, &cbs, c);
	if (!c->srv) {
		pd_err("cannot set up the server: out of memory, or the handler's settings "
		       "are over the protocol's limits");
		return -1;
	}
	if (pd_server_add_tasks(c->srv, c->tasks.grid->nrows) < 0) {
		pd_err("out of memory queueing %zu tasks", c->tasks.grid->nrows);
		return -1;
	}
	if (o->mode == PD_MODE_RESUME) {
		if (ctl_journal_restore(c, r->err, sizeof(r->err)) < 0) {
			pd_err("%s", r->err);
			return -1;
		}
		pd_info("session %s resumed: %llu of %llu tasks already done", c->ses.name,
		        (unsigned long long)ctl_done(c), (unsigned long long)ctl_total(c));
	}
	return 0;
}

/* Listeners: the connection file and the agents' sockets (run_listen.c),
 * the control socket. 0 or -1. */
static int setup_listeners(ctl *c, run *r)
{
	char url[4200];

	if (ctl_listen(c, &r->cf, r->listen_url, &r->tls, r->err, sizeof(r->err)) < 0) {
		if (r->step && strstr(r->err, strerror(EADDRINUSE)))
			pd_err("%s: the port was chosen for this Slurm step before it started and is "
			       "taken on this node; run the step again (another port is chosen), or "
			       "ask the site for a port_range= kept free for parade",
			       r->err);
		else
			pd_err("%s", r->err);
		return -1;
	}
	/* a crashed controller's stale socket is replaced (we hold the
	 * lock); anything else there is refused (pd_net_ipc_clear) */
	pd_session_url(url, sizeof(url), c->ses.dir, PD_SF_CONTROL_SOCK);
	if (pd_control_listen(c->loop, url, ctl_control, c, &c->ctrl, r->err, sizeof(r->err)) <
	    0) {
		pd_err("%s", r->err);
		return -1;
	}
	if (c->o->listen)
		pd_info("session %s: agents may join at %s with the connection file %s",
		        c->ses.name, r->cf.endpoint, c->ses.connpath);
	return 0;
}

/* Launchers: the kind --launch names (launcher.h), or "none" in a Slurm
 * step whose agents the plugin started. 0 started, 1 a dry run ended it,
 * -1 (logged). The connection file's secret is wiped after. */
static int start_launcher(ctl *c, run *r)
{
	const pd_run_opts *o = c->o;
	pd_launch_ctx x = {
	    .loop = c->loop,
	    .srv = c->srv,
	    .o = o,
	    .session = c->ses.name,
	    .dir = c->ses.dir,
	    .connpath = c->ses.connpath,
	    .cf = &r->cf,
	    .workers = o->workers,
	    .serve = c->serve,
	    .survive = o->mode != PD_MODE_RUN,
	    .jn = c->res.jn,
	};
	int rv;

	rv = pd_launcher_start(r->kind, &x, &c->launcher, r->err, sizeof(r->err));
	memset(r->cf.secret, 0, sizeof(r->cf.secret));
	if (rv < 0)
		pd_err("%s", r->err);
	return rv < 0 ? -1 : rv;
}

/* The result table of a foreground run (its header is written at once).
 * 0 or -1 (logged). */
static int make_table(ctl *c, run *r)
{
	const pd_run_opts *o = c->o;

	if (o->mode != PD_MODE_RUN || c->res.out)
		return 0;
	c->res.out =
	    pd_output_new(r->outf, o->format, c->tasks.grid, c->tasks.schema, !o->unordered);
	if (!c->res.out) {
		pd_err("out of memory");
		return -1;
	}
	return 0;
}

/* Ctrl-C, SIGTERM and SIGHUP go through the loop from here on: caught
 * before the launcher starts, so that one that comes while it starts its
 * agents is kept (the signal stays pending) and ends the run as
 * interrupted as soon as the loop runs. */
static void catch_signals(ctl *c)
{
	signal(SIGPIPE, SIG_IGN);
	pd_loop_signal(c->loop, SIGINT, on_signal, c);
	pd_loop_signal(c->loop, SIGTERM, on_signal, c);
	pd_loop_signal(c->loop, SIGHUP, on_signal, c);
}

/* Run: the watch, progress; tells a detached parent it is up;
 * runs the loop until the end. 0, or -1 before the loop ran. */
static int run_loop(ctl *c, run *r)
{
	const pd_run_opts *o = c->o;

	c->watch = pd_timer_new(c->loop, watch_agents, c);
	if (c->watch)
		pd_timer_start(c->watch, 1000);
	if (o->mode == PD_MODE_RUN)
		c->res.prog = pd_progress_new(stderr, o->progress < 0 ? isatty(2) : o->progress,
		                              ctl_total(c));
	pd_progress_attach(c->res.prog, c->res.out); /* rows on its terminal erase it first */
	ctl_journal_event(c, "start", "controller pid %ld started (%s)", (long)getpid(),
			  o->mode == PD_MODE_RESUME ? "resume" : "new session");
	ctl_detached_ready(&r->ready_fd);
	r->up = 1;
	ctl_check_end(c); /* a resumed session may have nothing left */
	pd_loop_run(c->loop);
	return 0;
}

/* The exit status from the counts, with the lines that explain it. */
static int exit_status(ctl *c)
{
	uint64_t total = ctl_total(c), done = c->res.taken;
	uint64_t bad = c->res.failed + c->res.timeout + c->res.lost + c->res.pend[1] +
	               c->res.pend[2] + c->res.pend[3];

	if (c->interrupted) {
		pd_err("interrupted: %llu of %llu tasks finished, %llu not run",
		       (unsigned long long)done, (unsigned long long)total,
		       (unsigned long long)(total - done));
		if (c->res.jn && c->o->mode == PD_MODE_RUN)
			pd_info("session %s is kept: 'parade resume %s' runs the rest", c->ses.name,
			        c->ses.name);
		return c->interrupted == SIGINT ? 130 : 128 + c->interrupted;
	}
	if (c->write_failed || c->no_agents || c->res.journal_failed)
		return 2;
	if (bad) {
		pd_err("%llu of %llu tasks not ok: %llu failed, %llu timed out, %llu lost",
		       (unsigned long long)bad, (unsigned long long)total,
		       (unsigned long long)(c->res.failed + c->res.pend[1]),
		       (unsigned long long)(c->res.timeout + c->res.pend[2]),
		       (unsigned long long)(c->res.lost + c->res.pend[3]));
		return 1;
	}
	return done < total ? 1 : 0;
}

/* Report: finish the table and the journal, then stop the agents (and
 * with them every task); the exit status, which the BYE to followers
 * carries. */
static int report(ctl *c)
{
	int status;

	pd_progress_free(c->res.prog);
	c->res.prog = NULL;
	if (c->res.out && pd_output_finish(c->res.out) < 0 && !c->write_failed) {
		pd_err("cannot write the result table: %s", strerror(errno));
		c->write_failed = 1;
	}
	if (c->res.jn) {
		ctl_commit(c);
		ctl_journal_event(c, "end", "%s", end_state(c));
		pd_journal_meta_set(c->res.jn, "state", end_state(c));
		ctl_commit(c);
		if (c->res.journal_failed) {
			/* never silent: the results held in memory go with this
			 * process; the session stays so that resume runs them */
			uint64_t held =
			    c->res.pend[0] + c->res.pend[1] + c->res.pend[2] + c->res.pend[3];
			pd_err(
			    "the journal still cannot be written (%s): %llu result(s) held in "
			    "memory are not recorded; session %s is kept, and 'parade resume %s' "
			    "runs those tasks again once it takes writes",
			    c->res.journal_err, (unsigned long long)held, c->ses.name, c->ses.name);
		}
	} else {
		c->res.taken = ctl_done(c);
	}
	status = exit_status(c);
	if (!c->interrupted && !strcmp(pd_launcher_name(c->launcher), "slurm-step"))
		ctl_step_await_followers(c);
	pd_server_exit_status(c->srv, status);
	pd_server_shutdown(c->srv);
	pd_loop_run_deferred(c->loop);
	/* agents that got BYE are leaving already */
	pd_launcher_stop(c->launcher);
	return status;
}

/* Everything pd_run made, in order; the session folder goes unless it is
 * kept (a durable session, an interrupted one with a journal, a journal
 * that failed). Returns rv, or 2 when the table file cannot be closed. */
static int cleanup(ctl *c, run *r, int rv)
{
	const pd_run_opts *o = c->o;

	if (c->srv) {
		/* a set-up error: followers exit with it too */
		pd_server_exit_status(c->srv, rv);
		pd_server_shutdown(c->srv);
		pd_loop_run_deferred(c->loop);
	}
	pd_control_close(c->ctrl);
	pd_timer_free(c->watch);
	pd_timer_free(c->res.commit_timer);
	pd_launcher_stop(c->launcher);
	pd_launcher_free(c->launcher);
	memset(r->cf.secret, 0, sizeof(r->cf.secret));
	pd_progress_free(c->res.prog);
	pd_server_free(c->srv);
	pd_tls_free(r->tls);
	if (c->res.out) {
		pd_output_finish(c->res.out);
		pd_output_free(c->res.out);
	}
	if (r->outf != stdout && fclose(r->outf) != 0 && rv == 0) {
		pd_err("cannot write %s: %s", o->output, strerror(errno));
		rv = 2;
	}
	ctl_unrec_free(c);
	ctl_home_final(c);
	pd_journal_close(c->res.jn);
	/* through the folder held since it was made: a link planted in its
	 * place (or in place of its files) is never followed */
	if (r->have_session && r->step) {
		/* the agents' logs stay; the secret and the sockets go */
		unlinkat(c->ses.dir_fd, PD_SF_CONNECTION, 0);
		unlinkat(c->ses.dir_fd, PD_SF_AGENTS_SOCK, 0);
	} else if ((r->have_session && o->mode == PD_MODE_RUN && !o->keep_session &&
	            !(c->interrupted && c->res.jn) && !c->res.journal_failed) ||
	           (r->created && !r->up && r->ready_fd < 0)) {
		/* (the second: a session that never came up is of no use to
		 * anyone; a detached one is removed by the parent, after it
		 * showed why) */
		if (pd_session_remove(c->ses.dir_fd, c->ses.name, r->err, sizeof(r->err)) < 0)
			pd_warn("%s", r->err);
	}
	ctl_home_end(c);
	if (c->ses.lock_fd >= 0)
		close(c->ses.lock_fd);
	if (c->ses.dir_fd >= 0)
		close(c->ses.dir_fd);
	free(c->res.agent_rows);
	pd_template_free(c->tasks.tpl);
	pd_schema_free(c->tasks.schema);
	pd_table_free(c->tasks.grid);
	pd_loop_free(c->loop);
	if (r->ready_fd >= 0)
		close(r->ready_fd); /* the parent learns it failed */
	return rv;
}

/* A Slurm step's task: task 0 takes the step's endpoint and secret (the
 * plugin's connection text) and is its controller (-1: go on); another
 * task follows it and, as it returns only when it could not, its status
 * is returned (2), as it is for a step that cannot be run. */
static int step_join(ctl *c, run *r)
{
	const pd_run_opts *o = c->o;

	if (ctl_step_read(&r->cf, r->err, sizeof(r->err)) < 0) {
		pd_err("%s", r->err);
		return 2;
	}
	if (ctl_step_is_follower())
		return ctl_step_follow(&r->cf);
	if (o->secret_file) {
		pd_err("--secret-file does not apply in a Slurm step with --parade-workers: its "
		       "agents hold the secret the plugin gave them");
		return 2;
	}
	if (o->listen) {
		pd_err("--listen does not apply in a Slurm step with --parade-workers: its agents "
		       "dial the port the plugin chose (%s)",
		       r->cf.endpoint);
		return 2;
	}
	if (o->workers) {
		pd_err("--workers does not apply in a Slurm step with --parade-workers: the "
		       "plugin started the step's %s agents",
		       getenv("PARADE_STEP_WORKERS") ? getenv("PARADE_STEP_WORKERS") : "");
		return 2;
	}
	if (o->agent_slots != 1) {
		pd_err("--slots does not apply to the agents the Slurm plugin started for this "
		       "step: each has the step's CPUs on its node divided among the node's "
		       "agents; ask Slurm for CPUs instead (srun -c N)");
		return 2;
	}
	if (ctl_step_listen_url(&r->cf, r->step_url, sizeof(r->step_url), r->err,
	                        sizeof(r->err)) < 0) {
		pd_err("%s", r->err);
		return 2;
	}
	c->ses.given_secret = 1;
	return -1;
}

int pd_run(const pd_run_opts *o)
{
	ctl c;
	run r;
	int rv = 2, st;

	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	c.o = o;
	c.ses.dir_fd = c.ses.lock_fd = c.ses.home_fd = c.ses.home_lock_fd = r.ready_fd = -1;
	c.ses.started_s = (uint64_t)time(NULL);
	c.serve = o->mode == PD_MODE_SERVE || (o->mode == PD_MODE_RESUME && o->serve_session);
	r.outf = stdout;
	r.detached = o->mode == PD_MODE_SUBMIT || (o->mode == PD_MODE_RESUME && !o->foreground);
	r.step = o->mode == PD_MODE_RUN ? step_session(o) : NULL;
	if (r.step && (st = step_join(&c, &r)) >= 0)
		return st; /* a follower that could not follow, or a bad step */
	/* a step's agents were started by the Slurm plugin: no launcher */
	r.kind = pd_launcher_find(r.step ? "slurm-step" : o->launcher ? o->launcher : "local");
	if (!r.kind) {
		pd_err("no launcher named '%s'", o->launcher);
		return 2;
	}
	/* agents on other nodes need a TCP listener: a step's, or the one the
	 * launcher asks for */
	r.listen_url = o->listen;
	if (r.step)
		r.listen_url = r.step_url;
	else if (!r.listen_url && r.kind->listen_url)
		r.listen_url = r.kind->listen_url(o);

	if (setup_session(&c, &r, &rv) < 0 || setup_server(&c, &r) < 0 || ctl_home_attach(&c) < 0 ||
	    setup_listeners(&c, &r) < 0)
		return cleanup(&c, &r, rv);
	catch_signals(&c);
	/* the table comes before the launcher starts, unless the kind wants to
	 * start first (launcher.h: before_table) */
	if (!r.kind->before_table && make_table(&c, &r) < 0)
		return cleanup(&c, &r, 2);
	if ((st = start_launcher(&c, &r)) != 0)
		return cleanup(&c, &r, st > 0 ? 0 : 2); /* a dry run ends here */
	if (make_table(&c, &r) < 0 || run_loop(&c, &r) < 0)
		return cleanup(&c, &r, 2);
	return cleanup(&c, &r, report(&c));
}
