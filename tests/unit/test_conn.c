/* test_conn.c - loop + conn + TLS + net over real loopback sockets. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "session.h"

typedef struct side {
	int ready;
	int frames;
	size_t bytes;
	int closed;
	int err; /* pd_conn_error at on_close */
	char why[256];
	pd_conn *conn;
} side;

typedef struct world {
	pd_loop *loop;
	side srv, cli;
	int lfd;
	pd_tls *stls, *ctls;
	size_t max_frame;
	uint64_t handshake_ms;
	pd_timer *guard;
} world;

static world W;

static void on_ready(pd_conn *c, void *arg)
{
	side *s = arg;

	(void)c;
	s->ready = 1;
}

static void on_frame(pd_conn *c, uint8_t type, const uint8_t *p, size_t n, void *arg)
{
	side *s = arg;

	(void)c;
	(void)p;
	CU_ASSERT_EQUAL(type, PD_MSG_PING);
	s->frames++;
	s->bytes += n;
}

static void on_close(pd_conn *c, const char *why, void *arg)
{
	side *s = arg;

	s->closed = 1;
	s->err = pd_conn_error(c);
	s->conn = NULL;
	snprintf(s->why, sizeof(s->why), "%s", why);
}

static const pd_conn_ops ops = {on_ready, on_frame, on_close};

static void on_accept(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	char peer[64];
	int cfd = pd_net_accept(fd, peer, sizeof(peer));

	(void)ev;
	(void)arg;
	if (cfd < 0)
		return;
	W.srv.conn = pd_conn_new(l, cfd, W.stls, PD_CONN_SERVER, &ops, &W.srv, W.max_frame);
	CU_ASSERT_PTR_NOT_NULL_FATAL(W.srv.conn);
	pd_conn_deadline(W.srv.conn, W.handshake_ms, "handshake");
}

static void guard_cb(pd_loop *l, void *arg)
{
	(void)arg;
	pd_loop_stop(l);
}

/* Runs the loop until cond() holds or ms pass. */
static void spin(int (*cond)(void), uint64_t ms)
{
	uint64_t end = pd_now_us() / 1000 + ms;

	while (!cond() && pd_now_us() / 1000 < end) {
		pd_timer_start(W.guard, 10);
		pd_loop_run(W.loop);
	}
}

static int both_ready(void)
{
	return (W.srv.ready && W.cli.ready) || W.srv.closed || W.cli.closed;
}

static int both_closed(void)
{
	return W.srv.closed && W.cli.closed;
}

static int srv_closed(void)
{
	return W.srv.closed;
}

static int got_frames;
static int srv_got(void)
{
	return W.srv.frames >= got_frames || W.srv.closed;
}

static void setup(const uint8_t *skey, const uint8_t *ckey, size_t max_frame, uint64_t hs_ms)
{
	pd_endpoint ep, bound;
	char err[256];

	memset(&W, 0, sizeof(W));
	W.loop = pd_loop_new();
	W.max_frame = max_frame;
	W.handshake_ms = hs_ms;
	W.guard = pd_timer_new(W.loop, guard_cb, NULL);
	CU_ASSERT_EQUAL_FATAL(pd_endpoint_parse("tls+tcp://127.0.0.1:0", &ep, err, sizeof(err)), 0);
	W.lfd = pd_net_listen(&ep, &bound, err, sizeof(err));
	CU_ASSERT_FATAL(W.lfd >= 0);
	CU_ASSERT(bound.port != 0);
	CU_ASSERT_EQUAL(pd_loop_add(W.loop, W.lfd, PD_EV_IN, on_accept, NULL), 0);
	if (skey)
		CU_ASSERT_EQUAL(pd_tls_new_psk(1, "parade", skey, 32, &W.stls, err, sizeof(err)), 0);
	if (ckey) {
		int inprog, fd;
		CU_ASSERT_EQUAL(pd_tls_new_psk(0, "parade", ckey, 32, &W.ctls, err, sizeof(err)), 0);
		fd = pd_net_connect(&bound, &inprog, err, sizeof(err));
		CU_ASSERT_FATAL(fd >= 0);
		W.cli.conn = pd_conn_new(W.loop, fd, W.ctls, inprog ? PD_CONN_CONNECTING : 0, &ops,
					 &W.cli, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(W.cli.conn);
	}
	/* remember the port for raw peers */
	W.srv.bytes = bound.port;
}

static void teardown(void)
{
	if (W.cli.conn)
		pd_conn_close(W.cli.conn, "test over");
	if (W.srv.conn)
		pd_conn_close(W.srv.conn, "test over");
	pd_loop_run_deferred(W.loop);
	pd_loop_del(W.loop, W.lfd);
	close(W.lfd);
	pd_timer_free(W.guard);
	pd_tls_free(W.stls);
	pd_tls_free(W.ctls);
	pd_loop_free(W.loop);
}

static uint8_t key_a[32], key_b[32];

static void test_handshake_and_frames(void)
{
	setup(key_a, key_a, 0, 5000);
	spin(both_ready, 5000);
	CU_ASSERT(W.srv.ready && W.cli.ready);
	CU_ASSERT(!W.srv.closed && !W.cli.closed);
	/* many frames in one flush: they arrive in few TLS records, so the
	 * server must drain what GnuTLS already decrypted (pending rule) */
	for (int i = 0; i < 5000; i++)
		pd_ping_encode(pd_conn_out(W.cli.conn), PD_MSG_PING, (uint64_t)i);
	pd_conn_flush(W.cli.conn);
	got_frames = 5000;
	spin(srv_got, 5000);
	CU_ASSERT_EQUAL(W.srv.frames, 5000);
	CU_ASSERT(!W.srv.closed);
	teardown();
}

static void test_wrong_secret(void)
{
	setup(key_a, key_b, 0, 5000);
	spin(both_closed, 5000);
	CU_ASSERT(W.srv.closed);
	CU_ASSERT(W.cli.closed);
	CU_ASSERT(!W.srv.ready);
	CU_ASSERT_PTR_NOT_NULL(strstr(W.srv.why, "TLS handshake failed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(W.cli.why, "TLS handshake failed"));
	/* the code callers decide on (an agent gives up on -EPROTO) */
	CU_ASSERT_EQUAL(W.srv.err, -EPROTO);
	CU_ASSERT_EQUAL(W.cli.err, -EPROTO);
	teardown();
}

/* A peer that goes away during the handshake: the link broke off, nothing
 * was refused (-ECONNRESET: an agent retries). Here the server side is a
 * plain connection, which takes the ClientHello for a bad frame and
 * closes. A handshake that succeeds and a deadline leave no code. */
static void test_handshake_broken_off(void)
{
	setup(NULL, key_a, 0, 5000);
	spin(both_closed, 5000);
	CU_ASSERT(W.cli.closed);
	CU_ASSERT(!W.cli.ready);
	CU_ASSERT_EQUAL(W.cli.err, -ECONNRESET);
	CU_ASSERT_PTR_NOT_NULL(strstr(W.cli.why, "connection lost during the TLS handshake"));
	CU_ASSERT_EQUAL(W.srv.err, 0); /* a frame error once ready */
	teardown();
	setup(key_a, key_a, 0, 5000);
	spin(both_ready, 5000);
	CU_ASSERT_FATAL(W.srv.ready && W.cli.ready);
	pd_conn_close(W.cli.conn, "bye");
	spin(both_closed, 5000);
	CU_ASSERT_EQUAL(W.cli.err, 0);
	CU_ASSERT_EQUAL(W.srv.err, 0);
	teardown();
}

static void test_oversized_frame(void)
{
	uint8_t big[5000];

	setup(key_a, key_a, 4096, 5000);
	spin(both_ready, 5000);
	CU_ASSERT_FATAL(W.srv.ready && W.cli.ready);
	memset(big, 'x', sizeof(big));
	{
		size_t mark;
		pd_buf *out = pd_conn_out(W.cli.conn);
		CU_ASSERT_EQUAL(pd_frame_begin(out, PD_MSG_PING, &mark), 0);
		pd_buf_append(out, big, sizeof(big));
		CU_ASSERT_EQUAL(pd_frame_end(out, mark), 0);
	}
	pd_conn_flush(W.cli.conn);
	spin(srv_closed, 5000);
	CU_ASSERT(W.srv.closed);
	CU_ASSERT_PTR_NOT_NULL(strstr(W.srv.why, "over the 4096-byte limit"));
	CU_ASSERT_EQUAL(W.srv.frames, 0);
	teardown();
}

static int raw_connect(unsigned port)
{
	pd_endpoint ep;
	char err[128], url[64];
	int inprog, fd;

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", port);
	pd_endpoint_parse(url, &ep, err, sizeof(err));
	fd = pd_net_connect(&ep, &inprog, err, sizeof(err));
	return fd;
}

static void test_stalled_peer_deadline(void)
{
	int fd;
	uint64_t t0;

	setup(key_a, NULL, 0, 300);
	fd = raw_connect((unsigned)W.srv.bytes);
	CU_ASSERT_FATAL(fd >= 0);
	t0 = pd_now_us();
	spin(srv_closed, 5000);
	CU_ASSERT(W.srv.closed);
	CU_ASSERT_PTR_NOT_NULL(strstr(W.srv.why, "timed out"));
	CU_ASSERT_EQUAL(W.srv.err, 0);
	CU_ASSERT(pd_now_us() - t0 < 3000000);
	close(fd);
	teardown();
}

static void test_plain_garbage(void)
{
	int fd;
	const char junk[] = "GET / HTTP/1.0\r\n\r\n";

	setup(key_a, NULL, 0, 5000);
	fd = raw_connect((unsigned)W.srv.bytes);
	CU_ASSERT_FATAL(fd >= 0);
	usleep(50000);
	CU_ASSERT(write(fd, junk, sizeof(junk) - 1) > 0);
	spin(srv_closed, 5000);
	CU_ASSERT(W.srv.closed);
	CU_ASSERT(!W.srv.ready);
	CU_ASSERT_PTR_NOT_NULL(strstr(W.srv.why, "TLS handshake failed"));
	CU_ASSERT_EQUAL(W.srv.err, -EPROTO);
	close(fd);
	teardown();
}

static void test_plain_transport_frames(void)
{
	int sv[2];
	pd_loop *l = pd_loop_new();
	pd_timer *g = pd_timer_new(l, guard_cb, NULL);

	memset(&W, 0, sizeof(W));
	W.loop = l;
	W.guard = g;
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	W.srv.conn = pd_conn_new(l, sv[0], NULL, PD_CONN_SERVER, &ops, &W.srv, 0);
	W.cli.conn = pd_conn_new(l, sv[1], NULL, 0, &ops, &W.cli, 0);
	spin(both_ready, 2000);
	CU_ASSERT(W.srv.ready && W.cli.ready);
	for (int i = 0; i < 100; i++)
		pd_ping_encode(pd_conn_out(W.cli.conn), PD_MSG_PING, (uint64_t)i);
	pd_conn_flush(W.cli.conn);
	got_frames = 100;
	spin(srv_got, 2000);
	CU_ASSERT_EQUAL(W.srv.frames, 100);
	/* a malformed header (bad type) drops that peer */
	CU_ASSERT_EQUAL(pd_buf_append(pd_conn_out(W.cli.conn), "\0\0\0\0\xff\0\0\0", 8), 0);
	pd_conn_flush(W.cli.conn);
	spin(srv_closed, 2000);
	CU_ASSERT(W.srv.closed);
	CU_ASSERT_PTR_NOT_NULL(strstr(W.srv.why, "protocol error"));
	if (W.cli.conn)
		pd_conn_close(W.cli.conn, "over");
	pd_loop_run_deferred(l);
	pd_timer_free(g);
	pd_loop_free(l);
}

static int never(void)
{
	return 0;
}

static uint64_t cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
	       (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

/* Issue #11: a TCP peer that says nothing must not keep the loop busy
 * while the TLS handshake waits for it (it spun at 100 % until the
 * deadline). A resource check: CPU time over 600 ms of waiting. */
static void test_idle_handshake_no_spin(void)
{
	uint64_t c0, used;
	int fd;

	setup(key_a, NULL, 0, 5000);
	fd = raw_connect((unsigned)W.srv.bytes);
	CU_ASSERT_FATAL(fd >= 0);
	spin(never, 100); /* accepted, first handshake step done */
	CU_ASSERT_PTR_NOT_NULL(W.srv.conn);
	c0 = cpu_us();
	spin(never, 600);
	used = cpu_us() - c0;
	CU_ASSERT(used < 200000);
	if (used >= 200000)
		fprintf(stderr, "idle handshake: %llu us of CPU in 600 ms\n",
			(unsigned long long)used);
	CU_ASSERT(!W.srv.closed);
	close(fd);
	teardown();
}

static void on_frame_echo(pd_conn *c, uint8_t type, const uint8_t *p, size_t n, void *arg)
{
	side *s = arg;
	uint64_t stamp = 0;

	CU_ASSERT_EQUAL(type, PD_MSG_PING);
	s->frames++;
	if (pd_ping_decode(p, n, &stamp) == 0) {
		pd_ping_encode(pd_conn_out(c), PD_MSG_PONG, stamp);
		pd_conn_flush(c);
	}
}

static const pd_conn_ops echo_ops = {on_ready, on_frame_echo, on_close};

#define CAP (64u * 1024u)
#define FLOOD (8u << 20)

/* Issue #11: a peer that sends PINGs and never reads the PONGs. With an
 * output cap the connection stops reading while its output is over the
 * cap, so what it queues stays bounded (the read budget of one turn, 256
 * KiB, past the cap at most); once the peer reads, every PING is
 * answered. */
static void test_out_cap(void)
{
	static uint8_t pings[4096 * 16], sink[65536];
	int sv[2];
	size_t off = 0, sent = 0, top = 0;
	uint64_t stuck_since = 0;
	pd_loop *l = pd_loop_new();
	pd_timer *g = pd_timer_new(l, guard_cb, NULL);

	memset(&W, 0, sizeof(W));
	W.loop = l;
	W.guard = g;
	for (size_t i = 0; i < 4096; i++) {
		pd_buf b = {0};
		pd_ping_encode(&b, PD_MSG_PING, i);
		memcpy(pings + i * 16, b.data, 16);
		pd_buf_free(&b);
	}
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CU_ASSERT_EQUAL(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	W.srv.conn = pd_conn_new(l, sv[0], NULL, PD_CONN_SERVER, &echo_ops, &W.srv, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(W.srv.conn);
	pd_conn_out_cap(W.srv.conn, CAP);
	/* flood without reading until the server stops taking PINGs */
	while (sent < FLOOD) {
		ssize_t w = write(sv[1], pings + off, sizeof(pings) - off);
		if (w > 0) {
			sent += (size_t)w;
			off = (off + (size_t)w) % sizeof(pings);
			stuck_since = 0;
		} else if (!stuck_since) {
			stuck_since = pd_now_us();
		} else if (pd_now_us() - stuck_since > 300000) {
			break; /* nothing taken for 300 ms: the server stopped reading */
		}
		spin(never, 2);
		if (W.srv.conn && pd_conn_backlog(W.srv.conn) > top)
			top = pd_conn_backlog(W.srv.conn);
	}
	CU_ASSERT(!W.srv.closed);
	CU_ASSERT(sent < FLOOD);
	CU_ASSERT(top <= CAP + 256u * 1024u + 4096u);
	if (top > CAP + 256u * 1024u + 4096u || sent >= FLOOD)
		fprintf(stderr, "out cap: %zu bytes queued at most, %zu of %u sent\n", top, sent,
			FLOOD);
	/* the peer reads again: every PING it sent is answered */
	{
		uint64_t end = pd_now_us() + 5000000u;
		while ((size_t)W.srv.frames < sent / 16 && pd_now_us() < end) {
			while (read(sv[1], sink, sizeof(sink)) > 0)
				;
			spin(never, 2);
		}
	}
	CU_ASSERT_EQUAL((size_t)W.srv.frames, sent / 16);
	CU_ASSERT(!W.srv.closed);
	if (W.srv.conn)
		pd_conn_close(W.srv.conn, "over");
	pd_loop_run_deferred(l);
	close(sv[1]);
	pd_timer_free(g);
	pd_loop_free(l);
}

static int distinct_progress(pd_conn *c, uint64_t *last)
{
	uint64_t p = pd_conn_last_progress(c);

	if (p == *last)
		return 0;
	*last = p;
	return 1;
}

/* Review of issue #11: over the output cap the connection reads nothing,
 * so an honest peer on a slow link is not heard while it works through a
 * burst; the output it takes must count as its sign of life
 * (pd_conn_last_progress), and a peer that takes nothing must show none. */
#define BURST (16u << 20)
static void test_out_cap_progress(void)
{
	static uint8_t sink[16384];
	int sv[2], changes = 0;
	uint64_t last = 0;
	pd_loop *l = pd_loop_new();
	pd_timer *g = pd_timer_new(l, guard_cb, NULL);
	pd_buf ping = {0};

	memset(&W, 0, sizeof(W));
	W.loop = l;
	W.guard = g;
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CU_ASSERT_EQUAL(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	W.srv.conn = pd_conn_new(l, sv[0], NULL, PD_CONN_SERVER, &echo_ops, &W.srv, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(W.srv.conn);
	pd_conn_out_cap(W.srv.conn, CAP);
	/* ready and idle first (as an agent is when a burst of tasks comes) */
	spin(never, 50);
	/* a burst far over the cap, then a PING: the connection stops reading */
	CU_ASSERT_EQUAL_FATAL(pd_buf_reserve(pd_conn_out(W.srv.conn), BURST), 0);
	memset(pd_conn_out(W.srv.conn)->data + pd_conn_out(W.srv.conn)->len, 'x', BURST);
	pd_conn_out(W.srv.conn)->len += BURST;
	pd_conn_flush(W.srv.conn);
	spin(never, 50);
	pd_ping_encode(&ping, PD_MSG_PING, 1);
	CU_ASSERT_EQUAL(write(sv[1], ping.data, ping.len), (ssize_t)ping.len);
	pd_buf_free(&ping);
	spin(never, 100);
	/* the peer takes nothing: no progress, the PING is not read */
	last = pd_conn_last_progress(W.srv.conn);
	spin(never, 300);
	CU_ASSERT_EQUAL(pd_conn_last_progress(W.srv.conn), last);
	CU_ASSERT_EQUAL(W.srv.frames, 0);
	CU_ASSERT(pd_conn_backlog(W.srv.conn) > CAP);
	/* the peer reads slowly but steadily: every read is progress */
	for (int i = 0; i < 20 && !W.srv.closed; i++) {
		/* a socket's writer is woken once a good part of its buffer
		 * is free: take what is there (at most 256 KiB a turn) */
		size_t took = 0;
		ssize_t r;
		while (took < (256u << 10) && (r = read(sv[1], sink, sizeof(sink))) > 0)
			took += (size_t)r;
		CU_ASSERT(took > 0);
		spin(never, 20);
		changes += distinct_progress(W.srv.conn, &last);
	}
	CU_ASSERT(changes >= 10);
	if (changes < 10)
		fprintf(stderr, "out cap progress: %d of 20 reads seen as progress\n", changes);
	CU_ASSERT(last > 0);
	CU_ASSERT(!W.srv.closed);
	if (W.srv.conn)
		pd_conn_close(W.srv.conn, "over");
	pd_loop_run_deferred(l);
	close(sv[1]);
	pd_timer_free(g);
	pd_loop_free(l);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	pd_log_init("test_conn");
	pd_tls_global_init();
	pd_random(key_a, sizeof(key_a));
	pd_random(key_b, sizeof(key_b));
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("conn", NULL, NULL);
	CU_add_test(s, "TLS handshake and 5000 frames", test_handshake_and_frames);
	CU_add_test(s, "wrong secret refused on both sides", test_wrong_secret);
	CU_add_test(s, "a handshake broken off is no refusal", test_handshake_broken_off);
	CU_add_test(s, "oversized frame drops the peer", test_oversized_frame);
	CU_add_test(s, "stalled peer hits the deadline", test_stalled_peer_deadline);
	CU_add_test(s, "plain bytes to a TLS port", test_plain_garbage);
	CU_add_test(s, "plain transport and a bad header", test_plain_transport_frames);
	CU_add_test(s, "an idle TLS handshake does not spin", test_idle_handshake_no_spin);
	CU_add_test(s, "output cap: a peer that never reads", test_out_cap);
	CU_add_test(s, "output cap: a slow reader makes progress", test_out_cap_progress);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
