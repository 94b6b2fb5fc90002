/* test_control.c - the nanomsg control socket, for real: a listener in a
 * pd_loop on this thread, clients on other threads (nanomsg's worker
 * threads do not survive fork, so no forked clients). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "json.h"
#include "loop.h"

/* libnanomsg 1.1.5 leaks its ipc endpoint when a bind fails (EADDRINUSE
 * below): not ours to fix, so LeakSanitizer is told to ignore it. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:nn_bipc_create\n";
}

static char dir[128];
static char url[256];
static char path[200];

/* ---- the server side ---- */

struct server {
	pd_control *c;
	int calls;
	size_t last_len;
	int close_now; /* "close" closes the listener from the handler */
};

static unsigned byte_sum(const char *p, size_t n)
{
	unsigned s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s = s * 31 + (unsigned char)p[i];
	return s;
}

/* echo:... comes back as is; big requests get their size and checksum;
 * give:N returns N bytes; anything else is read as JSON. */
static void handler(void *arg, const char *req, size_t len, pd_buf *reply)
{
	struct server *sv = arg;
	char err[200], tmp[64];
	const char *op;
	pd_json *v;
	size_t n;
	pd_jw w;

	sv->calls++;
	sv->last_len = len;
	CU_ASSERT_EQUAL(req[len], '\0');
	CU_ASSERT_EQUAL(reply->len, 0);
	if (len >= 5 && !memcmp(req, "echo:", 5)) {
		pd_buf_append(reply, req, len);
		return;
	}
	if (len > 100000) {
		n = (size_t)snprintf(tmp, sizeof(tmp), "big:%zu:%u", len, byte_sum(req, len));
		pd_buf_append(reply, tmp, n);
		return;
	}
	if (sscanf(req, "give:%zu", &n) == 1) {
		if (n && pd_buf_reserve(reply, n) == 0) {
			memset(reply->data + reply->len, 'g', n);
			reply->len += n;
		}
		return;
	}
	pd_jw_init(&w, reply);
	pd_jw_obj_begin(&w);
	if (pd_json_parse(req, len, &v, err, sizeof(err)) < 0) {
		pd_jw_key(&w, "ok");
		pd_jw_bool(&w, 0);
		pd_jw_key(&w, "error");
		pd_jw_str(&w, err);
	} else {
		op = pd_json_cstr(pd_json_get(v, "op"));
		pd_jw_key(&w, "ok");
		pd_jw_bool(&w, op && (!strcmp(op, "status") || !strcmp(op, "close")));
		if (op && !strcmp(op, "status")) {
			pd_jw_key(&w, "state");
			pd_jw_str(&w, "running");
		} else if (op && !strcmp(op, "close")) {
			pd_control_close(sv->c);
			sv->c = NULL;
		} else {
			pd_jw_key(&w, "error");
			pd_jw_str(&w, "unknown op");
		}
		pd_json_free(v);
	}
	pd_jw_obj_end(&w);
	CU_ASSERT_EQUAL(pd_jw_error(&w), 0);
}

static void listen_ok(pd_loop *l, struct server *sv)
{
	char err[256];

	memset(sv, 0, sizeof(*sv));
	if (pd_control_listen(l, url, handler, sv, &sv->c, err, sizeof(err)) != 0)
		fprintf(stderr, "\nlisten: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sv->c);
}

/* ---- clients on a thread while the loop runs ---- */

struct client {
	void (*fn)(struct client *);
	int done_fd;
	int id;
};

static void *client_main(void *p)
{
	struct client *cl = p;

	cl->fn(cl);
	if (write(cl->done_fd, "x", 1) != 1)
		perror("write");
	return NULL;
}

static int pending_clients;

static void on_done(pd_loop *l, int fd, uint32_t events, void *arg)
{
	char b;

	(void)events;
	(void)arg;
	if (read(fd, &b, 1) == 1 && --pending_clients == 0)
		pd_loop_stop(l);
}

static void on_guard(pd_loop *l, void *arg)
{
	*(int *)arg = 1;
	pd_loop_stop(l);
}

/* Runs n clients (fn) on threads and serves until they are all done. */
static void serve_clients(pd_loop *l, void (*fn)(struct client *), int n)
{
	struct client cl[8];
	pthread_t th[8];
	int p[2], fired = 0, i;
	pd_timer *guard;

	CU_ASSERT_FATAL(n <= 8);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL_FATAL(pd_loop_add(l, p[0], PD_EV_IN, on_done, NULL), 0);
	guard = pd_timer_new(l, on_guard, &fired);
	pd_timer_start(guard, 60000);
	pending_clients = n;
	for (i = 0; i < n; i++) {
		cl[i].fn = fn;
		cl[i].done_fd = p[1];
		cl[i].id = i;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
	}
	pd_loop_run(l);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	CU_ASSERT_EQUAL(fired, 0);
	pd_timer_free(guard);
	pd_loop_del(l, p[0]);
	close(p[0]);
	close(p[1]);
}

/* One request; returns the reply (malloc'd) or NULL, with rv and
 * last_err set. */
static __thread char last_err[300];

static char *ask(const char *req, size_t len, int timeout_ms, size_t *rlen, int *rv)
{
	char *reply = (char *)1;

	*rv = pd_control_request(url, req, len, timeout_ms, &reply, rlen, last_err,
				 sizeof(last_err));
	if (*rv != 0) {
		CU_ASSERT_PTR_NULL(reply);
		CU_ASSERT_EQUAL(*rlen, 0);
	}
	return reply;
}

static void expect(const char *req, size_t len, const char *want)
{
	size_t rlen;
	char *reply;
	int rv;

	reply = ask(req, len, 5000, &rlen, &rv);
	CU_ASSERT_EQUAL(rv, 0);
	if (!reply) {
		fprintf(stderr, "\nrequest failed: %s\n", last_err);
		return;
	}
	CU_ASSERT_EQUAL(rlen, strlen(want));
	CU_ASSERT_EQUAL(reply[rlen], '\0');
	if (strcmp(reply, want))
		fprintf(stderr, "\n want: %s\n  got: %s\n", want, reply);
	CU_ASSERT_STRING_EQUAL(reply, want);
	free(reply);
}

/* ---- tests ---- */

static void client_basic(struct client *cl)
{
	static const char garbage[] = "\x00\xff{\"op\":\x01\x02\"\xfe";
	size_t rlen;
	char *reply;
	int rv;

	(void)cl;
	expect("echo:hello", 10, "echo:hello");
	/* one trailing NUL (as nanonext sends strings) is dropped, only one */
	expect("echo:nul\0", 9, "echo:nul");
	reply = ask("echo:\0\0", 7, 5000, &rlen, &rv);
	CU_ASSERT_EQUAL(rv, 0);
	CU_ASSERT(rlen == 6 && reply && !memcmp(reply, "echo:\0", 7));
	free(reply);
	expect("{\"op\":\"status\"}\0", 16, "{\"ok\":true,\"state\":\"running\"}");
	expect("{\"op\":\"status\"}", 15, "{\"ok\":true,\"state\":\"running\"}");
	expect("{\"op\":\"nope\"}", 13, "{\"ok\":false,\"error\":\"unknown op\"}");
	expect(garbage, sizeof(garbage) - 1,
	       "{\"ok\":false,\"error\":\"at byte 0: unexpected byte 0x00, expected a value\"}");
	expect("{\"op\":\"status\"} trailing", 24,
	       "{\"ok\":false,\"error\":\"at byte 16: unexpected 't', expected the end of the "
	       "input\"}");
	expect("", 0, "{\"ok\":false,\"error\":\"at byte 0: unexpected end of input, expected a "
		      "value\"}");
	/* a reply larger than nanomsg's default 1 MiB receive limit */
	reply = ask("give:3000000", 12, 5000, &rlen, &rv);
	CU_ASSERT_EQUAL(rv, 0);
	CU_ASSERT_EQUAL(rlen, 3000000);
	if (reply) {
		CU_ASSERT(reply[0] == 'g' && reply[rlen - 1] == 'g' && reply[rlen] == '\0');
		free(reply);
	}
	/* an empty reply */
	reply = ask("give:0", 6, 5000, &rlen, &rv);
	CU_ASSERT_EQUAL(rv, 0);
	CU_ASSERT_EQUAL(rlen, 0);
	if (reply)
		CU_ASSERT_EQUAL(reply[0], '\0');
	free(reply);
}

static void test_requests(void)
{
	pd_loop *l = pd_loop_new();
	struct server sv;
	struct stat st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	listen_ok(l, &sv);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT(S_ISSOCK(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	serve_clients(l, client_basic, 1);
	CU_ASSERT_EQUAL(sv.calls, 11);
	CU_ASSERT_EQUAL(sv.last_len, 6);
	pd_control_close(sv.c);
	CU_ASSERT_EQUAL(stat(path, &st), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	pd_loop_free(l);
}

static void client_big(struct client *cl)
{
	size_t n = 2u << 20, rlen, i;
	char *big, *reply, want[64];
	int rv;

	(void)cl;
	big = malloc(PD_CONTROL_MAX_REQUEST + 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	for (i = 0; i < PD_CONTROL_MAX_REQUEST + 4096; i++)
		big[i] = (char)(i * 7 + 3);
	snprintf(want, sizeof(want), "big:%zu:%u", n, byte_sum(big, n));
	expect(big, n, want);
	/* just below the limit still works */
	n = PD_CONTROL_MAX_REQUEST;
	snprintf(want, sizeof(want), "big:%zu:%u", n, byte_sum(big, n));
	expect(big, n, want);
	/* over the limit: nanomsg drops the connection; the client times out */
	reply = ask(big, PD_CONTROL_MAX_REQUEST + 4096, 1500, &rlen, &rv);
	CU_ASSERT_EQUAL(rv, -ETIMEDOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_err, "within 1500 ms (is the controller alive?)"));
	free(reply);
	free(big);
	/* and the server is fine */
	expect("echo:still here", 15, "echo:still here");
}

static void test_big(void)
{
	pd_loop *l = pd_loop_new();
	struct server sv;

	listen_ok(l, &sv);
	serve_clients(l, client_big, 1);
	CU_ASSERT_EQUAL(sv.calls, 3);
	pd_control_close(sv.c);
	pd_loop_free(l);
}

static void client_many(struct client *cl)
{
	char req[64];
	int i, n;

	for (i = 0; i < 40; i++) {
		n = snprintf(req, sizeof(req), "echo:client %d request %d", cl->id, i);
		expect(req, (size_t)n, req);
	}
}

static void test_concurrent(void)
{
	pd_loop *l = pd_loop_new();
	struct server sv;

	listen_ok(l, &sv);
	serve_clients(l, client_many, 6);
	CU_ASSERT_EQUAL(sv.calls, 240);
	pd_control_close(sv.c);
	pd_loop_free(l);
}

static void client_close(struct client *cl)
{
	(void)cl;
	expect("{\"op\":\"close\"}", 14, "{\"ok\":true}");
}

static void test_close_in_handler(void)
{
	pd_loop *l = pd_loop_new();
	struct server sv;
	struct stat st;

	listen_ok(l, &sv);
	serve_clients(l, client_close, 1);
	CU_ASSERT_PTR_NULL(sv.c);
	CU_ASSERT_EQUAL(stat(path, &st), -1);
	pd_control_close(NULL);
	pd_loop_free(l);
}

static long elapsed_ms(uint64_t since_us)
{
	return (long)((pd_now_us() - since_us) / 1000);
}

static void test_nobody_listens(void)
{
	struct sockaddr_un sa;
	char err[300], *reply = (char *)1;
	pd_loop *l = pd_loop_new();
	struct server sv;
	uint64_t t0;
	size_t rlen = 9;
	int fd;

	/* no socket file at all */
	t0 = pd_now_us();
	CU_ASSERT_EQUAL(pd_control_request(url, "x", 1, 300, &reply, &rlen, err, sizeof(err)),
			-ETIMEDOUT);
	CU_ASSERT(elapsed_ms(t0) >= 280 && elapsed_ms(t0) < 3000);
	CU_ASSERT_PTR_NULL(reply);
	CU_ASSERT_EQUAL(rlen, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "within 300 ms: there is no socket"));

	/* a stale socket file left by a dead process */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	t0 = pd_now_us();
	CU_ASSERT_EQUAL(pd_control_request(url, "x", 1, 300, &reply, &rlen, err, sizeof(err)),
			-ETIMEDOUT);
	CU_ASSERT(elapsed_ms(t0) >= 280 && elapsed_ms(t0) < 3000);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is the controller alive?"));

	/* a listener replaces the stale file */
	listen_ok(l, &sv);
	serve_clients(l, client_close, 1);
	pd_loop_free(l);
}

static void test_listen_errors(void)
{
	char err[300], longurl[300], *reply;
	pd_loop *l = pd_loop_new();
	pd_control *c = (pd_control *)1;
	struct server sv, sv2;
	struct stat st;
	size_t rlen;
	FILE *f;

	CU_ASSERT_EQUAL(pd_control_listen(l, "tcp://127.0.0.1:5555", handler, NULL, &c, err,
					  sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_STRING_EQUAL(err, "control socket: only ipc:// URLs are accepted, not "
				    "'tcp://127.0.0.1:5555'");
	CU_ASSERT_EQUAL(pd_control_listen(l, "inproc://x", handler, NULL, &c, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(pd_control_listen(l, "ipc://", handler, NULL, &c, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "control socket: 'ipc://' has no path");
	snprintf(longurl, sizeof(longurl), "ipc://%s/%0120d", dir, 0);
	CU_ASSERT_EQUAL(pd_control_listen(l, longurl, handler, NULL, &c, err, sizeof(err)),
			-ENAMETOOLONG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "over the 107-byte limit"));
	CU_ASSERT_EQUAL(pd_control_request(longurl, "x", 1, 100, &reply, &rlen, err, sizeof(err)),
			-ENAMETOOLONG);
	CU_ASSERT_EQUAL(pd_control_request("tcp://127.0.0.1:1", "x", 1, 100, &reply, &rlen, err,
					   sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(pd_control_request(url, "x", 1, 0, &reply, &rlen, err, sizeof(err)),
			-EINVAL);

	/* a regular file at the path is neither used nor removed */
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fclose(f);
	CU_ASSERT_EQUAL(pd_control_listen(l, url, handler, NULL, &c, err, sizeof(err)), -EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "exists and is not a socket"));
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT(S_ISREG(st.st_mode));
	unlink(path);

	/* a symbolic link, even to a stale socket, is neither followed nor removed */
	{
		char target[300];
		struct sockaddr_un su;
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(target, sizeof(target), "%s/stale-target", dir);
		memset(&su, 0, sizeof(su));
		su.sun_family = AF_UNIX;
		CU_ASSERT_FATAL(strlen(target) < sizeof(su.sun_path));
		memcpy(su.sun_path, target, strlen(target) + 1);
		CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&su, sizeof(su)) == 0);
		close(fd);
		CU_ASSERT_EQUAL_FATAL(symlink(target, path), 0);
		CU_ASSERT_EQUAL(pd_control_listen(l, url, handler, NULL, &c, err, sizeof(err)),
				-EEXIST);
		CU_ASSERT(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
		CU_ASSERT(lstat(target, &st) == 0 && S_ISSOCK(st.st_mode));
		unlink(path);
		/* a stale socket of another user stays too (root only: chown) */
		if (geteuid() == 0) {
			CU_ASSERT_EQUAL_FATAL(rename(target, path), 0);
			CU_ASSERT_EQUAL_FATAL(lchown(path, 65534, 65534), 0);
			CU_ASSERT_EQUAL(pd_control_listen(l, url, handler, NULL, &c, err,
							  sizeof(err)),
					-EPERM);
			CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to uid 65534"));
			CU_ASSERT(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
				  st.st_uid == 65534);
			unlink(path);
		} else {
			fprintf(stderr, "\n  SKIP: a socket of another user needs root to make\n");
			unlink(target);
		}
	}

	/* a live listener is not taken over, nor is its file removed */
	listen_ok(l, &sv);
	memset(&sv2, 0, sizeof(sv2));
	CU_ASSERT_EQUAL(pd_control_listen(l, url, handler, &sv2, &sv2.c, err, sizeof(err)),
			-EADDRINUSE);
	CU_ASSERT_PTR_NULL(sv2.c);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "in use by another process"));
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	serve_clients(l, client_close, 1);
	CU_ASSERT_EQUAL(sv.calls, 1);
	pd_loop_free(l);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;
	char cmd[200];

	snprintf(dir, sizeof(dir), "/tmp/pd-test-control-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	snprintf(url, sizeof(url), "ipc://%s", path);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("control", NULL, NULL);
	CU_add_test(s, "requests and replies", test_requests);
	CU_add_test(s, "large requests", test_big);
	CU_add_test(s, "concurrent clients", test_concurrent);
	CU_add_test(s, "close inside the handler", test_close_in_handler);
	CU_add_test(s, "nobody listens", test_nobody_listens);
	CU_add_test(s, "listen errors", test_listen_errors);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return fails ? 1 : 0;
}
