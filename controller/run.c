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
	if (m->flags & PD_RF_OUT_TRUNC)
		snprintf(out + n, len - n, "%sstdout truncated", n ? "; " : "");
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

static unsigned online_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

int pd_run(const pd_run_opts *o)
{
	run r;
	char err[1024], dir[4096], name[128], connpath[4200], sockpath[4200], url[600];
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

	memset(&r, 0, sizeof(r));
	memset(&cf, 0, sizeof(cf));
	r.o = o;

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
	if (pd_output_check_columns(r.grid, r.schema, err, sizeof(err)) < 0) {
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
	if (o->output && !(outf = fopen(o->output, "we"))) {
		pd_err("cannot write %s: %s", o->output, strerror(errno));
		outf = stdout;
		goto out;
	}
	r.out = pd_output_new(outf, o->format, r.grid, r.schema, !o->unordered);
	if (!r.out) {
		pd_err("out of memory");
		goto out;
	}
	if (r.total == 0) {
		pd_output_finish(r.out);
		rv = 0;
		goto out;
	}

	/* the session: folder, secret, connection file, listeners */
	if (pd_session_create(o->name, dir, sizeof(dir), name, sizeof(name), err, sizeof(err)) < 0) {
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
	if (o->listen) {
		if (pd_endpoint_parse(o->listen, &ep, err, sizeof(err)) < 0) {
			pd_err("--listen: %s", err);
			goto out;
		}
		if (ep.kind == PD_EP_TCP && !o->insecure) {
			pd_err("--listen %s is plain TCP without TLS: add --insecure to allow it, or "
			       "use tls+tcp://",
			       o->listen);
			goto out;
		}
		if (ep.kind == PD_EP_TLS_TCP &&
		    (pd_tls_global_init() < 0 ||
		     pd_tls_new_psk(1, PD_PSK_IDENTITY, cf.secret, sizeof(cf.secret), &tls, err,
				    sizeof(err)) < 0)) {
			pd_err("%s", err);
			goto out;
		}
		if (pd_server_listen(r.srv, &ep, tls, &bound, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
		pd_endpoint_format(&bound, url, sizeof(url));
		if (copy_str(cf.endpoint, sizeof(cf.endpoint), url) < 0) {
			pd_err("--listen URL too long");
			goto out;
		}
	}
	snprintf(connpath, sizeof(connpath), "%s/connection", dir);
	if (pd_connfile_write(connpath, &cf, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	if (o->listen)
		pd_info("session %s: agents may join at %s with the connection file %s", name,
			cf.endpoint, connpath);
	memset(cf.secret, 0, sizeof(cf.secret));

	if (pd_server_add_tasks(r.srv, r.total) < 0) {
		pd_err("out of memory queueing %llu tasks", (unsigned long long)r.total);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	pd_loop_signal(r.loop, SIGINT, on_signal, &r);
	pd_loop_signal(r.loop, SIGTERM, on_signal, &r);
	pd_loop_signal(r.loop, SIGHUP, on_signal, &r);
	if (!o->launch_none) {
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
	}
	r.prog = pd_progress_new(stderr, o->progress < 0 ? isatty(2) : o->progress, r.total);
	pd_loop_run(r.loop);

	/* the end: stop agents (and with them every task), then report */
	pd_server_shutdown(r.srv);
	pd_loop_run_deferred(r.loop);
	pd_local_stop(local, 3000);
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
		} else if (r.write_failed) {
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
	pd_local_stop(local, 0);
	pd_local_free(local);
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
	if (have_session && !o->keep_session)
		pd_session_remove(dir);
	pd_template_free(r.tpl);
	pd_schema_free(r.schema);
	if (stdin_table)
		free_stdin_table(r.grid);
	else
		pd_table_free(r.grid);
	pd_loop_free(r.loop);
	return rv;
}
