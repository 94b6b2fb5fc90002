/* session_cmds.c - the commands that act on a session by name: status,
 * wait, stop, scale, resume and serve's restart (collect is in
 * session_collect.c). They ask the controller over its control socket
 * while it runs, and read the journal when it does not. */
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
#include "session_int.h"
#include "session_record.h"

/* ---- status ---- */

static void print_status(const pd_json *r, int agents)
{
	const pd_json *t = pd_json_get(r, "tasks"), *l = pd_json_get(r, "launcher");
	const pd_json *jobs = pd_json_get(l, "jobs"), *list = pd_json_get(r, "agent_list");
	const pd_json *jn = pd_json_get(r, "journal");
	int jok = 1;
	double rate = 0, eta = -1;
	time_t started = (time_t)ses_num(r, "started");
	char when[64] = "?";
	struct tm tm;

	if (localtime_r(&started, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	pd_json_num(pd_json_get(r, "rate"), &rate);
	pd_json_num(pd_json_get(r, "eta_s"), &eta);
	printf("session %s: %s (controller pid %llu on %s, since %s)\n", ses_str(r, "session"),
	       ses_str(r, "state"), (unsigned long long)ses_num(r, "pid"), ses_str(r, "host"), when);
	printf("tasks:    %llu total, %llu queued, %llu running, %llu done (%llu ok, %llu failed, "
	       "%llu timed out, %llu lost)\n",
	       (unsigned long long)ses_num(t, "total"), (unsigned long long)ses_num(t, "queued"),
	       (unsigned long long)ses_num(t, "running"), (unsigned long long)ses_num(t, "done"),
	       (unsigned long long)ses_num(t, "ok"), (unsigned long long)ses_num(t, "failed"),
	       (unsigned long long)ses_num(t, "timeout"), (unsigned long long)ses_num(t, "lost"));
	if (eta >= 0)
		printf("rate:     %.1f tasks/s, ETA %.0f s\n", rate, eta);
	else
		printf("rate:     %.1f tasks/s\n", rate);
	if (pd_json_bool(pd_json_get(jn, "ok"), &jok) == 0 && !jok) {
		time_t since = (time_t)ses_num(jn, "since");
		char at[64] = "?";
		if (localtime_r(&since, &tm))
			strftime(at, sizeof(at), "%H:%M:%S", &tm);
		printf("journal:  FAILING since %s: %s\n"
		       "          %llu results held in memory; no new task is handed out until "
		       "the journal takes writes again (tried every second)\n",
		       at, ses_str(jn, "error"), (unsigned long long)ses_num(jn, "held"));
	}
	printf("agents:   %llu connected; launcher %s: target %llu, alive %llu\n",
	       (unsigned long long)ses_num(r, "agents"), ses_str(l, "kind"),
	       (unsigned long long)ses_num(l, "target"), (unsigned long long)ses_num(l, "alive"));
	for (size_t i = 0; i < pd_json_len(jobs); i++) {
		const pd_json *jb = pd_json_at(jobs, i);
		const char *why = ses_str(jb, "reason");
		printf("          Slurm job %s: %s%s%s%s\n", ses_str(jb, "id"), ses_str(jb, "state"),
		       *why ? " (" : "", why, *why ? ")" : "");
	}
	if (!agents)
		return;
	printf("%-24s %-16s %8s %-6s %-8s %-6s %5s %7s %8s %9s\n", "AGENT", "HOST", "PID", "MODE",
	       "JOB", "STEP", "SLOTS", "RUNNING", "DONE", "HEARD");
	for (size_t i = 0; i < pd_json_len(list); i++) {
		const pd_json *a = pd_json_at(list, i);
		printf("%-24s %-16s %8llu %-6s %-8s %-6s %5llu %7llu %8llu %7llums\n", ses_str(a, "name"),
		       ses_str(a, "host"), (unsigned long long)ses_num(a, "pid"), ses_str(a, "mode"),
		       *ses_str(a, "slurm_job") ? ses_str(a, "slurm_job") : "-",
		       *ses_str(a, "slurm_step") ? ses_str(a, "slurm_step") : "-",
		       (unsigned long long)ses_num(a, "slots"), (unsigned long long)ses_num(a, "running"),
		       (unsigned long long)ses_num(a, "done"),
		       (unsigned long long)ses_num(a, "heartbeat_ms_ago"));
	}
}

/* Prints what the journal says; a damaged one is an error (returns 2). */
static int print_offline(const char *name, const ses_offline *off, int json)
{
	if (off->damaged) {
		pd_err("session %s: the journal cannot be read: %s", name, off->err);
		if (json) {
			pd_buf b = {0};
			pd_jw w;
			pd_jw_init(&w, &b);
			pd_jw_obj_begin(&w);
			pd_jw_key(&w, "ok");
			pd_jw_bool(&w, 0);
			pd_jw_key(&w, "session");
			pd_jw_str(&w, name);
			pd_jw_key(&w, "state");
			pd_jw_str(&w, "damaged");
			pd_jw_key(&w, "error");
			pd_jw_str(&w, off->err);
			pd_jw_obj_end(&w);
			if (!pd_jw_error(&w))
				printf("%.*s\n", (int)pd_buf_size(&b), (const char *)pd_buf_head(&b));
			pd_buf_free(&b);
		}
		return 2;
	}
	if (json) {
		printf("{\"ok\":true,\"session\":\"%s\",\"state\":\"%s\",\"tasks\":{\"total\":%llu,"
		       "\"done\":%llu,\"ok\":%llu,\"failed\":%llu,\"timeout\":%llu,\"lost\":%llu},"
		       "\"agents\":0}\n",
		       name, off->state, (unsigned long long)off->n.tasks,
		       (unsigned long long)off->n.results, (unsigned long long)off->n.ok,
		       (unsigned long long)off->n.failed, (unsigned long long)off->n.timeout,
		       (unsigned long long)off->n.lost);
		return 0;
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
	return 0;
}

/* One line per session for `parade status` without a name. */
static int list_one(void *arg, const char *name, const char *home)
{
	int *json = arg;
	char err[1024], state[64], dir[4096], host[256];
	unsigned long long total = 0, done = 0, agents = 0;
	pd_json *r = NULL;
	int rv;

	/* on a network home: its runtime folder on this host, or the host
	 * whose controller holds it (lib/homefs.h) */
	rv = pd_session_locate(name, dir, sizeof(dir), host, sizeof(host), err, sizeof(err));
	if (rv == -EREMOTE) {
		if (*json)
			printf("{\"session\":\"%s\",\"state\":\"elsewhere\",\"host\":\"%s\"}\n",
			       name, host);
		else
			printf("%-24s %-12s (runs on host %s: ask there)\n", name, "elsewhere", host);
		return 0;
	}
	if (rv < 0)
		snprintf(dir, sizeof(dir), "%s", home);
	/* from the controller while one runs, else from the journal */
	if (ses_ask(dir, "{\"op\":\"status\"}", &r, err, sizeof(err)) == 0 &&
	    pd_json_get(r, "tasks")) {
		const pd_json *t = pd_json_get(r, "tasks");
		snprintf(state, sizeof(state), "%s", ses_str(r, "state"));
		total = ses_num(t, "total");
		done = ses_num(t, "done");
		agents = ses_num(r, "agents");
	} else {
		ses_offline off;
		ses_read_offline(dir, &off);
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
	"repeats every SEC seconds (default 2) until the session ends.\n"
	"Exit status: 0; 1 while the session's journal cannot be written (a full\n"
	"disk: the error is shown); 2 for a journal that cannot be read (damaged)\n"
	"or a usage error.\n";

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
		int live = ses_ask_raw(dir,
				   agents ? "{\"op\":\"status\",\"agents\":true}" : "{\"op\":\"status\"}",
				   &r, &raw, err, sizeof(err));
		if (live == 0 && !ses_reply_ok(r, argv[optind])) {
			pd_json_free(r);
			return 2;
		}
		if (live == 0) {
			int jok = 1;
			/* a journal that refuses writes is a problem worth a status */
			pd_json_bool(pd_json_get(pd_json_get(r, "journal"), "ok"), &jok);
			rv = jok ? 0 : 1;
		}
		if (live == 0 && json) {
			printf("%s\n", raw);
		} else if (live == 0) {
			print_status(r, agents);
		} else if (live == -ESRCH) {
			ses_offline off;
			/* it may have ended since it was found: on a network home it
			 * then left its runtime folder (lib/homefs.h) */
			ses_refind(argv[optind], dir, sizeof(dir));
			ses_read_offline(dir, &off);
			rv = print_offline(argv[optind], &off, json);
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

/* ---- wait, stop, scale ---- */

/* Waits for the controller to exit; says how the session ended. 0 when
 * every task is done and ok, 1 otherwise, 2 when the journal cannot be
 * written or read. */
static int wait_end(const char *name, char *dir, size_t dirlen)
{
	ses_offline off;
	int rv = ses_wait(name, dir, dirlen);

	if (rv)
		return rv;
	ses_read_offline(dir, &off);
	if (off.damaged) {
		pd_err("session %s ended; its journal cannot be read: %s", name, off.err);
		return 2;
	}
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
	static const char usage[] =
		"usage: parade wait NAME\n\nBlocks until the session's controller ends. Exit status 0 "
		"when every task is done and ok, 1 otherwise, 2 when the controller cannot write the "
		"journal (the wait ends then, naming the error) or the journal cannot be read.\n";
	char dir[4096];
	int rv = find_named(argc, argv, 2, usage, dir, sizeof(dir));

	return rv ? (rv > 0 ? 0 : 2) : wait_end(argv[1], dir, sizeof(dir));
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
	rv = ses_ask(dir, cancel ? "{\"op\":\"stop\",\"cancel\":true}" : "{\"op\":\"stop\"}", &r, err,
		 sizeof(err));
	if (rv == -ESRCH) {
		fprintf(stderr, "parade: session %s has no controller running; nothing to stop\n", argv[1]);
		return 0;
	}
	if (rv < 0 || !ses_reply_ok(r, argv[1])) {
		if (rv < 0)
			pd_err("session %s: %s", argv[1], err);
		pd_json_free(r);
		return 2;
	}
	pd_json_free(r);
	wait_end(argv[1], dir, sizeof(dir));
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
	rv = ses_ask(dir, req, &r, err, sizeof(err));
	if (rv < 0 || !ses_reply_ok(r, argv[1])) {
		if (rv < 0)
			pd_err("session %s: %s", argv[1], err);
		pd_json_free(r);
		return 2;
	}
	printf("session %s: %llu agents (was %llu)\n", argv[1], (unsigned long long)ses_num(r, "target"),
	       (unsigned long long)ses_num(r, "was"));
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
	const char *name;
	pd_journal *j = NULL;
	pd_record rec;

	rv = find_named(argc, argv, 2, usage, dir, sizeof(dir));
	if (rv)
		return rv > 0 ? 0 : 2;
	name = argv[1];
	if (ses_journal_open(name, dir, PD_J_READONLY, &j) < 0)
		return 2;
	rv = pd_record_read(name, j, PD_REC_FOR_RUN, &rec);
	/* the controller opens the journal for writing itself */
	pd_journal_close(j);
	if (rv < 0) {
		pd_record_free(&rec);
		return 2;
	}
	rec.o.mode = PD_MODE_RESUME;
	rec.o.serve_session = rec.mode == PD_MODE_SERVE;
	rec.o.foreground = fg || rec.mode == PD_MODE_SERVE;
	rec.o.stdin_recorded = rec.stdin_input;
	rec.o.name = name;
	rv = pd_run(&rec.o);
	pd_record_free(&rec);
	return rv;
}

int pd_serve_main(int argc, char **argv)
{
	pd_run_opts o;
	char dir[4096], err[1024], path[4200];
	int rv = pd_run_parse(argc, argv, PD_MODE_SERVE, &o);

	if (rv != 0) {
		pd_run_opts_free(&o);
		return rv > 0 ? 0 : 2;
	}
	/* serve --name on a session that exists picks it up where it was */
	if (o.name && pd_session_find(o.name, dir, sizeof(dir), err, sizeof(err)) == 0 &&
	    pd_session_path(path, sizeof(path), dir, PD_SF_JOURNAL) == 0 && access(path, F_OK) == 0) {
		char *args[4] = {"parade resume", (char *)o.name, "--foreground", NULL};
		pd_run_opts_free(&o);
		return pd_resume_main(3, args);
	}
	rv = pd_run(&o);
	pd_run_opts_free(&o);
	return rv;
}
