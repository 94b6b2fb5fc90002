/* parade: the controller command. */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "log.h"
#include "commands.h"
#include "launch_ssh.h"
#include "run.h"

static const char usage[] =
	"usage: parade COMMAND [options]\n"
	"\n"
	"Runs many small tasks on a pool of persistent worker agents.\n"
	"\n"
	"Commands:\n"
	"  run        run a command over a parameter grid and print a result table\n"
	"  launch     start more agents for a running controller (slurm, ssh)\n"
	"  help       this help ('parade run --help' for the run options)\n"
	"  version    print the version\n"
	"\n"
	"Example:\n"
	"  parade run --grid grid.csv --schema mean:dbl -- ./sim {alpha} {beta}\n"
	"\n"
	"Environment: PARADE_HOME (default ~/.parade) holds sessions;\n"
	"PARADE_DEBUG=1 turns on debug lines; PARADE_AGENT names the agent program;\n"
	"PARADE_SSH names the ssh client (default ssh).\n";

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	pd_log_init("parade");
	if (!cmd || !strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		fputs(usage, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("parade %s (protocol %u)\n", PACKAGE_VERSION, PD_PROTO_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "run")) {
		pd_run_opts o;
		int rv;
		/* getopt names the command in its messages */
		argv[1] = "parade run";
		rv = pd_run_parse(argc - 1, argv + 1, &o);
		if (rv == 1)
			rv = 0;
		else if (rv < 0)
			rv = 2;
		else
			rv = pd_run(&o);
		pd_ssh_opts_free(&o.ssh);
		return rv;
	}
	if (!strcmp(cmd, "launch") && argc > 2 && !strcmp(argv[2], "ssh"))
		return pd_ssh_main("parade launch", argc - 2, argv + 2);
	if (!strcmp(cmd, "launch"))
		return argv[1] = "parade launch", pd_launch_main(argc - 1, argv + 1);
	fprintf(stderr, "parade: unknown command '%s'\n%s", cmd, usage);
	return 2;
}
