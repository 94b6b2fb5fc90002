/* spawn.h - the one way a parade program starts, signals and reaps a
 * process: the local and ssh launchers, sbatch/squeue/scancel, the
 * agent's process handler and its coprocesses all go through here.
 *
 * The child, between fork and exec (async-signal-safe calls only):
 *  - its own process group (PD_SPAWN_GROUP) or session (PD_SPAWN_SESSION),
 *    set on both sides so that pd_kill_group works whoever runs first;
 *  - with death_signal, PR_SET_PDEATHSIG(death_signal), and exit 127 at
 *    once if the parent is already gone;
 *  - the dispositions parade (or nohup) may have set to "ignore" and the
 *    signal mask reset (pd_spawn_child_reset);
 *  - fds 0, 1, 2 from fd[0..2]: an open descriptor, PD_SPAWN_NULL
 *    (/dev/null) or PD_SPAWN_KEEP (the parent's own); keep_fd (if >= 0)
 *    becomes descriptor 3; every other descriptor is closed;
 *  - hook(hook_arg), if given, last (it may drop privileges); it returns
 *    0, or a positive value that ends the child like a failed exec: an
 *    errno value, or any code of the hook's own (it comes back unchanged
 *    as *exec_err, so a hook may say which of its steps failed);
 *  - execve(path or argv[0], argv, envp or the parent's environment),
 *    searching PATH when the program has no '/'; a file the kernel will
 *    not run (ENOEXEC: a script without "#!") is run by /bin/sh, as
 *    execvp does.
 * pd_spawn returns once the child has exec'd or failed to (or after
 * report_ms): a failure in the child (exec, dup, hook) comes back through
 * a close-on-exec pipe as *exec_err, and the child exits 127.
 */
#ifndef PD_SPAWN_H
#define PD_SPAWN_H

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#define PD_SPAWN_NULL (-1) /* fd[i]: /dev/null */
#define PD_SPAWN_KEEP (-2) /* fd[i]: the parent's own descriptor i */

enum { PD_SPAWN_SAME = 0, PD_SPAWN_GROUP, PD_SPAWN_SESSION };

typedef struct pd_spawn_opts {
	char *const *argv;    /* argv[0] is the program unless path is set */
	const char *path;     /* NULL: argv[0] */
	char *const *envp;    /* NULL: the parent's environment */
	int fd[3];            /* the child's stdin, stdout, stderr (see above) */
	int keep_fd;          /* becomes fd 3 in the child; -1: none */
	int group;            /* PD_SPAWN_SAME, _GROUP or _SESSION */
	int death_signal;     /* 0: none */
	int (*hook)(void *);  /* run in the child just before exec, or NULL */
	void *hook_arg;
	unsigned report_ms;   /* wait at most this long for the exec or its
	                       * failure; 0: as long as it takes */
} pd_spawn_opts;

/* Fills o with the defaults: fds 0-2 PD_SPAWN_KEEP, no keep_fd, own
 * process group, no death signal, no hook, no report_ms limit. */
void pd_spawn_init(pd_spawn_opts *o, char *const *argv);

/* Starts o->argv. Returns 0 when a child was made (*pid set; the caller
 * reaps it): *exec_err is 0 when it runs the program, else the errno of
 * what failed in the child (or the hook's code; the child then exits
 * 127), or -ETIMEDOUT when report_ms passed first (the child goes on and
 * may still exec or fail; no word of it comes back). -errno when no child
 * was made (pipe, fork, /dev/null). exec_err may be NULL. */
int pd_spawn(const pd_spawn_opts *o, pid_t *pid, int *exec_err);

/* For a child made without pd_spawn (one that only forks, runs C code and
 * _exits): resets the ignored signals and the signal mask, as pd_spawn
 * does. Async-signal-safe. */
void pd_spawn_child_reset(void);

/* A pidfd for pid (readable when it exits), or -errno where the kernel has
 * none. Close-on-exec. */
int pd_pidfd(pid_t pid);

/* Sends sig to pid's process group, and to pid itself when it has no group
 * of its own (yet). 0, or -errno (-ESRCH: nothing was there). */
int pd_kill_group(pid_t pid, int sig);

/* waitpid() that retries on EINTR: pid with *status (and *ru if not NULL)
 * when it has exited, 0 when nohang and it has not, -errno otherwise
 * (-ECHILD: not our child). status and ru may be NULL. */
pid_t pd_reap(pid_t pid, int *status, struct rusage *ru, int nohang);

/* Whether pid, a child of ours, has exited, without reaping it: it stays
 * a zombie, so its pid (and process group id) cannot be reused while the
 * caller still signals the group. 1 exited, 0 running, -errno (-ECHILD:
 * not our child, or already reaped). */
int pd_spawn_exited(pid_t pid);

/* Whether pid is gone: reaped now if it is our child, else (a process we
 * did not start) no longer there. 1 gone, 0 alive. */
int pd_gone(pid_t pid);

/* Ends a set of process groups in order: waits up to grace_ms for every
 * pid to exit on its own, then SIGTERM to the groups left and up to
 * term_ms more; then SIGKILL to every group of ours (also one whose
 * leader left by itself: what it left behind in its group goes too; the
 * leader is reaped only after that, so the group id cannot have been
 * taken) and reaps them. Each pid that is gone is set
 * to 0 (0 entries are skipped). Blocks. */
void pd_stop_groups(pid_t *pids, size_t n, unsigned grace_ms, unsigned term_ms);

/* Runs argv (own group, stdin /dev/null) and waits for it, keeping up to
 * outlen-1 bytes of its stdout in out and errlen-1 of its stderr in err
 * (both NUL-ended; the rest is read and dropped). Returns its exit status,
 * 128+N for signal N, 127 when it could not be run (err then says why), or
 * -errno when no child was made. */
int pd_spawn_output(char *const *argv, char *out, size_t outlen, char *err, size_t errlen);

#endif
