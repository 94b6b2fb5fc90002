/* session_cmds.c - the commands that act on a session by name: status,
 * collect, wait, stop, scale, resume and serve's restart. They ask the
 * controller over its control socket while it runs, and read the journal
 * when it does not. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "commands.h"
#include "control.h"
#include "journal.h"
#include "json.h"
#include "lock.h"
#include "log.h"
#include "output.h"
#include "schema.h"
#include "run.h"
#include "session.h"

#define REQUEST_MS 10000

/* Asks the session's controller; *out is the parsed reply (ok or not).
 * -ESRCH when no controller holds the session, -errno otherwise; err says
 * why. */
static int ask_raw(const char *dir, const char *req, pd_json **out, char **raw, char *err,
		   size_t errlen)
{
	char url[4200], *reply = NULL;
	size_t rlen = 0;
	int rv;

	*out = NULL;
	if (pd_lock_held(dir, NULL, 0) != 1) {
		snprintf(err, errlen, "no controller is running for this session");
		return -ESRCH;
	}
	snprintf(url, sizeof(url), "ipc://%s/control.sock", dir);
	rv = pd_control_request(url, req, strlen(req), REQUEST_MS, &reply, &rlen, err, errlen);
	if (rv < 0)
		return rv;
	rv = pd_json_parse(reply, rlen, out, err, errlen);
	if (raw)
		*raw = reply;
	else
		free(reply);
	if (rv < 0)
		return rv;
	if (pd_json_type(*out) != PD_JSON_OBJECT) {
		snprintf(err, errlen, "the controller's reply is not a JSON object");
		pd_json_free(*out);
		*out = NULL;
		return -EPROTO;
	}
	return 0;
}

static int ask(const char *dir, const char *req, pd_json **out, char *err, size_t errlen)
{
	return ask_raw(dir, req, out, NULL, err, errlen);
}

/* "ok": false replies carry the controller's reason. */
static int reply_ok(const pd_json *r, const char *name)
{
	int ok = 0;
	const char *e;

	if (pd_json_bool(pd_json_get(r, "ok"), &ok) == 0 && ok)
		return 1;
	e = pd_json_str(pd_json_get(r, "error"), NULL);
	pd_err("session %s: %s", name, e ? e : "the controller refused the request");
	return 0;
}

static uint64_t num(const pd_json *obj, const char *key)
{
	uint64_t v = 0;
	double d;

	if (pd_json_u64(pd_json_get(obj, key), &v) < 0 && pd_json_num(pd_json_get(obj, key), &d) == 0 &&
	    d > 0)
		v = (uint64_t)d;
	return v;
}

static const char *str(const pd_json *obj, const char *key)
{
	const char *s = pd_json_str(pd_json_get(obj, key), NULL);
	return s ? s : "";
}

/* ---- the journal of a session no controller holds ---- */

typedef struct offline {
	char state[64];
	pd_jcounts n;
	int has_journal;
} offline;

static void read_offline(const char *dir, offline *off)
{
	char path[4200], err[512], *state = NULL;
	pd_journal *j = NULL;

	memset(off, 0, sizeof(*off));
	snprintf(off->state, sizeof(off->state), "no journal");
	snprintf(path, sizeof(path), "%s/journal.db", dir);
	if (access(path, F_OK) != 0 || pd_journal_open(path, PD_J_READONLY, &j, err, sizeof(err)) < 0)
		return;
	off->has_journal = 1;
	pd_journal_counts(j, &off->n);
	if (pd_journal_meta_get(j, "state", &state) == 0) {
		/* "running" with nobody holding the lock: the controller died */
		snprintf(off->state, sizeof(off->state), "%s",
			 strcmp(state, "running") ? state : "dead");
		free(state);
	}
	pd_journal_close(j);
}

/* ---- status ---- */

static void print_status(const pd_json *r, int agents)
{
	const pd_json *t = pd_json_get(r, "tasks"), *l = pd_json_get(r, "launcher");
	const pd_json *jobs = pd_json_get(l, "jobs"), *list = pd_json_get(r, "agent_list");
	double rate = 0, eta = -1;
	time_t started = (time_t)num(r, "started");
	char when[64] = "?";
	struct tm tm;

	if (localtime_r(&started, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	pd_json_num(pd_json_get(r, "rate"), &rate);
	pd_json_num(pd_json_get(r, "eta_s"), &eta);
	printf("session %s: %s (controller pid %llu on %s, since %s)\n", str(r, "session"),
	       str(r, "state"), (unsigned long long)num(r, "pid"), str(r, "host"), when);
	printf("tasks:    %llu total, %llu queued, %llu running, %llu done (%llu ok, %llu failed, "
	       "%llu timed out, %llu lost)\n",
	       (unsigned long long)num(t, "total"), (unsigned long long)num(t, "queued"),
	       (unsigned long long)num(t, "running"), (unsigned long long)num(t, "done"),
	       (unsigned long long)num(t, "ok"), (unsigned long long)num(t, "failed"),
	       (unsigned long long)num(t, "timeout"), (unsigned long long)num(t, "lost"));
	if (eta >= 0)
		printf("rate:     %.1f tasks/s, ETA %.0f s\n", rate, eta);
	else
		printf("rate:     %.1f tasks/s\n", rate);
	printf("agents:   %llu connected; launcher %s: target %llu, alive %llu\n",
	       (unsigned long long)num(r, "agents"), str(l, "kind"),
	       (unsigned long long)num(l, "target"), (unsigned long long)num(l, "alive"));
	for (size_t i = 0; i < pd_json_len(jobs); i++)
		printf("          Slurm job %s: %s\n", str(pd_json_at(jobs, i), "id"),
		       str(pd_json_at(jobs, i), "state"));
	if (!agents)
		return;
	printf("%-24s %-16s %8s %-6s %-8s %-6s %5s %7s %8s %9s\n", "AGENT", "HOST", "PID", "MODE",
	       "JOB", "STEP", "SLOTS", "RUNNING", "DONE", "HEARD");
	for (size_t i = 0; i < pd_json_len(list); i++) {
		const pd_json *a = pd_json_at(list, i);
		printf("%-24s %-16s %8llu %-6s %-8s %-6s %5llu %7llu %8llu %7llums\n", str(a, "name"),
		       str(a, "host"), (unsigned long long)num(a, "pid"), str(a, "mode"),
		       *str(a, "slurm_job") ? str(a, "slurm_job") : "-",
		       *str(a, "slurm_step") ? str(a, "slurm_step") : "-",
		       (unsigned long long)num(a, "slots"), (unsigned long long)num(a, "running"),
		       (unsigned long long)num(a, "done"),
		       (unsigned long long)num(a, "heartbeat_ms_ago"));
	}
}

static void print_offline(const char *name, const offline *off, int json)
{
	if (json) {
		printf("{\"ok\":true,\"session\":\"%s\",\"state\":\"%s\",\"tasks\":{\"total\":%llu,"
		       "\"done\":%llu,\"ok\":%llu,\"failed\":%llu,\"timeout\":%llu,\"lost\":%llu},"
		       "\"agents\":0}\n",
		       name, off->state, (unsigned long long)off->n.tasks,
		       (unsigned long long)off->n.results, (unsigned long long)off->n.ok,
		       (unsigned long long)off->n.failed, (unsigned long long)off->n.timeout,
		       (unsigned long long)off->n.lost);
		return;
	}
	printf("session %s: %s (no controller running%s)\n", name, off->state,
	       !strcmp(off->state, "dead") ? "; 'parade resume' restarts it" : "");
	if (off->has_journal)
		printf("tasks:    %llu total, %llu done (%llu ok, %llu failed, %llu timed out, "
		       "%llu lost), %llu not done\n",
		       (unsigned long long)off->n.tasks, (unsigned long long)off->n.results,
		       (unsigned long long)off->n.ok, (unsigned long long)off->n.failed,
		       (unsigned long long)off->n.timeout, (unsigned long long)off->n.lost,
		       (unsigned long long)(off->n.tasks - off->n.results));
}

/* One line per session for `parade status` without a name. */
static int list_one(void *arg, const char *name, const char *dir)
{
	int *json = arg;
	char err[512], state[64];
	unsigned long long total, done, agents = 0;
	pd_json *r = NULL;

	/* from the controller while one runs, else from the journal */
	if (ask(dir, "{\"op\":\"status\"}", &r, err, sizeof(err)) == 0 &&
	    pd_json_get(r, "tasks")) {
		const pd_json *t = pd_json_get(r, "tasks");
		snprintf(state, sizeof(state), "%s", str(r, "state"));
		total = num(t, "total");
		done = num(t, "done");
		agents = num(r, "agents");
	} else {
		offline off;
		read_offline(dir, &off);
		snprintf(state, sizeof(state), "%s", off.state);
		total = off.n.tasks;
		done = off.n.results;
	}
	if (*json)
		printf("{\"session\":\"%s\",\"state\":\"%s\",\"total\":%llu,\"done\":%llu,"
		       "\"agents\":%llu}\n",
		       name, state, total, done, agents);
	else
		printf("%-24s %-12s %10llu %10llu %7llu\n", name, state, done, total, agents);
	pd_json_free(r);
	return 0;
}

static const char status_usage[] =
	"usage: parade status [NAME] [--json] [--agents] [--watch[=SEC]]\n"
	"\n"
	"Without NAME, lists the sessions (one JSON object a line with --json).\n"
	"With NAME: tasks total/queued/running/done/failed/lost, rate, ETA, agents\n"
	"and the launcher's state; --agents adds one line per agent; --watch\n"
	"repeats every SEC seconds (default 2) until the session ends.\n";

int pd_status_main(int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, 0, 'j'},
					   {"agents", no_argument, 0, 'a'},
					   {"watch", optional_argument, 0, 'w'},
					   {"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	int c, json = 0, agents = 0, watch = 0, rv = 0;
	unsigned every = 2;
	char dir[4096], err[1024];

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'a': agents = 1; break;
		case 'w':
			watch = 1;
			if (optarg && (sscanf(optarg, "%u", &every) != 1 || every == 0 || every > 3600)) {
				fprintf(stderr, "parade status: --watch '%s': expected seconds from 1 to 3600\n", optarg);
				return 2;
			}
			break;
		case 'h': fputs(status_usage, stdout); return 0;
		default: fputs(status_usage, stderr); return 2;
		}
	}
	if (optind == argc) {
		if (!json)
			printf("%-24s %-12s %10s %10s %7s\n", "SESSION", "STATE", "DONE", "TOTAL", "AGENTS");
		if (pd_session_list(list_one, &json, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			return 2;
		}
		return 0;
	}
	if (optind + 1 != argc) {
		fputs(status_usage, stderr);
		return 2;
	}
	if (pd_session_find(argv[optind], dir, sizeof(dir), err, sizeof(err)) < 0) {
		pd_err("%s", err);
		return 2;
	}
	for (;;) {
		pd_json *r = NULL;
		char *raw = NULL;
		int live = ask_raw(dir,
				   agents ? "{\"op\":\"status\",\"agents\":true}" : "{\"op\":\"status\"}",
				   &r, &raw, err, sizeof(err));
		if (live == 0 && !reply_ok(r, argv[optind])) {
			pd_json_free(r);
			return 2;
		}
		if (live == 0 && json) {
			printf("%s\n", raw);
		} else if (live == 0) {
			print_status(r, agents);
		} else if (live == -ESRCH) {
			offline off;
			read_offline(dir, &off);
			print_offline(argv[optind], &off, json);
		} else {
			pd_err("session %s: %s", argv[optind], err);
			rv = 2;
		}
		free(raw);
		pd_json_free(r);
		fflush(stdout);
		if (!watch || live != 0)
			break;
		sleep(every);
		if (!json)
			printf("\n");
	}
	return rv;
}

/* ---- what a session was started with ---- */

typedef struct recorded {
	pd_journal *j;
	pd_json *argv_json;
	char **argv;
	int argc;
	int mode;		/* enum pd_mode of the session's start */
	pd_run_opts o;		/* its options, parsed again */
} recorded;

static void recorded_free(recorded *r)
{
	pd_ssh_opts_free(&r->o.ssh);
	free(r->argv);
	pd_json_free(r->argv_json);
	pd_journal_close(r->j);
	memset(r, 0, sizeof(*r));
}

/* Opens the journal of the session in dir and parses its command line
 * again. 0 or -errno (reported). */
static int recorded_open(const char *name, const char *dir, int flags, recorded *r)
{
	char path[4200], err[1024], *argv = NULL, *mode = NULL;
	int rv;

	memset(r, 0, sizeof(*r));
	snprintf(path, sizeof(path), "%s/journal.db", dir);
	if (access(path, F_OK) != 0) {
		pd_err("session %s has no journal (%s): it was run with --no-journal, or inside a "
		       "Slurm step",
		       name, path);
		return -ENOENT;
	}
	if ((rv = pd_journal_open(path, flags, &r->j, err, sizeof(err))) < 0) {
		pd_err("%s", err);
		return rv;
	}
	if (pd_journal_meta_get(r->j, "argv", &argv) < 0 ||
	    pd_journal_meta_get(r->j, "mode", &mode) < 0 ||
	    pd_json_parse(argv, strlen(argv), &r->argv_json, err, sizeof(err)) < 0 ||
	    pd_json_type(r->argv_json) != PD_JSON_ARRAY || pd_json_len(r->argv_json) == 0) {
		pd_err("journal %s: the session's command line is missing or damaged", path);
		rv = -EPROTO;
		goto out;
	}
	r->argc = (int)pd_json_len(r->argv_json);
	if (!(r->argv = calloc((size_t)r->argc + 1, sizeof(char *)))) {
		rv = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < r->argc; i++)
		if (!(r->argv[i] = (char *)pd_json_str(pd_json_at(r->argv_json, (size_t)i), NULL))) {
			pd_err("journal %s: the session's command line is damaged", path);
			rv = -EPROTO;
			goto out;
		}
	r->mode = !strcmp(mode, "serve") ? PD_MODE_SERVE
		  : !strcmp(mode, "run") ? PD_MODE_RUN
					 : PD_MODE_SUBMIT;
	if (pd_run_parse(r->argc, r->argv, r->mode, &r->o) != 0) {
		pd_err("journal %s: the session's command line no longer parses", path);
		rv = -EPROTO;
		goto out;
	}
	rv = 0;
out:
	free(argv);
	free(mode);
	if (rv < 0)
		recorded_free(r);
	return rv;
}

/* ---- collect ---- */

typedef struct collector {
	pd_output *out;
	const pd_schema *schema;
	int contiguous;		/* stop at the first task without a result */
	uint64_t next_task;
	uint64_t rows;
	int failed;
} collector;

static int collect_row(void *arg, const pd_jresult *jr)
{
	collector *co = arg;
	pd_row_result row;
	char **values = NULL;
	char err[256];
	int rv;

	if (co->contiguous && jr->task != co->next_task)
		return 1; /* a gap: what follows is not final yet */
	co->next_task = jr->task + 1;
	memset(&row, 0, sizeof(row));
	row.status = jr->status;
	row.exit_code = jr->exit_code;
	row.seconds = jr->seconds;
	row.agent = jr->agent ? jr->agent : "";
	row.out = jr->out ? jr->out : "";
	row.out_len = jr->out_len;
	if (row.out_len && row.out[row.out_len - 1] == '\n')
		row.out_len--;
	if (row.out_len && row.out[row.out_len - 1] == '\r')
		row.out_len--;
	row.error = jr->error ? jr->error : "";
	if (co->schema && jr->status == PD_ST_OK &&
	    (values = calloc(co->schema->n ? co->schema->n : 1, sizeof(char *))))
		pd_schema_extract(co->schema, jr->out, jr->out_len, values, err, sizeof(err));
	row.values = values;
	rv = pd_output_row(co->out, jr->task, &row);
	if (values) {
		for (size_t i = 0; i < co->schema->n; i++)
			free(values[i]);
		free(values);
	}
	if (rv == -EIO) {
		co->failed = 1;
		return 1;
	}
	co->rows++;
	return 0;
}

static int add_task_row(void *arg, uint64_t id, char **cells, size_t n)
{
	pd_table *t = arg;

	if (id != t->nrows || n != t->ncols)
		return -EPROTO;
	return pd_table_append(t, (const char *const *)cells);
}

static const char collect_usage[] =
	"usage: parade collect NAME [--wait] [--format csv|tsv|jsonl] [-o FILE] [--unordered]\n"
	"\n"
	"Writes the session's result table from its journal: while the session\n"
	"runs, the rows finished so far (in grid order: the complete prefix; with\n"
	"--unordered: every finished row, in the order they were recorded); after\n"
	"it ended, every finished row. --wait first waits for the session to end.\n";

int pd_collect_main(int argc, char **argv)
{
	static const struct option lo[] = {{"wait", no_argument, 0, 'w'},
					   {"format", required_argument, 0, 'f'},
					   {"output", required_argument, 0, 'o'},
					   {"unordered", no_argument, 0, 'u'},
					   {"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	int c, wait = 0, format = -1, unordered = 0, rv = 2, live;
	const char *output = NULL;
	char dir[4096], err[1024], **names = NULL;
	recorded rec;
	pd_table *grid = NULL;
	pd_schema *schema = NULL;
	collector co;
	FILE *f = stdout;
	pd_json *cols = NULL;
	char *colstr = NULL, *std = NULL;

	memset(&rec, 0, sizeof(rec));
	memset(&co, 0, sizeof(co));
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (c) {
		case 'w': wait = 1; break;
		case 'f':
			if ((format = pd_format_parse(optarg)) < 0) {
				fprintf(stderr, "parade collect: --format '%s': use csv, tsv or jsonl\n", optarg);
				return 2;
			}
			break;
		case 'o': output = optarg; break;
		case 'u': unordered = 1; break;
		case 'h': fputs(collect_usage, stdout); return 0;
		default: fputs(collect_usage, stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		fputs(collect_usage, stderr);
		return 2;
	}
	if (pd_session_find(argv[optind], dir, sizeof(dir), err, sizeof(err)) < 0) {
		pd_err("%s", err);
		return 2;
	}
	if (wait && pd_lock_wait(dir) < 0) {
		pd_err("cannot wait for session %s", argv[optind]);
		return 2;
	}
	live = pd_lock_held(dir, NULL, 0) == 1;
	if (recorded_open(argv[optind], dir, PD_J_READONLY, &rec) < 0)
		return 2;
	if (format < 0)
		format = rec.o.format;
	if (rec.o.schema && pd_schema_parse(rec.o.schema, &schema, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	/* the columns and inputs, as the session recorded them */
	if (pd_journal_meta_get(rec.j, "columns", &colstr) < 0 ||
	    pd_json_parse(colstr, strlen(colstr), &cols, err, sizeof(err)) < 0 ||
	    pd_json_type(cols) != PD_JSON_ARRAY || pd_json_len(cols) == 0 ||
	    !(names = calloc(pd_json_len(cols), sizeof(*names)))) {
		pd_err("session %s: the journal's column list is missing or damaged", argv[optind]);
		goto out;
	}
	for (size_t i = 0; i < pd_json_len(cols); i++)
		names[i] = (char *)(pd_json_str(pd_json_at(cols, i), NULL)
					    ? pd_json_str(pd_json_at(cols, i), NULL)
					    : "?");
	if (!(grid = pd_table_new((const char *const *)names, pd_json_len(cols))) ||
	    pd_journal_tasks(rec.j, add_task_row, grid) < 0) {
		pd_err("session %s: cannot read the tasks from the journal", argv[optind]);
		goto out;
	}
	if (output && !(f = fopen(output, "we"))) {
		pd_err("cannot write %s: %s", output, strerror(errno));
		f = stdout;
		goto out;
	}
	co.schema = schema;
	co.contiguous = live && !unordered;
	co.out = pd_output_new(f, format, grid, schema, 0);
	if (!co.out) {
		pd_err("out of memory");
		goto out;
	}
	if (pd_journal_results(rec.j, !unordered, 0, 0, collect_row, &co) < 0 || co.failed ||
	    pd_output_finish(co.out) < 0) {
		pd_err("cannot write the result table: %s", co.failed ? strerror(errno) : "journal read failed");
		goto out;
	}
	if (!live && co.rows < grid->nrows)
		pd_warn("session %s: %llu of %zu tasks have no result (the session ended before they "
			"ran)",
			argv[optind], (unsigned long long)(grid->nrows - co.rows), grid->nrows);
	rv = 0;
out:
	if (co.out)
		pd_output_free(co.out);
	if (f != stdout && fclose(f) != 0 && rv == 0) {
		pd_err("cannot write %s: %s", output, strerror(errno));
		rv = 2;
	}
	free(names);
	free(colstr);
	free(std);
	pd_json_free(cols);
	pd_table_free(grid);
	pd_schema_free(schema);
	recorded_free(&rec);
	return rv;
}

/* ---- wait, stop, scale ---- */

/* Waits for the controller to exit; says how the session ended. 0 when
 * every task is done and ok, 1 otherwise. */
static int wait_end(const char *name, const char *dir)
{
	offline off;

	if (pd_lock_wait(dir) < 0) {
		pd_err("cannot wait for session %s", name);
		return 2;
	}
	read_offline(dir, &off);
	fprintf(stderr, "parade: session %s %s: %llu of %llu tasks done (%llu ok, %llu failed, %llu "
			"timed out, %llu lost)\n",
		name, off.state, (unsigned long long)off.n.results, (unsigned long long)off.n.tasks,
		(unsigned long long)off.n.ok, (unsigned long long)off.n.failed,
		(unsigned long long)off.n.timeout, (unsigned long long)off.n.lost);
	return off.has_journal && off.n.ok == off.n.tasks ? 0 : 1;
}

/* Takes a lone flag (--cancel, --foreground) out of argv wherever it
 * stands; returns whether it was there. */
static int take_flag(int *argc, char **argv, const char *flag)
{
	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], flag))
			continue;
		memmove(argv + i, argv + i + 1, (size_t)(*argc - i) * sizeof(*argv));
		(*argc)--;
		return 1;
	}
	return 0;
}

static int find_named(int argc, char **argv, int want, const char *usage, char *dir, size_t len)
{
	char err[1024];

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(usage, stdout);
		return 1;
	}
	if (argc != want) {
		fputs(usage, stderr);
		return -EINVAL;
	}
	if (pd_session_find(argv[1], dir, len, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		return -ENOENT;
	}
	return 0;
}

int pd_wait_main(int argc, char **argv)
{
	static const char usage[] = "usage: parade wait NAME\n\nBlocks until the session's controller "
				    "ends. Exit status 0 when every task is done and ok, 1 otherwise.\n";
	char dir[4096];
	int rv = find_named(argc, argv, 2, usage, dir, sizeof(dir));

	return rv ? (rv > 0 ? 0 : 2) : wait_end(argv[1], dir);
}

int pd_stop_main(int argc, char **argv)
{
	static const char usage[] =
		"usage: parade stop NAME [--cancel]\n\nGraceful: running tasks finish, queued ones "
		"stay queued (parade resume runs them), then the controller and its agents end.\n"
		"--cancel: running tasks are killed at once. Returns when nothing of the session is "
		"left running.\n";
	char dir[4096], err[1024];
	int cancel = take_flag(&argc, argv, "--cancel"), rv;
	pd_json *r = NULL;

	rv = find_named(argc, argv, 2, usage, dir, sizeof(dir));
	if (rv)
		return rv > 0 ? 0 : 2;
	rv = ask(dir, cancel ? "{\"op\":\"stop\",\"cancel\":true}" : "{\"op\":\"stop\"}", &r, err,
		 sizeof(err));
	if (rv == -ESRCH) {
		fprintf(stderr, "parade: session %s has no controller running; nothing to stop\n", argv[1]);
		return 0;
	}
	if (rv < 0 || !reply_ok(r, argv[1])) {
		if (rv < 0)
			pd_err("session %s: %s", argv[1], err);
		pd_json_free(r);
		return 2;
	}
	pd_json_free(r);
	wait_end(argv[1], dir);
	return 0;
}

int pd_scale_main(int argc, char **argv)
{
	static const char usage[] =
		"usage: parade scale NAME N\n\nGrows the session's agent pool to N through its "
		"launcher (local or slurm), or shrinks it: agents over N finish their tasks, then "
		"leave.\n";
	char dir[4096], err[1024], req[128], *end;
	unsigned long n;
	pd_json *r = NULL;
	int rv = find_named(argc, argv, 3, usage, dir, sizeof(dir));

	if (rv)
		return rv > 0 ? 0 : 2;
	n = strtoul(argv[2], &end, 10);
	if (!*argv[2] || *end || argv[2][0] == '-' || n > 100000) {
		fprintf(stderr, "parade scale: N '%s': expected a whole number from 0 to 100000\n", argv[2]);
		return 2;
	}
	snprintf(req, sizeof(req), "{\"op\":\"scale\",\"agents\":%lu}", n);
	rv = ask(dir, req, &r, err, sizeof(err));
	if (rv < 0 || !reply_ok(r, argv[1])) {
		if (rv < 0)
			pd_err("session %s: %s", argv[1], err);
		pd_json_free(r);
		return 2;
	}
	printf("session %s: %llu agents (was %llu)\n", argv[1], (unsigned long long)num(r, "target"),
	       (unsigned long long)num(r, "was"));
	pd_json_free(r);
	return 0;
}

/* ---- resume, and serve on a session that exists ---- */

int pd_resume_main(int argc, char **argv)
{
	static const char usage[] =
		"usage: parade resume NAME [--foreground]\n\nRestarts the controller of a session "
		"whose controller died: finished results stay, unfinished tasks run again, agents "
		"still alive rejoin. Detaches like submit unless --foreground.\n";
	char dir[4096];
	int fg = take_flag(&argc, argv, "--foreground"), rv;
	recorded rec;

	rv = find_named(argc, argv, 2, usage, dir, sizeof(dir));
	if (rv)
		return rv > 0 ? 0 : 2;
	if (recorded_open(argv[1], dir, PD_J_READONLY, &rec) < 0)
		return 2;
	/* the controller opens the journal for writing itself */
	pd_journal_close(rec.j);
	rec.j = NULL;
	rec.o.mode = PD_MODE_RESUME;
	rec.o.serve_session = rec.mode == PD_MODE_SERVE;
	rec.o.foreground = fg || rec.mode == PD_MODE_SERVE;
	rec.o.name = argv[1];
	rv = pd_run(&rec.o);
	recorded_free(&rec);
	return rv;
}

int pd_serve_main(int argc, char **argv)
{
	pd_run_opts o;
	char dir[4096], err[1024], path[4200];
	int rv = pd_run_parse(argc, argv, PD_MODE_SERVE, &o);

	if (rv != 0) {
		pd_ssh_opts_free(&o.ssh);
		return rv > 0 ? 0 : 2;
	}
	/* serve --name on a session that exists picks it up where it was */
	snprintf(path, sizeof(path), "%s/journal.db", dir);
	if (o.name && pd_session_find(o.name, dir, sizeof(dir), err, sizeof(err)) == 0 &&
	    snprintf(path, sizeof(path), "%s/journal.db", dir) > 0 && access(path, F_OK) == 0) {
		char *args[4] = {"parade resume", (char *)o.name, "--foreground", NULL};
		pd_ssh_opts_free(&o.ssh);
		return pd_resume_main(3, args);
	}
	rv = pd_run(&o);
	pd_ssh_opts_free(&o.ssh);
	return rv;
}
