/* run.c - the controller of a session: `parade run` in the foreground,
 * `submit` and `resume` detached, `serve` long-lived. Set-up, the loop and
 * the end; results go through record.c, requests through control_ops.c. */
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
#include "launch_slurm.h"
#include "lock.h"
#include "log.h"
#include "net.h"
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

/* Once a second: rate, agents that never come, launchers with nobody left. */
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
	if (r->state == CTL_RUNNING && !r->serve && r->local && pd_local_alive(r->local) == 0 &&
	    pd_server_agents(r->srv) == 0 && r->target > 0) {
		pd_err("no local agent is left (see the messages above); giving up");
		r->no_agents = 1;
		pd_loop_stop(l);
		return;
	}
	/* every ssh host failed or let its agent go, and no agent is here */
	if (r->state == CTL_RUNNING && r->ssh && pd_ssh_active(r->ssh) == 0 &&
	    pd_server_agents(r->srv) == 0) {
		pd_err("no agent is left on the ssh hosts (%u of %u failed); giving up",
		       pd_ssh_failed(r->ssh), pd_ssh_hosts(r->ssh));
		pd_ssh_report(r->ssh);
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

/* Copies src into dst[len]; 0, or -ENAMETOOLONG when it does not fit. */
static int copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

int ctl_submit_job(ctl *c, unsigned n, char *err, size_t errlen)
{
	pd_slurm_opts so = c->o->slurm;
	char agent[4096], job[160], path[4300];
	pd_buf script = {0};
	int rv;

	if (c->njobs == CTL_MAX_JOBS) {
		snprintf(err, errlen, "this session has submitted %d jobs already", CTL_MAX_JOBS);
		return -ENOSPC;
	}
	so.n = n;
	pd_local_agent_path(agent, sizeof(agent));
	snprintf(job, sizeof(job), "parade-%s", c->name);
	pd_session_sbatch_path(path, sizeof(path), c->dir, c->njobs ? c->njobs + 1 : 0);
	rv = pd_slurm_script(&so, job, agent, c->connpath, c->dir, &script, err, errlen);
	if (rv == 0 && so.dry_run) {
		fwrite(pd_buf_head(&script), 1, pd_buf_size(&script), stdout);
		fflush(stdout);
		rv = 1;
	} else if (rv == 0) {
		rv = pd_slurm_submit(&so, path, &script, c->jobs[c->njobs], sizeof(c->jobs[0]), err,
				     errlen);
		if (rv == 0)
			pd_info("submitted Slurm job %s: %u agent(s) (script %s)", c->jobs[c->njobs++],
				n, path);
	}
	pd_buf_free(&script);
	return rv;
}

/* The session a Slurm step prepared (the SPANK plugin started agents that
 * wait for it), or NULL: only task 0 of such a step takes it, and only when
 * no launcher was asked for. */
static const char *step_session(const pd_run_opts *o)
{
	const char *s = getenv("PARADE_STEP_SESSION"), *rank = getenv("SLURM_PROCID");

	if (!s || !*s || o->launch_set || o->name)
		return NULL;
	(void)rank;
	return s;
}

/* Binds a listener for url. A wildcard host (0.0.0.0, ::) is
 * advertised as this host's name; port 0 takes a free port from
 * PARADE_PORT_RANGE=LO-HI when set. The advertised URL goes to cf. */
static int listen_tcp(ctl *r, const char *url, pd_connfile *cf, pd_tls **tls, char *err,
		      size_t errlen)
{
	const char *range = getenv("PARADE_PORT_RANGE");
	unsigned lo = 0, hi = 0, start = 0;
	pd_endpoint ep, bound;
	char adv[600];
	int rv = -EINVAL, wildcard;

	if (pd_endpoint_parse(url, &ep, err, errlen) < 0)
		return -EINVAL;
	if (ep.kind == PD_EP_TCP && !r->o->insecure) {
		snprintf(err, errlen,
			 "--listen %s is plain TCP without TLS: add --insecure to allow it, or use "
			 "tls+tcp://",
			 url);
		return -EINVAL;
	}
	if (ep.kind == PD_EP_IPC && !r->o->insecure) {
		snprintf(err, errlen,
			 "--listen %s has no authentication: add --insecure to allow it (local "
			 "agents already have a socket in the session folder)",
			 url);
		return -EINVAL;
	}
	wildcard = !strcmp(ep.host, "0.0.0.0") || !strcmp(ep.host, "::");
	if (ep.kind == PD_EP_TLS_TCP && !*tls &&
	    (pd_tls_global_init() < 0 ||
	     pd_tls_new_psk(1, PD_PSK_IDENTITY, cf->secret, sizeof(cf->secret), tls, err, errlen) <
		     0))
		return -EINVAL;
	if (ep.port == 0 && range && sscanf(range, "%u-%u", &lo, &hi) == 2 && lo > 0 &&
	    lo <= hi && hi < 65536) {
		uint8_t rnd[2];
		pd_random(rnd, sizeof(rnd));
		start = ((unsigned)rnd[0] << 8 | rnd[1]) % (hi - lo + 1);
		for (unsigned i = 0; i <= hi - lo && rv < 0; i++) {
			ep.port = lo + (start + i) % (hi - lo + 1);
			rv = pd_server_listen(r->srv, &ep, ep.kind == PD_EP_TLS_TCP ? *tls : NULL,
					      &bound, err, errlen);
		}
	} else {
		rv = pd_server_listen(r->srv, &ep, ep.kind == PD_EP_TLS_TCP ? *tls : NULL, &bound,
				      err, errlen);
	}
	if (rv < 0)
		return rv;
	if (wildcard) {
		char host[256] = "localhost";
		gethostname(host, sizeof(host) - 1);
		snprintf(bound.host, sizeof(bound.host), "%s", host);
	}
	pd_endpoint_format(&bound, adv, sizeof(adv));
	if (copy_str(cf->endpoint, sizeof(cf->endpoint), adv) < 0) {
		snprintf(err, errlen, "listen URL too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

static unsigned online_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
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
		if (pd_table_load(o->grid, fmt, &c->grid, err, errlen) < 0)
			return -EINVAL;
		if (o->limit)
			pd_table_truncate(c->grid, o->limit);
	} else if (c->serve) {
		if (!(c->grid = pd_table_new(cmd_col, 1))) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	} else {
		if (isatty(0))
			pd_info("reading inputs from the terminal, one per line (end with Ctrl-D); "
				"use --grid FILE for a grid");
		if (read_stdin_table(&c->grid, err, errlen) < 0)
			return -EINVAL;
		c->stdin_input = 1;
		if (o->limit)
			pd_table_truncate(c->grid, o->limit);
	}
	if (shell) {
		words = shellword;
		nwords = 1;
	} else if (nwords == 0 && o->coproc_json) {
		static const char *const row_word[1] = {"-"};
		words = row_word; /* not used: the line is the row as JSON */
		nwords = 1;
	} else if (nwords == 0) {
		if (!c->serve || o->grid || c->grid->ncols != 1 ||
		    strcmp(c->grid->header[0], "command")) {
			snprintf(err, errlen, "no command: put it after -- (see --help)");
			return -EINVAL;
		}
		words = cmd_tpl; /* serve's tasks are command lines */
		nwords = 3;
	}
	if (o->schema && pd_schema_parse(o->schema, &c->schema, err, errlen) < 0)
		return -EINVAL;
	if (pd_template_compile(words, nwords, c->grid, shell, &c->tpl, err, errlen) < 0)
		return -EINVAL;
	/* the template is compiled: give the input column a name for the table */
	if (c->stdin_input && pd_table_rename(c->grid, 0, "input") < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return pd_output_check_columns(c->grid, c->schema, err, errlen);
}

static int task_argv(void *arg, uint64_t id, char ***argv, size_t *argc)
{
	ctl *c = arg;

	if (c->o->kind == PD_TASK_COPROC)
		return pd_template_line(c->tpl, c->grid, (size_t)id, c->o->coproc_json, argv, argc);
	return pd_template_expand(c->tpl, c->grid, (size_t)id, argv, argc);
}

/* Agents a crashed controller of this session left running: the local
 * launcher counts them as its own. */
static int adopt_agent(void *arg, const pd_jagent *a)
{
	ctl *c = arg;

	if (!a->left_ms && a->mode && !strcmp(a->mode, "local") &&
	    pd_local_adopt(c->local, (int)a->pid) == 0)
		pd_info("agent %s (pid %u) is still alive; waiting for it to reconnect", a->name,
			a->pid);
	return 0;
}

static int start_local(ctl *c, unsigned workers, char *err, size_t errlen)
{
	char slots[16];
	const char *extra[6] = {NULL};
	int k = 0;
	unsigned alive;

	snprintf(slots, sizeof(slots), "%u", c->o->agent_slots);
	extra[k++] = "--slots";
	extra[k++] = slots;
	if (pd_log_get_level() >= PD_LOG_DEBUG)
		extra[k++] = "-v";
	if (c->o->coproc) {
		extra[k++] = "--coproc";
		extra[k++] = c->o->coproc;
	}
	c->local = pd_local_start(c->loop, c->connpath, 0, extra, c->o->mode != PD_MODE_RUN, err,
				  errlen);
	if (!c->local)
		return -EINVAL;
	if (c->o->mode == PD_MODE_RESUME && c->jn)
		pd_journal_agents(c->jn, adopt_agent, c);
	alive = pd_local_alive(c->local);
	c->target = workers;
	if (alive < workers && pd_local_grow(c->local, workers - alive) < 0) {
		snprintf(err, errlen, "cannot start local agents: %s", strerror(errno));
		return -EINVAL;
	}
	return 0;
}

/* The connection file: a new secret, or (resume) the session's own, so
 * that agents still alive can join again. */
static int connection(ctl *c, pd_connfile *cf, const char *listen_url, pd_tls **tls, char *err,
		      size_t errlen)
{
	char sockpath[4200], old_ep[512] = "";
	pd_endpoint ep, bound;
	pd_connfile old;

	pd_session_path(c->connpath, sizeof(c->connpath), c->dir, PD_SF_CONNECTION);
	if (c->o->mode == PD_MODE_RESUME && pd_connfile_read(c->connpath, &old, err, errlen) == 0) {
		memcpy(cf->secret, old.secret, sizeof(cf->secret));
		if (strncmp(old.endpoint, "ipc://", 6))
			snprintf(old_ep, sizeof(old_ep), "%s", old.endpoint);
		memset(&old, 0, sizeof(old));
	} else if (pd_random(cf->secret, sizeof(cf->secret)) < 0) {
		snprintf(err, errlen, "cannot make a session secret");
		return -EIO;
	}
	pd_session_url(sockpath, sizeof(sockpath), c->dir, PD_SF_AGENTS_SOCK);
	if (pd_endpoint_parse(sockpath, &ep, err, errlen) < 0 ||
	    pd_server_listen(c->srv, &ep, NULL, &bound, err, errlen) < 0) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (set PARADE_HOME to a shorter path?)");
		return -EINVAL;
	}
	cf->version = PD_PROTO_VERSION;
	snprintf(cf->session, sizeof(cf->session), "%s", c->name);
	snprintf(cf->identity, sizeof(cf->identity), "%s", PD_PSK_IDENTITY);
	if (copy_str(cf->local, sizeof(cf->local), sockpath) < 0 ||
	    copy_str(cf->endpoint, sizeof(cf->endpoint), sockpath) < 0) {
		snprintf(err, errlen, "session path too long: %.900s", c->dir);
		return -ENAMETOOLONG;
	}
	/* a restarted controller takes its old port back when it is free, on
	 * the address it was asked for (the advertised name may resolve to a
	 * loopback address here) */
	if (old_ep[0] && listen_url) {
		pd_endpoint want, was;
		char url[600], e2[256];
		if (pd_endpoint_parse(listen_url, &want, e2, sizeof(e2)) == 0 &&
		    pd_endpoint_parse(old_ep, &was, e2, sizeof(e2)) == 0 && want.kind == was.kind &&
		    want.port == 0) {
			want.port = was.port;
			if (pd_endpoint_format(&want, url, sizeof(url)) == 0 &&
			    listen_tcp(c, url, cf, tls, e2, sizeof(e2)) == 0)
				listen_url = NULL;
			else
				pd_info("the session's old port %u is taken, so it listens on a new "
					"one: agents that joined with the connection file read it "
					"again and follow; others need the new file",
					was.port);
		}
	}
	if (listen_url && listen_tcp(c, listen_url, cf, tls, err, errlen) < 0)
		return -EINVAL;
	return pd_connfile_write(c->connpath, cf, err, errlen);
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

int pd_run(const pd_run_opts *o)
{
	ctl c;
	char err[1024];
	pd_connfile cf;
	pd_tls *tls = NULL;
	pd_server_opts so;
	pd_server_cbs cbs = {task_argv, ctl_on_result, ctl_on_agent, ctl_on_sent};
	FILE *outf = stdout;
	int rv = 2, have_session = 0, ready_fd = -1, detached, created = 0, up = 0;
	unsigned workers = o->workers ? o->workers : online_cores();
	const char *step = o->mode == PD_MODE_RUN ? step_session(o) : NULL;
	const char *listen_url = o->listen;

	memset(&c, 0, sizeof(c));
	memset(&cf, 0, sizeof(cf));
	c.o = o;
	c.dir_fd = -1;
	c.lock_fd = -1;
	c.started_s = (uint64_t)time(NULL);
	c.serve = o->mode == PD_MODE_SERVE || (o->mode == PD_MODE_RESUME && o->serve_session);
	detached = o->mode == PD_MODE_SUBMIT || (o->mode == PD_MODE_RESUME && !o->foreground);
	/* agents on other nodes need a TCP listener */
	if (!listen_url && (step || o->launch == PD_LAUNCH_SLURM))
		listen_url = "tls+tcp://0.0.0.0:0";
	/* ssh agents dial back over TLS; through a tunnel, loopback is enough */
	if (!listen_url && o->launch == PD_LAUNCH_SSH)
		listen_url = o->ssh.tunnel ? "tls+tcp://127.0.0.1:0" : "tls+tcp://0.0.0.0:0";

	/* a restarted session: its folder, its lock, then its journal */
	if (o->mode == PD_MODE_RESUME) {
		snprintf(c.name, sizeof(c.name), "%s", o->name);
		if (pd_session_find_at(o->name, c.dir, sizeof(c.dir), &c.dir_fd, err, sizeof(err)) <
		    0) {
			pd_err("%s", err);
			goto out;
		}
		if (detached)
			ctl_detach(&c, &ready_fd);
		if (pd_lock_take(c.dir_fd, c.dir, c.name, &c.lock_fd, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
		have_session = 1;
	}
	/* input, template and schema are checked before anything starts */
	if (load_tasks(&c, o, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	if (o->mode == PD_MODE_RUN && o->output && !(outf = fopen(o->output, "we"))) {
		pd_err("cannot write %s: %s", o->output, strerror(errno));
		outf = stdout;
		goto out;
	}
	if (o->mode == PD_MODE_RUN && c.grid->nrows == 0) {
		c.out = pd_output_new(outf, o->format, c.grid, c.schema, !o->unordered);
		rv = c.out ? 0 : 2;
		goto out;
	}
	if (o->mode == PD_MODE_SUBMIT && c.grid->nrows == 0) {
		pd_err("nothing to submit: the input has no rows");
		goto out;
	}

	/* the session: folder, lock, journal */
	if (step && getenv("SLURM_PROCID") && strcmp(getenv("SLURM_PROCID"), "0") != 0) {
		pd_err("this step's agents serve one controller, in task 0; this is task %s: run "
		       "'parade run' in a one-task step (srun -n1 --parade-workers=N)",
		       getenv("SLURM_PROCID"));
		goto out;
	}
	if (step) {
		const char *e = getenv("PARADE_SPANK_ERROR");
		if (e && *e) {
			pd_err("the Slurm plugin could not start this step's agents: %s", e);
			goto out;
		}
		if (o->kind == PD_TASK_COPROC) {
			pd_err("--handler coproc: needs agents started with --coproc; the agents the "
			       "Slurm plugin started for this step (--parade-workers) have none: use "
			       "--launch slurm:N, or --launch local inside the step");
			goto out;
		}
		snprintf(c.name, sizeof(c.name), "%s", step);
		if (pd_session_open(step, c.dir, sizeof(c.dir), &c.dir_fd, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
		pd_info("using the %s agents Slurm started for this step (session %s)",
			getenv("PARADE_STEP_WORKERS") ? getenv("PARADE_STEP_WORKERS") : "?", step);
	} else if (o->mode != PD_MODE_RESUME) {
		if (pd_session_create(o->name, c.dir, sizeof(c.dir), c.name, sizeof(c.name),
				      &c.dir_fd, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
		created = 1;
	}
	have_session = 1;
	if (detached && ready_fd < 0)
		ctl_detach(&c, &ready_fd);
	if (c.lock_fd < 0 &&
	    pd_lock_take(c.dir_fd, c.dir, c.name, &c.lock_fd, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	/* a step's session outlives one run in it: no journal there */
	if (!step && !o->no_journal && o->mode != PD_MODE_RESUME &&
	    ctl_journal_create(&c, o->argc, o->argv, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	c.loop = pd_loop_new();
	if (!c.loop || !(c.commit_timer = pd_timer_new(c.loop, commit_cb, &c))) {
		pd_err("cannot set up the controller");
		goto out;
	}
	pd_net_raise_nofile();
	pd_server_opts_default(&so);
	so.disp.round_robin = o->no_dispatcher;
	so.disp.chunk = o->chunk;
	so.disp.prefetch = o->chunk > 1 ? 2 * o->chunk : 2;
	so.disp.crash_limit = o->crash_limit;
	so.disp.retries = o->retries;
	so.kind = (uint8_t)o->kind;
	so.timeout_ms = o->timeout_ms;
	so.out_limit = o->out_limit;
	so.max_frame = (size_t)o->max_frame;
	c.srv = pd_server_new(c.loop, &so, &cbs, &c);
	if (!c.srv || pd_server_add_tasks(c.srv, c.grid->nrows) < 0) {
		pd_err("out of memory queueing %zu tasks", c.grid->nrows);
		goto out;
	}
	if (o->mode == PD_MODE_RESUME) {
		if (ctl_journal_restore(&c, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
		pd_info("session %s resumed: %llu of %llu tasks already done", c.name,
			(unsigned long long)ctl_done(&c), (unsigned long long)ctl_total(&c));
	}
	if (connection(&c, &cf, listen_url, &tls, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	{
		char url[4200];
		/* a crashed controller's stale socket is replaced (we hold the
		 * lock); anything else there is refused (pd_net_ipc_clear) */
		pd_session_url(url, sizeof(url), c.dir, PD_SF_CONTROL_SOCK);
		if (pd_control_listen(c.loop, url, ctl_control, &c, &c.ctrl, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
	}
	if (o->listen)
		pd_info("session %s: agents may join at %s with the connection file %s", c.name,
			cf.endpoint, c.connpath);
	if (o->launch == PD_LAUNCH_SLURM && !step) {
		rv = ctl_submit_job(&c, o->slurm.n, err, sizeof(err));
		if (rv != 0) {
			if (rv < 0)
				pd_err("%s", err);
			rv = rv > 0 ? 0 : 2; /* a dry run ends here */
			goto out;
		}
		c.target = o->slurm.n;
		rv = 2;
	}
	if (o->mode == PD_MODE_RUN) {
		c.out = pd_output_new(outf, o->format, c.grid, c.schema, !o->unordered);
		if (!c.out) {
			pd_err("out of memory");
			goto out;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	pd_loop_signal(c.loop, SIGINT, on_signal, &c);
	pd_loop_signal(c.loop, SIGTERM, on_signal, &c);
	pd_loop_signal(c.loop, SIGHUP, on_signal, &c);
	if (o->launch == PD_LAUNCH_LOCAL && !step && start_local(&c, workers, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	if (o->launch == PD_LAUNCH_SSH) {
		/* ssh keeps the secret to send it again when it restarts a host */
		pd_ssh_opts sso = o->ssh;
		pd_endpoint lep;
		sso.slots = o->agent_slots;
		sso.verbose = pd_log_get_level() >= PD_LOG_DEBUG;
		if (pd_endpoint_parse(cf.endpoint, &lep, err, sizeof(err)) < 0 ||
		    !(c.ssh = pd_ssh_start(c.loop, &sso, &cf, &lep, err, sizeof(err)))) {
			pd_err("%s", err);
			goto out;
		}
		c.target = pd_ssh_hosts(c.ssh);
	}
	memset(cf.secret, 0, sizeof(cf.secret));
	c.watch = pd_timer_new(c.loop, watch_agents, &c);
	if (c.watch)
		pd_timer_start(c.watch, 1000);
	if (o->mode == PD_MODE_RUN)
		c.prog = pd_progress_new(stderr, o->progress < 0 ? isatty(2) : o->progress,
					 ctl_total(&c));
	pd_progress_attach(c.prog, c.out); /* rows on its terminal erase it first */
	ctl_journal_event(&c, "start", "controller pid %ld started (%s)", (long)getpid(),
			  o->mode == PD_MODE_RESUME ? "resume" : "new session");
	ctl_detached_ready(&ready_fd);
	up = 1;
	ctl_check_end(&c); /* a resumed session may have nothing left */
	pd_loop_run(c.loop);

	/* the end: stop agents (and with them every task), then report */
	pd_server_shutdown(c.srv);
	pd_loop_run_deferred(c.loop);
	/* agents that got BYE are leaving already; one that never joined
	 * would not hear it, so do not wait: SIGTERM makes each end its tasks */
	pd_local_stop(c.local, 0);
	pd_ssh_stop(c.ssh);
	pd_progress_free(c.prog);
	c.prog = NULL;
	if (c.out && pd_output_finish(c.out) < 0 && !c.write_failed) {
		pd_err("cannot write the result table: %s", strerror(errno));
		c.write_failed = 1;
	}
	if (c.jn) {
		ctl_commit(&c);
		ctl_journal_event(&c, "end", "%s", end_state(&c));
		pd_journal_meta_set(c.jn, "state", end_state(&c));
		ctl_commit(&c);
		if (c.journal_failed) {
			/* never silent: the results held in memory go with this
			 * process; the session stays so that resume runs them */
			uint64_t held = c.pend[0] + c.pend[1] + c.pend[2] + c.pend[3];
			pd_err("the journal still cannot be written (%s): %llu result(s) held in "
			       "memory are not recorded; session %s is kept, and 'parade resume %s' "
			       "runs those tasks again once it takes writes",
			       c.journal_err, (unsigned long long)held, c.name, c.name);
		}
	} else {
		c.taken = ctl_done(&c);
	}
	{
		uint64_t total = ctl_total(&c), done = c.taken;
		uint64_t bad = c.failed + c.timeout + c.lost + c.pend[1] + c.pend[2] + c.pend[3];
		if (c.interrupted) {
			pd_err("interrupted: %llu of %llu tasks finished, %llu not run",
			       (unsigned long long)done, (unsigned long long)total,
			       (unsigned long long)(total - done));
			if (c.jn && o->mode == PD_MODE_RUN)
				pd_info("session %s is kept: 'parade resume %s' runs the rest",
					c.name, c.name);
			rv = c.interrupted == SIGINT ? 130 : 128 + c.interrupted;
		} else if (c.write_failed || c.no_agents || c.journal_failed) {
			rv = 2;
		} else if (bad) {
			pd_err("%llu of %llu tasks not ok: %llu failed, %llu timed out, %llu lost",
			       (unsigned long long)bad, (unsigned long long)total,
			       (unsigned long long)(c.failed + c.pend[1]),
			       (unsigned long long)(c.timeout + c.pend[2]),
			       (unsigned long long)(c.lost + c.pend[3]));
			rv = 1;
		} else {
			rv = done < total ? 1 : 0;
		}
	}
out:
	if (c.srv) {
		pd_server_shutdown(c.srv);
		pd_loop_run_deferred(c.loop);
	}
	pd_control_close(c.ctrl);
	pd_timer_free(c.watch);
	pd_timer_free(c.commit_timer);
	pd_local_stop(c.local, 0);
	pd_local_free(c.local);
	pd_ssh_stop(c.ssh);
	pd_ssh_free(c.ssh);
	memset(cf.secret, 0, sizeof(cf.secret));
	for (unsigned i = 0; i < c.njobs; i++)
		pd_slurm_cancel(c.jobs[i]);
	pd_progress_free(c.prog);
	pd_server_free(c.srv);
	pd_tls_free(tls);
	if (c.out) {
		pd_output_finish(c.out);
		pd_output_free(c.out);
	}
	if (outf != stdout && fclose(outf) != 0 && rv == 0) {
		pd_err("cannot write %s: %s", o->output, strerror(errno));
		rv = 2;
	}
	ctl_unrec_free(&c);
	pd_journal_close(c.jn);
	/* through the folder held since it was made: a link planted in its
	 * place (or in place of its files) is never followed */
	if (have_session && step) {
		/* the agents' logs stay; the secret and the sockets go */
		unlinkat(c.dir_fd, PD_SF_CONNECTION, 0);
		unlinkat(c.dir_fd, PD_SF_AGENTS_SOCK, 0);
	} else if ((have_session && o->mode == PD_MODE_RUN && !o->keep_session &&
		    !(c.interrupted && c.jn) && !c.journal_failed) ||
		   (created && !up && ready_fd < 0)) {
		/* (the second: a session that never came up is of no use to
		 * anyone; a detached one is removed by the parent, after it
		 * showed why) */
		if (pd_session_remove(c.dir_fd, c.name, err, sizeof(err)) < 0)
			pd_warn("%s", err);
	}
	if (c.lock_fd >= 0)
		close(c.lock_fd);
	if (c.dir_fd >= 0)
		close(c.dir_fd);
	free(c.agent_rows);
	pd_template_free(c.tpl);
	pd_schema_free(c.schema);
	pd_table_free(c.grid);
	pd_loop_free(c.loop);
	if (ready_fd >= 0)
		close(ready_fd); /* the parent learns it failed */
	return rv;
}
