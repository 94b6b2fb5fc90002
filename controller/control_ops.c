/* control_ops.c - the control socket's requests (docs/control.md): one
 * JSON object in, one out. A bad request gets {"ok":false,"error":...};
 * nothing a client sends can stop the controller except "stop". */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "json.h"
#include "log.h"

#define COLLECT_DEFAULT 1000
#define COLLECT_MAX 10000

static void reply_error(pd_buf *reply, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_error(pd_buf *reply, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	pd_jw w;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pd_buf_reset(reply);
	pd_jw_init(&w, reply);
	pd_jw_obj_begin(&w);
	pd_jw_key(&w, "ok");
	pd_jw_bool(&w, 0);
	pd_jw_key(&w, "error");
	pd_jw_str(&w, msg);
	pd_jw_obj_end(&w);
}

static const char *state_name(const ctl *c)
{
	if (c->state == CTL_STOPPING)
		return "stopping";
	if (c->state == CTL_ENDED || (!c->serve && ctl_total(c) && ctl_done(c) >= ctl_total(c)))
		return "finished";
	return c->serve ? "serving" : "running";
}

static void put_agent(void *arg, const pd_agent_info *a)
{
	pd_jw *w = arg;

	pd_jw_obj_begin(w);
	pd_jw_key(w, "name");
	pd_jw_str(w, a->name);
	pd_jw_key(w, "host");
	pd_jw_str(w, a->host);
	pd_jw_key(w, "pid");
	pd_jw_u64(w, a->pid);
	pd_jw_key(w, "mode");
	pd_jw_str(w, a->mode);
	pd_jw_key(w, "slurm_job");
	pd_jw_str(w, a->slurm_job);
	pd_jw_key(w, "slurm_step");
	pd_jw_str(w, a->slurm_step);
	pd_jw_key(w, "slots");
	pd_jw_u64(w, a->slots);
	pd_jw_key(w, "running");
	pd_jw_u64(w, a->running);
	pd_jw_key(w, "done");
	pd_jw_u64(w, a->done);
	pd_jw_key(w, "heartbeat_ms_ago");
	pd_jw_u64(w, a->heard_ms_ago);
	pd_jw_key(w, "draining");
	pd_jw_bool(w, a->draining);
	pd_jw_obj_end(w);
}

static void op_status(ctl *c, const pd_json *req, pd_buf *reply)
{
	int agents = 0;
	char host[256] = "localhost";
	uint64_t total = ctl_total(c), done = ctl_done(c), running = pd_server_running(c->srv);
	double rate = ctl_rate(c);
	pd_jw w;

	pd_json_bool(pd_json_get(req, "agents"), &agents);
	gethostname(host, sizeof(host) - 1);
	pd_jw_init(&w, reply);
	pd_jw_obj_begin(&w);
	pd_jw_key(&w, "ok");
	pd_jw_bool(&w, 1);
	pd_jw_key(&w, "session");
	pd_jw_str(&w, c->ses.name);
	pd_jw_key(&w, "state");
	pd_jw_str(&w, state_name(c));
	pd_jw_key(&w, "pid");
	pd_jw_u64(&w, (uint64_t)getpid());
	pd_jw_key(&w, "host");
	pd_jw_str(&w, host);
	pd_jw_key(&w, "started");
	pd_jw_u64(&w, c->ses.started_s);
	pd_jw_key(&w, "tasks");
	pd_jw_obj_begin(&w);
	pd_jw_key(&w, "total");
	pd_jw_u64(&w, total);
	pd_jw_key(&w, "queued");
	pd_jw_u64(&w, pd_server_queued(c->srv));
	pd_jw_key(&w, "running");
	pd_jw_u64(&w, running);
	pd_jw_key(&w, "done");
	pd_jw_u64(&w, done);
	pd_jw_key(&w, "ok");
	pd_jw_u64(&w, c->res.ok);
	pd_jw_key(&w, "failed");
	pd_jw_u64(&w, c->res.failed);
	pd_jw_key(&w, "timeout");
	pd_jw_u64(&w, c->res.timeout);
	pd_jw_key(&w, "lost");
	pd_jw_u64(&w, c->res.lost);
	pd_jw_obj_end(&w);
	pd_jw_key(&w, "rate");
	pd_jw_dbl(&w, rate);
	pd_jw_key(&w, "eta_s");
	/* with no agent nothing moves: no estimate (its launcher's jobs say
	 * why) */
	if (rate > 0 && total > done && pd_server_agents(c->srv) > 0)
		pd_jw_dbl(&w, (double)(total - done) / rate);
	else
		pd_jw_null(&w);
	pd_jw_key(&w, "agents");
	pd_jw_u64(&w, pd_server_agents(c->srv));
	/* a journal that refuses writes: results wait in memory, no task goes out */
	pd_jw_key(&w, "journal");
	pd_jw_obj_begin(&w);
	pd_jw_key(&w, "ok");
	pd_jw_bool(&w, !c->res.journal_failed);
	if (c->res.journal_failed) {
		pd_jw_key(&w, "error");
		pd_jw_str(&w, c->res.journal_err);
		pd_jw_key(&w, "since");
		pd_jw_u64(&w, c->res.journal_fail_ms / 1000);
		pd_jw_key(&w, "held");
		pd_jw_u64(&w, c->res.pend[0] + c->res.pend[1] + c->res.pend[2] + c->res.pend[3]);
	}
	pd_jw_obj_end(&w);
	pd_launcher_status(c->launcher, c->srv, &w);
	if (agents) {
		pd_jw_key(&w, "agent_list");
		pd_jw_arr_begin(&w);
		pd_server_agent_list(c->srv, put_agent, &w);
		pd_jw_arr_end(&w);
	}
	pd_jw_obj_end(&w);
}

int ctl_scale(ctl *c, unsigned n, char *err, size_t errlen)
{
	unsigned was = pd_launcher_target(c->launcher);
	int rv;

	if (c->state != CTL_RUNNING) {
		snprintf(err, errlen, "the session is stopping");
		return -EINVAL;
	}
	if ((rv = pd_launcher_scale(c->launcher, n, err, errlen)) < 0)
		return rv;
	ctl_journal_event(c, "scale", "agents %u -> %u", was, n);
	return 0;
}

void ctl_stop(ctl *c, int cancel)
{
	if (c->state == CTL_STOPPING && !(cancel && !c->cancel))
		return;
	c->state = CTL_STOPPING;
	c->cancel = cancel;
	ctl_journal_event(c, "stop", "%s", cancel ? "cancel: running tasks are killed"
						  : "graceful: running tasks finish");
	if (cancel) {
		pd_loop_stop(c->loop);
		return;
	}
	pd_server_drain_all(c->srv);
	ctl_check_end(c);
}

/* A row object's value for a column: strings as they are, numbers in
 * their shortest exact form. 0 or -EINVAL. */
static int cell_text(const pd_json *v, char *num, size_t numlen, const char **out)
{
	double d;

	if ((*out = pd_json_cstr(v)))
		return 0;
	if (pd_json_num(v, &d) == 0) {
		/* the shortest text that reads back as the same number: R's 0.1
		 * reaches the command as 0.1, not 0.10000000000000001 */
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(num, numlen, "%.*g", prec, d);
			if (strtod(num, NULL) == d)
				break;
		}
		*out = num;
		return 0;
	}
	return -EINVAL;
}

static void op_submit(ctl *c, const pd_json *req, pd_buf *reply)
{
	const pd_json *tasks = pd_json_get(req, "tasks"), *rows = pd_json_get(req, "rows");
	const pd_json *list = tasks ? tasks : rows;
	size_t n, ncols = c->tasks.grid->ncols;
	uint64_t first = ctl_total(c);
	char **cells = NULL, *nums = NULL;
	pd_buf q = {0};
	pd_jw w;

	if (c->state != CTL_RUNNING || !strcmp(state_name(c), "finished"))
		return reply_error(reply, "the session is %s; it takes no new tasks", state_name(c));
	if ((tasks && rows) || !list || pd_json_type(list) != PD_JSON_ARRAY)
		return reply_error(reply, "submit needs either \"tasks\" or \"rows\": an array");
	n = pd_json_len(list);
	if (tasks && (ncols != 1 || strcmp(c->tasks.grid->header[0], "command")))
		return reply_error(reply, "this session runs a template over the columns of its grid; "
					  "submit \"rows\" with those columns");
	/* check every task before adding any: a request is taken whole or not */
	for (size_t i = 0; i < n; i++) {
		const pd_json *t = pd_json_at(list, i);
		if (pd_json_type(t) != PD_JSON_OBJECT)
			return reply_error(reply, "%s[%zu] is not an object", tasks ? "tasks" : "rows", i);
		if (tasks) {
			const pd_json *argv = pd_json_get(t, "argv");
			if (pd_json_type(argv) != PD_JSON_ARRAY || pd_json_len(argv) == 0)
				return reply_error(reply, "tasks[%zu].argv must be a non-empty array of strings", i);
			for (size_t k = 0; k < pd_json_len(argv); k++) {
				size_t len;
				const char *s = pd_json_str(pd_json_at(argv, k), &len);
				if (!s || strlen(s) != len)
					return reply_error(reply, "tasks[%zu].argv[%zu] must be a string without NUL bytes", i, k);
			}
		} else {
			for (size_t k = 0; k < ncols; k++) {
				const char *s;
				char num[64];
				const pd_json *v = pd_json_get(t, c->tasks.grid->header[k]);
				if (!v)
					return reply_error(reply, "rows[%zu] has no column '%s'", i,
					                   c->tasks.grid->header[k]);
				if (cell_text(v, num, sizeof(num), &s) < 0)
					return reply_error(
					    reply, "rows[%zu].%s must be a string or a number", i,
					    c->tasks.grid->header[k]);
			}
			if (pd_json_len(t) != ncols)
				return reply_error(reply, "rows[%zu] has %zu fields; this session's columns are %zu", i, pd_json_len(t), ncols);
		}
	}
	cells = calloc(ncols ? ncols : 1, sizeof(*cells));
	nums = calloc(ncols ? ncols : 1, 64);
	if (!cells || !nums)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const pd_json *t = pd_json_at(list, i);
		if (tasks) {
			const pd_json *argv = pd_json_get(t, "argv");
			pd_buf_reset(&q);
			for (size_t k = 0; k < pd_json_len(argv); k++) {
				size_t len;
				const char *s = pd_json_str(pd_json_at(argv, k), &len);
				if ((k && pd_buf_append(&q, " ", 1) < 0) || pd_shell_quote(&q, s, len) < 0)
					goto nomem;
			}
			if (pd_buf_append(&q, "", 1) < 0)
				goto nomem;
			cells[0] = (char *)pd_buf_head(&q);
		} else {
			for (size_t k = 0; k < ncols; k++)
				cell_text(pd_json_get(t, c->tasks.grid->header[k]), nums + 64 * k,
				          64, (const char **)&cells[k]);
		}
		if (ctl_add_task(c, (const char *const *)cells) < 0)
			goto nomem;
	}
	free(cells);
	free(nums);
	pd_buf_free(&q);
	ctl_journal_event(c, "submit", "%zu task(s) from the control socket", n);
	pd_jw_init(&w, reply);
	pd_jw_obj_begin(&w);
	pd_jw_key(&w, "ok");
	pd_jw_bool(&w, 1);
	pd_jw_key(&w, "first");
	pd_jw_u64(&w, first);
	pd_jw_key(&w, "count");
	pd_jw_u64(&w, n);
	pd_jw_obj_end(&w);
	return;
nomem:
	free(cells);
	free(nums);
	pd_buf_free(&q);
	reply_error(reply, "out of memory adding tasks (%llu added)",
		    (unsigned long long)(ctl_total(c) - first));
}

/* [record] a result as output.h's row builder makes it (stdout raw), with
 * the journal's seq, task and attempt */
static int put_result(void *arg, const pd_jresult *r)
{
	pd_jw *w = arg;
	pd_row row;

	pd_row_build(&row, NULL, r, PD_ROW_RAW);
	pd_jw_obj_begin(w);
	pd_jw_key(w, "seq");
	pd_jw_u64(w, r->seq);
	pd_jw_key(w, "task");
	pd_jw_u64(w, r->task);
	pd_jw_key(w, "attempt");
	pd_jw_u64(w, r->attempt);
	pd_jw_key(w, "status");
	pd_jw_str(w, pd_status_name((unsigned)row.r.status));
	pd_jw_key(w, "exit_code");
	if (row.r.exit_code < 0)
		pd_jw_null(w);
	else
		pd_jw_i64(w, row.r.exit_code);
	pd_jw_key(w, "seconds");
	pd_jw_dbl(w, row.r.seconds);
	pd_jw_key(w, "agent");
	pd_jw_str(w, row.r.agent);
	pd_jw_key(w, "stdout");
	pd_jw_strn(w, row.r.out, row.r.out_len);
	pd_jw_key(w, "error");
	pd_jw_str(w, row.r.error);
	pd_jw_obj_end(w);
	pd_row_free(&row);
	return 0;
}

typedef struct collect_ctx {
	pd_jw *w;
	uint64_t last;
	uint64_t n;
} collect_ctx;

static int collect_one(void *arg, const pd_jresult *r)
{
	collect_ctx *cc = arg;

	cc->last = r->seq;
	cc->n++;
	return put_result(cc->w, r);
}

static void op_collect(ctl *c, const pd_json *req, pd_buf *reply)
{
	const pd_json *v;
	uint64_t since = 0, limit = COLLECT_DEFAULT;
	collect_ctx cc;
	pd_jw w;
	int rv;

	if (!c->res.jn)
		return reply_error(reply, "this session keeps no journal (--no-journal)");
	if ((v = pd_json_get(req, "since")) && pd_json_u64(v, &since) < 0)
		return reply_error(reply, "\"since\" must be a whole number (a cursor from \"next\")");
	if ((v = pd_json_get(req, "limit")) &&
	    (pd_json_u64(v, &limit) < 0 || limit == 0 || limit > COLLECT_MAX))
		return reply_error(reply, "\"limit\" must be from 1 to %d", COLLECT_MAX);
	/* only what is durable is reported: commit what waits (a failing
	 * journal is retried by its timer, not by every client's poll) */
	if (pd_journal_pending(c->res.jn) && !c->res.journal_failed)
		ctl_commit(c);
	pd_jw_init(&w, reply);
	pd_jw_obj_begin(&w);
	pd_jw_key(&w, "ok");
	pd_jw_bool(&w, 1);
	pd_jw_key(&w, "results");
	pd_jw_arr_begin(&w);
	cc.w = &w;
	cc.last = since;
	cc.n = 0;
	rv = pd_journal_results(c->res.jn, 0, since, (size_t)limit, collect_one, &cc);
	if (rv < 0)
		return reply_error(reply, "cannot read the journal: %s", strerror(-rv));
	pd_jw_arr_end(&w);
	pd_jw_key(&w, "next");
	pd_jw_u64(&w, cc.last);
	/* finished: nothing more will come, and this reply was not cut short */
	pd_jw_key(&w, "finished");
	pd_jw_bool(&w, !strcmp(state_name(c), "finished") && cc.n < limit);
	pd_jw_obj_end(&w);
}

/* The members each op takes; anything else is a mistake worth naming
 * ("cancle": true must not stop a session gracefully). */
static const struct {
	const char *op;
	const char *members[4];
} op_members[] = {
	{"status", {"agents"}},	   {"scale", {"agents"}},	   {"stop", {"cancel"}},
	{"submit", {"tasks", "rows"}}, {"collect", {"since", "limit"}},
};

static const char *unknown_member(const pd_json *j, const char *op)
{
	for (size_t i = 0; i < sizeof(op_members) / sizeof(op_members[0]); i++) {
		if (strcmp(op, op_members[i].op))
			continue;
		for (size_t k = 0; k < pd_json_len(j); k++) {
			const char *key = pd_json_key(j, k);
			int ok = !strcmp(key, "op");
			for (size_t m = 0; m < 4 && op_members[i].members[m] && !ok; m++)
				ok = !strcmp(key, op_members[i].members[m]);
			if (!ok)
				return key;
		}
	}
	return NULL;
}

void ctl_control(void *arg, const char *req, size_t len, pd_buf *reply)
{
	const char *bad;
	ctl *c = arg;
	pd_json *j = NULL;
	const char *op;
	char err[256];

	if (pd_json_parse(req, len, &j, err, sizeof(err)) < 0) {
		reply_error(reply, "malformed request: %s", err);
		return;
	}
	op = pd_json_type(j) == PD_JSON_OBJECT ? pd_json_str(pd_json_get(j, "op"), NULL) : NULL;
	if (!op) {
		reply_error(reply, "a request is a JSON object with an \"op\" string");
	} else if ((bad = unknown_member(j, op))) {
		reply_error(reply, "%.40s: unknown member \"%.60s\"", op, bad);
	} else if (!strcmp(op, "status")) {
		op_status(c, j, reply);
	} else if (!strcmp(op, "scale")) {
		uint64_t n;
		if (pd_json_u64(pd_json_get(j, "agents"), &n) < 0 || n > 100000) {
			reply_error(reply, "scale needs \"agents\": a whole number from 0 to 100000");
		} else {
			unsigned was = pd_launcher_target(c->launcher);
			if (ctl_scale(c, (unsigned)n, err, sizeof(err)) < 0) {
				reply_error(reply, "%s", err);
			} else {
				pd_jw w;
				pd_jw_init(&w, reply);
				pd_jw_obj_begin(&w);
				pd_jw_key(&w, "ok");
				pd_jw_bool(&w, 1);
				pd_jw_key(&w, "target");
				pd_jw_u64(&w, n);
				pd_jw_key(&w, "was");
				pd_jw_u64(&w, was);
				pd_jw_obj_end(&w);
			}
		}
	} else if (!strcmp(op, "stop")) {
		int cancel = 0;
		const pd_json *cv = pd_json_get(j, "cancel");
		if (cv && pd_json_bool(cv, &cancel) < 0) {
			reply_error(reply, "\"cancel\" must be true or false");
		} else {
			pd_jw w;
			ctl_stop(c, cancel);
			pd_jw_init(&w, reply);
			pd_jw_obj_begin(&w);
			pd_jw_key(&w, "ok");
			pd_jw_bool(&w, 1);
			pd_jw_key(&w, "state");
			pd_jw_str(&w, "stopping");
			pd_jw_obj_end(&w);
		}
	} else if (!strcmp(op, "submit")) {
		op_submit(c, j, reply);
	} else if (!strcmp(op, "collect")) {
		op_collect(c, j, reply);
	} else {
		reply_error(reply, "unknown op '%.60s' (status, scale, stop, submit, collect)", op);
	}
	pd_json_free(j);
}
