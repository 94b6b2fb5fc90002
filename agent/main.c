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
	"  --slots K           tasks run at once (default 1)\n"
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
	"  -v, --verbose       debug log lines (or PARADE_DEBUG=1)\n"
	"  -h, --help          this help\n"
	"  --version           print the version\n"
	"\n"
	"Exit status: 0 told to stop, idle or done; 1 controller unreachable past the\n"
	"grace period; 2 usage error; 3 refused by the controller (wrong secret or version).\n";

enum { O_CONNECT = 256, O_LOCAL, O_WAIT, O_URL, O_SECRET, O_INSECURE, O_SLOTS, O_GRACE, O_IDLE,
       O_MAXTASKS, O_ID, O_MODE, O_MAXFRAME, O_LOG, O_VERSION, O_EXIT_EOF, O_COPROC };

static const struct option longopts[] = {
	{"connect", required_argument, 0, O_CONNECT},
	{"local", no_argument, 0, O_LOCAL},
	{"wait-connect", no_argument, 0, O_WAIT},
	{"url", required_argument, 0, O_URL},
	{"secret-file", required_argument, 0, O_SECRET},
	{"insecure", no_argument, 0, O_INSECURE},
	{"slots", required_argument, 0, O_SLOTS},
	{"coproc", required_argument, 0, O_COPROC},
	{"grace", required_argument, 0, O_GRACE},
	{"idle-exit", required_argument, 0, O_IDLE},
	{"max-tasks", required_argument, 0, O_MAXTASKS},
	{"id", required_argument, 0, O_ID},
	{"mode", required_argument, 0, O_MODE},
	{"max-frame", required_argument, 0, O_MAXFRAME},
	{"log", required_argument, 0, O_LOG},
	{"exit-on-eof", no_argument, 0, O_EXIT_EOF},
	{"verbose", no_argument, 0, 'v'},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, O_VERSION},
	{0, 0, 0, 0}};

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

int main(int argc, char **argv)
{
	pd_agent_opts o;
	const char *connect = getenv("PARADE_CONNECT"), *url = NULL, *secret_file = NULL;
	int use_local = 0, insecure = 0, wait_connect = 0, c, rv = 2;
	uint64_t v;
	pd_connfile cf;
	char err[1024];
	uint8_t secret[PD_SECRET_LEN];
	int have_secret = 0;
	pd_loop *loop = NULL;
	FILE *logf = NULL;

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
	memset(&o, 0, sizeof(o));
	memset(&cf, 0, sizeof(cf));
	o.slots = 1;
	o.grace_ms = 30000;
	snprintf(o.mode, sizeof(o.mode), "manual");
	snprintf(o.id, sizeof(o.id), "%s", "");
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case O_CONNECT: connect = optarg; break;
		case O_LOCAL: use_local = 1; break;
		case O_WAIT: wait_connect = 1; break;
		case O_URL: url = optarg; break;
		case O_SECRET: secret_file = optarg; break;
		case O_INSECURE: insecure = 1; break;
		case O_SLOTS:
			if (parse_count("--slots", optarg, 4096, &v) < 0)
				return 2;
			o.slots = (uint32_t)v;
			break;
		case O_GRACE:
			if (parse_seconds("--grace", optarg, &o.grace_ms) < 0)
				return 2;
			break;
		case O_IDLE:
			if (parse_seconds("--idle-exit", optarg, &o.idle_exit_ms) < 0)
				return 2;
			break;
		case O_MAXTASKS:
			if (parse_count("--max-tasks", optarg, UINT64_MAX / 2, &o.max_tasks) < 0)
				return 2;
			break;
		case O_ID:
			if (!*optarg || strlen(optarg) >= sizeof(o.id)) {
				fprintf(stderr, "parade-agent: --id must be 1 to %zu bytes\n",
					sizeof(o.id) - 1);
				return 2;
			}
			if (pd_hello_field_ok(PD_HELLO_F_ID, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "parade-agent: --id: %s\n", err);
				return 2;
			}
			snprintf(o.id, sizeof(o.id), "%s", optarg);
			break;
		case O_MODE:
			/* the controller refuses a HELLO it would not print as is */
			if (pd_hello_field_ok(PD_HELLO_F_MODE, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "parade-agent: --mode: %s\n", err);
				return 2;
			}
			snprintf(o.mode, sizeof(o.mode), "%s", optarg);
			break;
		case O_MAXFRAME:
			if (parse_count("--max-frame", optarg, 0xFFFFFFFFu, &v) < 0)
				return 2;
			o.max_frame = (size_t)v;
			break;
		case O_LOG:
			logf = fopen(optarg, "ae");
			if (!logf) {
				fprintf(stderr, "parade-agent: --log %s: %s\n", optarg, strerror(errno));
				return 2;
			}
			pd_log_set_file(logf);
			break;
		case O_EXIT_EOF: o.exit_on_stdin_eof = 1; break;
		case O_COPROC:
			if (!*optarg) {
				fprintf(stderr, "parade-agent: --coproc needs a command\n");
				return 2;
			}
			o.coproc = optarg;
			break;
		case 'v': pd_log_set_level(PD_LOG_DEBUG); break;
		case 'h': fputs(usage, stdout); return 0;
		case O_VERSION: printf("parade-agent %s (protocol %u)\n", PACKAGE_VERSION, PD_PROTO_VERSION); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "parade-agent: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	if (!connect && !url) {
		fprintf(stderr, "parade-agent: give --connect FILE or --url URL\n%s", usage);
		return 2;
	}
	{
		/* HELLO carries it (client.c) */
		struct utsname un;
		if (uname(&un) == 0 &&
		    pd_hello_field_ok(PD_HELLO_F_HOST, un.nodename, err, sizeof(err)) < 0) {
			fprintf(stderr,
				"parade-agent: this host's name (uname -n) cannot be sent to the "
				"controller: %s\n",
				err);
			return 2;
		}
	}
	if (connect && !strcmp(connect, "-")) {
		/* ssh mode: the text comes down stdin, which then stays open */
		if (pd_conntext_read(0, o.grace_ms, &cf, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			return 2;
		}
		o.exit_on_stdin_eof = 1;
	} else if (connect && wait_connect && wait_for_file(connect, o.grace_ms) < 0) {
		pd_err("no connection file %s after %llu s, exiting", connect,
		       (unsigned long long)(o.grace_ms / 1000));
		return 1;
	}
	if (connect) {
		rv = strcmp(connect, "-") ? pd_agent_connfile_read(connect, &cf, err, sizeof(err))
					  : 0;
		if (rv == -EPERM) {
			pd_warn("%s", err);
		} else if (rv < 0) {
			pd_err("%s", err);
			return 2;
		}
		memcpy(secret, cf.secret, sizeof(secret));
		have_secret = 1;
		if (cf.version != PD_PROTO_VERSION) {
			pd_err("%s is for protocol version %u, this agent speaks version %u",
			       strcmp(connect, "-") ? connect : "the connection text on stdin",
			       cf.version, PD_PROTO_VERSION);
			return 3;
		}
		if (!url) {
			url = (use_local && cf.local[0]) ? cf.local : cf.endpoint;
			/* a restarted controller may move: read the file again */
			if (strcmp(connect, "-")) {
				o.connect_file = connect;
				o.use_local = use_local;
			}
		}
	}
	if (secret_file) {
		if (pd_secret_read(secret_file, secret, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			return 2;
		}
		have_secret = 1;
	}
	if (pd_endpoint_parse(url, &o.ep, err, sizeof(err)) < 0) {
		pd_err("%s", err);
		return 2;
	}
	if (o.ep.kind == PD_EP_TCP && !insecure) {
		pd_err("%s is plain TCP without TLS: pass --insecure to allow it", url);
		return 2;
	}
	if (o.ep.kind == PD_EP_TLS_TCP) {
		if (!have_secret) {
			pd_err("%s needs the session secret: --connect FILE or --secret-file FILE", url);
			return 2;
		}
		if (pd_tls_global_init() < 0 ||
		    pd_tls_new_psk(0, cf.identity[0] ? cf.identity : PD_PSK_IDENTITY, secret,
				   sizeof(secret), &o.tls, err, sizeof(err)) < 0) {
			pd_err("%s", err);
			return 2;
		}
	}
	memset(secret, 0, sizeof(secret));
	memset(cf.secret, 0, sizeof(cf.secret));
	scrub_environment();
	if (!o.id[0]) {
		char host[200] = "host";
		gethostname(host, sizeof(host) - 1);
		snprintf(o.id, sizeof(o.id), "%s:%d", host, (int)getpid());
	}
	/* a task must never read the agent's stdin (tasks get /dev/null
	 * anyway); in ssh mode stdin stays: its end ends the agent */
	if (!o.exit_on_stdin_eof) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 0);
			if (fd != 0)
				close(fd);
		}
	}
	loop = pd_loop_new();
	if (!loop) {
		pd_err("cannot create the event loop");
		return 1;
	}
	rv = pd_agent_run(loop, &o);
	pd_loop_free(loop);
	pd_tls_free(o.tls);
	if (logf)
		fclose(logf);
	return rv;
}
