/* proc.h - the agent's process handler: runs one task's argv as a child in
 * its own process group and reports a result through the loop.
 *
 * As a handler kind: pd_handler_process (handler.h), defined here.
 *
 * The child, started by pd_spawn (lib/spawn.h): own process group, signal
 * mask and dispositions reset, stdin from /dev/null, stdout and stderr to
 * pipes, every other fd closed, death signal SIGKILL so it dies with a
 * killed agent, argv[0] searched in PATH (a script without "#!" runs
 * through /bin/sh, as execvp does); it is killed (pd_kill_group) and
 * reaped (pd_reap) through spawn.h as well.
 * Output beyond the task's out_limit per stream is read and discarded, and
 * flagged (PD_RF_OUT_TRUNC / PD_RF_ERR_TRUNC). When the child exits, the
 * pipes are drained of what is already there, the rest of its process
 * group is killed, and the result is delivered: status ok (exit 0), failed
 * (non-zero exit, signal, or exec failure with exit_code 127 and error
 * "cannot execute 'prog': reason"), or timeout (timeout_ms passed: the
 * group got SIGTERM, then SIGKILL 1 s later). Times: wall from spawn to
 * exit, CPU user+system and peak RSS from wait4().
 * A child killed by SIGTERM, SIGKILL, SIGINT or SIGHUP that the agent did
 * not send (or that exits 128 + one of those, a shell whose command died
 * of it) has its result held for half a second (proc.c,
 * PROC_FOREIGN_HOLD_MS): Slurm signals a step's every process at once, and
 * an agent stopped meanwhile (pd_proc_kill_all) reports nothing for it, so
 * the controller requeues it as lost instead of recording it failed.
 */
#ifndef PD_PROC_H
#define PD_PROC_H

#include "codec.h"
#include "loop.h"

typedef struct pd_proc pd_proc;

/* Called once per task with the finished result; r and its strings are
 * valid only during the call. After the callback returns, p is freed. */
typedef void (*pd_proc_done_cb)(pd_proc *p, const pd_result_msg *r, void *arg);

/* Starts t (kind PD_TASK_PROCESS). t is only read during the call.
 * 0 and *out set; or -errno when no child could be started (then no
 * callback will come and *out is NULL). */
int pd_proc_start(pd_loop *l, const pd_task_msg *t, pd_proc_done_cb cb, void *arg,
		  pd_proc **out);
/* Ends the task's whole process group now (SIGKILL); the result still
 * arrives, with status failed and error "cancelled". */
void pd_proc_cancel(pd_proc *p);
/* Kills every running child's process group and frees all procs without
 * callbacks (agent shutdown), held results included. */
void pd_proc_kill_all(void);

#endif
