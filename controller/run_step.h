/* run_step.h - `parade run` as a task of a Slurm step whose agents the
 * SPANK plugin started (srun/sbatch --parade-workers=N).
 *
 * The plugin hands every task of such a step the step's connection text
 * (the controller's endpoint tls+tcp://NODE0:PORT and the step's secret;
 * lib/ssh.h's format) in a sealed memory file whose descriptor is in
 * PARADE_STEP_FD;
 * the secret is never in the environment, on a command line or on disk.
 * Task 0 becomes the controller: it listens on that port with that
 * secret. Every other task that runs `parade run` becomes a follower: it
 * waits for task 0's run and exits with its status (parade-agent
 * --follow).
 */
#ifndef PD_RUN_STEP_H
#define PD_RUN_STEP_H

#include <stddef.h>

#include "session.h"

struct ctl;

/* Reads the step's connection text from PARADE_STEP_FD, from its start
 * (and closes that descriptor and unsets the variable, so nothing this
 * process starts inherits them). 0, or -errno
 * with err (the variable unset or bad, the text unreadable or damaged);
 * cf->secret is zero on error. */
int ctl_step_read(pd_connfile *cf, char *err, size_t errlen);

/* The URL task 0 listens on: tls+tcp://0.0.0.0:PORT with the port of
 * cf->endpoint. 0 or -EINVAL with err. */
int ctl_step_listen_url(const pd_connfile *cf, char *out, size_t outlen, char *err,
                        size_t errlen);

/* Whether this process is a task of the step other than task 0
 * (SLURM_PROCID set and not "0"). */
int ctl_step_is_follower(void);

/* Becomes a follower: execs parade-agent --follow with cf's endpoint and
 * its secret on a pipe (--secret-file /dev/fd/N). Returns only when that
 * fails: the exit status (2), after logging why. cf's secret is wiped. */
int ctl_step_follow(pd_connfile *cf);

/* At the end of task 0's run, before the BYE: a task of the step that
 * has not joined as a follower yet (a short run ends before a slow node's
 * task starts) is waited for, up to a few seconds, so that it learns the
 * run's status instead of waiting for a controller that is gone. The
 * followers expected are the step's other tasks (SLURM_STEP_NUM_TASKS
 * less one): a task that runs something else than `parade run` costs that
 * wait once. Runs c's loop meanwhile; c->watch is stopped. */
void ctl_step_await_followers(struct ctl *c);

#endif
