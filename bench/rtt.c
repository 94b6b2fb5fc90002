/* rtt.c - round-trip latency of one `echo` task with one real agent.
 *
 * A minimal controller built from libparade: it listens on a Unix socket
 * (--transport ipc) or on TLS 1.3 PSK over loopback TCP (--transport tls),
 * starts one real parade-agent with a connection file pointing there,
 * answers its HELLO with a WELCOME, then sends echo tasks strictly one at a
 * time: each task leaves only after the result of the previous one arrived.
 * The first --warmup round trips are discarded; the next --n are timed with
 * pd_now_us() from encoding the TASKS frame to decoding its RESULTS frame,
 * and summarised on one line of stdout:
 *
 *   rtt transport=tls n=10000 p50_us=.. p90_us=.. p99_us=.. mean_us=.. max_us=..
 *
 * This is a benchmark, not a test: exit status 0 means the figures were
 * measured, 1 that the run failed (the reason is on stderr), 2 a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_cmd.h"
#include "codec.h"
#include "conn.h"
#include "endpoint.h"
#include "log.h"
#include "loop.h"
#include "spawn.h"
#include "net.h"
#include "session.h"

#define DEFAULT_N 10000u
#define DEFAULT_WARMUP 200u
#define HEARTBEAT_MS 1000u
#define HANDSHAKE_MS 10000u
#define STALL_MS 10000u  /* no result for this long: give up */
#define REAP_MS 2000u    /* after BYE, wait this long before SIGKILL */

static const char usage[] =
	"usage: rtt [--transport ipc|tls] [--n N] [--warmup W] [--agent PATH]\n"
	"           [--cpu C] [--agent-cpu C]\n"
	"\n"
	"Measures the sequential round trip of an echo task through one real\n"
	"parade-agent and prints p50/p90/p99/mean/max in microseconds.\n"
	"\n"
	"  --transport T  ipc (Unix socket) or tls (TLS 1.3 PSK over 127.0.0.1);\n"
	"                 default tls\n"
	"  --n N          timed round trips (default 10000)\n"
	"  --warmup W     untimed round trips first (default 200)\n"
	"  --agent PATH   the parade-agent to start (default: ../agent/parade-agent\n"
	"                 next to this program, else parade-agent from PATH)\n"
	"  --cpu C        pin this process (the controller side) to CPU C\n"
	"  --agent-cpu C  pin the agent to CPU C (default: both unpinned)\n"
	"  -h, --help     this help\n";

typedef struct bench {
	pd_loop *loop;
	pd_tls *tls;
	int lfd;
	pd_conn *conn;
	pid_t agent;
	int welcomed;
	uint64_t warmup, n, total;
	uint64_t sent, done;
	uint64_t t0;
	uint64_t *rtt; /* n samples, microseconds */
	uint64_t last_progress_ms;
	pd_timer *watchdog;
	int failed;
	int finished;
} bench;

static void fail(bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(bench *b, const char *fmt, ...)
{
	va_list ap;

	if (b->failed || b->finished)
		return;
	fputs("rtt: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	b->failed = 1;
	pd_loop_stop(b->loop);
}

/* ---- the protocol side ---- */

static int send_task(bench *b)
{
	static char word[] = "x";
	char *argv[] = {word, NULL};
	pd_buf *out = pd_conn_out(b->conn);
	pd_task_msg t;
	size_t mark;
	int rv;

	memset(&t, 0, sizeof(t));
	t.id = b->sent;
	t.attempt = 1;
	t.kind = PD_TASK_ECHO;
	t.out_limit = 1u << 20;
	t.argc = 1;
	t.argv = argv;
	b->t0 = pd_now_us();
	rv = pd_tasks_begin(out, &mark);
	if (rv == 0)
		rv = pd_tasks_add(out, mark, &t);
	if (rv == 0)
		rv = pd_tasks_end(out, mark);
	if (rv < 0)
		return rv;
	pd_conn_flush(b->conn);
	b->sent++;
	return 0;
}

static void on_hello(bench *b, pd_conn *c, const uint8_t *p, size_t n)
{
	pd_hello h;
	pd_welcome w;
	int rv = pd_hello_decode(p, n, &h);

	if (rv < 0) {
		fail(b, "bad HELLO from the agent: %s", strerror(-rv));
		return;
	}
	memset(&w, 0, sizeof(w));
	w.version = PD_PROTO_VERSION;
	w.heartbeat_ms = HEARTBEAT_MS;
	w.max_frame = PD_MAX_FRAME_DEFAULT;
	w.name = h.agent_id;
	if (pd_welcome_encode(pd_conn_out(c), &w) < 0) {
		fail(b, "out of memory");
		return;
	}
	pd_conn_deadline(c, 0, NULL);
	b->welcomed = 1;
	b->last_progress_ms = pd_loop_now(b->loop);
	/* the first task rides in the same write as the WELCOME */
	rv = send_task(b);
	if (rv < 0)
		fail(b, "cannot encode a task: %s", strerror(-rv));
}

static void on_results(bench *b, const uint8_t *p, size_t n)
{
	uint64_t now = pd_now_us();
	pd_result_msg **rs = NULL;
	uint32_t count = 0;
	int rv = pd_results_decode(p, n, &rs, &count);

	if (rv < 0) {
		fail(b, "malformed RESULTS from the agent");
		return;
	}
	for (uint32_t i = 0; i < count; i++) {
		pd_result_msg *r = rs[i];

		if (r->id != b->done || r->status != PD_ST_OK || r->out_len != 2 ||
		    memcmp(r->out, "x\n", 2) != 0)
			fail(b, "unexpected result: task %llu (expected %llu), status %s %s",
			     (unsigned long long)r->id, (unsigned long long)b->done,
			     pd_status_name(r->status), r->error);
		free(r);
		if (b->failed)
			continue;
		if (b->done >= b->warmup)
			b->rtt[b->done - b->warmup] = now - b->t0;
		b->done++;
	}
	free(rs);
	if (b->failed)
		return;
	b->last_progress_ms = pd_loop_now(b->loop);
	if (b->done == b->total) {
		b->finished = 1;
		pd_loop_stop(b->loop);
		return;
	}
	if (b->sent == b->done) {
		rv = send_task(b);
		if (rv < 0)
			fail(b, "cannot encode a task: %s", strerror(-rv));
	}
}

static void on_frame(pd_conn *c, uint8_t type, const uint8_t *p, size_t n, void *arg)
{
	bench *b = arg;

	switch (type) {
	case PD_MSG_HELLO:
		if (b->welcomed)
			fail(b, "second HELLO from the agent");
		else
			on_hello(b, c, p, n);
		return;
	case PD_MSG_RESULTS:
		if (!b->welcomed)
			fail(b, "RESULTS before HELLO");
		else
			on_results(b, p, n);
		return;
	case PD_MSG_PING: {
		uint64_t stamp = 0;
		if (pd_ping_decode(p, n, &stamp) == 0) {
			pd_ping_encode(pd_conn_out(c), PD_MSG_PONG, stamp);
			pd_conn_flush(c);
		}
		return;
	}
	case PD_MSG_PONG:
		return;
	case PD_MSG_BYE:
		fail(b, "the agent said goodbye early");
		return;
	default:
		fail(b, "unexpected %s from the agent", pd_msg_name(type));
	}
}

static void on_close(pd_conn *c, const char *why, void *arg)
{
	bench *b = arg;

	(void)c;
	b->conn = NULL;
	if (!b->finished)
		fail(b, "agent connection closed: %s", why);
}

static const pd_conn_ops bench_conn_ops = {NULL, on_frame, on_close};

static void on_accept(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	bench *b = arg;
	char peer[64];
	int cfd;

	(void)ev;
	cfd = pd_net_accept(fd, peer, sizeof(peer));
	if (cfd == -EAGAIN || cfd == -EINTR || cfd == -ECONNABORTED)
		return;
	if (cfd < 0) {
		fail(b, "accept: %s", strerror(-cfd));
		return;
	}
	if (b->conn) {
		close(cfd); /* one agent only */
		return;
	}
	b->conn = pd_conn_new(l, cfd, b->tls, PD_CONN_SERVER, &bench_conn_ops, b, 0);
	if (!b->conn) {
		close(cfd);
		fail(b, "cannot set up the agent connection");
		return;
	}
	pd_conn_set_peer(b->conn, peer);
	pd_conn_deadline(b->conn, HANDSHAKE_MS,
			 b->tls ? "no TLS handshake and HELLO in time" : "no HELLO in time");
	/* no second agent is expected: stop listening */
	pd_loop_del(l, fd);
	close(fd);
	b->lfd = -1;
}

static void watchdog_cb(pd_loop *l, void *arg)
{
	bench *b = arg;
	int st;

	if (b->agent > 0 && pd_reap(b->agent, &st, NULL, 1) == b->agent) {
		b->agent = -1;
		if (WIFEXITED(st))
			fail(b, "the agent exited early with status %d", WEXITSTATUS(st));
		else
			fail(b, "the agent was killed by signal %d", WTERMSIG(st));
		return;
	}
	if (!b->conn && pd_loop_now(l) - b->last_progress_ms > HANDSHAKE_MS) {
		fail(b, "the agent did not connect within %u s", HANDSHAKE_MS / 1000);
		return;
	}
	if (b->welcomed && pd_loop_now(l) - b->last_progress_ms > STALL_MS) {
		fail(b, "no result for %u s (after %llu of %llu tasks)", STALL_MS / 1000,
		     (unsigned long long)b->done, (unsigned long long)b->total);
		return;
	}
	pd_timer_start(b->watchdog, 200);
}

static void on_signal(pd_loop *l, int signo, void *arg)
{
	(void)l;
	fail(arg, "interrupted by signal %d", signo);
}

/* ---- set-up and tear-down ---- */

static int pin_cpu(pid_t pid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(pid, sizeof(set), &set) < 0 ? -errno : 0;
}

/* pd_spawn's hook: pins the agent before it execs (0 or an errno) */
static int pin_hook(void *arg)
{
	int e = pin_cpu(0, *(int *)arg);

	return e < 0 ? -e : 0;
}

static int spawn_agent(bench *b, const char *agent, const char *connfile, int cpu)
{
	/* --grace: if this program dies, the agent gives up within seconds */
	pd_agent_cmd cmd = {.program = agent, .connect = connfile, .id = "rtt-bench", .grace_s = 5};
	pd_agent_argv av;
	pd_spawn_opts o;
	int rv, ee = 0;

	if ((rv = pd_agent_cmd_argv(&cmd, &av)) < 0)
		return rv;
	pd_spawn_init(&o, av.argv);
	o.group = PD_SPAWN_SAME;
	if (cpu >= 0) {
		o.hook = pin_hook;
		o.hook_arg = &cpu;
	}
	if ((rv = pd_spawn(&o, &b->agent, &ee)) < 0)
		return rv;
	if (ee) {
		fprintf(stderr, "rtt: cannot %s %s: %s\n", cpu >= 0 ? "pin or execute" : "execute",
			agent, strerror(ee));
		pd_reap(b->agent, NULL, NULL, 0);
		b->agent = 0;
		return -ee;
	}
	return 0;
}

/* Tells the agent to leave, then makes sure it is gone and reaped. */
static void stop_agent(bench *b)
{
	pid_t pids[1];

	if (b->conn) {
		if (pd_conn_is_ready(b->conn))
			pd_bye_encode(pd_conn_out(b->conn), 0);
		/* a best-effort write of the BYE, then the close */
		b->finished = 1; /* on_close is not an error now */
		pd_conn_close(b->conn, "benchmark over");
	}
	pd_loop_run_deferred(b->loop);
	if (b->agent <= 0)
		return;
	pids[0] = b->agent;
	/* it was told to leave: REAP_MS for that, then SIGTERM, SIGKILL */
	pd_stop_groups(pids, 1, REAP_MS, 500);
	b->agent = -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* nearest-rank percentile of sorted v[0, n) */
static uint64_t percentile(const uint64_t *v, uint64_t n, double p)
{
	uint64_t k = (uint64_t)(p / 100.0 * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static void report(const bench *b, const char *transport)
{
	double sum = 0;

	qsort(b->rtt, b->n, sizeof(*b->rtt), cmp_u64);
	for (uint64_t i = 0; i < b->n; i++)
		sum += (double)b->rtt[i];
	printf("rtt transport=%s n=%llu p50_us=%llu p90_us=%llu p99_us=%llu mean_us=%.1f "
	       "max_us=%llu\n",
	       transport, (unsigned long long)b->n,
	       (unsigned long long)percentile(b->rtt, b->n, 50),
	       (unsigned long long)percentile(b->rtt, b->n, 90),
	       (unsigned long long)percentile(b->rtt, b->n, 99), sum / (double)b->n,
	       (unsigned long long)b->rtt[b->n - 1]);
	fflush(stdout);
}

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "rtt: %s '%s': expected a whole number from %llu to %llu\n", opt, s,
			(unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* ../agent/parade-agent beside this program (a build tree), if it is there */
static const char *default_agent(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(buf, len, "%s/../agent/parade-agent", self);
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return "parade-agent";
}

enum { O_TRANSPORT = 256, O_N, O_WARMUP, O_AGENT, O_CPU, O_AGENT_CPU };

static const struct option longopts[] = {{"transport", required_argument, 0, O_TRANSPORT},
					 {"n", required_argument, 0, O_N},
					 {"warmup", required_argument, 0, O_WARMUP},
					 {"agent", required_argument, 0, O_AGENT},
					 {"cpu", required_argument, 0, O_CPU},
					 {"agent-cpu", required_argument, 0, O_AGENT_CPU},
					 {"help", no_argument, 0, 'h'},
					 {0, 0, 0, 0}};

int main(int argc, char **argv)
{
	bench b;
	const char *transport = "tls", *agent = NULL;
	char agentbuf[PATH_MAX + 32], dir[] = "/tmp/parade-rtt.XXXXXX", sock[128], connfile[128];
	char url[512], err[512];
	pd_endpoint ep, bound;
	pd_connfile cf;
	int c, rv = 1, have_dir = 0, cpu = -1, agent_cpu = -1;
	uint64_t v;

	pd_log_init("rtt");
	if (pd_loop_poll_env(err, sizeof(err)) < 0) {
		fprintf(stderr, "rtt: %s\n", err);
		return 2;
	}
	memset(&b, 0, sizeof(b));
	b.lfd = -1;
	b.agent = -1;
	b.n = DEFAULT_N;
	b.warmup = DEFAULT_WARMUP;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_TRANSPORT:
			if (strcmp(optarg, "ipc") && strcmp(optarg, "tls")) {
				fprintf(stderr, "rtt: --transport '%s': use ipc or tls\n", optarg);
				return 2;
			}
			transport = optarg;
			break;
		case O_N:
			if (parse_u64("--n", optarg, 1, 100000000, &b.n) < 0)
				return 2;
			break;
		case O_WARMUP:
			if (parse_u64("--warmup", optarg, 0, 100000000, &b.warmup) < 0)
				return 2;
			break;
		case O_AGENT: agent = optarg; break;
		case O_CPU:
		case O_AGENT_CPU:
			if (parse_u64(c == O_CPU ? "--cpu" : "--agent-cpu", optarg, 0,
				      CPU_SETSIZE - 1, &v) < 0)
				return 2;
			if (c == O_CPU)
				cpu = (int)v;
			else
				agent_cpu = (int)v;
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rtt: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	if (!agent)
		agent = default_agent(agentbuf, sizeof(agentbuf));
	if (cpu >= 0) {
		int e = pin_cpu(0, cpu);

		if (e < 0) {
			fprintf(stderr, "rtt: cannot pin to CPU %d: %s\n", cpu, strerror(-e));
			return 1;
		}
	}
	b.total = b.warmup + b.n;
	b.rtt = calloc(b.n, sizeof(*b.rtt));
	b.loop = pd_loop_new();
	if (!b.rtt || !b.loop) {
		fprintf(stderr, "rtt: out of memory\n");
		goto out;
	}
	b.watchdog = pd_timer_new(b.loop, watchdog_cb, &b);
	if (!b.watchdog || pd_loop_signal(b.loop, SIGINT, on_signal, &b) < 0 ||
	    pd_loop_signal(b.loop, SIGTERM, on_signal, &b) < 0) {
		fprintf(stderr, "rtt: cannot set up the event loop\n");
		goto out;
	}
	/* under /tmp, not $TMPDIR: a socket path must fit in sun_path */
	if (!mkdtemp(dir)) {
		fprintf(stderr, "rtt: mkdtemp: %s\n", strerror(errno));
		goto out;
	}
	have_dir = 1;
	snprintf(sock, sizeof(sock), "%s/a.sock", dir);
	snprintf(connfile, sizeof(connfile), "%s/" PD_SF_CONNECTION, dir);

	memset(&cf, 0, sizeof(cf));
	cf.version = PD_PROTO_VERSION;
	snprintf(cf.session, sizeof(cf.session), "rtt-bench");
	snprintf(cf.identity, sizeof(cf.identity), "%s", PD_PSK_IDENTITY);
	if (pd_random(cf.secret, sizeof(cf.secret)) < 0) {
		fprintf(stderr, "rtt: cannot draw a secret\n");
		goto out;
	}
	if (!strcmp(transport, "tls")) {
		if (pd_tls_global_init() < 0 ||
		    pd_tls_new_psk(1, PD_PSK_IDENTITY, cf.secret, sizeof(cf.secret), &b.tls, err,
				   sizeof(err)) < 0) {
			fprintf(stderr, "rtt: TLS set-up: %s\n", err);
			goto out;
		}
		snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:0");
	} else {
		snprintf(url, sizeof(url), "ipc://%s", sock);
	}
	if (pd_endpoint_parse(url, &ep, err, sizeof(err)) < 0) {
		fprintf(stderr, "rtt: %s\n", err);
		goto out;
	}
	b.lfd = pd_net_listen(&ep, &bound, err, sizeof(err));
	if (b.lfd < 0) {
		fprintf(stderr, "rtt: %s\n", err);
		goto out;
	}
	if (pd_loop_add(b.loop, b.lfd, PD_EV_IN, on_accept, &b) < 0) {
		fprintf(stderr, "rtt: cannot watch the listener\n");
		goto out;
	}
	pd_endpoint_format(&bound, cf.endpoint, sizeof(cf.endpoint));
	if (pd_connfile_write(connfile, &cf, err, sizeof(err)) < 0) {
		fprintf(stderr, "rtt: %s\n", err);
		goto out;
	}
	memset(cf.secret, 0, sizeof(cf.secret));
	c = spawn_agent(&b, agent, connfile, agent_cpu);
	if (c < 0) {
		fprintf(stderr, "rtt: cannot start %s: %s\n", agent, strerror(-c));
		goto out;
	}
	b.last_progress_ms = pd_loop_now(b.loop);
	pd_timer_start(b.watchdog, 200);
	if (pd_loop_run(b.loop) < 0)
		fail(&b, "event loop failed");
	if (b.finished && !b.failed) {
		report(&b, transport);
		rv = 0;
	}
out:
	if (b.loop) {
		pd_timer_free(b.watchdog);
		stop_agent(&b);
		if (b.lfd >= 0) {
			pd_loop_del(b.loop, b.lfd);
			close(b.lfd);
		}
		pd_loop_free(b.loop);
	}
	if (have_dir) {
		char tmp[160];
		snprintf(tmp, sizeof(tmp), "%s.tmp", connfile);
		unlink(tmp);
		unlink(connfile);
		unlink(sock);
		if (rmdir(dir) < 0)
			fprintf(stderr, "rtt: cannot remove %s: %s\n", dir, strerror(errno));
	}
	pd_tls_free(b.tls);
	free(b.rtt);
	return rv;
}
