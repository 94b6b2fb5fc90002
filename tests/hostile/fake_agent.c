/* fake_agent.c - a hostile agent against a real controller (issue #11).
 *
 * It reads a session's connection file like a real agent (the secret for
 * TLS, the local Unix socket), then opens one connection per round,
 * alternating between the TLS endpoint and the Unix socket, and in each
 * sends one kind of crafted or random frames:
 *
 *   garbage, bad-type, oversize, no-hello     framing, before any HELLO
 *   hello-esc, hello-newline, hello-long,     HELLO strings and slot counts
 *   hello-slots
 *   forge-ok, forge-status, forge-wall,       after WELCOME: a RESULTS for a
 *   forge-range, forge-attempt                task it was never handed, a
 *                                             status out of range, a wall
 *                                             time of 2^64-1, a task out of
 *                                             range, a random attempt
 *   second-hello                              a HELLO after WELCOME
 *   mutated-hello, mutated-results,           random byte flips in valid
 *   random-frames                             frames, random frames
 *
 * Each of the first 15 kinds must make the controller drop the connection
 * (or refuse the HELLO); a round where it does not is counted as
 * "not dropped". The random kinds have no fixed answer: the controller may
 * drop the peer or not, but must neither crash nor take a row from it.
 * Every HELLO it sends is followed, in the same write, by a DRAIN, so the
 * controller hands it no task: the real run next to it must lose nothing
 * to it (a task handed to it anyway is counted and fails the program).
 *
 * With --flood SECONDS it also floods PINGs on one more connection
 * without ever reading an answer; with --pid PID it samples that
 * process's VmRSS meanwhile and prints the growth. The controller must
 * stop reading (its output to this peer is over the cap) and then drop
 * the peer for missed heartbeats while it still floods: flood_dropped=1
 * when it did, 2 when the peer was dropped only once it stopped sending
 * (as a controller without the cap does: it reads and answers every
 * PING, so it hears the peer all along), 0 when it never was. Give more
 * SECONDS than the heartbeat limit (5 s) for the difference to show.
 *
 * With --forge-task ID it does only this: join and send a success for
 * task ID (attempt 1), which a real agent holds; the controller must drop
 * it (prints forge_task_dropped=1, exit 0) even when it cannot tell who
 * held the attempts of that task before (a resumed session).
 *
 * With --greedy K it does only this, K times: join claiming 4096 slots
 * (no DRAIN), take whatever tasks the controller hands it within 500 ms,
 * and leave without a word; it prints how many tasks each connection got.
 * A controller that gives a new agent its whole credit at once loses
 * thousands of tasks to three such visits (the crash limit).
 *
 * It prints one line of key=value counts on stdout. Exit status: 0 all
 * expected drops happened, the flood peer was dropped and no task was
 * handed to it; 1 otherwise; 2 usage or set-up errors.
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

#define WAIT_READY_MS 5000u
#define WAIT_DROP_MS 3000u
#define FLOOD_CHUNK 65536u        /* PINGs appended at a time */
#define FLOOD_BACKLOG (64u << 20) /* keep at least this much queued */
#define FLOOD_DROP_MS 15000u      /* the flood peer must be gone by then */

static const char usage[] = "usage: fake_agent --connect FILE [--rounds N] [--seed S] [--tasks T]\n"
                            "                  [--flood SECONDS --pid PID] [--greedy K]\n"
                            "                  [--forge-task ID]\n";

enum kind {
	K_GARBAGE,
	K_BAD_TYPE,
	K_OVERSIZE,
	K_NO_HELLO,
	K_HELLO_ESC,
	K_HELLO_NEWLINE,
	K_HELLO_LONG,
	K_HELLO_SLOTS,
	K_FORGE_OK,
	K_FORGE_STATUS,
	K_FORGE_WALL,
	K_FORGE_RANGE,
	K_FORGE_ATTEMPT,
	K_SECOND_HELLO,
	K_FORGE_LATE,
	K_MUSTDROP_, /* kinds above must be dropped */
	K_MUTATED_HELLO = K_MUSTDROP_,
	K_MUTATED_RESULTS,
	K_RANDOM_FRAMES,
	K_NKINDS
};

static const char *const kind_names[K_NKINDS] = {
    "garbage",       "bad-type",        "oversize",      "no-hello",     "hello-esc",
    "hello-newline", "hello-long",      "hello-slots",   "forge-ok",     "forge-status",
    "forge-wall",    "forge-range",     "forge-attempt", "second-hello", "forge-late",
    "mutated-hello", "mutated-results", "random-frames",
};

typedef struct fake {
	pd_loop *loop;
	pd_tls *tls;
	pd_endpoint ep_tls, ep_unix;
	int have_unix;
	uint64_t rng;
	uint64_t ntasks; /* tasks of the run (the range forged results aim at) */
	pd_timer *timer, *refill;
	int timed_out;
	/* the connection of this round */
	pd_conn *c;
	int ready, welcomed, rejected, closed;
	char why[300];
	/* counts */
	uint64_t rounds, tls_rounds, unix_rounds, connect_failed, dropped, expected, not_dropped,
	    rejects, welcomes, tasks_handed, kind_not_dropped[K_NKINDS];
	/* flood */
	int flooding;
	uint64_t flood_bytes;
} fake;

/* ---- small helpers ---- */

static uint64_t rnd(fake *f)
{
	/* xorshift64* */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545f4914f6cdd1dull;
}

static uint64_t rndn(fake *f, uint64_t n)
{
	return n ? rnd(f) % n : 0;
}

static void put_hdr(pd_buf *b, uint32_t len, uint8_t type)
{
	uint8_t h[8] = {(uint8_t)(len >> 24),
	                (uint8_t)(len >> 16),
	                (uint8_t)(len >> 8),
	                (uint8_t)len,
	                type,
	                0,
	                0,
	                0};
	pd_buf_append(b, h, sizeof(h));
}

/* ---- the connection ---- */

static void on_ready(pd_conn *c, void *arg)
{
	fake *f = arg;

	(void)c;
	f->ready = 1;
	pd_loop_stop(f->loop);
}

static void on_frame(pd_conn *c, uint8_t type, const uint8_t *p, size_t n, void *arg)
{
	fake *f = arg;

	(void)c;
	(void)p;
	(void)n;
	if (type == PD_MSG_WELCOME) {
		f->welcomed = 1;
		pd_loop_stop(f->loop);
	} else if (type == PD_MSG_REJECT) {
		f->rejected = 1;
		pd_loop_stop(f->loop);
	} else if (type == PD_MSG_TASKS) {
		pd_task_msg **t;
		uint32_t k;
		if (pd_tasks_decode(p, n, &t, &k) == 0) {
			f->tasks_handed += k;
			for (uint32_t i = 0; i < k; i++)
				free(t[i]);
			free(t);
		}
	}
	/* PING, PONG, DRAIN, BYE: nothing to do */
}

static void on_close(pd_conn *c, const char *why, void *arg)
{
	fake *f = arg;

	(void)c;
	f->closed = 1;
	f->c = NULL;
	snprintf(f->why, sizeof(f->why), "%s", why);
	pd_loop_stop(f->loop);
}

static const pd_conn_ops fake_ops = {on_ready, on_frame, on_close};

static void timer_cb(pd_loop *l, void *arg)
{
	fake *f = arg;

	f->timed_out = 1;
	pd_loop_stop(l);
}

/* Runs the loop until *flag is set or ms pass; returns *flag. */
static int wait_for(fake *f, const int *flag, uint64_t ms)
{
	f->timed_out = 0;
	pd_timer_start(f->timer, ms);
	while (!*flag && !f->timed_out)
		pd_loop_run(f->loop);
	pd_timer_stop(f->timer);
	return *flag;
}

static int open_conn(fake *f, int use_unix)
{
	const pd_endpoint *ep = use_unix ? &f->ep_unix : &f->ep_tls;
	char err[512];
	int inprog = 0, fd;

	f->ready = f->welcomed = f->rejected = f->closed = 0;
	f->why[0] = '\0';
	fd = pd_net_connect(ep, &inprog, err, sizeof(err));
	if (fd < 0)
		return -1;
	f->c = pd_conn_new(f->loop, fd, use_unix ? NULL : f->tls, inprog ? PD_CONN_CONNECTING : 0,
	                   &fake_ops, f, PD_MAX_FRAME_DEFAULT);
	if (!f->c) {
		close(fd);
		return -1;
	}
	if (!wait_for(f, &f->ready, WAIT_READY_MS) || f->closed) {
		if (f->c)
			pd_conn_close(f->c, "not ready");
		wait_for(f, &f->closed, WAIT_DROP_MS);
		return -1;
	}
	return 0;
}

static void hello(fake *f, pd_buf *out, const char *id, const char *host, uint32_t slots)
{
	pd_hello h;

	memset(&h, 0, sizeof(h));
	h.agent_id = id;
	h.host = host;
	h.pid = (uint32_t)getpid();
	h.slots = slots;
	h.mode = "manual";
	pd_hello_encode(out, &h);
	(void)f;
}

/* HELLO then DRAIN in one write: the controller marks the agent draining
 * before it hands anything out, so no task of the run comes here */
static int join(fake *f, pd_buf *out)
{
	char id[64];

	snprintf(id, sizeof(id), "fake-%llu", (unsigned long long)f->rounds);
	hello(f, out, id, "fakehost", 1);
	pd_frame_empty(out, PD_MSG_DRAIN);
	pd_conn_flush(f->c);
	return wait_for(f, &f->welcomed, WAIT_READY_MS) && !f->closed ? 0 : -1;
}

static void forged_results(fake *f, pd_buf *out, uint64_t id, uint32_t attempt, uint8_t status,
                           uint64_t wall)
{
	pd_result_msg r;
	size_t mark;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.attempt = attempt;
	r.status = status;
	r.exit_code = status == PD_ST_OK ? 0 : 1;
	r.wall_us = wall;
	r.out = "forged\n";
	r.out_len = 7;
	r.err = r.error = "";
	pd_results_begin(out, &mark);
	pd_results_add(out, mark, &r);
	pd_results_end(out, mark);
	(void)f;
}

static void flip(fake *f, pd_buf *b, size_t from)
{
	size_t n = pd_buf_size(b);
	int k = 1 + (int)rndn(f, 4);

	if (n <= from)
		return;
	for (int i = 0; i < k; i++)
		b->data[b->off + from + rndn(f, n - from)] ^= (uint8_t)(1u << rndn(f, 8));
}

/* One round of kind k; returns 1 if the connection was dropped (or the
 * HELLO refused), 0 if not, -1 if it could not even be set up. */
static int round_of(fake *f, enum kind k, int use_unix)
{
	pd_buf *out;
	uint8_t junk[256];
	char big[400];
	int dropped;

	if (open_conn(f, use_unix) < 0)
		return -1;
	out = pd_conn_out(f->c);
	switch (k) {
	case K_GARBAGE:
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)rnd(f);
		junk[4] = 0; /* type 0 */
		pd_buf_append(out, junk, sizeof(junk));
		break;
	case K_BAD_TYPE:
		put_hdr(out, 0, (uint8_t)(PD_MSG_MAX_ + rndn(f, 200)));
		break;
	case K_OVERSIZE:
		put_hdr(out, 0x7fffffffu, PD_MSG_HELLO);
		break;
	case K_NO_HELLO:
		forged_results(f, out, rndn(f, f->ntasks), 1, PD_ST_OK, 10);
		break;
	case K_HELLO_ESC:
		hello(f, out, "fake-esc", "\x1b[2J\x1b[H\x1b[31mowned", 1);
		pd_frame_empty(out, PD_MSG_DRAIN);
		break;
	case K_HELLO_NEWLINE:
		hello(f, out, "x\nparade: warning: agent fakery joined", "fakehost", 1);
		pd_frame_empty(out, PD_MSG_DRAIN);
		break;
	case K_HELLO_LONG:
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		hello(f, out, big, "fakehost", 1);
		pd_frame_empty(out, PD_MSG_DRAIN);
		break;
	case K_HELLO_SLOTS:
		/* over 4096 (0 is a follower's HELLO since protocol 4) */
		hello(f, out, "fake-slots", "fakehost",
		      rndn(f, 2) ? 4097 : 100000 + (uint32_t)rndn(f, 1000));
		pd_frame_empty(out, PD_MSG_DRAIN);
		break;
	case K_MUTATED_HELLO: {
		size_t at = pd_buf_size(out);
		hello(f, out, "fake-mutant", "fakehost", 1);
		flip(f, out, at);
		pd_frame_empty(out, PD_MSG_DRAIN);
		pd_frame_empty(out, PD_MSG_BYE); /* taken or not, it ends here */
		break;
	}
	default:
		/* the rest speak after WELCOME */
		if (join(f, out) < 0)
			goto wait;
		out = pd_conn_out(f->c);
		switch (k) {
		case K_FORGE_OK:
			/* every other cycle at task 0, which t_fake_agent keeps
			 * unfinished all along: a controller that takes a
			 * forged success shows it in that row */
			forged_results(f, out,
			               (f->rounds - 1) / K_NKINDS % 2 ? rndn(f, f->ntasks) : 0, 1,
			               PD_ST_OK, 1000);
			break;
		case K_FORGE_STATUS:
			forged_results(f, out, rndn(f, f->ntasks), 1, (uint8_t)(4 + rndn(f, 250)),
			               1000);
			break;
		case K_FORGE_WALL:
			forged_results(f, out, rndn(f, f->ntasks), 1, PD_ST_OK, UINT64_MAX);
			break;
		case K_FORGE_RANGE:
			forged_results(f, out, f->ntasks + rndn(f, 1u << 30), 1, PD_ST_OK, 1000);
			break;
		case K_FORGE_ATTEMPT:
			forged_results(f, out, rndn(f, f->ntasks), (uint32_t)rnd(f), PD_ST_OK,
			               1000);
			break;
		case K_FORGE_LATE:
			/* "late" reports of earlier attempts it never held */
			forged_results(f, out, rndn(f, f->ntasks), 1 + (uint32_t)rndn(f, 3),
			               PD_ST_FAILED, 1000);
			break;
		case K_SECOND_HELLO:
			hello(f, out, "fake-again", "fakehost", 1);
			break;
		case K_MUTATED_RESULTS: {
			size_t at = pd_buf_size(out);
			forged_results(f, out, rndn(f, f->ntasks), 1, PD_ST_OK, 1000);
			flip(f, out, at);
			pd_frame_empty(out, PD_MSG_BYE);
			break;
		}
		case K_RANDOM_FRAMES: {
			int nf = 1 + (int)rndn(f, 8);
			for (int i = 0; i < nf; i++) {
				uint32_t len = (uint32_t)rndn(f, 200);
				put_hdr(out, len, (uint8_t)(1 + rndn(f, PD_MSG_MAX_ - 1)));
				for (uint32_t j = 0; j < len; j++) {
					uint8_t b = (uint8_t)rnd(f);
					pd_buf_append(out, &b, 1);
				}
			}
			pd_frame_empty(out, PD_MSG_BYE);
			break;
		}
		default:
			break;
		}
	}
	pd_conn_flush(f->c);
wait:
	dropped = wait_for(f, &f->closed, WAIT_DROP_MS) || f->rejected;
	if (f->rejected)
		f->rejects++;
	if (f->welcomed)
		f->welcomes++;
	if (f->c) {
		pd_conn_close(f->c, "round over");
		wait_for(f, &f->closed, WAIT_DROP_MS);
	}
	return dropped;
}

/* ---- the PING flood ---- */

static long vmrss_kb(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

static void refill_cb(pd_loop *l, void *arg)
{
	fake *f = arg;

	(void)l;
	if (!f->c || !f->flooding)
		return;
	/* kept full: should the backlog run dry, the connection (cap 1 byte)
	 * would read again, and a peer that reads is alive */
	while (pd_conn_backlog(f->c) < FLOOD_BACKLOG) {
		pd_buf *out = pd_conn_out(f->c);
		for (unsigned i = 0; i < FLOOD_CHUNK; i++)
			pd_ping_encode(out, PD_MSG_PING, i);
		f->flood_bytes += (uint64_t)FLOOD_CHUNK * 16u;
	}
	pd_conn_flush(f->c);
	pd_timer_start(f->refill, 10);
}

/* Floods for secs seconds without reading; returns 1 if the controller
 * dropped the peer while it flooded, 2 if only later (by FLOOD_DROP_MS
 * after the flood), 0 if not; and the largest VmRSS growth. */
static int flood(fake *f, unsigned secs, long pid, long *growth_kb)
{
	long base = pid > 0 ? vmrss_kb(pid) : -1, top = base;
	uint64_t end;
	int in_flood;

	*growth_kb = -1;
	if (open_conn(f, 0) < 0 || join(f, pd_conn_out(f->c)) < 0)
		return 0;
	/* whatever is queued, this side reads nothing: the cap is 1 byte */
	pd_conn_out_cap(f->c, 1);
	f->flooding = 1;
	pd_timer_start(f->refill, 0);
	end = pd_now_us() + (uint64_t)secs * 1000000u;
	while (pd_now_us() < end && !f->closed) {
		long kb;
		wait_for(f, &f->closed, 100);
		kb = pid > 0 ? vmrss_kb(pid) : -1;
		if (kb > top)
			top = kb;
	}
	f->flooding = 0;
	pd_timer_stop(f->refill);
	in_flood = f->closed;
	/* silent now (nothing is read, so nothing answered): it must go */
	end = pd_now_us() + (uint64_t)FLOOD_DROP_MS * 1000u;
	while (!f->closed && pd_now_us() < end) {
		long kb;
		wait_for(f, &f->closed, 100);
		kb = pid > 0 ? vmrss_kb(pid) : -1;
		if (kb > top)
			top = kb;
	}
	if (base >= 0 && top >= 0)
		*growth_kb = top - base;
	if (f->c) {
		pd_conn_close(f->c, "flood over");
		wait_for(f, &f->closed, WAIT_DROP_MS);
		return 0;
	}
	return in_flood ? 1 : 2;
}

/* --forge-task: 1 if the controller drops a peer that reports task id */
static int forge_task(fake *f, uint64_t id)
{
	if (open_conn(f, 0) < 0 || join(f, pd_conn_out(f->c)) < 0)
		return -1;
	forged_results(f, pd_conn_out(f->c), id, 1, PD_ST_OK, 1000);
	pd_conn_flush(f->c);
	wait_for(f, &f->closed, WAIT_DROP_MS);
	if (f->c) {
		pd_conn_close(f->c, "forgery not dropped");
		wait_for(f, &f->closed, WAIT_DROP_MS);
		return 0;
	}
	return 1;
}

/* --greedy: joins with 4096 slots, holds what comes, leaves */
static int greedy(fake *f, unsigned long k)
{
	int rv = 0;

	printf("greedy:");
	for (unsigned long i = 0; i < k; i++) {
		uint64_t before = f->tasks_handed;
		char id[64];

		if (open_conn(f, 0) < 0) {
			rv = 1;
			break;
		}
		snprintf(id, sizeof(id), "greedy-%lu", i);
		hello(f, pd_conn_out(f->c), id, "fakehost", 4096);
		pd_conn_flush(f->c);
		if (!wait_for(f, &f->welcomed, WAIT_READY_MS)) {
			rv = 1;
			break;
		}
		wait_for(f, &f->closed, 500);
		printf(" %llu", (unsigned long long)(f->tasks_handed - before));
		if (f->c) {
			pd_conn_close(f->c, "greedy visit over");
			wait_for(f, &f->closed, WAIT_DROP_MS);
		}
	}
	printf(" total=%llu\n", (unsigned long long)f->tasks_handed);
	return rv;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"connect", required_argument, NULL, 'c'},
	    {"rounds", required_argument, NULL, 'r'},
	    {"seed", required_argument, NULL, 's'},
	    {"tasks", required_argument, NULL, 't'},
	    {"flood", required_argument, NULL, 'f'},
	    {"pid", required_argument, NULL, 'p'},
	    {"greedy", required_argument, NULL, 'g'},
	    {"forge-task", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *connect = NULL;
	unsigned long rounds = 200, seed = 1, flood_s = 0, tasks = 1000, greedy_k = 0;
	long long forge_id = -1;
	long pid = 0, growth = -1;
	int opt, rv, flood_dropped = -1;
	pd_connfile cf;
	char err[600];
	fake f;

	memset(&f, 0, sizeof(f));
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			connect = optarg;
			break;
		case 'r':
			rounds = strtoul(optarg, NULL, 10);
			break;
		case 's':
			seed = strtoul(optarg, NULL, 10);
			break;
		case 't':
			tasks = strtoul(optarg, NULL, 10);
			break;
		case 'f':
			flood_s = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			pid = strtol(optarg, NULL, 10);
			break;
		case 'g':
			greedy_k = strtoul(optarg, NULL, 10);
			break;
		case 'F':
			forge_id = strtoll(optarg, NULL, 10);
			break;
		default:
			fputs(usage, stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!connect || optind != argc || !tasks) {
		fputs(usage, stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	rv = pd_connfile_read(connect, &cf, err, sizeof(err));
	if (rv < 0 && rv != -EPERM) {
		fprintf(stderr, "fake_agent: %s\n", err);
		return 2;
	}
	if (pd_endpoint_parse(cf.endpoint, &f.ep_tls, err, sizeof(err)) < 0 ||
	    f.ep_tls.kind != PD_EP_TLS_TCP) {
		fprintf(stderr, "fake_agent: %s: no tls+tcp endpoint (%s)\n", connect, err);
		return 2;
	}
	f.have_unix = cf.local[0] && pd_endpoint_parse(cf.local, &f.ep_unix, err, sizeof(err)) == 0;
	if (pd_tls_global_init() < 0 ||
	    pd_tls_new_psk(0, cf.identity[0] ? cf.identity : PD_PSK_IDENTITY, cf.secret,
	                   sizeof(cf.secret), &f.tls, err, sizeof(err)) < 0) {
		fprintf(stderr, "fake_agent: TLS set-up: %s\n", err);
		return 2;
	}
	memset(&cf, 0, sizeof(cf));
	f.rng = seed * 0x9e3779b97f4a7c15ull + 1;
	f.ntasks = tasks;
	f.loop = pd_loop_new();
	if (!f.loop || !(f.timer = pd_timer_new(f.loop, timer_cb, &f)) ||
	    !(f.refill = pd_timer_new(f.loop, refill_cb, &f))) {
		fprintf(stderr, "fake_agent: out of memory\n");
		return 2;
	}

	if (greedy_k || forge_id >= 0) {
		if (greedy_k) {
			rv = greedy(&f, greedy_k);
		} else {
			int d = forge_task(&f, (uint64_t)forge_id);
			printf("forge_task_dropped=%d\n", d);
			rv = d == 1 ? 0 : 1;
		}
		pd_timer_free(f.timer);
		pd_timer_free(f.refill);
		pd_loop_run_deferred(f.loop);
		pd_loop_free(f.loop);
		pd_tls_free(f.tls);
		return rv;
	}
	for (unsigned long i = 0; i < rounds; i++) {
		enum kind k = (enum kind)(i % K_NKINDS);
		int use_unix = f.have_unix && (i / K_NKINDS) % 2 == 1;
		int d;

		f.rounds++;
		d = round_of(&f, k, use_unix);
		if (d < 0) {
			f.connect_failed++;
			continue;
		}
		use_unix ? f.unix_rounds++ : f.tls_rounds++;
		f.dropped += d == 1;
		if (k < K_MUSTDROP_) {
			f.expected++;
			if (d != 1) {
				f.not_dropped++;
				f.kind_not_dropped[k]++;
				fprintf(stderr, "fake_agent: round %lu (%s over %s): not dropped\n",
				        i, kind_names[k], use_unix ? "unix" : "tls");
			}
		}
	}
	if (flood_s)
		flood_dropped = flood(&f, (unsigned)flood_s, pid, &growth);

	printf(
	    "rounds=%llu tls=%llu unix=%llu connect_failed=%llu dropped=%llu expected_drops=%llu "
	    "not_dropped=%llu rejects=%llu welcomes=%llu tasks_handed=%llu",
	    (unsigned long long)f.rounds, (unsigned long long)f.tls_rounds,
	    (unsigned long long)f.unix_rounds, (unsigned long long)f.connect_failed,
	    (unsigned long long)f.dropped, (unsigned long long)f.expected,
	    (unsigned long long)f.not_dropped, (unsigned long long)f.rejects,
	    (unsigned long long)f.welcomes, (unsigned long long)f.tasks_handed);
	if (flood_s)
		printf(" flood_mb=%llu flood_dropped=%d flood_rss_growth_kb=%ld",
		       (unsigned long long)(f.flood_bytes >> 20), flood_dropped, growth);
	printf("\n");
	for (int k = 0; k < K_MUSTDROP_; k++)
		if (f.kind_not_dropped[k])
			fprintf(stderr, "fake_agent: %s: %llu round(s) not dropped\n",
			        kind_names[k], (unsigned long long)f.kind_not_dropped[k]);

	pd_timer_free(f.timer);
	pd_timer_free(f.refill);
	pd_loop_run_deferred(f.loop);
	pd_loop_free(f.loop);
	pd_tls_free(f.tls);
	return f.not_dropped || f.tasks_handed || (flood_s && flood_dropped != 1) ||
	               f.connect_failed
	           ? 1
	           : 0;
}
