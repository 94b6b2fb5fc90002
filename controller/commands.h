/* commands.h - the `parade` subcommands other than run (see run.h). */
#ifndef PD_COMMANDS_H
#define PD_COMMANDS_H

/* `parade launch slurm ...`: argv[0] is "launch". Returns the exit status. */
int pd_launch_main(int argc, char **argv);

#endif
