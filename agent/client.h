/* client.h - the agent runtime: one connection to a controller, the tasks
 * it sends, reconnection, heartbeats and the exit rules.
 */
#ifndef PD_CLIENT_H
#define PD_CLIENT_H

#include <stdint.h>

#include "codec.h"
#include "conn.h"
#include "endpoint.h"
#include "loop.h"
#include "session.h"

typedef struct pd_agent_opts {
	pd_endpoint ep;
	pd_tls *tls;		/* NULL for ipc:// and --insecure tcp:// */
	char id[128];		/* agent id sent in HELLO */
	char mode[16];		/* "local", "ssh", "slurm", "manual" */
	uint32_t slots;		/* concurrent tasks, >= 1 */
	uint64_t grace_ms;	/* exit after the controller is unreachable this long */
	uint64_t idle_exit_ms;	/* 0: never; exit after this long without tasks */
	uint64_t max_tasks;	/* 0: unlimited; exit after this many tasks */
	size_t max_frame;
	/* The agent's own handler settings (--coproc COMMAND is the coproc
	 * kind's), borrowed: they win over the controller's (handler.h) */
	const pd_setting *own;
	size_t nown;
	int exit_on_stdin_eof;	/* watch fd 0: its end (the ssh session is over)
				 * ends the tasks and the agent, status 0 */
	/* --stay: the agent outlives its controllers. After a BYE it ends
	 * whatever it still runs or holds, without results (the next
	 * controller is another run, whose task ids mean other tasks), and
	 * dials the same endpoint again; a lost controller is dialled again
	 * as usual, keeping what it holds. Either way with no grace limit
	 * and the redial delay capped at 1 s: only a signal, the end of
	 * stdin (exit_on_stdin_eof), --idle-exit or --max-tasks end it. */
	int stay;
	/* --follow: a follower, not an agent. Its HELLO says 0 slots: the
	 * controller gives it no task and does not count it as an agent.
	 * It waits for the controller's BYE and exits with the run's exit
	 * status that BYE carries; it exits 2 when the controller stays
	 * unreachable past the grace period, refuses it, or drops the
	 * connection without BYE. Never with stay, idle_exit, max_tasks or
	 * own settings. */
	int follow;
	/* The connection file ep came from, or NULL. Before each new attempt
	 * after a failed or lost connection the agent reads it again and
	 * dials the endpoint it names now (use_local: its local= line when it
	 * has one), so that it finds a controller restarted on the session
	 * (parade resume) on another port. */
	const char *connect_file;
	int use_local;
} pd_agent_opts;

/* Reads the connection file path (--connect), refusing one another user
 * could have planted or swapped (lib/private.h, pd_private_file_open: a
 * file or link of another user, a folder writable by group or others
 * without the sticky bit): -EACCES or -ELOOP with err saying why. Else as
 * pd_connfile_read, whose -EPERM only warns (the file is readable by
 * others; cf is filled). */
int pd_agent_connfile_read(const char *path, pd_connfile *cf, char *err, size_t errlen);

/* Runs the agent until it should exit; returns the process exit status:
 * (a follower: the status its controller's BYE carries, or 2; see follow)
 * 0 told to stop / idle / max tasks / stdin closed, 1 controller
 * unreachable past the grace period (never with stay), 2 stdin cannot be
 * watched, or a
 * handler refused the agent's own settings (--coproc: the coprocesses
 * cannot be started),
 * 3 refused: a REJECT, a failed TLS handshake (a link lost during the
 * handshake is retried instead) or a WELCOME of another protocol version.
 * A controller that breaks the protocol (a bad or unexpected frame, a
 * second WELCOME, a TASKS frame that would make the agent hold more than
 * 65 x slots + 8192 tasks) is dropped and dialled again like a lost one.
 * Dialling again waits 100 ms, doubled after each failed or short attempt
 * up to 5 s (with jitter); it starts again from 100 ms only after a
 * connection that brought tasks or lasted 5 s, so a controller that
 * welcomes the agent and drops it at once does not make it redial fast.
 * However many tasks finish at once, at most 1024 start per loop turn and
 * the stack does not grow with them. */
int pd_agent_run(pd_loop *l, const pd_agent_opts *o);

#endif
