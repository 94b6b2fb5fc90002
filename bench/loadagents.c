/* loadagents.c - many authenticated agent connections from one process.
 *
 * A load generator for the controller: one epoll loop (pd_loop + pd_conn)
 * opens N connections to a running controller, read from its connection
 * file (TLS 1.3 PSK as real agents use, or a Unix socket), each saying
 * HELLO as an agent of mode "load" with one slot. Each connection answers
 * PINGs and echo tasks (result: the arguments joined by spaces, like the
 * agent's echo built-in); other task kinds fail. At most --rate
 * connections are being set up at once; a connection that fails before its
 * WELCOME is tried again after a short pause.
 *
 * Figures: the connect storm time, from the first connect() to the N-th
 * WELCOME, and at the end the tasks answered (and their rate after the
 * storm). With --hold, tasks that arrive during the storm are answered
 * only once all N connections are welcomed, so the rate after the storm is
 * measured with every connection present.
 *
 * SIGUSR1 ends --hold early: held tasks are answered at once and new
 * ones as they come, whether or not all N connections are welcomed.
 *
 * It stays connected until killed (SIGINT/SIGTERM) or the controller says
 * BYE; after a BYE it opens no new connections and ends when the last one
 * is closed. Exit status: 0 ended by BYE or a signal; 1 a set-up error or
 * the controller was unreachable for --grace seconds; 2 a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "codec.h"
#include "conn.h"
#include "endpoint.h"
#include "loop.h"
#include "net.h"
#include "session.h"

#define DEFAULT_RATE 256u
#define DEFAULT_TIMEOUT_S 30u
#define DEFAULT_GRACE_S 30u
#define RETRY_MS 100u
#define SPARE_FDS 32u /* stdio, epoll, signalfd, timers, the connection file */

static const char usage[] =
	"usage: loadagents -n N --connect FILE [--rate R] [--hold] [--report]\n"
	"                  [--timeout S] [--grace S]\n"
	"\n"
	"Opens N agent connections to the controller of FILE (a session's\n"
	"connection file) from this one process and answers echo tasks.\n"
	"\n"
	"  -n N           connections to open (default 1000)\n"
	"  --connect FILE the controller's connection file\n"
	"  --rate R       connections being set up at once (default 256)\n"
	"  --hold         answer no task before all N are welcomed (or SIGUSR1)\n"
	"  --report       print one line of key=value figures on stdout when\n"
	"                 the storm is complete (or cannot complete)\n"
	"  --timeout S    a connection not welcomed within S s is retried (30)\n"
	"  --grace S      give up when no connection is welcomed for S s (30)\n"
	"  -h, --help     this help\n";

typedef struct load load;

typedef struct lconn {
	load *ld;
	pd_conn *conn;
	int welcomed;
	/* tasks held back by --hold until the storm is complete */
	pd_task_msg **held;
	size_t nheld, capheld;
} lconn;

struct load {
	pd_loop *loop;
	pd_tls *tls;
	pd_endpoint ep;
	unsigned n, rate, report, hold;
	uint64_t timeout_ms, grace_ms;
	lconn *c;
	/* indices waiting for a connection attempt, a FIFO ring of n */
	unsigned *todo;
	size_t todo_head, todo_len;
	unsigned inflight; /* connecting, not yet welcomed */
	unsigned open;     /* connections that exist */
	unsigned welcomed, max_welcomed;
	uint64_t t0_us, storm_us, end_us;
	int storm_done, reported, bye_seen, stopping, exit_code;
	uint64_t attempts, failures, tasks, tasks_at_storm;
	uint64_t last_welcome_ms;
	char last_err[600];
	char host[128];
	pd_timer *retry, *tick;
};

static void start_more(load *ld);

/* ---- answers ---- */

static int echo_result(pd_buf *out, size_t mark, const pd_task_msg *t)
{
	pd_result_msg r;
	pd_buf b = {0};
	int rv = 0;

	memset(&r, 0, sizeof(r));
	r.id = t->id;
	r.attempt = t->attempt;
	r.out = r.err = r.error = "";
	if (t->kind == PD_TASK_ECHO) {
		rv = pd_buf_join(&b, t->argv, t->argc);
		if (rv == 0)
			rv = pd_buf_append(&b, "\n", 1);
		if (rv == 0 && t->out_limit && b.len > t->out_limit) {
			b.len = t->out_limit;
			r.flags |= PD_RF_OUT_TRUNC;
		}
		r.out = (char *)b.data;
		r.out_len = (uint32_t)b.len;
	} else {
		r.status = PD_ST_FAILED;
		r.exit_code = -1;
		r.error = "loadagents runs echo tasks only";
	}
	if (rv == 0)
		rv = pd_results_add(out, mark, &r);
	pd_buf_free(&b);
	return rv;
}

/* Answers tasks[0, n) in one RESULTS frame on lc's connection. */
static void answer(lconn *lc, pd_task_msg **tasks, size_t n)
{
	pd_buf *out = pd_conn_out(lc->conn);
	size_t mark;
	int rv = pd_results_begin(out, &mark);

	for (size_t i = 0; i < n && rv == 0; i++)
		rv = echo_result(out, mark, tasks[i]);
	if (rv == 0)
		rv = pd_results_end(out, mark);
	if (rv < 0) {
		pd_conn_close(lc->conn, "out of memory answering tasks");
		return;
	}
	lc->ld->tasks += n;
	pd_conn_flush(lc->conn);
}

static void release_held(load *ld)
{
	for (unsigned i = 0; i < ld->n; i++) {
		lconn *lc = &ld->c[i];
		if (lc->nheld && lc->conn)
			answer(lc, lc->held, lc->nheld);
		for (size_t k = 0; k < lc->nheld; k++)
			free(lc->held[k]);
		lc->nheld = 0;
	}
}

static int hold(lconn *lc, pd_task_msg *t)
{
	if (lc->nheld == lc->capheld) {
		size_t n = lc->capheld ? lc->capheld * 2 : 4;
		pd_task_msg **p = realloc(lc->held, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		lc->held = p;
		lc->capheld = n;
	}
	lc->held[lc->nheld++] = t;
	return 0;
}

/* ---- figures ---- */

static void print_report(load *ld, const char *state)
{
	double storm_s = ld->storm_done ? (double)(ld->storm_us - ld->t0_us) / 1e6 : -1;

	if (ld->reported)
		return;
	ld->reported = 1;
	if (ld->report) {
		printf("loadagents n=%u connected=%u state=%s storm_s=%.3f conn_per_s=%.0f "
		       "rate=%u attempts=%llu failures=%llu tasks=%llu\n",
		       ld->n, ld->max_welcomed, state, storm_s,
		       storm_s > 0 ? ld->n / storm_s : 0.0, ld->rate,
		       (unsigned long long)ld->attempts, (unsigned long long)ld->failures,
		       (unsigned long long)ld->tasks);
		fflush(stdout);
	}
	if (ld->storm_done)
		fprintf(stderr, "loadagents: %u connections welcomed in %.3f s (%.0f/s, %llu attempts)\n",
			ld->n, storm_s, ld->n / storm_s, (unsigned long long)ld->attempts);
	else
		fprintf(stderr,
			"loadagents: N=%u cannot be reached: at most %u connections were welcomed "
			"(%llu failed attempts; last: %s)\n",
			ld->n, ld->max_welcomed, (unsigned long long)ld->failures,
			ld->last_err[0] ? ld->last_err : "none");
}

/* ---- connections ---- */

static void on_ready(pd_conn *c, void *arg)
{
	lconn *lc = arg;
	pd_hello h;
	char id[64];

	snprintf(id, sizeof(id), "load-%ld-%ld", (long)getpid(), (long)(lc - lc->ld->c));
	memset(&h, 0, sizeof(h));
	h.agent_id = id;
	h.host = lc->ld->host;
	h.pid = (uint32_t)getpid();
	h.slots = 1;
	h.mode = "load";
	pd_hello_encode(pd_conn_out(c), &h);
	pd_conn_flush(c);
}

static void welcomed(lconn *lc)
{
	load *ld = lc->ld;

	lc->welcomed = 1;
	ld->inflight--;
	ld->welcomed++;
	ld->last_welcome_ms = pd_loop_now(ld->loop);
	if (ld->welcomed > ld->max_welcomed)
		ld->max_welcomed = ld->welcomed;
	if (!ld->storm_done && ld->welcomed == ld->n) {
		ld->storm_done = 1;
		ld->storm_us = pd_now_us();
		ld->tasks_at_storm = ld->tasks;
		print_report(ld, "complete");
		release_held(ld);
	}
	start_more(ld);
}

static void on_frame(pd_conn *c, uint8_t type, const uint8_t *p, size_t n, void *arg)
{
	lconn *lc = arg;
	load *ld = lc->ld;

	switch (type) {
	case PD_MSG_WELCOME: {
		pd_welcome w;
		if (lc->welcomed || pd_welcome_decode(p, n, &w) < 0) {
			pd_conn_close(c, "protocol error: bad WELCOME");
			return;
		}
		pd_conn_deadline(c, 0, NULL);
		welcomed(lc);
		return;
	}
	case PD_MSG_REJECT: {
		const char *why = "?";
		pd_reject_decode(p, n, &why);
		snprintf(ld->last_err, sizeof(ld->last_err), "refused: %s", why);
		pd_conn_close(c, "refused");
		return;
	}
	case PD_MSG_TASKS: {
		pd_task_msg **tasks = NULL;
		uint32_t count = 0;
		if (!lc->welcomed || pd_tasks_decode(p, n, &tasks, &count) < 0) {
			pd_conn_close(c, "protocol error: bad TASKS");
			return;
		}
		if (ld->hold && !ld->storm_done) {
			for (uint32_t i = 0; i < count; i++)
				if (hold(lc, tasks[i]) < 0) {
					free(tasks[i]);
					pd_conn_close(c, "out of memory holding a task");
				}
		} else {
			answer(lc, tasks, count);
			for (uint32_t i = 0; i < count; i++)
				free(tasks[i]);
		}
		free(tasks);
		return;
	}
	case PD_MSG_PING: {
		uint64_t stamp = 0;
		pd_ping_decode(p, n, &stamp);
		pd_ping_encode(pd_conn_out(c), PD_MSG_PONG, stamp);
		pd_conn_flush(c);
		return;
	}
	case PD_MSG_PONG:
	case PD_MSG_CANCEL:
		return;
	case PD_MSG_DRAIN:
		pd_frame_empty(pd_conn_out(c), PD_MSG_BYE);
		pd_conn_close(c, "asked to drain");
		return;
	case PD_MSG_BYE:
		if (!ld->bye_seen)
			ld->end_us = pd_now_us();
		ld->bye_seen = 1;
		pd_conn_close(c, "controller finished");
		return;
	default:
		pd_conn_close(c, "protocol error: unexpected message");
	}
}

static void todo_push(load *ld, unsigned i)
{
	ld->todo[(ld->todo_head + ld->todo_len) % ld->n] = i;
	ld->todo_len++;
}

static void on_close(pd_conn *c, const char *why, void *arg)
{
	lconn *lc = arg;
	load *ld = lc->ld;

	(void)c;
	lc->conn = NULL;
	ld->open--;
	for (size_t k = 0; k < lc->nheld; k++)
		free(lc->held[k]);
	lc->nheld = 0;
	if (lc->welcomed) {
		lc->welcomed = 0;
		ld->welcomed--;
		if (!ld->bye_seen && !ld->stopping)
			snprintf(ld->last_err, sizeof(ld->last_err), "lost a welcomed connection: %s",
				 why);
	} else {
		ld->inflight--;
		ld->failures++;
		if (!ld->bye_seen && !ld->stopping && strcmp(why, "refused") != 0)
			snprintf(ld->last_err, sizeof(ld->last_err), "%s", why);
	}
	if (ld->bye_seen || ld->stopping) {
		if (ld->open == 0)
			pd_loop_stop(ld->loop);
		return;
	}
	todo_push(ld, (unsigned)(lc - ld->c));
	if (!pd_timer_active(ld->retry))
		pd_timer_start(ld->retry, RETRY_MS);
}

static const pd_conn_ops load_ops = {on_ready, on_frame, on_close};

/* Starts connection attempts while fewer than --rate are under way. */
static void start_more(load *ld)
{
	while (ld->todo_len && ld->inflight < ld->rate && !ld->bye_seen && !ld->stopping) {
		unsigned i = ld->todo[ld->todo_head];
		lconn *lc = &ld->c[i];
		char err[512];
		int inprog, fd;

		fd = pd_net_connect(&ld->ep, &inprog, err, sizeof(err));
		if (!ld->t0_us)
			ld->t0_us = pd_now_us();
		ld->attempts++;
		if (fd < 0) {
			ld->failures++;
			snprintf(ld->last_err, sizeof(ld->last_err), "%s", err);
			/* out of ports, descriptors or memory: pause, then retry */
			if (!pd_timer_active(ld->retry))
				pd_timer_start(ld->retry, RETRY_MS);
			return;
		}
		lc->conn = pd_conn_new(ld->loop, fd, ld->tls, inprog ? PD_CONN_CONNECTING : 0,
				       &load_ops, lc, PD_MAX_FRAME_DEFAULT);
		if (!lc->conn) {
			close(fd);
			ld->failures++;
			snprintf(ld->last_err, sizeof(ld->last_err), "out of memory");
			if (!pd_timer_active(ld->retry))
				pd_timer_start(ld->retry, RETRY_MS);
			return;
		}
		ld->todo_head = (ld->todo_head + 1) % ld->n;
		ld->todo_len--;
		ld->inflight++;
		ld->open++;
		pd_conn_deadline(lc->conn, ld->timeout_ms, "no WELCOME from the controller");
	}
}

static void retry_cb(pd_loop *l, void *arg)
{
	(void)l;
	start_more(arg);
}

static void tick_cb(pd_loop *l, void *arg)
{
	load *ld = arg;
	uint64_t now = pd_loop_now(l);

	if (ld->welcomed == 0 && !ld->bye_seen && now - ld->last_welcome_ms > ld->grace_ms) {
		fprintf(stderr, "loadagents: no connection welcomed for %.0f s, giving up\n",
			(double)ld->grace_ms / 1000.0);
		ld->exit_code = 1;
		pd_loop_stop(l);
		return;
	}
	pd_timer_start(ld->tick, 1000);
}

static void on_usr1(pd_loop *l, int signo, void *arg)
{
	load *ld = arg;

	(void)l;
	(void)signo;
	if (!ld->hold)
		return;
	fprintf(stderr, "loadagents: SIGUSR1: answering tasks from now on\n");
	ld->hold = 0;
	release_held(ld);
}

static void on_signal(pd_loop *l, int signo, void *arg)
{
	load *ld = arg;

	(void)signo;
	ld->stopping = 1;
	pd_loop_stop(l);
}

/* ---- set-up ---- */

static int parse_uint(const char *opt, const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !end || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "loadagents: %s wants a whole number from %u to %u, not '%s'\n", opt,
			lo, hi, s);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

/* Says whether n connections fit under the open-file limit (raised to the
 * hard limit first) and the local port range. 0 or -EMFILE. */
static int check_limits(unsigned n)
{
	long lim = pd_net_raise_nofile();
	FILE *f;
	unsigned lo = 0, hi = 0;

	if (lim >= 0 && (unsigned long)lim < (unsigned long)n + SPARE_FDS) {
		fprintf(stderr,
			"loadagents: cannot open %u connections: RLIMIT_NOFILE is %ld (raised to "
			"the hard limit; %u are needed); raise the hard limit (ulimit -Hn, prlimit "
			"--nofile, /etc/security/limits.conf)\n",
			n, lim, n + SPARE_FDS);
		return -EMFILE;
	}
	f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%u %u", &lo, &hi) == 2 && hi >= lo && n > hi - lo + 1)
			fprintf(stderr,
				"loadagents: warning: %u connections to one address need more "
				"local ports than net.ipv4.ip_local_port_range offers (%u-%u)\n",
				n, lo, hi);
		fclose(f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"connect", required_argument, 0, 'c'}, {"rate", required_argument, 0, 'r'},
		{"report", no_argument, 0, 'R'},        {"hold", no_argument, 0, 'H'},
		{"timeout", required_argument, 0, 't'}, {"grace", required_argument, 0, 'g'},
		{"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
	load ld;
	pd_connfile cf;
	const char *connect = NULL;
	char err[512];
	unsigned timeout_s = DEFAULT_TIMEOUT_S, grace_s = DEFAULT_GRACE_S;
	int ch, rv;

	if (pd_loop_poll_env(err, sizeof(err)) < 0) {
		fprintf(stderr, "loadagents: %s\n", err);
		return 2;
	}
	memset(&ld, 0, sizeof(ld));
	ld.n = 1000;
	ld.rate = DEFAULT_RATE;
	while ((ch = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (parse_uint("-n", optarg, 1, 1000000, &ld.n) < 0)
				return 2;
			break;
		case 'c':
			connect = optarg;
			break;
		case 'r':
			if (parse_uint("--rate", optarg, 1, 1000000, &ld.rate) < 0)
				return 2;
			break;
		case 'R':
			ld.report = 1;
			break;
		case 'H':
			ld.hold = 1;
			break;
		case 't':
			if (parse_uint("--timeout", optarg, 1, 3600, &timeout_s) < 0)
				return 2;
			break;
		case 'g':
			if (parse_uint("--grace", optarg, 1, 86400, &grace_s) < 0)
				return 2;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!connect || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	ld.timeout_ms = (uint64_t)timeout_s * 1000;
	ld.grace_ms = (uint64_t)grace_s * 1000;
	signal(SIGPIPE, SIG_IGN);
	if (check_limits(ld.n) < 0)
		return 1;
	rv = pd_connfile_read(connect, &cf, err, sizeof(err));
	if (rv < 0 && rv != -EPERM) {
		fprintf(stderr, "loadagents: %s\n", err);
		return 1;
	}
	if (pd_endpoint_parse(cf.endpoint, &ld.ep, err, sizeof(err)) < 0) {
		fprintf(stderr, "loadagents: %s\n", err);
		return 1;
	}
	if (pd_tls_global_init() < 0) {
		fprintf(stderr, "loadagents: cannot initialise GnuTLS\n");
		return 1;
	}
	if (ld.ep.kind == PD_EP_TLS_TCP &&
	    pd_tls_new_psk(0, cf.identity[0] ? cf.identity : PD_PSK_IDENTITY, cf.secret,
			   sizeof(cf.secret), &ld.tls, err, sizeof(err)) < 0) {
		fprintf(stderr, "loadagents: %s\n", err);
		return 1;
	}
	memset(&cf, 0, sizeof(cf));
	gethostname(ld.host, sizeof(ld.host) - 1);
	ld.exit_code = 0;
	ld.loop = pd_loop_new();
	ld.c = calloc(ld.n, sizeof(*ld.c));
	ld.todo = malloc(ld.n * sizeof(*ld.todo));
	if (!ld.loop || !ld.c || !ld.todo) {
		fprintf(stderr, "loadagents: out of memory\n");
		return 1;
	}
	ld.retry = pd_timer_new(ld.loop, retry_cb, &ld);
	ld.tick = pd_timer_new(ld.loop, tick_cb, &ld);
	if (!ld.retry || !ld.tick) {
		fprintf(stderr, "loadagents: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < ld.n; i++) {
		ld.c[i].ld = &ld;
		todo_push(&ld, i);
	}
	pd_loop_signal(ld.loop, SIGINT, on_signal, &ld);
	pd_loop_signal(ld.loop, SIGTERM, on_signal, &ld);
	pd_loop_signal(ld.loop, SIGUSR1, on_usr1, &ld);
	ld.last_welcome_ms = pd_loop_now(ld.loop);
	pd_timer_start(ld.tick, 1000);
	start_more(&ld);
	pd_loop_run(ld.loop);

	if (!ld.end_us)
		ld.end_us = pd_now_us();
	print_report(&ld, ld.bye_seen ? "bye" : ld.stopping ? "stopped" : "gave-up");
	if (ld.storm_done && ld.end_us > ld.storm_us)
		fprintf(stderr,
			"loadagents: %llu tasks answered, %llu after the storm in %.3f s (%.0f tasks/s)\n",
			(unsigned long long)ld.tasks,
			(unsigned long long)(ld.tasks - ld.tasks_at_storm),
			(double)(ld.end_us - ld.storm_us) / 1e6,
			(double)(ld.tasks - ld.tasks_at_storm) * 1e6 / (double)(ld.end_us - ld.storm_us));
	else
		fprintf(stderr, "loadagents: %llu tasks answered\n", (unsigned long long)ld.tasks);
	ld.stopping = 1;
	for (unsigned i = 0; i < ld.n; i++)
		if (ld.c[i].conn)
			pd_conn_close(ld.c[i].conn, "loadagents exiting");
	pd_loop_run_deferred(ld.loop);
	for (unsigned i = 0; i < ld.n; i++)
		free(ld.c[i].held);
	pd_timer_free(ld.retry);
	pd_timer_free(ld.tick);
	pd_loop_free(ld.loop);
	pd_tls_free(ld.tls);
	free(ld.c);
	free(ld.todo);
	return ld.exit_code;
}
