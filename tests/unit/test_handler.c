/* test_handler.c - the agent's handler seam (agent/handler.h) through the
 * real agent core: pd_agent_run dials a Unix socket where a thread of this
 * test plays the controller with the real codec (HELLO, WELCOME with
 * handler settings, TASKS, CANCEL, RESULTS, PING/PONG, BYE). A kind made up
 * for the test (fake_handler.c) is added with one registration line. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "codec.h"
#include "handler.h"
#include "log.h"

extern const pd_handler_ops fake_handler_ops;

#define MAXT 8

/* One controller's part: what it sends and what came back. */
typedef struct script {
	int lfd;
	pd_setting settings[4];
	uint32_t nsettings;
	pd_task_msg tasks[MAXT];
	uint32_t ntasks;
	int cancel_id; /* a task to CANCEL once every other one answered, or -1 */
	const uint64_t *cancel_ids; /* a CANCEL sent right after the TASKS */
	uint32_t ncancel;
	/* what came back */
	int hello;
	uint32_t features;
	uint32_t nresults;
	uint8_t status[MAXT];
	char out[MAXT][200];
	char error[MAXT][200];
	char fail[200];
} script;

static char sockpath[108];

static int send_all(int fd, const pd_buf *b)
{
	const uint8_t *p = pd_buf_head(b);
	size_t n = pd_buf_size(b);

	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads the next frame into in; 0 with type/payload, or -1. */
static int next_frame(int fd, pd_buf *in, uint8_t *type, const uint8_t **p, size_t *n,
		      size_t *used)
{
	for (;;) {
		uint8_t chunk[4096];
		ssize_t r;
		int rv = pd_frame_parse(pd_buf_head(in), pd_buf_size(in), 1u << 20, type, p, n, used);

		if (rv == 0)
			return 0;
		if (rv != -EAGAIN)
			return -1;
		r = read(fd, chunk, sizeof(chunk));
		if (r <= 0)
			return -1;
		pd_buf_append(in, chunk, (size_t)r);
	}
}

static void take_results(script *s, const uint8_t *p, size_t n)
{
	pd_result_msg **r = NULL;
	uint32_t c = 0;

	if (pd_results_decode(p, n, &r, &c) < 0) {
		snprintf(s->fail, sizeof(s->fail), "bad RESULTS");
		return;
	}
	for (uint32_t i = 0; i < c; i++) {
		if (r[i]->id < MAXT) {
			s->status[r[i]->id] = r[i]->status;
			snprintf(s->out[r[i]->id], sizeof(s->out[0]), "%s", r[i]->out);
			snprintf(s->error[r[i]->id], sizeof(s->error[0]), "%s", r[i]->error);
			s->nresults++;
		}
		free(r[i]);
	}
	free(r);
}

static void *controller(void *arg)
{
	script *s = arg;
	struct timeval tv = {10, 0};
	pd_buf in = {0}, out = {0};
	int fd = accept(s->lfd, NULL, NULL), cancelled = 0;
	uint8_t type;
	const uint8_t *p;
	size_t n, used, mark;

	if (fd < 0) {
		snprintf(s->fail, sizeof(s->fail), "accept: %s", strerror(errno));
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!s->fail[0] && next_frame(fd, &in, &type, &p, &n, &used) == 0) {
		pd_buf_reset(&out);
		if (type == PD_MSG_HELLO) {
			pd_hello h;
			pd_welcome w = {PD_PROTO_VERSION, 1000, 1u << 20, "ctl", 0, {{0}}};
			if (pd_hello_decode(p, n, &h) < 0)
				snprintf(s->fail, sizeof(s->fail), "bad HELLO");
			s->hello = 1;
			s->features = h.features;
			w.nsettings = s->nsettings;
			memcpy(w.settings, s->settings, sizeof(s->settings));
			pd_welcome_encode(&out, &w);
			pd_tasks_begin(&out, &mark);
			for (uint32_t i = 0; i < s->ntasks; i++)
				pd_tasks_add(&out, mark, &s->tasks[i]);
			pd_tasks_end(&out, mark);
			if (s->ncancel)
				pd_cancel_encode(&out, s->cancel_ids, s->ncancel);
		} else if (type == PD_MSG_PING) {
			uint64_t stamp;
			pd_ping_decode(p, n, &stamp);
			pd_ping_encode(&out, PD_MSG_PONG, stamp);
		} else if (type == PD_MSG_RESULTS) {
			take_results(s, p, n);
		}
		pd_buf_consume(&in, used);
		if (s->cancel_id >= 0 && !cancelled && s->nresults + 1 == s->ntasks) {
			uint64_t id = (uint64_t)s->cancel_id;
			pd_cancel_encode(&out, &id, 1);
			cancelled = 1;
		}
		if (s->hello && s->nresults == s->ntasks)
			pd_bye_encode(&out, 0);
		if (pd_buf_size(&out) && send_all(fd, &out) < 0)
			break;
		if (s->hello && s->nresults == s->ntasks)
			break;
	}
	if (!s->fail[0] && s->nresults != s->ntasks)
		snprintf(s->fail, sizeof(s->fail), "%u of %u results", s->nresults, s->ntasks);
	close(fd);
	pd_buf_free(&in);
	pd_buf_free(&out);
	return NULL;
}

static int listen_unix(void)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
	unlink(sockpath);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Runs a real agent (own settings own[0, nown)) against script s; its
 * exit status. */
static int run_agent(script *s, const pd_setting *own, size_t nown)
{
	pd_agent_opts o;
	pthread_t th;
	pd_loop *l;
	char url[200], err[200];
	int rc;

	memset(&o, 0, sizeof(o));
	snprintf(url, sizeof(url), "ipc://%s", sockpath);
	CU_ASSERT_EQUAL_FATAL(pd_endpoint_parse(url, &o.ep, err, sizeof(err)), 0);
	o.slots = 2;
	o.grace_ms = 3000;
	snprintf(o.id, sizeof(o.id), "t");
	snprintf(o.mode, sizeof(o.mode), "manual");
	o.own = own;
	o.nown = nown;
	s->lfd = listen_unix();
	CU_ASSERT_FATAL(s->lfd >= 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, controller, s), 0);
	l = pd_loop_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	rc = pd_agent_run(l, &o);
	if (rc != 0)
		shutdown(s->lfd, SHUT_RDWR); /* an agent that never dialled */
	pthread_join(th, NULL);
	pd_loop_free(l);
	close(s->lfd);
	return rc;
}

static char *w_a[] = {"a", NULL}, *w_b[] = {"b", NULL}, *w_hi[] = {"hi", NULL},
	    *w_hang[] = {"hang", NULL};

static void task(script *s, uint8_t kind, char **argv)
{
	pd_task_msg *t = &s->tasks[s->ntasks];

	memset(t, 0, sizeof(*t));
	t->id = s->ntasks++;
	t->attempt = 1;
	t->kind = kind;
	t->out_limit = 4096;
	t->argv = argv;
	while (argv[t->argc])
		t->argc++;
}

static void setting(script *s, uint8_t kind, const char *text)
{
	s->settings[s->nsettings++] = (pd_setting){kind, (uint32_t)strlen(text),
						    (const uint8_t *)text};
}

static script *new_script(void)
{
	script *s = calloc(1, sizeof(*s));

	s->cancel_id = -1;
	return s;
}

/* ---- tests ---- */

static void test_registry(void)
{
	CU_ASSERT_PTR_EQUAL(pd_handler_find(200), &fake_handler_ops);
	CU_ASSERT_PTR_EQUAL(pd_handler_find(PD_TASK_PROCESS), &pd_handler_process);
	CU_ASSERT_PTR_EQUAL(pd_handler_find(PD_TASK_COPROC), &pd_handler_coproc);
	CU_ASSERT_PTR_NULL(pd_handler_find(201));
	CU_ASSERT_EQUAL(pd_handler_register(&fake_handler_ops), -EEXIST);
	CU_ASSERT_EQUAL(pd_handler_register(&pd_handler_echo), -EEXIST);
}

static void test_controller_settings(void)
{
	script *s = new_script();
	static char *w_x[] = {"x", NULL};

	setting(s, 200, "from-ctl");
	task(s, 200, w_a);
	task(s, PD_TASK_ECHO, w_hi);
	task(s, 201, w_x);
	task(s, 200, w_hang);
	s->cancel_id = 3;
	CU_ASSERT_EQUAL(run_agent(s, NULL, 0), 0);
	CU_ASSERT_STRING_EQUAL(s->fail, "");
	CU_ASSERT_EQUAL(s->features & 0x100, 0);
	CU_ASSERT_EQUAL(s->status[0], PD_ST_OK);
	CU_ASSERT_STRING_EQUAL(s->out[0], "from-ctl|a");
	CU_ASSERT_EQUAL(s->status[1], PD_ST_OK);
	CU_ASSERT_STRING_EQUAL(s->out[1], "hi\n");
	CU_ASSERT_EQUAL(s->status[2], PD_ST_FAILED);
	CU_ASSERT_STRING_EQUAL(s->error[2], "this agent has no handler for task kind 201");
	CU_ASSERT_EQUAL(s->status[3], PD_ST_FAILED);
	CU_ASSERT_STRING_EQUAL(s->error[3], "cancelled");
	free(s);
}

static void test_own_settings_win(void)
{
	script *s = new_script();
	pd_setting own = {200, 4, (const uint8_t *)"mine"};

	setting(s, 200, "from-ctl");
	task(s, 200, w_b);
	CU_ASSERT_EQUAL(run_agent(s, &own, 1), 0);
	CU_ASSERT_STRING_EQUAL(s->fail, "");
	CU_ASSERT_EQUAL(s->features & 0x100, 0x100);
	CU_ASSERT_EQUAL(s->status[0], PD_ST_OK);
	CU_ASSERT_STRING_EQUAL(s->out[0], "mine|b");
	free(s);
}

static void test_no_and_bad_settings(void)
{
	script *s = new_script();
	pd_setting own = {200, 3, (const uint8_t *)"bad"};

	/* none: the kind runs with none */
	task(s, 200, w_a);
	CU_ASSERT_EQUAL(run_agent(s, NULL, 0), 0);
	CU_ASSERT_STRING_EQUAL(s->out[0], "-|a");
	free(s);
	/* refused from the controller: the agent leaves, exit 2, without
	 * reporting the tasks it was handed (the controller requeues them
	 * as lost; an agent that failed them would swallow a pool's work) */
	s = new_script();
	setting(s, 200, "bad");
	task(s, 200, w_a);
	task(s, PD_TASK_ECHO, w_hi);
	CU_ASSERT_EQUAL(run_agent(s, NULL, 0), 2);
	CU_ASSERT_EQUAL(s->hello, 1);
	CU_ASSERT_EQUAL(s->nresults, 0);
	free(s);
	/* refused on the agent's own command line: exit 2, no connection */
	s = new_script();
	CU_ASSERT_EQUAL(run_agent(s, &own, 1), 2);
	CU_ASSERT_EQUAL(s->hello, 0);
	free(s);
}

/* One CANCEL names running and queued tasks, some twice, with ids the
 * agent never had; past the agent's hold limit (2 slots: 2 x 65 + 8192)
 * ids are not looked at. Exactly the tasks named in time end, "cancelled";
 * the others run as if nothing happened. */
static void test_cancel_set(void)
{
	script *s = new_script();
	uint32_t n = 9000;
	uint64_t *ids = calloc(n, sizeof(*ids));
	static const uint64_t named[] = {5, 1, 999, 3, 0, 1, 5, 1u << 20};

	CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
	task(s, 200, w_hang); /* 0: runs */
	task(s, 200, w_hang); /* 1: runs */
	task(s, 200, w_a);    /* 2: queued, named only past the limit */
	task(s, 200, w_hang); /* 3: queued */
	task(s, PD_TASK_ECHO, w_hi); /* 4: queued, never named */
	task(s, 200, w_hang); /* 5: queued */
	for (uint32_t i = 0; i < n; i++)
		ids[i] = 1000 + i; /* ids it never had */
	memcpy(ids, named, sizeof(named));
	ids[2 * 65 + 8192] = 2; /* the first id not looked at */
	s->cancel_ids = ids;
	s->ncancel = n;
	CU_ASSERT_EQUAL(run_agent(s, NULL, 0), 0);
	CU_ASSERT_STRING_EQUAL(s->fail, "");
	for (int i = 0; i < 6; i++) {
		int ok = i == 2 || i == 4;
		CU_ASSERT_EQUAL(s->status[i], ok ? PD_ST_OK : PD_ST_FAILED);
		CU_ASSERT_STRING_EQUAL(s->error[i], ok ? "" : "cancelled");
	}
	CU_ASSERT_STRING_EQUAL(s->out[2], "-|a");
	CU_ASSERT_STRING_EQUAL(s->out[4], "hi\n");
	free(ids);
	free(s);
}

static void test_coproc_from_controller(void)
{
	script *s = new_script();
	static char *w_x[] = {"x", NULL}, *w_y[] = {"y", NULL};

	/* kinds in order: coproc (3) before the fake (200) */
	setting(s, PD_TASK_COPROC, "while read l; do echo \"got $l\"; done");
	setting(s, 200, "also");
	task(s, PD_TASK_COPROC, w_x);
	task(s, PD_TASK_COPROC, w_y);
	task(s, 200, w_a);
	CU_ASSERT_EQUAL(run_agent(s, NULL, 0), 0);
	CU_ASSERT_STRING_EQUAL(s->fail, "");
	CU_ASSERT_EQUAL(s->features & PD_HELLO_COPROC, 0);
	CU_ASSERT_EQUAL(s->status[0], PD_ST_OK);
	CU_ASSERT_STRING_EQUAL(s->out[0], "got x\n");
	CU_ASSERT_STRING_EQUAL(s->out[1], "got y\n");
	CU_ASSERT_STRING_EQUAL(s->out[2], "also|a");
	free(s);
	/* with no command from anywhere a coproc task fails saying so */
	s = new_script();
	task(s, PD_TASK_COPROC, w_x);
	CU_ASSERT_EQUAL(run_agent(s, NULL, 0), 0);
	CU_ASSERT_EQUAL(s->status[0], PD_ST_FAILED);
	CU_ASSERT_STRING_EQUAL(s->error[0],
			       "this agent has no coprocess (start it with --coproc COMMAND)");
	free(s);
}

/* ---- the set without an agent: settings that cannot be put in place ---- */

typedef struct got {
	pd_loop *l;
	int n;
	uint8_t status;
	char out[200], error[200];
} got;

static void got_done(void *arg, const pd_result_msg *r)
{
	got *g = arg;

	g->n++;
	g->status = r->status;
	snprintf(g->out, sizeof(g->out), "%.*s", (int)r->out_len, r->out);
	snprintf(g->error, sizeof(g->error), "%s", r->error);
	pd_loop_stop(g->l);
}

static void too_late(pd_loop *l, void *arg)
{
	(void)arg;
	pd_loop_stop(l);
}

/* Runs l until a result comes or 10 s pass. */
static void run_for_result(got *g)
{
	pd_timer *t = pd_timer_new(g->l, too_late, NULL);

	pd_timer_start(t, 10000);
	pd_loop_run(g->l);
	pd_timer_free(t);
}

/* A coprocess COMMAND from a WELCOME that cannot start (no file
 * descriptor left for its pipes): pd_handlers_welcome says why, with
 * strerror; the old command's coprocesses are ended (the task one of
 * them ran is reported lost, not left running the old command); and the
 * same settings in the next WELCOME are tried again, not skipped. */
static void test_welcome_cannot_start(void)
{
	got g = {0};
	pd_handler_env env;
	pd_handlers *h;
	pd_welcome w = {PD_PROTO_VERSION, 1000, 1u << 20, "ctl", 1, {{0}}};
	char err[300];
	static char *w_x[] = {"x", NULL};
	pd_task_msg t = {7, 1, PD_TASK_COPROC, 0, 4096, 1, w_x};
	struct rlimit was, low;
	int fd;

	g.l = pd_loop_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(g.l);
	env = (pd_handler_env){g.l, 2, got_done, &g};
	CU_ASSERT_EQUAL_FATAL(pd_handlers_new(&env, &h, err, sizeof(err)), 0);
	/* the old command takes the line and never answers */
	w.settings[0] = (pd_setting){PD_TASK_COPROC, 6, (const uint8_t *)"read l"};
	CU_ASSERT_EQUAL_FATAL(pd_handlers_welcome(h, &w, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(pd_handlers_start(h, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(g.n, 0);
	/* the lowest free descriptor is the limit: no pipe can be made */
	fd = dup(0);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_NOFILE, &was), 0);
	low = was;
	low.rlim_cur = (rlim_t)fd;
	CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_NOFILE, &low), 0);
	w.settings[0] = (pd_setting){PD_TASK_COPROC, 3, (const uint8_t *)"cat"};
	CU_ASSERT(pd_handlers_welcome(h, &w, err, sizeof(err)) < 0);
	setrlimit(RLIMIT_NOFILE, &was);
	CU_ASSERT_STRING_EQUAL(err, "cannot start the coprocess 'cat': Too many open files");
	/* the old one's task: lost, now (its coprocess is gone) */
	CU_ASSERT_EQUAL(g.n, 1);
	CU_ASSERT_EQUAL(g.status, PD_ST_LOST);
	CU_ASSERT_PTR_NOT_NULL(strstr(g.error, "the new one cannot start"));
	/* the same command again, with descriptors to spare: tried, runs */
	CU_ASSERT_EQUAL(pd_handlers_welcome(h, &w, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(pd_handlers_start(h, &t, err, sizeof(err)), 0);
	run_for_result(&g);
	CU_ASSERT_EQUAL(g.n, 2);
	CU_ASSERT_EQUAL(g.status, PD_ST_OK);
	CU_ASSERT_STRING_EQUAL(g.out, "x\n");
	pd_handlers_free(h);
	pd_loop_free(g.l);
}

int main(void)
{
	CU_pSuite suite;
	unsigned fails;

	pd_log_init("test_handler");
	snprintf(sockpath, sizeof(sockpath), "/tmp/pd-test-handler-%d.sock", (int)getpid());
	/* the one line that adds the kind */
	if (pd_handler_register(&fake_handler_ops) < 0)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("handler", NULL, NULL);
	CU_add_test(suite, "registry", test_registry);
	CU_add_test(suite, "controller settings reach a kind", test_controller_settings);
	CU_add_test(suite, "the agent's own settings win", test_own_settings_win);
	CU_add_test(suite, "no settings, refused settings", test_no_and_bad_settings);
	CU_add_test(suite, "coproc command from the controller", test_coproc_from_controller);
	CU_add_test(suite, "a CANCEL of a set of ids", test_cancel_set);
	CU_add_test(suite, "a WELCOME's coprocess that cannot start", test_welcome_cannot_start);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	unlink(sockpath);
	return fails ? 1 : 0;
}
