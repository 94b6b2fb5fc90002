/* launcher.h - where a session's agents come from: one ops table per kind
 * of launcher (local processes, ssh hosts, Slurm jobs, none), found by name.
 *
 * The controller (run.c, control_ops.c, status, scale and `parade launch`)
 * speaks only to this table: it starts the kind --launch names, grows or
 * shrinks it on `scale`, asks it for its part of the status, watches its
 * health once a second (a launcher with nothing left and no agent connected
 * ends the run), and stops it at the end. Adding a kind is one new file
 * defining a pd_launcher_ops and one line in launchers.c (or, in a test,
 * one pd_launcher_register call).
 *
 * Agents a launcher starts dial the session's own endpoint (its local
 * socket, or its TLS listener for other machines) and are told apart from
 * any other agent only by what they say in HELLO: a launcher never talks
 * to its agents, it only starts, counts and ends them.
 */
#ifndef PD_LAUNCHER_H
#define PD_LAUNCHER_H

#include <stddef.h>

#include "journal.h"
#include "json.h"
#include "loop.h"
#include "run.h"
#include "server.h"
#include "session.h"

typedef struct pd_launcher pd_launcher;

/* What a launcher is given to start its agents. All borrowed: they
 * outlive the launcher, except cf (see there). */
typedef struct pd_launch_ctx {
	pd_loop *loop;
	pd_server *srv;         /* the agents connected (for kinds that cannot count their own) */
	const pd_run_opts *o;   /* the run's options (its kind's settings: o->slurm, o->ssh...) */
	const char *session;    /* the session's name */
	const char *dir;        /* its folder */
	const char *connpath;   /* its connection file */
	const pd_connfile *cf;  /* that file's contents, secret included: valid during
				 * start only (NULL afterwards); a kind that needs the
				 * secret later copies it and wipes the copy at free */
	unsigned workers;       /* agents asked for: --workers or --launch KIND:N; 0:
				 * the kind's default (local: one per CPU this
				 * process may use, lib/cpus.h) */
	int serve;              /* a long-lived session (serve): no fixed task list */
	int survive;            /* agents outlive a controller crash (durable session) */
	pd_journal *jn;         /* on resume: the agents a crashed controller left */
} pd_launch_ctx;

/* One launcher, as the controller holds it. Each kind's ops get this and
 * keep their own state in priv. */
struct pd_launcher {
	const struct pd_launcher_ops *ops;
	pd_launch_ctx ctx;
	void *priv;      /* the kind's own state (its start sets it, its free frees it) */
	unsigned target; /* agents it should keep: start sets it, scale changes it */
};

typedef struct pd_launcher_health {
	unsigned alive; /* agents alive or coming (status "alive") */
	int gave_up;    /* none of its agents is left or coming back: with no
			 * agent connected, the run ends (status 2) */
	char why[1024]; /* when gave_up: the error line the controller logs */
} pd_launcher_health;

typedef struct pd_launcher_ops {
	const char *name; /* as --launch NAME[:N] and status's "kind" spell it */
	/* Started before the result table of a foreground run is made, so that
	 * what start prints stands alone (a dry run's script) and a failed
	 * start leaves no table header on stdout; 0: after it (a failed start
	 * then leaves the header of an empty table). */
	int before_table;
	/* Its agents bring their own handler settings (--launch none: agents
	 * started by hand give --coproc COMMAND); the controller then hands
	 * none out in WELCOME. 0: every agent that joins gets them. */
	int own_settings;
	/* The listener its agents need when --listen is not given (they dial
	 * from other machines), or NULL: the session's local socket is
	 * enough. NULL op: none. */
	const char *(*listen_url)(const pd_run_opts *o);
	/* Starts the agents: sets l->priv and l->target. 0 started, 1 nothing
	 * more to do (a dry run printed what it would do: the run ends with
	 * status 0), -errno with err (the run ends with status 2). Whatever
	 * it set up on failure is undone by stop and free. */
	int (*start)(pd_launcher *l, char *err, size_t errlen);
	/* n more agents. 0 or -errno with err. NULL: this kind cannot scale
	 * (scale is refused, up or down). */
	int (*grow)(pd_launcher *l, unsigned n, char *err, size_t errlen);
	/* The pool shrinks by n: the controller has already asked n agents to
	 * finish their tasks and leave (pd_server_drain); the kind stops
	 * counting on them (e.g. does not restart them). NULL: nothing to do. */
	void (*drain)(pd_launcher *l, unsigned n);
	/* Its part of the status object "launcher": writes the elements of
	 * the array "jobs" (objects {"id","state"}), the only member that is
	 * the kind's own. NULL: no jobs. */
	void (*describe)(pd_launcher *l, pd_jw *w);
	/* Fills h (zeroed by the caller). Called once a second; cheap. */
	void (*health)(pd_launcher *l, pd_launcher_health *h);
	/* After the controller gave up on it (health): logs what it knows of
	 * agents that failed. NULL: nothing more to say. */
	void (*report)(pd_launcher *l);
	/* Ends its agents (those told to leave are given a moment; the rest
	 * are signalled) and reaps them. Blocks; idempotent; also after a
	 * failed start. NULL: nothing to end. */
	void (*stop)(pd_launcher *l);
	/* Frees priv (after stop). NULL: priv is not owned. */
	void (*free)(pd_launcher *l);
	/* `parade launch NAME ...`: more agents for a running controller, from
	 * any shell. argv[0] is NAME; returns the exit status. NULL: the kind
	 * has no such command. */
	int (*command)(int argc, char **argv);
} pd_launcher_ops;

/* ---- the registry (launchers.c) ---- */

/* The kind named name, or NULL. */
const pd_launcher_ops *pd_launcher_find(const char *name);
/* Adds a kind at run time (tests). ops is borrowed for the process's
 * lifetime. 0, -EEXIST (the name is taken) or -ENOSPC. */
int pd_launcher_register(const pd_launcher_ops *ops);
/* The i-th kind in registration order (built-in ones first), NULL past
 * the end. */
const pd_launcher_ops *pd_launcher_at(size_t i);

/* ---- the core's calls (launcher.c) ---- */

/* Starts a launcher of kind ops with ctx (copied; ctx->cf is only read
 * during the call). *out is set even on failure (NULL only when out of
 * memory), so that pd_launcher_stop and pd_launcher_free undo what was
 * set up. Returns what ops->start returns. */
int pd_launcher_start(const pd_launcher_ops *ops, const pd_launch_ctx *ctx, pd_launcher **out,
		      char *err, size_t errlen);
/* Its kind's name; "none" for NULL. */
const char *pd_launcher_name(const pd_launcher *l);
/* The agents it should keep; 0 for NULL. */
unsigned pd_launcher_target(const pd_launcher *l);
/* Grows the pool to n (ops->grow), or shrinks it: asks the agents over n
 * to finish and leave (pd_server_drain, logged) and tells the kind
 * (ops->drain). Sets the target. 0; -ENOTSUP with err when the kind cannot
 * scale; -errno with err from grow. */
int pd_launcher_scale(pd_launcher *l, unsigned n, char *err, size_t errlen);
/* Writes the status object's "launcher" member: {"kind", "target",
 * "alive", "jobs": [...]} (docs/control.md). l may be NULL (kind "none",
 * alive: the agents connected to srv). */
void pd_launcher_status(pd_launcher *l, pd_server *srv, pd_jw *w);
/* Once a second: asks the kind's health (whether agents are connected or
 * not), and returns 1 when the kind has nothing left (health says gave
 * up) and no agent is connected, after logging why (and the kind's
 * report); else 0. */
int pd_launcher_gave_up(pd_launcher *l);
/* ops->stop, then (pd_launcher_free) ops->free and the handle. NULL is a
 * no-op. */
void pd_launcher_stop(pd_launcher *l);
void pd_launcher_free(pd_launcher *l);

/* Finds the parade-agent program: $PARADE_AGENT, next to this program,
 * ../agent/ (build tree), the install bindir, else "parade-agent" on PATH.
 * Writes it to out. */
void pd_agent_path(char *out, size_t outlen);

/* The built-in kinds (one file each). */
extern const pd_launcher_ops pd_launcher_local, pd_launcher_ssh, pd_launcher_slurm,
	pd_launcher_none, pd_launcher_step;

#endif
