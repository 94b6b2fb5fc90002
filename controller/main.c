/* parade: the controller command. */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "commands.h"
#include "ssh_pool.h"
#include "run.h"

static const char usage[] =
	"usage: parade COMMAND [options]\n"
	"\n"
	"Runs many small tasks on a pool of persistent worker agents.\n"
	"\n"
	"Commands:\n"
	"  run        run a command over a parameter grid and print a result table\n"
	"  submit     the same, detached: prints the session name and returns\n"
	"  serve      a long-lived controller fed over its control socket\n"
	"  status     list sessions, or show one: tasks, rate, ETA, agents\n"
	"  collect    write a session's result table (--wait: when it has ended)\n"
	"  wait       block until a session ends\n"
	"  scale      grow or shrink a session's agent pool\n"
	"  stop       stop a session (--cancel: kill running tasks)\n"
	"  resume     restart the controller of a session whose controller died\n"
	"  rm         remove sessions no controller serves (journal and logs)\n"
	"  launch     start more agents for a running controller (slurm, ssh)\n"
	"  help       this help ('parade COMMAND --help' for a command's options)\n"
	"  version    print the version\n"
	"\n"
	"Examples:\n"
	"  parade run --grid grid.csv --schema mean:dbl -- ./sim {alpha} {beta}\n"
	"  s=$(parade submit --grid grid.csv -- ./sim {alpha}); parade collect $s --wait\n"
	"\n"
	"Environment: PARADE_HOME (default ~/.parade) holds sessions;\n"
	"PARADE_DEBUG=1 turns on debug lines; PARADE_AGENT names the agent program;\n"
	"PARADE_SSH names the ssh client (default ssh).\n";

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} session_cmds[] = {
	{"serve", pd_serve_main},   {"status", pd_status_main}, {"collect", pd_collect_main},
	{"wait", pd_wait_main},     {"stop", pd_stop_main},     {"scale", pd_scale_main},
	{"resume", pd_resume_main}, {"rm", pd_rm_main},
};

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	char err[160];

	pd_log_init("parade");
	if (pd_loop_poll_env(err, sizeof(err)) < 0) {
		fprintf(stderr, "parade: %s\n", err);
		return 2;
	}
	if (!cmd || !strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		fputs(usage, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("parade %s (protocol %u)\n", PACKAGE_VERSION, PD_PROTO_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "run") || !strcmp(cmd, "submit")) {
		int submit = !strcmp(cmd, "submit");
		pd_run_opts o;
		int rv;
		/* getopt names the command in its messages */
		argv[1] = submit ? "parade submit" : "parade run";
		rv = pd_run_parse(argc - 1, argv + 1, submit ? PD_MODE_SUBMIT : PD_MODE_RUN, &o);
		if (rv == 1)
			rv = 0;
		else if (rv < 0)
			rv = 2;
		else
			rv = pd_run(&o);
		pd_run_opts_free(&o);
		return rv;
	}
	for (size_t i = 0; i < sizeof(session_cmds) / sizeof(session_cmds[0]); i++) {
		if (!strcmp(cmd, session_cmds[i].name)) {
			char prog[64];
			snprintf(prog, sizeof(prog), "parade %s", cmd);
			argv[1] = prog;
			return session_cmds[i].main(argc - 1, argv + 1);
		}
	}
	if (!strcmp(cmd, "launch"))
		return argv[1] = "parade launch", pd_launch_main(argc - 1, argv + 1);
	fprintf(stderr, "parade: unknown command '%s'\n%s", cmd, usage);
	return 2;
}
