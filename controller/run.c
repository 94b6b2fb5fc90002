/* run.c - `parade run`: a session, a controller, local agents, a table. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "conn.h"
#include "csv.h"
#include "launch_local.h"
#include "launch_slurm.h"
#include "log.h"
#include "net.h"
#include "output.h"
#include "progress.h"
#include "run.h"
#include "schema.h"
#include "server.h"
#include "session.h"
#include "template.h"

typedef struct run {
	const pd_run_opts *o;
	pd_loop *loop;
	pd_table *grid;
	pd_template *tpl;
	pd_schema *schema;
	pd_output *out;
	pd_progress *prog;
	pd_server *srv;
	uint64_t total;
	uint64_t ok, failed, timeout, lost, output_errors;
	int interrupted;
	int write_failed;
	int no_agents;
	pd_local *local;
	pd_ssh *ssh;
	pd_timer *watch;
	unsigned lonely_s; /* seconds without any agent */
} run;

/* ---- input ---- */

/* Reads stdin into a one-column table with an unnamed column: {} */
static int read_stdin_table(pd_table **out, char *err, size_t errlen)
{
	pd_buf b = {0};
	pd_table *t = NULL;
	size_t nlines = 0, i, start;
	char buf[65536];
	ssize_t n;
	char *text;

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
	if (pd_buf_append(&b, "", 1) < 0)
		goto nomem;
	text = (char *)b.data;
	for (i = 0; i + 1 < b.len; i++)
		nlines += text[i] == '\n';
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	t->ncols = 1;
	t->header = calloc(1, sizeof(char *));
	t->cells = calloc(nlines ? nlines : 1, sizeof(char *));
	t->lines = calloc(nlines ? nlines : 1, sizeof(size_t));
	if (!t->header || !t->cells || !t->lines)
		goto nomem;
	t->header[0] = strdup("");
	for (i = 0, start = 0; i + 1 < b.len; i++) {
		if (text[i] != '\n')
			continue;
		text[i] = 0;
		if (i > start && text[i - 1] == '\r')
			text[i - 1] = 0;
		t->lines[t->nrows] = t->nrows + 1;
		t->cells[t->nrows] = strdup(text + start);
		if (!t->cells[t->nrows])
			goto nomem;
		t->nrows++;
		start = i + 1;
	}
	pd_buf_free(&b);
	*out = t;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory reading stdin");
fail:
	pd_buf_free(&b);
	if (t) {
		for (i = 0; i < t->nrows; i++)
			free(t->cells[i]);
		free(t->cells);
		free(t->lines);
		if (t->header)
			free(t->header[0]);
		free(t->header);
		free(t);
	}
	return -EINVAL;
}

static void free_stdin_table(pd_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->lines);
	free(t->header[0]);
	free(t->header);
	free(t);
}

/* ---- results ---- */

static int task_argv(void *arg, uint64_t id, char ***argv, size_t *argc)
{
	run *r = arg;

	return pd_template_expand(r->tpl, r->grid, (size_t)id, argv, argc);
}

/* The error column: the agent's message, else the last stderr line of a
 * failed task, plus a note when output was cut. */
static void error_text(const pd_result_msg *m, const char *schema_err, char *out, size_t len)
{
	size_t n = 0;

	out[0] = 0;
	if (schema_err && *schema_err) {
		n = (size_t)snprintf(out, len, "%s", schema_err);
	} else if (m->error && *m->error) {
		n = (size_t)snprintf(out, len, "%s", m->error);
	} else if (m->status != PD_ST_OK && m->err_len) {
		const char *e = m->err, *end = m->err + m->err_len, *line;
		while (end > e && (end[-1] == '\n' || end[-1] == '\r'))
			end--;
		line = end;
		while (line > e && line[-1] != '\n')
			line--;
		n = (size_t)snprintf(out, len, "stderr: %.*s", (int)(end - line > 300 ? 300 : end - line),
				     line);
	}
	if (n >= len)
		n = len - 1;
	if (m->flags & PD_RF_OUT_TRUNC) {
		snprintf(out + n, len - n, "%sstdout truncated", n ? "; " : "");
		n += strlen(out + n);
	}
	if (m->flags & PD_RF_ERR_TRUNC)
		snprintf(out + n, len - n, "%sstderr truncated", n ? "; " : "");
}

static void on_result(void *arg, const pd_result_msg *m, const char *agent)
{
	run *r = arg;
	pd_row_result row;
	char **values = NULL;
	char schema_err[512] = "", error[1024];
	int status = m->status;

	if (m->id >= r->total)
		return;
	if (r->schema) {
		values = calloc(r->schema->n ? r->schema->n : 1, sizeof(char *));
		if (status == PD_ST_OK && values &&
		    pd_schema_extract(r->schema, m->out, m->out_len, values, schema_err,
				      sizeof(schema_err)) < 0) {
			status = PD_ST_FAILED;
			if (!schema_err[0])
				snprintf(schema_err, sizeof(schema_err), "output does not fit the schema");
		}
	}
	error_text(m, schema_err, error, sizeof(error));
	memset(&row, 0, sizeof(row));
	row.status = status;
	row.exit_code = m->exit_code;
	row.seconds = (double)m->wall_us / 1e6;
	row.agent = agent ? agent : "";
	row.out = m->out;
	row.out_len = m->out_len;
	/* the table shows stdout without its final line end, as $(...) does */
	if (row.out_len && row.out[row.out_len - 1] == '\n')
		row.out_len--;
	if (row.out_len && row.out[row.out_len - 1] == '\r')
		row.out_len--;
	row.values = values;
	row.error = error;
	switch (status) {
	case PD_ST_OK: r->ok++; break;
	case PD_ST_TIMEOUT: r->timeout++; break;
	case PD_ST_LOST: r->lost++; break;
	default: r->failed++;
	}
	if (pd_output_row(r->out, m->id, &row) == -EIO && !r->write_failed) {
		r->write_failed = 1;
		pd_err("cannot write the result table: %s", strerror(errno));
		pd_loop_stop(r->loop);
	}
	if (values) {
		for (size_t i = 0; i < r->schema->n; i++)
			free(values[i]);
		free(values);
	}
	pd_progress_update(r->prog, r->ok + r->failed + r->timeout + r->lost,
			   r->failed + r->timeout + r->lost, pd_now_us() / 1000);
	if (r->ok + r->failed + r->timeout + r->lost >= r->total)
		pd_loop_stop(r->loop);
}

/* A run whose local agents are all gone for good would wait forever. */
static void watch_agents(pd_loop *l, void *arg)
{
	run *r = arg;

	/* agents that never come (a blocked port, a job still pending) would
	 * otherwise leave the run silent forever */
	if (pd_server_agents(r->srv) > 0) {
		r->lonely_s = 0;
	} else if (++r->lonely_s % 60 == 30) {
		pd_warn("no agent connected for %u s; still waiting (Ctrl-C to stop)", r->lonely_s);
	}

	if (r->local && pd_local_alive(r->local) == 0 && pd_server_agents(r->srv) == 0) {
		pd_err("no local agent is left (see the messages above); giving up");
		r->no_agents = 1;
		pd_loop_stop(l);
		return;
	}
	/* every ssh host failed or let its agent go, and no agent is here */
	if (r->ssh && pd_ssh_active(r->ssh) == 0 && pd_server_agents(r->srv) == 0) {
		pd_err("no agent is left on the ssh hosts (%u of %u failed); giving up",
		       pd_ssh_failed(r->ssh), pd_ssh_hosts(r->ssh));
		pd_ssh_report(r->ssh);
		r->no_agents = 1;
		pd_loop_stop(l);
		return;
	}
	pd_timer_start(r->watch, 1000);
}

static void on_signal(pd_loop *l, int signo, void *arg)
{
	run *r = arg;

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

/* Writes and submits (or, for --dry-run, prints) the sbatch script.
 * 0 submitted, 1 dry run done, -errno failed (reported). */
static int submit_slurm(run *r, const char *name, const char *dir, const char *connpath,
			char *jobid, size_t idlen)
{
	char agent[4096], job[160], path[4200], err[2048];
	pd_buf script = {0};
	int rv;

	pd_local_agent_path(agent, sizeof(agent));
	snprintf(job, sizeof(job), "parade-%s", name);
	snprintf(path, sizeof(path), "%s/agents.sbatch", dir);
	rv = pd_slurm_script(&r->o->slurm, job, agent, connpath, dir, &script, err, sizeof(err));
	if (rv == 0 && r->o->slurm.dry_run) {
		fwrite(pd_buf_head(&script), 1, pd_buf_size(&script), stdout);
		fflush(stdout);
		rv = 1;
	} else if (rv == 0) {
		rv = pd_slurm_submit(&r->o->slurm, path, &script, jobid, idlen, err, sizeof(err));
		if (rv == 0)
			pd_info("submitted Slurm job %s: %u agent(s) (script %s)", jobid,
				r->o->slurm.n, path);
	}
	if (rv < 0)
		pd_err("%s", err);
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
static int listen_tcp(run *r, const char *url, pd_connfile *cf, pd_tls **tls, char *err,
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

int pd_run(const pd_run_opts *o)
{
	run r;
	char err[1024], dir[4096], name[128], connpath[4200], sockpath[4200];
	pd_connfile cf;
	pd_endpoint ep, bound;
	pd_tls *tls = NULL;
	pd_local *local = NULL;
	pd_server_opts so;
	pd_server_cbs cbs = {task_argv, on_result, NULL};
	FILE *outf = stdout;
	int rv = 2, have_session = 0, stdin_table = 0;
	unsigned workers = o->workers ? o->workers : online_cores();
	const char *const *words;
	const char *shellword[1];
	const char *step = step_session(o), *listen_url = o->listen;
	char jobid[64] = "";

	memset(&r, 0, sizeof(r));
	memset(&cf, 0, sizeof(cf));
	r.o = o;
	connpath[0] = 0;
	/* agents on other nodes need a TCP listener */
	if (!listen_url && (step || o->launch == PD_LAUNCH_SLURM))
		listen_url = "tls+tcp://0.0.0.0:0";
	/* ssh agents dial back over TLS; through a tunnel, loopback is enough */
	if (!listen_url && o->launch == PD_LAUNCH_SSH)
		listen_url = o->ssh.tunnel ? "tls+tcp://127.0.0.1:0" : "tls+tcp://0.0.0.0:0";

	/* input, template and schema are checked before anything starts */
	if (o->grid) {
		int fmt = o->grid_format >= 0 ? o->grid_format : pd_csv_format_for(o->grid);
		if (pd_table_load(o->grid, fmt, &r.grid, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
	} else {
		if (isatty(0))
			pd_info("reading inputs from the terminal, one per line (end with Ctrl-D); "
				"use --grid FILE for a grid");
		if (read_stdin_table(&r.grid, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
		stdin_table = 1;
	}
	r.total = r.grid->nrows;
	if (o->limit && o->limit < r.total)
		r.total = o->limit;
	if (o->schema && pd_schema_parse(o->schema, &r.schema, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	shellword[0] = o->shell;
	words = o->shell ? shellword : (const char *const *)o->words;
	if (pd_template_compile(words, o->shell ? 1 : (size_t)o->nwords, r.grid, o->shell != NULL,
				&r.tpl, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	if (stdin_table) {
		/* the template is compiled: give the input column a name for the table */
		char *nm = strdup("input");
		if (nm) {
			free(r.grid->header[0]);
			r.grid->header[0] = nm;
		}
	}
	if (pd_output_check_columns(r.grid, r.schema, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	if (o->output && !(outf = fopen(o->output, "we"))) {
		pd_err("cannot write %s: %s", o->output, strerror(errno));
		outf = stdout;
		goto out;
	}
	if (r.total == 0) {
		r.out = pd_output_new(outf, o->format, r.grid, r.schema, !o->unordered);
		rv = r.out ? 0 : 2;
		goto out;
	}

	/* the session: folder, secret, connection file, listeners */
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
		snprintf(name, sizeof(name), "%s", step);
		if (pd_session_open(step, dir, sizeof(dir), err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
		pd_info("using the %s agents Slurm started for this step (session %s)",
			getenv("PARADE_STEP_WORKERS") ? getenv("PARADE_STEP_WORKERS") : "?", step);
	} else if (pd_session_create(o->name, dir, sizeof(dir), name, sizeof(name), err,
				     sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	have_session = 1;
	r.loop = pd_loop_new();
	if (!r.loop || pd_random(cf.secret, sizeof(cf.secret)) < 0) {
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
	r.srv = pd_server_new(r.loop, &so, &cbs, &r);
	if (!r.srv) {
		pd_err("out of memory");
		goto out;
	}
	snprintf(sockpath, sizeof(sockpath), "ipc://%s/agents.sock", dir);
	if (pd_endpoint_parse(sockpath, &ep, err, sizeof(err)) < 0 ||
	    pd_server_listen(r.srv, &ep, NULL, &bound, err, sizeof(err)) < 0) {
		pd_err("%s (set PARADE_HOME to a shorter path?)", err);
		goto out;
	}
	cf.version = PD_PROTO_VERSION;
	snprintf(cf.session, sizeof(cf.session), "%s", name);
	snprintf(cf.identity, sizeof(cf.identity), "%s", PD_PSK_IDENTITY);
	if (copy_str(cf.local, sizeof(cf.local), sockpath) < 0 ||
	    copy_str(cf.endpoint, sizeof(cf.endpoint), sockpath) < 0) {
		pd_err("session path too long: %s", dir);
		goto out;
	}
	if (listen_url && listen_tcp(&r, listen_url, &cf, &tls, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	snprintf(connpath, sizeof(connpath), "%s/connection", dir);
	if (pd_connfile_write(connpath, &cf, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	if (o->listen)
		pd_info("session %s: agents may join at %s with the connection file %s", name,
			cf.endpoint, connpath);
	if (o->launch == PD_LAUNCH_SLURM && !step) {
		rv = submit_slurm(&r, name, dir, connpath, jobid, sizeof(jobid));
		if (rv != 0) {
			rv = rv > 0 ? 0 : 2; /* a dry run ends here */
			goto out;
		}
		rv = 2;
	}
	r.out = pd_output_new(outf, o->format, r.grid, r.schema, !o->unordered);
	if (!r.out) {
		pd_err("out of memory");
		goto out;
	}

	if (pd_server_add_tasks(r.srv, r.total) < 0) {
		pd_err("out of memory queueing %llu tasks", (unsigned long long)r.total);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	pd_loop_signal(r.loop, SIGINT, on_signal, &r);
	pd_loop_signal(r.loop, SIGTERM, on_signal, &r);
	pd_loop_signal(r.loop, SIGHUP, on_signal, &r);
	if (o->launch == PD_LAUNCH_LOCAL && !step) {
		char slots[16];
		const char *extra[4] = {NULL};
		int k = 0;
		snprintf(slots, sizeof(slots), "%u", o->agent_slots);
		extra[k++] = "--slots";
		extra[k++] = slots;
		if (pd_log_get_level() >= PD_LOG_DEBUG)
			extra[k++] = "-v";
		local = pd_local_start(r.loop, connpath, workers, extra, err, sizeof(err));
		if (!local) {
			pd_err("%s", err);
			goto out;
		}
		r.local = local;
	}
	if (o->launch == PD_LAUNCH_SSH) {
		/* ssh keeps the secret to send it again when it restarts a host */
		pd_ssh_opts sso = o->ssh;
		pd_endpoint lep;
		sso.slots = o->agent_slots;
		sso.verbose = pd_log_get_level() >= PD_LOG_DEBUG;
		if (pd_endpoint_parse(cf.endpoint, &lep, err, sizeof(err)) < 0 ||
		    !(r.ssh = pd_ssh_start(r.loop, &sso, &cf, &lep, err, sizeof(err)))) {
			pd_err("%s", err);
			goto out;
		}
	}
	memset(cf.secret, 0, sizeof(cf.secret));
	r.watch = pd_timer_new(r.loop, watch_agents, &r);
	if (r.watch)
		pd_timer_start(r.watch, 1000);
	r.prog = pd_progress_new(stderr, o->progress < 0 ? isatty(2) : o->progress, r.total);
	pd_loop_run(r.loop);

	/* the end: stop agents (and with them every task), then report */
	pd_server_shutdown(r.srv);
	pd_loop_run_deferred(r.loop);
	/* agents that got BYE are leaving already; one that never joined
	 * would not hear it, so do not wait: SIGTERM makes each end its tasks */
	pd_local_stop(local, 0);
	pd_ssh_stop(r.ssh);
	pd_progress_free(r.prog);
	r.prog = NULL;
	if (pd_output_finish(r.out) < 0 && !r.write_failed) {
		pd_err("cannot write the result table: %s", strerror(errno));
		r.write_failed = 1;
	}
	{
		uint64_t done = r.ok + r.failed + r.timeout + r.lost;
		uint64_t bad = r.failed + r.timeout + r.lost;
		if (r.interrupted) {
			pd_err("interrupted: %llu of %llu tasks finished, %llu not run",
			       (unsigned long long)done, (unsigned long long)r.total,
			       (unsigned long long)(r.total - done));
			rv = r.interrupted == SIGINT ? 130 : 128 + r.interrupted;
		} else if (r.write_failed || r.no_agents) {
			rv = 2;
		} else if (bad) {
			pd_err("%llu of %llu tasks not ok: %llu failed, %llu timed out, %llu lost",
			       (unsigned long long)bad, (unsigned long long)r.total,
			       (unsigned long long)r.failed, (unsigned long long)r.timeout,
			       (unsigned long long)r.lost);
			rv = 1;
		} else {
			rv = 0;
		}
	}
out:
	if (r.srv) {
		pd_server_shutdown(r.srv);
		pd_loop_run_deferred(r.loop);
	}
	pd_timer_free(r.watch);
	pd_local_stop(local, 0);
	pd_local_free(local);
	pd_ssh_stop(r.ssh);
	pd_ssh_free(r.ssh);
	memset(cf.secret, 0, sizeof(cf.secret));
	if (jobid[0])
		pd_slurm_cancel(jobid);
	pd_progress_free(r.prog);
	pd_server_free(r.srv);
	pd_tls_free(tls);
	if (r.out) {
		pd_output_finish(r.out);
		pd_output_free(r.out);
	}
	if (outf != stdout && fclose(outf) != 0 && rv == 0) {
		pd_err("cannot write %s: %s", o->output, strerror(errno));
		rv = 2;
	}
	if (have_session && step) {
		/* the agents' logs stay; the secret and the socket go */
		unlink(connpath);
		snprintf(sockpath, sizeof(sockpath), "%s/agents.sock", dir);
		unlink(sockpath);
	} else if (have_session && !o->keep_session) {
		pd_session_remove(dir);
	}
	pd_template_free(r.tpl);
	pd_schema_free(r.schema);
	if (stdin_table)
		free_stdin_table(r.grid);
	else
		pd_table_free(r.grid);
	pd_loop_free(r.loop);
	return rv;
}
