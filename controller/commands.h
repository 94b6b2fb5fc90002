/* commands.h - the `parade` subcommands other than run (see run.h). Each
 * takes its own argv (argv[0] is "parade NAME") and returns the process
 * exit status. */
#ifndef PD_COMMANDS_H
#define PD_COMMANDS_H

/* `parade launch KIND ...`: the command of launcher KIND (launcher.h) */
int pd_launch_main(int argc, char **argv);
/* its usage text (launch_cmd.c; the slurm command prints it too) */
extern const char pd_launch_usage[];
/* session_cmds.c: by session name */
int pd_status_main(int argc, char **argv);
int pd_collect_main(int argc, char **argv);
int pd_wait_main(int argc, char **argv);
int pd_stop_main(int argc, char **argv);
int pd_scale_main(int argc, char **argv);
int pd_resume_main(int argc, char **argv);
int pd_serve_main(int argc, char **argv);
/* session_rm.c */
int pd_rm_main(int argc, char **argv);

#endif
