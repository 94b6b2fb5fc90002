/* test_server.c - server.h: followers (a HELLO with 0 slots) against a real
 * server on a Unix socket, with peers that speak the wire format by hand:
 * a follower gets no task, is not counted, listed, drained or reported as
 * an agent, and its BYE carries the run's exit status; one that sends
 * RESULTS is dropped; a slot count over 4096 is refused. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "codec.h"
#include "loop.h"
#include "server.h"

static int joined, left, results;

static int task_argv(void *arg, uint64_t id, char ***argv, size_t *argc)
{
	char **v = malloc(2 * sizeof(*v) + 8);

	(void)arg;
	(void)id;
	if (!v)
		return -ENOMEM;
	v[0] = (char *)(v + 2);
	strcpy(v[0], "true");
	v[1] = NULL;
	*argv = v;
	*argc = 1;
	return 0;
}

static void on_result(void *arg, const pd_result_msg *r, const char *agent)
{
	(void)arg;
	(void)r;
	(void)agent;
	results++;
}

static void on_agent(void *arg, int j, const pd_agent_info *a)
{
	(void)arg;
	(void)a;
	if (j)
		joined++;
	else
		left++;
}

static void count_agent(void *arg, const pd_agent_info *a)
{
	(void)a;
	(*(int *)arg)++;
}

static void on_stop(pd_loop *l, void *arg)
{
	(void)arg;
	pd_loop_stop(l);
}

/* Runs the loop for ms milliseconds. */
static void spin(pd_loop *l, uint64_t ms)
{
	pd_timer *t = pd_timer_new(l, on_stop, NULL);

	pd_timer_start(t, ms);
	pd_loop_run(l);
	pd_timer_free(t);
}

/* A peer: a connected Unix socket that has sent HELLO with slots. */
static int peer(const char *path, const char *id, uint32_t slots)
{
	struct sockaddr_un sa;
	pd_hello h;
	pd_buf b = {0};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CU_ASSERT_FATAL(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	memset(&h, 0, sizeof(h));
	h.agent_id = id;
	h.host = "host";
	h.pid = 1;
	h.slots = slots;
	h.mode = "manual";
	CU_ASSERT_EQUAL(pd_hello_encode(&b, &h), 0);
	CU_ASSERT_EQUAL(write(fd, pd_buf_head(&b), pd_buf_size(&b)), (ssize_t)pd_buf_size(&b));
	pd_buf_free(&b);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* What a peer was sent: counts per frame type, the last BYE's status, and
 * whether the server closed the connection. */
struct got {
	int n[PD_MSG_MAX_];
	int bye_status;
	int closed;
};

static void drain(int fd, struct got *g)
{
	static uint8_t buf[1 << 20];
	size_t have = 0;
	ssize_t r;

	memset(g, 0, sizeof(*g));
	g->bye_status = -1;
	while ((r = read(fd, buf + have, sizeof(buf) - have)) > 0)
		have += (size_t)r;
	g->closed = r == 0;
	for (size_t off = 0; off < have;) {
		const uint8_t *p;
		uint8_t type;
		size_t plen, used;
		uint8_t st;

		if (pd_frame_parse(buf + off, have - off, sizeof(buf), &type, &p, &plen, &used) < 0)
			break;
		g->n[type]++;
		if (type == PD_MSG_BYE && pd_bye_decode(p, plen, &st) == 0)
			g->bye_status = st;
		off += used;
	}
}

static void test_followers(void)
{
	char dir[] = "/tmp/pd-test-server.XXXXXX", path[200], url[220], err[300];
	pd_loop *l = pd_loop_new();
	pd_server_opts o;
	pd_server_cbs cbs = {task_argv, on_result, on_agent, NULL};
	pd_server *s;
	pd_endpoint ep, bound;
	struct got g;
	int fa, ff, fr, fbig, listed = 0;
	pd_buf b = {0};
	size_t mark;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	snprintf(url, sizeof(url), "ipc://%s", path);
	pd_server_opts_default(&o);
	s = pd_server_new(l, &o, &cbs, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(pd_endpoint_parse(url, &ep, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(pd_server_listen(s, &ep, NULL, &bound, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pd_server_add_tasks(s, 6), 0);

	fa = peer(path, "agent", 2);
	ff = peer(path, "follower", 0);
	fr = peer(path, "rogue", 0);
	fbig = peer(path, "big", 4097);
	spin(l, 300);

	/* one agent; the followers are counted apart */
	CU_ASSERT_EQUAL(pd_server_agents(s), 1);
	CU_ASSERT_EQUAL(pd_server_followers(s), 2);
	CU_ASSERT_EQUAL(joined, 1);
	pd_server_agent_list(s, count_agent, &listed);
	CU_ASSERT_EQUAL(listed, 1);
	drain(fa, &g);
	CU_ASSERT_EQUAL(g.n[PD_MSG_WELCOME], 1);
	CU_ASSERT(g.n[PD_MSG_TASKS] >= 1);
	drain(ff, &g);
	CU_ASSERT_EQUAL(g.n[PD_MSG_WELCOME], 1);
	CU_ASSERT_EQUAL(g.n[PD_MSG_TASKS], 0);
	CU_ASSERT_FALSE(g.closed);
	drain(fbig, &g);
	CU_ASSERT_EQUAL(g.n[PD_MSG_REJECT], 1);
	CU_ASSERT_EQUAL(g.n[PD_MSG_WELCOME], 0);

	/* a follower has no results to give: RESULTS drop it */
	CU_ASSERT_EQUAL(pd_results_begin(&b, &mark), 0);
	CU_ASSERT_EQUAL(pd_results_end(&b, mark), 0);
	CU_ASSERT_EQUAL(write(fr, pd_buf_head(&b), pd_buf_size(&b)), (ssize_t)pd_buf_size(&b));
	pd_buf_free(&b);
	spin(l, 200);
	CU_ASSERT_EQUAL(pd_server_followers(s), 1);
	CU_ASSERT_EQUAL(pd_server_agents(s), 1);
	CU_ASSERT_EQUAL(left, 0);

	/* only agents are drained; the BYE carries the exit status */
	CU_ASSERT_EQUAL(pd_server_drain(s, 10), 1);
	pd_server_exit_status(s, 7);
	pd_server_shutdown(s);
	pd_loop_run_deferred(l);
	drain(ff, &g);
	CU_ASSERT_EQUAL(g.n[PD_MSG_TASKS], 0);
	CU_ASSERT_EQUAL(g.n[PD_MSG_DRAIN], 0);
	CU_ASSERT_EQUAL(g.n[PD_MSG_BYE], 1);
	CU_ASSERT_EQUAL(g.bye_status, 7);
	CU_ASSERT(g.closed);
	drain(fa, &g);
	CU_ASSERT_EQUAL(g.n[PD_MSG_DRAIN], 1);
	CU_ASSERT_EQUAL(g.bye_status, 7);
	CU_ASSERT_EQUAL(pd_server_followers(s), 0);

	close(fa);
	close(ff);
	close(fr);
	close(fbig);
	pd_server_free(s);
	pd_loop_free(l);
	unlink(path);
	rmdir(dir);
}

/* Statuses outside 0-255 are clamped, never wrapped into a success. */
static void test_exit_status_clamped(void)
{
	char dir[] = "/tmp/pd-test-server.XXXXXX", path[200], url[220], err[300];
	pd_loop *l = pd_loop_new();
	pd_server_opts o;
	pd_server_cbs cbs = {task_argv, on_result, on_agent, NULL};
	pd_server *s;
	pd_endpoint ep, bound;
	struct got g;
	int ff;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	snprintf(url, sizeof(url), "ipc://%s", path);
	pd_server_opts_default(&o);
	s = pd_server_new(l, &o, &cbs, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(pd_endpoint_parse(url, &ep, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(pd_server_listen(s, &ep, NULL, &bound, err, sizeof(err)), 0);
	ff = peer(path, "follower", 0);
	spin(l, 200);
	CU_ASSERT_EQUAL(pd_server_followers(s), 1);
	pd_server_exit_status(s, 256);
	pd_server_shutdown(s);
	pd_loop_run_deferred(l);
	drain(ff, &g);
	CU_ASSERT_EQUAL(g.bye_status, 255);
	close(ff);
	pd_server_free(s);
	pd_loop_free(l);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	CU_pSuite suite;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite("server", NULL, NULL);
	if (!suite)
		return 2;
	CU_add_test(suite, "followers: no tasks, not agents, BYE with the status",
		    test_followers);
	CU_add_test(suite, "an exit status over 255 is clamped", test_exit_status_clamped);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
