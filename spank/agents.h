/* agents.h - starting agent processes from slurmstepd, and ending them.
 *
 * Agents start through lib/spawn.h (pd_spawn, in a session of their own;
 * the privilege drop is its hook) and end through pd_kill_group and
 * pd_reap. The agents started are remembered in this process (slurmstepd
 * is one process from user_init to exit). Each runs in its own session, so
 * its process group can be signalled; before signalling, the pid's start
 * time is checked so a reused pid is never hit.
 */
#ifndef PD_SPANK_AGENTS_H
#define PD_SPANK_AGENTS_H

#include <stddef.h>
#include <sys/types.h>

/* How to start agents. Everything is prepared by the caller (argv and envp
 * with lib/agent_cmd.h): between fork and exec the child only makes
 * system calls. */
typedef struct pd_agent_spec {
	const char *path;    /* the executable */
	char *const *argv;   /* NULL-terminated */
	char *const *envp;   /* the whole environment, NULL-terminated */
	uid_t uid;           /* the user the agents run as */
	gid_t gid;           /* and the primary group */
	const gid_t *groups; /* supplementary groups */
	int ngroups;
	mode_t umask;
	const char *dirs[4]; /* created 0700 in order if missing, as the user,
	                      * before any agent starts; each must then be a
	                      * folder of uid not writable by group or others,
	                      * and none after the first a symbolic link
	                      * (lib/private.h); NULL ends the list */
	const char *stale;   /* removed (as the user) after the dirs are made and
	                      * checked, before any agent starts, or NULL */
	const char *check_file; /* a file the user must be able to read (opened
	                      * as the user, before any agent starts, and a
	                      * regular file), or NULL */
	const char *stdin_text; /* each agent's stdin is a pipe of its own
	                      * holding this text, whose write end this process
	                      * keeps open until the agent is stopped or
	                      * forgotten (so an agent reading stdin to its end
	                      * leaves when this process goes); NULL: /dev/null */
	const char *logdir;  /* logs: LOGDIR/agent-<nodeid>-<k>.log (0600,
	                      * append); NULL: /dev/null */
	const char *logname; /* instead of agent-<nodeid>-<k>.log, or NULL */
	unsigned nodeid;
	unsigned timeout_ms; /* wait at most this long, in all, for the agents
	                      * to exec (pd_spawn's report_ms) */
} pd_agent_spec;

/* Starts n agents. First a helper child, as the user, makes and checks
 * the dirs and removes stale: if a folder cannot be made or breaks the
 * rule, no agent starts, n is returned and err says which folder and why
 * (lib/private.h's message: owner or mode and the way out, or "is a
 * symbolic link"). Then the agents start one after the other, each
 * through pd_spawn: setsid(), its signal mask and dispositions reset,
 * stdin to /dev/null, every other descriptor closed; then (the hook) it
 * drops to uid/gid/groups for good (and checks that root cannot be
 * regained) and, as the user, sends stdout and stderr to its log; then it
 * execs. Each is waited for until it has exec'd or failed, until
 * timeout_ms after the call (later agents are started, not waited for;
 * those count as started, and err says "agents still starting").
 * Returns how many are known to have failed to start (0: all started);
 * err then holds the first problem ("agent K: cannot execute PATH: ...",
 * "agent K: cannot set the user id: ...", ...). */
unsigned pd_agents_start(const pd_agent_spec *s, unsigned n, char *err, size_t errlen);

/* Whether the last pd_agents_start failed because check_file cannot be
 * read by the user (1) or not (0). */
int pd_agents_check_failed(void);

/* Agents started and not known to be gone (reaps those that exited;
 * zombies count as gone). */
unsigned pd_agents_alive(void);

/* Sends sig to the process group of each live agent. */
void pd_agents_signal(int sig);

/* Polls until no agent is alive or ms pass. Returns the number alive. */
unsigned pd_agents_wait(unsigned ms);

/* SIGTERM, up to grace_ms for the agents to leave, then SIGKILL and reap;
 * then closes the agents' stdin pipes. */
void pd_agents_stop(unsigned grace_ms);

/* The pid of agent i (in start order) or -1; for tests and logs. */
pid_t pd_agents_pid(unsigned i);

/* Forgets every agent (frees the list, closes their stdin pipes; signals
 * nobody). */
void pd_agents_forget(void);

#endif
