/* ssh_cmd.c - `parade launch ssh` and `parade-agent ssh`: an ssh pool
 * (ssh_pool.c) for a running controller's connection file, supervised
 * until the agents leave (see ssh_pool.h). */
#include "ssh_pool.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char ssh_usage[] =
	"usage: %s ssh [user@]host[:port][,...] (--connect FILE | --session NAME) [options]\n"
	"       %s ssh --hostfile FILE (--connect FILE | --session NAME) [options]\n"
	"\n"
	"Starts an agent on each host over ssh for a running controller, and keeps\n"
	"it going (restarting a lost ssh) until the controller lets the agents go.\n"
	"The secret travels on ssh's stdin, never on a command line.\n"
	"\n"
	"  --connect FILE        the controller's connection file\n"
	"  --session NAME        $PARADE_HOME/sessions/NAME/connection\n"
	"  --hostfile FILE       hosts, one '[user@]host[:port] [slots]' a line\n"
	"  --slots K             tasks each agent runs at once (default 1)\n"
	"  --tunnel              agents dial 127.0.0.1:PORT on their host, forwarded\n"
	"                        back to the controller by ssh -R\n"
	"  --tunnel-port PORT    that remote port (default: one each host's sshd\n"
	"                        picks and ssh reports)\n"
	"  --ssh-opt OPT         pass -o OPT to ssh (repeatable)\n"
	"  --remote-agent PATH   the agent program there (default parade-agent)\n"
	"  --remote-connect-file copy the connection file to ~/.parade/ there\n"
	"  --coproc COMMAND      the agents keep COMMAND (sh -c) per slot:\n"
	"                        the agents' own coprocess command, used instead of the\n"
	"                        controller's --handler coproc: one; a --launch none\n"
	"                        controller refuses agents without it\n"
	"  -v, --verbose         debug log lines, here and from the agents\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 the agents left when told, 1 some host failed, 2 usage error.\n";

enum { S_CONNECT = 256, S_SESSION, S_SLOTS, S_OPT, S_FLAG, S_COPROC };

static const struct option ssh_longopts[] = {
	{"connect", required_argument, 0, S_CONNECT},
	{"session", required_argument, 0, S_SESSION},
	{"slots", required_argument, 0, S_SLOTS},
	{"hostfile", required_argument, 0, S_OPT},
	{"ssh-opt", required_argument, 0, S_OPT},
	{"tunnel-port", required_argument, 0, S_OPT},
	{"remote-agent", required_argument, 0, S_OPT},
	{"tunnel", no_argument, 0, S_FLAG},
	{"remote-connect-file", no_argument, 0, S_FLAG},
	{"coproc", required_argument, 0, S_COPROC},
	{"verbose", no_argument, 0, 'v'},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0}};

typedef struct cmd_state {
	pd_ssh *ssh;
	pd_timer *check;
	const char *connfile;
	int signo;
} cmd_state;

static void cmd_check(pd_loop *l, void *arg)
{
	cmd_state *c = arg;

	if (pd_ssh_active(c->ssh) == 0) {
		pd_loop_stop(l);
		return;
	}
	/* the controller removes it when the run ends */
	if (access(c->connfile, F_OK) != 0) {
		pd_info("%s is gone: the controller has finished", c->connfile);
		pd_loop_stop(l);
		return;
	}
	pd_timer_start(c->check, 500);
}

static void cmd_signal(pd_loop *l, int signo, void *arg)
{
	((cmd_state *)arg)->signo = signo;
	pd_loop_stop(l);
}

int pd_ssh_main(const char *prog, int argc, char **argv)
{
	pd_ssh_opts o;
	pd_connfile cf;
	pd_endpoint ep;
	pd_loop *loop = NULL;
	cmd_state cs = {0};
	const char *connect = NULL, *session = NULL;
	char err[2048], path[4600];
	int c, li = 0, rv = 2;

	memset(&o, 0, sizeof(o));
	memset(&cf, 0, sizeof(cf));
	o.slots = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", ssh_longopts, &li)) != -1) {
		switch (c) {
		case S_CONNECT: connect = optarg; break;
		case S_SESSION: session = optarg; break;
		case S_SLOTS: {
			char *e;
			unsigned long v = strtoul(optarg, &e, 10);
			if (*e || v == 0 || v > PD_SSH_MAX_SLOTS || optarg[0] == '-') {
				pd_err("--slots '%s': expected a whole number from 1 to %d", optarg,
				       PD_SSH_MAX_SLOTS);
				goto out;
			}
			o.slots = (unsigned)v;
			break;
		}
		case S_OPT:
		case S_FLAG:
			if (pd_ssh_opt(&o, ssh_longopts[li].name, c == S_OPT ? optarg : NULL) < 0)
				goto out;
			break;
		case S_COPROC:
			if (!*optarg) {
				pd_err("--coproc needs a command");
				goto out;
			}
			o.coproc = optarg;
			break;
		case 'v':
			o.verbose = 1;
			pd_log_set_level(PD_LOG_DEBUG);
			break;
		case 'h': printf(ssh_usage, prog, prog); rv = 0; goto out;
		default: fprintf(stderr, ssh_usage, prog, prog); goto out;
		}
	}
	for (; optind < argc; optind++)
		if (pd_ssh_opt(&o, "hosts", argv[optind]) < 0)
			goto out;
	if (!o.nhosts || !connect == !session) {
		fprintf(stderr, "%s ssh: give hosts (or --hostfile) and one of --connect or "
			"--session\n", prog);
		fprintf(stderr, ssh_usage, prog, prog);
		goto out;
	}
	/* the secret and endpoint go to other hosts: the file is checked as
	 * parade-agent --connect checks it (lib/session.h) */
	c = pd_connfile_load(connect, session, path, sizeof(path), &cf, err, sizeof(err));
	if (c >= 0 || c == -EPERM)
		connect = path;
	if (c == -EPERM) {
		pd_warn("%s", err);
	} else if (c < 0) {
		pd_err("%s", err);
		goto out;
	}
	if (pd_endpoint_parse(cf.endpoint, &ep, err, sizeof(err)) < 0 ||
	    ep.kind != PD_EP_TLS_TCP) {
		pd_err("%s: the controller listens on %s only; agents on other hosts need "
		       "tls+tcp:// (parade run --listen tls+tcp://127.0.0.1:0 for --tunnel)",
		       connect, cf.endpoint);
		goto out;
	}
	loop = pd_loop_new();
	if (!loop || !(cs.check = pd_timer_new(loop, cmd_check, &cs))) {
		pd_err("cannot create the event loop");
		goto out;
	}
	cs.connfile = connect;
	pd_loop_signal(loop, SIGINT, cmd_signal, &cs);
	pd_loop_signal(loop, SIGTERM, cmd_signal, &cs);
	pd_loop_signal(loop, SIGHUP, cmd_signal, &cs);
	cs.ssh = pd_ssh_start(loop, &o, &cf, &ep, err, sizeof(err));
	memset(cf.secret, 0, sizeof(cf.secret));
	if (!cs.ssh) {
		pd_err("%s", err);
		goto out;
	}
	pd_timer_start(cs.check, 500);
	pd_loop_run(loop);
	pd_ssh_stop(cs.ssh);
	pd_ssh_report(cs.ssh);
	rv = pd_ssh_failed(cs.ssh) ? 1 : 0;
out:
	memset(cf.secret, 0, sizeof(cf.secret));
	pd_ssh_free(cs.ssh);
	pd_timer_free(cs.check);
	pd_loop_free(loop);
	pd_ssh_opts_free(&o);
	return rv;
}
