/* launch_cmd.c - `parade launch KIND ...`: more agents for a running
 * controller, by the command of the launcher kind KIND (launcher.h). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "launcher.h"

const char pd_launch_usage[] =
	"usage: parade launch slurm -n N (--connect FILE | --session NAME) [options]\n"
	"       parade launch ssh ... (see 'parade launch ssh --help')\n"
	"\n"
	"Submits an sbatch job whose single step runs N agents that join the running\n"
	"controller of a connection file, and prints the job id. The controller must\n"
	"listen on tls+tcp:// (parade run --listen), and the agents read the file on\n"
	"the compute nodes: it needs a PARADE_HOME that they share. (parade run\n"
	"--launch slurm:N needs no shared folder: its controller hands the agents\n"
	"the connection through srun; add agents to it with parade scale.)\n"
	"\n"
	"  -n, --agents N       agents (tasks of the job)\n"
	"  --connect FILE       the controller's connection file\n"
	"  --session NAME       the session's file: $PARADE_HOME/sessions/NAME/connection\n"
	"  --partition P, --time T, --mem M, --cpus C, --account A\n"
	"                       the job's resources (sbatch's meaning)\n"
	"  --sbatch-arg ARG     any other sbatch argument (repeatable)\n"
	"  --coproc COMMAND     the agents keep COMMAND (sh -c) per slot:\n"
	"                       the agents' own coprocess command, used instead of the\n"
	"                       controller's --handler coproc: one; a --launch none\n"
	"                       controller refuses agents without it\n"
	"  --dry-run            print the script instead of submitting it\n"
	"  -h, --help           this help\n";

int pd_launch_main(int argc, char **argv)
{
	const pd_launcher_ops *ops = argc >= 2 ? pd_launcher_find(argv[1]) : NULL;
	char kinds[256] = "";
	size_t n = 0, k = 0;

	if (ops && ops->command)
		return ops->command(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(pd_launch_usage, stdout);
		return 0;
	}
	/* "use 'slurm' or 'ssh'": the kinds that have a command */
	for (size_t i = 0; (ops = pd_launcher_at(i)); i++)
		n += ops->command != NULL;
	for (size_t i = 0; (ops = pd_launcher_at(i)) && strlen(kinds) < sizeof(kinds) - 64; i++) {
		if (!ops->command)
			continue;
		k++;
		snprintf(kinds + strlen(kinds), sizeof(kinds) - strlen(kinds), "%s'%s'",
			 k == 1 ? "" : k == n ? " or " : ", ", ops->name);
	}
	fprintf(stderr, "parade launch: use %s\n%s", kinds, pd_launch_usage);
	return 2;
}
