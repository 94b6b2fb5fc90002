/* record.c - results on their way to the journal, the table and the
 * counters; the journal's set-up and its reading on a restart. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "json.h"
#include "log.h"
#include "session.h"
#include "session_record.h"

#define COMMIT_MS 5      /* a result waits at most this long for its commit */
#define COMMIT_ROWS 4096 /* or until this many writes are pending */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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

static void count(ctl *c, int status, uint64_t n)
{
	switch (status) {
	case PD_ST_OK:
		c->res.ok += n;
		break;
	case PD_ST_TIMEOUT:
		c->res.timeout += n;
		break;
	case PD_ST_LOST:
		c->res.lost += n;
		break;
	default:
		c->res.failed += n;
	}
}

uint64_t ctl_done(const ctl *c)
{
	return c->res.ok + c->res.failed + c->res.timeout + c->res.lost;
}

uint64_t ctl_total(const ctl *c)
{
	return c->srv ? pd_server_total(c->srv) : 0;
}

void ctl_check_end(ctl *c)
{
	if (c->state == CTL_RUNNING && !c->serve && ctl_total(c) > 0 &&
	    ctl_done(c) >= ctl_total(c))
		pd_loop_stop(c->loop);
	else if (c->state == CTL_STOPPING && pd_server_running(c->srv) == 0 &&
	         !(c->res.jn && pd_journal_pending(c->res.jn)))
		pd_loop_stop(c->loop);
}

/* The pend[] class of a status. */
static int pclass(int status)
{
	return status >= 0 && status < 4 ? status : PD_ST_FAILED;
}

/* A result the journal refused for a reason other than its size (a write
 * that would fail again as it is, e.g. its table gone; the disk's own
 * refusals the journal keeps itself): held here, with copies of its
 * strings, and written again before each commit. While one is held the
 * journal counts as failing. */
struct ctl_unrec {
	struct ctl_unrec *next;
	pd_jresult r; /* agent, out, error: the copies below */
	char *agent, *out, *error;
};

static void unrec_free1(struct ctl_unrec *u)
{
	free(u->agent);
	free(u->out);
	free(u->error);
	free(u);
}

void ctl_unrec_free(ctl *c)
{
	while (c->res.unrec) {
		struct ctl_unrec *u = c->res.unrec;
		c->res.unrec = u->next;
		unrec_free1(u);
	}
}

/* Holds a copy of r at the end of the list: 0 or -ENOMEM. */
static int unrec_hold(ctl *c, const pd_jresult *r)
{
	struct ctl_unrec *u = calloc(1, sizeof(*u)), **tail = &c->res.unrec;

	if (!u)
		return -ENOMEM;
	u->r = *r;
	u->agent = strdup(r->agent ? r->agent : "");
	u->error = strdup(r->error ? r->error : "");
	u->out = malloc(r->out_len + 1);
	if (!u->agent || !u->error || !u->out) {
		unrec_free1(u);
		return -ENOMEM;
	}
	if (r->out_len)
		memcpy(u->out, r->out, r->out_len);
	u->r.agent = u->agent;
	u->r.error = u->error;
	u->r.out = u->out;
	while (*tail)
		tail = &(*tail)->next;
	*tail = u;
	return 0;
}

/* Writes the held results again; those the journal takes join its open
 * transaction (their pend[] count stays), a duplicate leaves pend[]. Those
 * still refused are counted in held[] by class, the last refusal's reason
 * in err. */
static void unrec_retry(ctl *c, uint64_t held[4], char *err, size_t errlen)
{
	struct ctl_unrec **p = &c->res.unrec;
	int rv;

	while (*p) {
		struct ctl_unrec *u = *p;
		rv = pd_journal_result(c->res.jn, &u->r);
		if (rv < 0) {
			held[pclass(u->r.status)]++;
			snprintf(err, errlen, "%s", pd_journal_error(c->res.jn));
			p = &u->next;
			continue;
		}
		if (rv == 0)
			c->res.pend[pclass(u->r.status)]--; /* it had its result already */
		*p = u->next;
		unrec_free1(u);
	}
}

void ctl_commit(ctl *c)
{
	uint64_t failed_ms, held[4] = {0, 0, 0, 0};
	char refused[512] = "";
	int rv;

	c->res.commit_armed = 0;
	if (!c->res.jn)
		return;
	unrec_retry(c, held, refused, sizeof(refused));
	rv = pd_journal_commit(c->res.jn);
	if (rv == 0) {
		for (int i = 0; i < 4; i++) {
			count(c, i, c->res.pend[i] - held[i]);
			c->res.pend[i] = held[i];
		}
	}
	if (rv < 0 || c->res.unrec) {
		/* everything stays kept in the journal's handle (or held here);
		 * no new task goes out until it is durable again */
		snprintf(c->res.journal_err, sizeof(c->res.journal_err), "%s",
		         rv < 0 ? pd_journal_error(c->res.jn) : refused);
		if (!c->res.journal_failed) {
			pd_err("cannot write the journal: %s; results are kept in memory, no new "
			       "task is handed out, and it is tried again every second",
			       c->res.journal_err);
			c->res.journal_fail_ms = now_ms();
			if (c->srv)
				pd_server_pause(c->srv, 1);
		}
		c->res.journal_failed = 1;
		c->res.commit_armed = 1;
		pd_timer_start(c->res.commit_timer, 1000);
		return;
	}
	if (c->res.journal_failed) {
		failed_ms = now_ms() - c->res.journal_fail_ms;
		c->res.journal_failed = 0;
		pd_info("the journal takes writes again after %.1f s; tasks are handed out again",
			(double)failed_ms / 1000.0);
		if (c->srv)
			pd_server_pause(c->srv, 0);
		ctl_journal_event(c, "warning", "the journal could not be written for %.1f s: %s",
		                  (double)failed_ms / 1000.0, c->res.journal_err);
		c->res.journal_err[0] = 0;
	}
	ctl_check_end(c);
}

/* After a write: commit soon, or now when a batch is full. */
static void journal_wrote(ctl *c)
{
	if (pd_journal_pending(c->res.jn) >= COMMIT_ROWS && !c->res.journal_failed) {
		pd_timer_stop(c->res.commit_timer);
		ctl_commit(c);
	} else if (!c->res.commit_armed) {
		c->res.commit_armed = 1;
		pd_timer_start(c->res.commit_timer, COMMIT_MS);
	}
}

void ctl_on_result(void *arg, const pd_result_msg *m, const char *agent)
{
	ctl *c = arg;
	pd_jresult jr;
	pd_row row;
	char error[1024];
	int status, dropped_out = 0;

	if (m->id >= ctl_total(c))
		return;
	memset(&jr, 0, sizeof(jr));
	jr.task = m->id;
	jr.attempt = m->attempt;
	jr.status = m->status;
	jr.exit_code = m->exit_code;
	jr.seconds = (double)m->wall_us / 1e6;
	jr.agent = agent ? agent : "";
	jr.out = m->out;
	jr.out_len = m->out_len;
	jr.error = error;
	/* the row decides the status (a stdout that does not fit the schema
	 * fails it); the error column is the schema's word, the agent's or
	 * the last stderr line */
	pd_row_build(&row, c->tasks.schema, &jr, 0);
	status = row.r.status;
	error_text(m, row.schema_err, error, sizeof(error));
	if (c->res.jn) {
		int rv;
		if (m->out_len > PD_JOURNAL_MAX_BLOB) {
			/* a result the journal cannot keep is a failed row that
			 * says why, never a task that runs again and again */
			snprintf(error, sizeof(error),
				 "stdout of %llu bytes is more than the journal keeps of one "
				 "result (%u bytes); it is dropped",
				 (unsigned long long)m->out_len, PD_JOURNAL_MAX_BLOB);
			status = PD_ST_FAILED;
			dropped_out = 1;
		}
		jr.status = status;
		jr.out = dropped_out ? NULL : m->out;
		jr.out_len = dropped_out ? 0 : m->out_len;
		jr.at_ms = now_ms();
		rv = pd_journal_result(c->res.jn, &jr);
		if (rv == 0)
			goto out; /* it has its result already: never twice */
		if (rv < 0) {
			/* refused for a reason of the journal's, not the result's:
			 * held and written again at each commit, which fails (the
			 * journal is failing: no new task, status says so) until
			 * it is taken */
			int hv = unrec_hold(c, &jr);
			pd_err("cannot record the result of task %llu in the journal: %s; %s",
			       (unsigned long long)m->id, pd_journal_error(c->res.jn),
			       hv < 0 ? "out of memory holding it: it is lost, 'parade resume' "
			                "runs the task again"
			              : "it is held in memory and written again every second");
		}
		c->res.pend[pclass(status)]++;
		journal_wrote(c);
	} else {
		count(c, status, 1);
	}
	c->res.taken++;
	if (c->res.out) {
		row.r.status = status;
		row.r.error = error;
		if (dropped_out) {
			row.r.out = "";
			row.r.out_len = 0;
			row.r.values = NULL;
		}
		if (pd_output_row(c->res.out, m->id, &row.r) == -EIO && !c->write_failed) {
			c->write_failed = 1;
			pd_err("cannot write the result table: %s", strerror(errno));
			pd_loop_stop(c->loop);
		}
	}
	pd_progress_update(c->res.prog, c->res.taken,
	                   c->res.taken - c->res.ok - c->res.pend[PD_ST_OK], pd_now_us() / 1000);
	ctl_check_end(c);
out:
	pd_row_free(&row);
}

void ctl_on_sent(void *arg, uint64_t id, uint32_t attempt, const char *agent)
{
	ctl *c = arg;

	if (c->res.jn && pd_journal_attempt(c->res.jn, id, attempt, agent, now_ms()) == 0)
		journal_wrote(c);
}

void ctl_on_agent(void *arg, int joined, const pd_agent_info *a)
{
	ctl *c = arg;

	if (!c->res.jn)
		return;
	if (a->slot >= c->res.nagent_rows) {
		size_t n = a->slot + 64;
		int64_t *t = realloc(c->res.agent_rows, n * sizeof(*t));
		if (!t)
			return;
		memset(t + c->res.nagent_rows, 0, (n - c->res.nagent_rows) * sizeof(*t));
		c->res.agent_rows = t;
		c->res.nagent_rows = n;
	}
	if (joined) {
		pd_jagent ja;
		memset(&ja, 0, sizeof(ja));
		ja.name = a->name;
		ja.host = a->host;
		ja.mode = a->mode;
		ja.slurm_job = a->slurm_job;
		ja.slurm_step = a->slurm_step;
		ja.pid = a->pid;
		ja.slots = a->slots;
		ja.joined_ms = now_ms();
		if (pd_journal_agent_join(c->res.jn, &ja, &c->res.agent_rows[a->slot]) < 0)
			c->res.agent_rows[a->slot] = 0;
	} else if (c->res.agent_rows[a->slot] > 0) {
		pd_journal_agent_leave(c->res.jn, c->res.agent_rows[a->slot], now_ms(), a->done);
		c->res.agent_rows[a->slot] = 0;
	}
	journal_wrote(c);
}

void ctl_rate_sample(ctl *c)
{
	memmove(c->res.rate_at + 1, c->res.rate_at,
	        (CTL_RATE_SAMPLES - 1) * sizeof(c->res.rate_at[0]));
	c->res.rate_at[0] = ctl_done(c);
	if (c->res.rate_n < CTL_RATE_SAMPLES)
		c->res.rate_n++;
}

double ctl_rate(const ctl *c)
{
	if (c->res.rate_n < 2)
		return 0;
	return (double)(c->res.rate_at[0] - c->res.rate_at[c->res.rate_n - 1]) /
	       (double)(c->res.rate_n - 1);
}

int ctl_add_task(ctl *c, const char *const *cells)
{
	uint64_t id = c->tasks.grid->nrows;
	int rv = pd_table_append(c->tasks.grid, cells);

	if (rv < 0)
		return rv;
	if (c->res.jn && (rv = pd_journal_task(c->res.jn, id, cells, c->tasks.grid->ncols)) < 0)
		return rv;
	if (c->res.jn)
		journal_wrote(c);
	return pd_server_add_tasks(c->srv, 1);
}

int ctl_journal_event(ctl *c, const char *kind, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	int rv;

	if (!c->res.jn)
		return 0;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rv = pd_journal_event(c->res.jn, now_ms(), kind, text);
	if (rv == 0)
		journal_wrote(c);
	return rv;
}

int ctl_journal_create(ctl *c, char *err, size_t errlen)
{
	char path[4200], num[32];
	int rv;

	pd_session_path(path, sizeof(path), c->ses.dir, PD_SF_JOURNAL);
	rv = pd_journal_open(path, PD_J_CREATE, &c->res.jn, err, errlen);
	if (rv < 0)
		return rv;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)c->ses.started_s);
	if ((rv = pd_journal_meta_set(c->res.jn, "session", c->ses.name)) < 0 ||
	    (rv = pd_journal_meta_set(c->res.jn, "created", num)) < 0 ||
	    (rv = pd_journal_meta_set(c->res.jn, "state", "running")) < 0 ||
	    (rv = pd_record_write(c->res.jn, c->o, c->tasks.stdin_input, c->tasks.grid)) < 0)
		goto fail;
	for (size_t i = 0; i < c->tasks.grid->nrows; i++) {
		rv = pd_journal_task(c->res.jn, i,
		                     (const char *const *)c->tasks.grid->cells +
		                         i * c->tasks.grid->ncols,
		                     c->tasks.grid->ncols);
		if (rv < 0)
			goto fail;
	}
	if ((rv = pd_journal_commit(c->res.jn)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot write the journal %s: %s", path, strerror(-rv));
	return rv;
}

static int restore_attempt(void *arg, uint64_t task, uint32_t attempt)
{
	ctl *c = arg;

	if (task < ctl_total(c) && attempt < UINT32_MAX)
		pd_server_set_attempt(c->srv, task, attempt + 1);
	return 0;
}

static int restore_result(void *arg, const pd_jresult *r)
{
	ctl *c = arg;

	if (r->task < ctl_total(c) && pd_server_settle(c->srv, r->task) == 1)
		count(c, r->status, 1);
	return 0;
}

int ctl_journal_restore(ctl *c, char *err, size_t errlen)
{
	int rv;

	/* attempts first: settling takes finished tasks off the queue */
	if ((rv = pd_journal_attempts_max(c->res.jn, restore_attempt, c)) < 0 ||
	    (rv = pd_journal_results(c->res.jn, 1, 0, 0, restore_result, c)) < 0) {
		snprintf(err, errlen, "cannot read the journal in %s: %s", c->ses.dir,
		         strerror(-rv));
		return rv;
	}
	c->res.taken = ctl_done(c);
	return 0;
}

int ctl_journal_reopen(ctl *c, char *err, size_t errlen)
{
	char path[4200], why[512];
	int rv;

	pd_session_path(path, sizeof(path), c->ses.dir, PD_SF_JOURNAL);
	if ((rv = pd_journal_open(path, 0, &c->res.jn, err, errlen)) < 0)
		return rv;
	c->tasks.stdin_input = c->o->stdin_recorded;
	if ((rv = pd_record_grid(c->res.jn, &c->tasks.grid, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "journal %s: %s", path, why);
		return rv;
	}
	/* the template reads a stdin line as {}: its column has no name until
	 * the table names it "input" */
	if (c->tasks.stdin_input && (rv = pd_table_rename(c->tasks.grid, 0, "")) < 0)
		snprintf(err, errlen, "out of memory reading %s", path);
	return rv;
}
