/* fake_controller - a hostile parade controller for the test suite.
 *
 *   fake_controller AGENT DIR [--tls] [--random N] [--seed S]
 *
 * Listens on DIR/agents.sock (or, with --tls, on tls+tcp://127.0.0.1:0
 * with a fresh session secret), writes DIR/connection naming it, starts
 * the real agent program AGENT (parade-agent --connect DIR/connection,
 * its log in DIR/agent-K.log) and serves it crafted frames, then N random
 * ones (default 100). After each frame it sends a PING: the agent must
 * either answer it (it kept the controller) or drop the connection and
 * dial again; it must never crash (die by a signal, or exit when it should
 * not), hang (neither within 10 s) or spin (CPU time while idle). The
 * crafted cases also check what the agent must do: refuse a frame of
 * 32,768 tasks beyond its slots, run 32,768 tasks that all finish at once,
 * refuse a WELCOME of another protocol version for good (exit 3), dial a
 * controller that welcomes it and drops it at once ever more slowly (and
 * quickly again after a connection that brought a task or lasted 5 s), and,
 * over TLS, retry a controller that vanished mid-handshake while still
 * giving up (exit 3) on a wrong secret. Like a real controller, each
 * welcomed connection first gets one task (see welcomed()).
 *
 * Prints one line per crafted case and a summary with the counts; exits 0
 * when every case went as expected and nothing crashed, hung or spun.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec.h"
#include "conn.h"
#include "endpoint.h"
#include "loop.h"
#include "net.h"
#include "session.h"

#include "fc.h"
#include "fc_frames.h"

static pd_loop *loop;
static pd_timer *deadline;
static int timed_out;
static int lfd = -1;
static pd_tls *tls, *wrong_tls;
static const char *agent_prog, *dir;
static char connpath[600];
static int use_tls;
/* the next accepted connection: 0 normal, 1 read the ClientHello then
 * close, 2 reset at once, 3 use the wrong secret */
static int next_accept;
static peer *cur; /* the latest connection that said HELLO */
static pid_t agent_pid;
static int agent_pidfd = -1, nagents;
int agent_status, agent_exited;
static uint64_t stamp_seq = 1000;
uint64_t hello_ms; /* when the latest HELLO came */
static unsigned n_ok, n_bad, n_drop, n_kept, n_crash, n_hang, n_exit;

static void poke(void)
{
	pd_loop_stop(loop);
}

static void deadline_cb(pd_loop *l, void *arg)
{
	(void)arg;
	timed_out = 1;
	pd_loop_stop(l);
}

/* Runs the loop until cond(arg) holds or ms pass. 1 when it holds. */
int wait_until(int (*cond)(void *), void *arg, uint64_t ms)
{
	timed_out = 0;
	pd_timer_start(deadline, ms);
	while (!cond(arg) && !timed_out)
		pd_loop_run(loop);
	pd_timer_stop(deadline);
	return cond(arg);
}

int never(void *arg)
{
	(void)arg;
	return 0;
}

/* ---- the agent process ---- */

static void on_agent_exit(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	(void)ev;
	(void)arg;
	if (waitpid(agent_pid, &agent_status, WNOHANG) != agent_pid)
		return;
	agent_exited = 1;
	pd_loop_del(l, fd);
	close(fd);
	agent_pidfd = -1;
	poke();
}

void agent_start(unsigned slots)
{
	char log[700], sl[16];
	pid_t pid;

	snprintf(log, sizeof(log), "%s/agent-%d.log", dir, ++nagents);
	snprintf(sl, sizeof(sl), "%u", slots);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		execl(agent_prog, agent_prog, "--connect", connpath, "--slots", sl, "--grace", "30",
		      "--id", "victim", "--log", log, (char *)NULL);
		_exit(127);
	}
	if (pid < 0) {
		perror("fake_controller: fork");
		exit(2);
	}
	agent_pid = pid;
	agent_exited = 0;
	agent_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (agent_pidfd < 0 || pd_loop_add(loop, agent_pidfd, PD_EV_IN, on_agent_exit, NULL) < 0) {
		perror("fake_controller: pidfd_open");
		exit(2);
	}
}

int agent_gone(void *arg)
{
	(void)arg;
	return agent_exited;
}

void agent_stop(void)
{
	if (!agent_exited) {
		kill(agent_pid, SIGTERM);
		if (!wait_until(agent_gone, NULL, WAIT_MS)) {
			kill(agent_pid, SIGKILL);
			wait_until(agent_gone, NULL, WAIT_MS);
		}
	}
}

const char *describe_exit(void)
{
	static char s[64];

	if (!agent_exited)
		return "running";
	if (WIFSIGNALED(agent_status))
		snprintf(s, sizeof(s), "killed by signal %d", WTERMSIG(agent_status));
	else
		snprintf(s, sizeof(s), "exit status %d", WEXITSTATUS(agent_status));
	return s;
}

/* CPU seconds (user + system) the agent has used. */
static double agent_cpu(void)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)agent_pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	p = strrchr(buf, ')');
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- connections ---- */

static void on_ready(pd_conn *c, void *arg)
{
	(void)c;
	(void)arg;
}

static void on_frame(pd_conn *c, uint8_t type, const uint8_t *p, size_t n, void *arg)
{
	peer *pe = arg;

	switch (type) {
	case PD_MSG_HELLO: {
		pd_hello h;
		if (pd_hello_decode(p, n, &h) < 0) {
			pd_conn_close(c, "bad HELLO");
			break;
		}
		pe->hello = 1;
		pe->slots = h.slots;
		hello_ms = pd_now_us() / 1000;
		if (cur && cur != pe) {
			if (cur->c)
				pd_conn_close(cur->c, "replaced");
			else
				free(cur);
		}
		cur = pe;
		break;
	}
	case PD_MSG_PING: {
		uint64_t s = 0;
		if (pd_ping_decode(p, n, &s) == 0) {
			pd_ping_encode(pd_conn_out(c), PD_MSG_PONG, s);
			pd_conn_flush(c);
		}
		break;
	}
	case PD_MSG_PONG:
		pd_ping_decode(p, n, &pe->pong);
		break;
	case PD_MSG_RESULTS: {
		pd_result_msg **r = NULL;
		uint32_t k = 0;
		if (pd_results_decode(p, n, &r, &k) == 0) {
			for (uint32_t i = 0; i < k; i++) {
				if (r[i]->status == PD_ST_FAILED && !strcmp(r[i]->error, "cancelled"))
					pe->cancelled++;
				free(r[i]);
			}
			free(r);
			pe->results += k;
		}
		break;
	}
	default:
		break;
	}
	poke();
}

static void on_close(pd_conn *c, const char *why, void *arg)
{
	peer *pe = arg;

	(void)c;
	pe->c = NULL;
	pe->closed = 1;
	snprintf(pe->why, sizeof(pe->why), "%s", why);
	if (pe != cur)
		free(pe);
	poke();
}

static const pd_conn_ops ops = {on_ready, on_frame, on_close};

/* A connection that breaks off during the TLS handshake (mode 1: after
 * reading the ClientHello, 2: reset at once). */
static void vanish(int fd, int mode)
{
	char buf[4096];

	if (mode == 1) {
		struct pollfd pf = {fd, POLLIN, 0};
		if (poll(&pf, 1, 5000) > 0 && read(fd, buf, sizeof(buf)) < 0)
			perror("fake_controller: read");
	} else {
		struct linger lg = {1, 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
}

static void on_accept(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	char name[128];
	int cfd;

	(void)ev;
	(void)arg;
	(void)fd;
	while ((cfd = pd_net_accept(lfd, name, sizeof(name))) >= 0) {
		peer *pe;
		int mode = next_accept;

		next_accept = 0;
		if (mode == 1 || mode == 2) {
			vanish(cfd, mode);
			poke();
			continue;
		}
		pe = calloc(1, sizeof(*pe));
		if (!pe || !(pe->c = pd_conn_new(l, cfd, mode == 3 ? wrong_tls : tls, PD_CONN_SERVER,
						 &ops, pe, 256u << 20))) {
			free(pe);
			close(cfd);
			continue;
		}
	}
	poke();
}

int cur_hello(void *arg)
{
	(void)arg;
	return (cur && cur->hello && !cur->closed && !cur->welcomed) || agent_exited;
}

/* Waits for a connection that said HELLO and has not been welcomed. */
peer *wait_hello(void)
{
	if (!wait_until(cur_hello, NULL, WAIT_MS) || agent_exited)
		return NULL;
	return cur;
}

/* The frame bytes go out as given (valid or not). */
void send_raw(peer *pe, const pd_buf *b)
{
	if (pe->c) {
		pd_buf_append(pd_conn_out(pe->c), pd_buf_head(b), pd_buf_size(b));
		pd_conn_flush(pe->c);
	}
}

void send_welcome(peer *pe, uint32_t version, uint32_t hb)
{
	pd_welcome w = {version, hb, 64u << 20, "fake", 0, {{0}}};

	pd_welcome_encode(pd_conn_out(pe->c), &w);
	pd_conn_flush(pe->c);
	pe->welcomed = 1;
}

static int work_done(void *arg)
{
	peer *pe = arg;
	return pe->results >= 1 || pe->closed || agent_exited;
}

/* Welcomes the next connection and has it run one echo task: the agent
 * dials a controller that gave it work again at once (agent/client.c),
 * so the crafted and random frames that drop the controller one after
 * another each cost a quick reconnection. results counts from 0 after. */
peer *welcomed(void)
{
	peer *pe = wait_hello();
	pd_buf b = {0};

	if (!pe)
		return NULL;
	send_welcome(pe, PD_PROTO_VERSION, 1000);
	fc_flood(&b, 1, 0);
	send_raw(pe, &b);
	pd_buf_free(&b);
	if (!wait_until(work_done, pe, WAIT_MS) || pe->closed || agent_exited)
		return NULL;
	pe->results = pe->cancelled = 0;
	return pe;
}

/* ---- outcomes ---- */

const char *const outcome_name[] = {"kept the controller", "dropped the controller", "exited",
				   "hung"};

struct ping_wait {
	peer *pe;
	uint64_t stamp;
};

static int pong_or_close(void *arg)
{
	struct ping_wait *w = arg;

	return w->pe->closed || w->pe->pong == w->stamp || agent_exited;
}

/* After a frame: a PING tells whether the agent kept the connection. A
 * dropped one must be followed by a new HELLO. */
int outcome(peer *pe)
{
	struct ping_wait w = {pe, ++stamp_seq};

	if (!pe->closed) {
		pd_ping_encode(pd_conn_out(pe->c), PD_MSG_PING, w.stamp);
		pd_conn_flush(pe->c);
	}
	if (!wait_until(pong_or_close, &w, WAIT_MS))
		return HUNG;
	if (agent_exited)
		return EXITED;
	if (!pe->closed)
		return KEPT;
	return DROPPED;
}

/* Counts the outcome of one frame; a drop must be followed by a
 * reconnection (a new HELLO), which gets a WELCOME. Returns the next
 * welcomed connection, or NULL when the agent is gone or hung. */
peer *settle(peer *pe, int got, const char *what)
{
	if (got == KEPT) {
		n_kept++;
		return pe;
	}
	if (got == HUNG) {
		n_hang++;
		printf("fake_controller: HANG after %s: no PONG and no close in %u s\n", what,
		       WAIT_MS / 1000);
		return NULL;
	}
	if (got == EXITED) {
		if (WIFSIGNALED(agent_status) || WEXITSTATUS(agent_status) > 3)
			n_crash++;
		else
			n_exit++;
		printf("fake_controller: agent %s after %s\n", describe_exit(), what);
		return NULL;
	}
	n_drop++;
	pe = welcomed();
	if (!pe) {
		printf("fake_controller: HANG: no reconnection within %u s after %s (agent %s)\n",
		       WAIT_MS / 1000, what, describe_exit());
		if (agent_exited)
			n_crash++;
		else
			n_hang++;
	}
	return pe;
}

void expect(int ok, const char *name, const char *detail)
{
	if (ok)
		n_ok++;
	else
		n_bad++;
	printf("fake_controller: %s %s%s%s\n", ok ? "ok  " : "FAIL", name, detail ? ": " : "",
	       detail ? detail : "");
	fflush(stdout);
}

int results_in(void *arg)
{
	peer *pe = arg;
	return pe->results >= FLOOD || pe->closed || agent_exited;
}

peer *fresh_agent(unsigned slots)
{
	agent_stop();
	agent_start(slots);
	return welcomed();
}

int grep_log(const char *needle)
{
	char path[700], line[2048];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/agent-%d.log", dir, nagents);
	if (!(f = fopen(path, "r")))
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* Over TLS: a controller that vanishes mid-handshake is retried; a wrong
 * secret is final. */
static void tls_cases(void)
{
	peer *pe;
	char detail[200];

	agent_stop();
	next_accept = 1;
	agent_start(1);
	pe = welcomed();
	snprintf(detail, sizeof(detail), "agent %s", pe ? "reconnected" : describe_exit());
	expect(pe != NULL, "controller gone after the ClientHello (EOF mid-handshake)", detail);
	if (pe) {
		next_accept = 2;
		pd_conn_close(pe->c, "going away");
		pe = welcomed();
		snprintf(detail, sizeof(detail), "agent %s", pe ? "reconnected" : describe_exit());
		expect(pe != NULL, "connection reset mid-handshake", detail);
	}
	if (pe) {
		next_accept = 3;
		pd_conn_close(pe->c, "going away");
		wait_until(agent_gone, NULL, WAIT_MS);
		snprintf(detail, sizeof(detail), "agent %s", describe_exit());
		expect(agent_exited && WIFEXITED(agent_status) && WEXITSTATUS(agent_status) == 3,
		       "a controller with another secret", detail);
		expect(grep_log("TLS handshake failed"), "the agent's log says the handshake failed",
		       NULL);
	}
}

static peer *random_rounds(peer *pe, unsigned rounds)
{
	pd_buf b = {0};

	for (unsigned i = 0; i < rounds; i++) {
		if (!pe) {
			/* crashed or hung: counted; go on with a new agent */
			pe = fresh_agent(2);
			if (!pe)
				break;
		}
		fc_random_frame(&b);
		send_raw(pe, &b);
		pe = settle(pe, outcome(pe), "a random frame");
	}
	pd_buf_free(&b);
	return pe;
}

int main(int argc, char **argv)
{
	pd_endpoint ep, bound;
	pd_connfile cf;
	char err[600], url[600];
	unsigned rounds = 100;
	double cpu0, cpu1;
	peer *pe;

	if (argc < 3) {
		fprintf(stderr, "usage: fake_controller AGENT DIR [--tls] [--random N] [--seed S]\n");
		return 2;
	}
	agent_prog = argv[1];
	dir = argv[2];
	fc_seed(0);
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--tls"))
			use_tls = 1;
		else if (!strcmp(argv[i], "--random") && i + 1 < argc)
			rounds = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			fc_seed(strtoull(argv[++i], NULL, 10));
		else {
			fprintf(stderr, "fake_controller: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	loop = pd_loop_new();
	deadline = pd_timer_new(loop, deadline_cb, NULL);
	memset(&cf, 0, sizeof(cf));
	cf.version = PD_PROTO_VERSION;
	snprintf(cf.session, sizeof(cf.session), "fake");
	snprintf(cf.identity, sizeof(cf.identity), "%s", PD_PSK_IDENTITY);
	pd_random(cf.secret, sizeof(cf.secret));
	if (use_tls)
		snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:0");
	else
		snprintf(url, sizeof(url), "ipc://%s/agents.sock", dir);
	if (pd_endpoint_parse(url, &ep, err, sizeof(err)) < 0 ||
	    (lfd = pd_net_listen(&ep, &bound, err, sizeof(err))) < 0) {
		fprintf(stderr, "fake_controller: %s\n", err);
		return 2;
	}
	pd_endpoint_format(&bound, cf.endpoint, sizeof(cf.endpoint));
	if (use_tls) {
		uint8_t other[PD_SECRET_LEN];
		pd_random(other, sizeof(other));
		if (pd_tls_global_init() < 0 ||
		    pd_tls_new_psk(1, PD_PSK_IDENTITY, cf.secret, PD_SECRET_LEN, &tls, err,
				   sizeof(err)) < 0 ||
		    pd_tls_new_psk(1, PD_PSK_IDENTITY, other, PD_SECRET_LEN, &wrong_tls, err,
				   sizeof(err)) < 0) {
			fprintf(stderr, "fake_controller: %s\n", err);
			return 2;
		}
	}
	snprintf(connpath, sizeof(connpath), "%s/connection", dir);
	if (pd_connfile_write(connpath, &cf, err, sizeof(err)) < 0) {
		fprintf(stderr, "fake_controller: %s\n", err);
		return 2;
	}
	memset(cf.secret, 0, sizeof(cf.secret));
	pd_loop_add(loop, lfd, PD_EV_IN, on_accept, NULL);
	printf("fake_controller: %s at %s\n", use_tls ? "TLS" : "Unix socket", cf.endpoint);

	agent_start(1);
	pe = welcomed();
	if (!pe) {
		printf("fake_controller: FAIL the agent never said HELLO (agent %s)\n", describe_exit());
		return 1;
	}
	pe = fc_crafted(pe);
	pe = fc_huge_cancel();
	if (use_tls)
		tls_cases();
	else
		fc_backoff_cases();
	pe = fresh_agent(2);
	pe = random_rounds(pe, rounds);
	/* spinning: an idle agent on a quiet link uses next to no CPU */
	if (pe) {
		cpu0 = agent_cpu();
		wait_until(never, NULL, 2000);
		cpu1 = agent_cpu();
		snprintf(err, sizeof(err), "%.2f s of CPU in 2 s", cpu1 - cpu0);
		expect(cpu0 >= 0 && cpu1 - cpu0 < 0.5 && !agent_exited, "idle agent after the random frames", err);
	}
	agent_stop();
	if (!WIFEXITED(agent_status) || WEXITSTATUS(agent_status) != 0) {
		printf("fake_controller: agent %s when told to stop\n", describe_exit());
		n_crash++;
	}
	printf("fake_controller: %s: %u crafted checks ok, %u failed; %u frames: %u dropped the "
	       "controller and reconnected, %u kept it; %u crashes, %u hangs, %u unexpected exits\n",
	       use_tls ? "TLS" : "unix", n_ok, n_bad, n_drop + n_kept + n_hang + n_crash + n_exit,
	       n_drop, n_kept, n_crash, n_hang, n_exit);
	close(lfd);
	pd_timer_free(deadline);
	pd_tls_free(tls);
	pd_tls_free(wrong_tls);
	pd_loop_free(loop);
	return n_bad || n_crash || n_hang || n_exit ? 1 : 0;
}
