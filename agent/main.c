/* parade-agent: a worker that connects to a parade controller and runs the
 * tasks it is sent. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "client.h"
#include "codec.h"
#include "config.h"
#include "cpus.h"
#include "ssh_pool.h"
#include "log.h"
#include "loop.h"
#include "session.h"
#include "ssh.h"

extern char **environ;

static const char usage[] =
	"usage: parade-agent --connect FILE [options]\n"
	"       parade-agent --url URL [--secret-file FILE] [options]\n"
	"       parade-agent ssh [user@]host[:port] --connect FILE [options]\n"
	"                    (see 'parade-agent ssh --help')\n"
	"\n"
	"Connects to a parade controller and runs the tasks it sends.\n"
	"\n"
	"  --connect FILE      connection file of a session (or PARADE_CONNECT);\n"
	"                      '-': read its text from stdin up to a line 'end',\n"
	"                      then exit when stdin closes (how ssh starts agents)\n"
	"  --local             dial the file's local (ipc://) endpoint\n"
	"  --wait-connect      wait (up to the grace period) for the connection file\n"
	"                      to appear, e.g. while the controller starts\n"
	"  --url URL           tls+tcp://HOST:PORT, ipc:///PATH, or tcp:// (--insecure)\n"
	"  --secret-file FILE  64 hex digits: the session secret (for --url tls+tcp://)\n"
	"  --insecure          allow a plain tcp:// controller\n"
	"  --slots K           tasks run at once (default 1; with --mode slurm in a step\n"
	"                      that gave it CPUs, one per CPU it may use: affinity,\n"
	"                      cgroup, SLURM_CPUS_PER_TASK or SLURM_CPUS_ON_NODE)\n"
	"  --coproc COMMAND    start COMMAND (sh -c) once per slot and keep it: coproc\n"
	"                      tasks are one line on its stdin, answered by one line\n"
	"                      on its stdout (docs/coproc.md); its stderr is the log\n"
	"  --grace SEC         exit when the controller is unreachable this long (default 30)\n"
	"  --idle-exit SEC     exit after SEC seconds without a task (default: never)\n"
	"  --max-tasks N       exit after N tasks (default: no limit)\n"
	"  --id NAME           agent name in results (default HOST:PID)\n"
	"  --max-frame BYTES   largest frame accepted (default 64 MiB)\n"
	"  --log FILE          append log lines to FILE instead of stderr\n"
	"  --exit-on-eof       exit (ending the tasks) when stdin closes\n"
	"  --follow            follow the controller's run instead of running tasks:\n"
	"                      join with 0 slots, wait (retrying up to --grace while\n"
	"                      it is not up yet) and exit with the run's exit status\n"
	"                      (2: unreachable, refused, or lost before the end)\n"
	"  --stay              outlive the controller: after its BYE, or when it is\n"
	"                      lost, dial the same endpoint again (at least once a\n"
	"                      second, no grace limit) for the next one; leave on a\n"
	"                      signal (or the end of stdin with --exit-on-eof)\n"
	"  -v, --verbose       debug log lines (or PARADE_DEBUG=1)\n"
	"  -h, --help          this help\n"
	"  --version           print the version\n"
	"\n"
	"Exit status: 0 told to stop, idle or done; 1 controller unreachable past the\n"
	"grace period; 2 usage error, or coprocesses (--coproc, or the controller's\n"
	"command) that cannot start; 3 refused by the controller (wrong secret or version).\n"
	"With --follow: the run's exit status, 2 when it cannot be known, 128+N on signal N.\n";

/* Parses a positive decimal number of seconds (fractions allowed) into ms. */
static int parse_seconds(const char *opt, const char *s, uint64_t *ms)
{
	char *end;
	double v = strtod(s, &end);

	if (!*s || *end || !(v > 0 && v < 1e9)) {
		fprintf(stderr, "parade-agent: %s '%s': expected a positive number of seconds\n",
			opt, s);
		return -EINVAL;
	}
	*ms = (uint64_t)(v * 1000.0 + 0.5);
	return 0;
}

static int parse_count(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || v == 0 || v > max || s[0] == '-') {
		fprintf(stderr, "parade-agent: %s '%s': expected a whole number from 1 to %llu\n",
			opt, s, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Tasks inherit the agent's environment: nothing secret may be in it.
 * unsetenv() only drops the pointer; the bytes stay in the block the
 * kernel shows as /proc/PID/environ, so the value is wiped in place
 * first. */
static void scrub_environment(void)
{
	for (size_t i = 0; environ[i];) {
		if (strncmp(environ[i], "PARADE_SECRET", 13) == 0) {
			char name[256], *victim = environ[i], *eq = strchr(victim, '=');
			size_t n = strcspn(victim, "=");
			if (eq)
				memset(eq + 1, 0, strlen(eq + 1));
			if (n >= sizeof(name))
				n = sizeof(name) - 1;
			memcpy(name, victim, n);
			name[n] = 0;
			unsetenv(name);
			/* a name too long for name[] stays: drop it by hand */
			if (environ[i] == victim)
				for (size_t k = i; environ[k]; k++)
					environ[k] = environ[k + 1];
			continue;
		}
		i++;
	}
}

/* Polls for path until it exists or grace_ms pass. 0 or -ETIMEDOUT. */
static int wait_for_file(const char *path, uint64_t grace_ms)
{
	for (uint64_t waited = 0;; waited += 100) {
		if (access(path, R_OK) == 0)
			return 0;
		if (waited >= grace_ms)
			return -ETIMEDOUT;
		usleep(100000);
	}
}

/* What the command line says: the agent's options and how to reach the
 * controller. */
typedef struct args {
	pd_agent_opts o;
	pd_setting own; /* --coproc: the coproc kind's own settings */
	const char *connect, *url, *secret_file;
	int use_local, insecure, wait_connect;
	FILE *logf;
} args;

/* An option's action: 0 go on, 2 usage error (said why), ARG_EXIT0 done
 * (help, version). */
#define ARG_EXIT0 (-1)
typedef int (*opt_fn)(args *a, const char *arg);

static int o_connect(args *a, const char *v) { a->connect = v; return 0; }
static int o_local(args *a, const char *v) { (void)v; a->use_local = 1; return 0; }
static int o_wait(args *a, const char *v) { (void)v; a->wait_connect = 1; return 0; }
static int o_url(args *a, const char *v) { a->url = v; return 0; }
static int o_secret(args *a, const char *v) { a->secret_file = v; return 0; }
static int o_insecure(args *a, const char *v) { (void)v; a->insecure = 1; return 0; }
static int o_exit_eof(args *a, const char *v) { (void)v; a->o.exit_on_stdin_eof = 1; return 0; }
static int o_stay(args *a, const char *v) { (void)v; a->o.stay = 1; return 0; }
static int o_follow(args *a, const char *v) { (void)v; a->o.follow = 1; return 0; }

static int o_slots(args *a, const char *v)
{
	uint64_t n;

	if (parse_count("--slots", v, 4096, &n) < 0)
		return 2;
	a->o.slots = (uint32_t)n;
	return 0;
}

static int o_grace(args *a, const char *v)
{
	return parse_seconds("--grace", v, &a->o.grace_ms) < 0 ? 2 : 0;
}

static int o_idle(args *a, const char *v)
{
	return parse_seconds("--idle-exit", v, &a->o.idle_exit_ms) < 0 ? 2 : 0;
}

static int o_max_tasks(args *a, const char *v)
{
	return parse_count("--max-tasks", v, UINT64_MAX / 2, &a->o.max_tasks) < 0 ? 2 : 0;
}

static int o_max_frame(args *a, const char *v)
{
	uint64_t n;

	if (parse_count("--max-frame", v, 0xFFFFFFFFu, &n) < 0)
		return 2;
	a->o.max_frame = (size_t)n;
	return 0;
}

static int o_id(args *a, const char *v)
{
	char err[300];

	if (!*v || strlen(v) >= sizeof(a->o.id)) {
		fprintf(stderr, "parade-agent: --id must be 1 to %zu bytes\n", sizeof(a->o.id) - 1);
		return 2;
	}
	if (pd_hello_field_ok(PD_HELLO_F_ID, v, err, sizeof(err)) < 0) {
		fprintf(stderr, "parade-agent: --id: %s\n", err);
		return 2;
	}
	snprintf(a->o.id, sizeof(a->o.id), "%s", v);
	return 0;
}

static int o_mode(args *a, const char *v)
{
	char err[300];

	/* the controller refuses a HELLO it would not print as is */
	if (pd_hello_field_ok(PD_HELLO_F_MODE, v, err, sizeof(err)) < 0) {
		fprintf(stderr, "parade-agent: --mode: %s\n", err);
		return 2;
	}
	snprintf(a->o.mode, sizeof(a->o.mode), "%s", v);
	return 0;
}

static int o_log(args *a, const char *v)
{
	a->logf = fopen(v, "ae");
	if (!a->logf) {
		fprintf(stderr, "parade-agent: --log %s: %s\n", v, strerror(errno));
		return 2;
	}
	pd_log_set_file(a->logf);
	return 0;
}

/* --coproc COMMAND: the coproc handler's own settings (agent/handler.h),
 * which win over a controller's */
static int o_coproc(args *a, const char *v)
{
	if (!*v) {
		fprintf(stderr, "parade-agent: --coproc needs a command\n");
		return 2;
	}
	a->own = (pd_setting){PD_TASK_COPROC, (uint32_t)strlen(v), (const uint8_t *)v};
	a->o.own = &a->own;
	a->o.nown = 1;
	return 0;
}

static int o_verbose(args *a, const char *v)
{
	(void)a;
	(void)v;
	pd_log_set_level(PD_LOG_DEBUG);
	return 0;
}

static int o_help(args *a, const char *v)
{
	(void)a;
	(void)v;
	fputs(usage, stdout);
	return ARG_EXIT0;
}

static int o_version(args *a, const char *v)
{
	(void)a;
	(void)v;
	printf("parade-agent %s (protocol %u)\n", PACKAGE_VERSION, PD_PROTO_VERSION);
	return ARG_EXIT0;
}

/* The options: one row each (short: its letter, or 0). */
static const struct opt_row {
	const char *name;
	int has_arg;
	char short_name;
	opt_fn fn;
} opt_table[] = {
	{"connect", required_argument, 0, o_connect},
	{"local", no_argument, 0, o_local},
	{"wait-connect", no_argument, 0, o_wait},
	{"url", required_argument, 0, o_url},
	{"secret-file", required_argument, 0, o_secret},
	{"insecure", no_argument, 0, o_insecure},
	{"slots", required_argument, 0, o_slots},
	{"coproc", required_argument, 0, o_coproc},
	{"grace", required_argument, 0, o_grace},
	{"idle-exit", required_argument, 0, o_idle},
	{"max-tasks", required_argument, 0, o_max_tasks},
	{"id", required_argument, 0, o_id},
	{"mode", required_argument, 0, o_mode},
	{"max-frame", required_argument, 0, o_max_frame},
	{"log", required_argument, 0, o_log},
	{"exit-on-eof", no_argument, 0, o_exit_eof},
	{"stay", no_argument, 0, o_stay},
	{"follow", no_argument, 0, o_follow},
	{"verbose", no_argument, 'v', o_verbose},
	{"help", no_argument, 'h', o_help},
	{"version", no_argument, 0, o_version},
};

#define NOPTS (sizeof(opt_table) / sizeof(opt_table[0]))

/* Parses argv into a: 0, 2 (usage error, said why) or ARG_EXIT0. */
static int parse_args(int argc, char **argv, args *a)
{
	struct option longopts[NOPTS + 1];
	int c, rv;

	memset(longopts, 0, sizeof(longopts));
	for (size_t i = 0; i < NOPTS; i++) {
		longopts[i].name = opt_table[i].name;
		longopts[i].has_arg = opt_table[i].has_arg;
		/* 256 + row: getopt_long hands back the row */
		longopts[i].val = opt_table[i].short_name ? opt_table[i].short_name : 256 + (int)i;
	}
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		const struct opt_row *row = NULL;

		for (size_t i = 0; i < NOPTS && !row; i++)
			if (longopts[i].val == c)
				row = &opt_table[i];
		if (!row) {
			fputs(usage, stderr);
			return 2;
		}
		if ((rv = row->fn(a, optarg)) != 0)
			return rv;
	}
	if (optind < argc) {
		fprintf(stderr, "parade-agent: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	if (!a->connect && !a->url) {
		fprintf(stderr, "parade-agent: give --connect FILE or --url URL\n%s", usage);
		return 2;
	}
	if (a->o.follow && (a->o.stay || a->o.idle_exit_ms || a->o.max_tasks || a->o.nown)) {
		fprintf(stderr, "parade-agent: --follow runs no tasks: it takes none of --stay, "
				"--idle-exit, --max-tasks, --coproc\n");
		return 2;
	}
	return 0;
}

/* HELLO carries this host's name (client.c): it must be one the
 * controller takes. 0 or 2 (said why). */
static int check_host(void)
{
	struct utsname un;
	char err[300];

	if (uname(&un) == 0 && pd_hello_field_ok(PD_HELLO_F_HOST, un.nodename, err, sizeof(err)) < 0) {
		fprintf(stderr,
			"parade-agent: this host's name (uname -n) cannot be sent to the controller: "
			"%s\n",
			err);
		return 2;
	}
	return 0;
}

/* Reads the connection file or text (--connect) and the secret file, sets
 * a->url when the command line named none, and makes the TLS credentials.
 * 0, or the exit status (said why). cf's secret is wiped either way. */
static int connect_setup(args *a, pd_connfile *cf)
{
	uint8_t secret[PD_SECRET_LEN];
	int have_secret = 0, rv = 2;
	char err[1024];
	const char *connect = a->connect;

	if (connect && !strcmp(connect, "-")) {
		/* ssh mode: the text comes down stdin, which then stays open */
		if (pd_conntext_read(0, a->o.grace_ms, cf, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
		a->o.exit_on_stdin_eof = 1;
	} else if (connect && a->wait_connect && wait_for_file(connect, a->o.grace_ms) < 0) {
		pd_err("no connection file %s after %llu s, exiting", connect,
		       (unsigned long long)(a->o.grace_ms / 1000));
		rv = 1;
		goto out;
	}
	if (connect) {
		int r = strcmp(connect, "-") ? pd_agent_connfile_read(connect, cf, err, sizeof(err))
					     : 0;
		if (r == -EPERM) {
			pd_warn("%s", err);
		} else if (r < 0) {
			pd_err("%s", err);
			goto out;
		}
		memcpy(secret, cf->secret, sizeof(secret));
		have_secret = 1;
		if (cf->version != PD_PROTO_VERSION) {
			pd_err("%s is for protocol version %u, this agent speaks version %u",
			       strcmp(connect, "-") ? connect : "the connection text on stdin",
			       cf->version, PD_PROTO_VERSION);
			rv = 3;
			goto out;
		}
		if (!a->url) {
			a->url = (a->use_local && cf->local[0]) ? cf->local : cf->endpoint;
			/* a restarted controller may move: read the file again */
			if (strcmp(connect, "-")) {
				a->o.connect_file = connect;
				a->o.use_local = a->use_local;
			}
		}
	}
	if (a->secret_file) {
		if (pd_secret_read(a->secret_file, secret, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
		have_secret = 1;
	}
	if (pd_endpoint_parse(a->url, &a->o.ep, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		goto out;
	}
	if (a->o.ep.kind == PD_EP_TCP && !a->insecure) {
		pd_err("%s is plain TCP without TLS: pass --insecure to allow it", a->url);
		goto out;
	}
	if (a->o.ep.kind == PD_EP_TLS_TCP) {
		if (!have_secret) {
			pd_err("%s needs the session secret: --connect FILE or --secret-file FILE",
			       a->url);
			goto out;
		}
		if (pd_tls_global_init() < 0 ||
		    pd_tls_new_psk(0, cf->identity[0] ? cf->identity : PD_PSK_IDENTITY, secret,
				   sizeof(secret), &a->o.tls, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			goto out;
		}
	}
	rv = 0;
out:
	memset(secret, 0, sizeof(secret));
	memset(cf->secret, 0, sizeof(cf->secret));
	return rv;
}

/* The agent's name by default, and stdin: a task must never read the
 * agent's stdin (tasks get /dev/null anyway); in ssh mode stdin stays: its
 * end ends the agent. */
static void process_setup(args *a)
{
	scrub_environment();
	if (!a->o.id[0]) {
		char host[200] = "host";
		gethostname(host, sizeof(host) - 1);
		snprintf(a->o.id, sizeof(a->o.id), "%s:%d", host, (int)getpid());
	}
	if (!a->o.exit_on_stdin_eof) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 0);
			if (fd != 0)
				close(fd);
		}
	}
}

int main(int argc, char **argv)
{
	static args a; /* a->own and its strings outlive the run */
	pd_connfile cf;
	char err[1024];
	pd_loop *loop;
	int rv;

	/* Tasks run with this user id: without this, any of them could read
	 * this process's memory (/proc/PID/mem, ptrace), where the session
	 * secret lives as TLS credentials, and its first environment and open
	 * files. Not dumpable, /proc/PID/{mem,environ,fd,maps} belong to root
	 * and ptrace is refused; tasks are dumpable again after their exec. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	pd_log_init("parade-agent");
	if (pd_loop_poll_env(err, sizeof(err)) < 0) {
		fprintf(stderr, "parade-agent: %s\n", err);
		return 2;
	}
	if (argc > 1 && !strcmp(argv[1], "ssh"))
		return pd_ssh_main("parade-agent", argc - 1, argv + 1);
	memset(&cf, 0, sizeof(cf));
	a.connect = getenv("PARADE_CONNECT");
	a.o.slots = 0; /* not given: 1, or in --mode slurm the CPUs Slurm gave (after parse_args) */
	a.o.grace_ms = 30000;
	snprintf(a.o.mode, sizeof(a.o.mode), "manual");
	rv = parse_args(argc, argv, &a);
	if (rv)
		return rv == ARG_EXIT0 ? 0 : rv;
	if (!a.o.slots)
		a.o.slots = strcmp(a.o.mode, "slurm") ? 1 : pd_cpus_slurm_slots(4096);
	if ((rv = check_host()) != 0 || (rv = connect_setup(&a, &cf)) != 0)
		return rv;
	process_setup(&a);
	loop = pd_loop_new();
	if (!loop) {
		pd_err("cannot create the event loop");
		return 1;
	}
	rv = pd_agent_run(loop, &a.o);
	pd_loop_free(loop);
	pd_tls_free(a.o.tls);
	if (a.logf)
		fclose(a.logf);
	return rv;
}
