/* handler.h - the agent's task handlers: one ops table per task kind, and
 * the set of them an agent runs.
 *
 * A handler runs the tasks of one kind (enum pd_task_kind: process, echo,
 * sleep, coproc, or one registered at run time) and reports each task's
 * result exactly once through the one callback its env names. The agent
 * core (client.c) speaks only to the set below: it never looks at a kind.
 *
 * Settings: a kind may take settings, bytes only its handler reads. They
 * come from the agent's own command line (parade-agent --coproc CMD: "own")
 * or from the controller, which attaches them to WELCOME (codec.h). The
 * agent's own settings win: a kind with own settings ignores the
 * controller's; any other kind is configured again from each WELCOME
 * (with NULL, 0 when that controller sent none for it).
 *
 * Adding a kind: one file with a `const pd_handler_ops` and one line in
 * the registry of handlers.c (or pd_handler_register at run time).
 */
#ifndef PD_HANDLER_H
#define PD_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "idset.h"
#include "loop.h"

/* The one result callback of every kind. r and its strings are valid
 * during the call only; the slot the task held is free again. */
typedef void (*pd_handler_done_fn)(void *arg, const pd_result_msg *r);

/* What a handler is given when it is opened (borrowed for its lifetime). */
typedef struct pd_handler_env {
	pd_loop *loop;
	uint32_t slots; /* tasks the agent runs at once, >= 1 */
	pd_handler_done_fn done;
	void *arg; /* for done */
} pd_handler_env;

typedef struct pd_handler_ops {
	const char *name; /* "process", "echo", "sleep", "coproc" */
	uint8_t kind;     /* enum pd_task_kind */
	/* HELLO feature bit (PD_HELLO_*) the agent claims while this kind has
	 * own settings, or 0 */
	uint32_t feature;
	/* Makes the kind's state (*state may stay NULL). 0 or -errno. */
	int (*open)(const pd_handler_env *env, void **state);
	/* Takes settings: data[0, len) (NUL-ended after len) or NULL, 0 for
	 * none. Called with own settings before any task, then (for a kind
	 * without own settings) after each WELCOME. 0, or -errno with err
	 * saying why, strerror included when a call failed (the agent logs
	 * it and leaves, exit 2); the kind then has no settings: whatever
	 * it ran for the old ones is ended. NULL: the kind takes no settings
	 * (any given are ignored). */
	int (*configure)(void *state, const uint8_t *data, size_t len, char *err, size_t errlen);
	/* Starts t (of this kind; only read during the call). Its result comes
	 * through env->done exactly once, maybe before start returns. 0, or
	 * -errno with err saying why when it could not start (then no result
	 * comes: the core reports the task failed with err). */
	int (*start)(void *state, const pd_task_msg *t, char *err, size_t errlen);
	/* Ends now every task running here whose id is in ids (one CANCEL's
	 * set; ids not running here are ignored). Each one's result still
	 * comes (failed, "cancelled"), later from the loop, never from within
	 * this call. Walk the kind's own tasks and ask pd_idset_has: O(tasks
	 * here x log ids->n), never work per id of the set (a CANCEL may name
	 * millions). May be NULL. */
	void (*cancel)(void *state, const pd_idset *ids);
	/* Ends every task and child at once, without results (the agent
	 * exits), and frees state. */
	void (*close)(void *state);
} pd_handler_ops;

/* The registry: the kinds every agent has (handlers.c), then those added
 * by pd_handler_register. */
const pd_handler_ops *pd_handler_find(uint8_t kind);
/* Adds a kind (ops borrowed, must outlive every set). Sets made after
 * this have it. 0, -EEXIST (kind taken) or -ENOSPC. */
int pd_handler_register(const pd_handler_ops *ops);

/* The handlers of one agent: an open state per registered kind. */
typedef struct pd_handlers pd_handlers;

/* Opens every registered kind. 0 and *out, or -errno (err says which). */
int pd_handlers_new(const pd_handler_env *env, pd_handlers **out, char *err, size_t errlen);
/* Gives kind its own settings (the agent's command line): configured now,
 * and the controller's are ignored from then on. 0, or -errno with err
 * (-ENOENT: no such kind). */
int pd_handlers_own(pd_handlers *h, uint8_t kind, const uint8_t *data, size_t len, char *err,
		    size_t errlen);
/* Configures every kind without own settings from w's settings (a kind
 * w does not name gets NULL, 0). 0, or -errno with err saying why at the
 * first kind that could not take them: the agent cannot do what this
 * controller hands out and leaves (exit 2) rather than fail every task
 * of that kind. A kind that failed is tried again by the next WELCOME. */
int pd_handlers_welcome(pd_handlers *h, const pd_welcome *w, char *err, size_t errlen);
/* The HELLO features the set claims (PD_HELLO_*). */
uint32_t pd_handlers_features(const pd_handlers *h);
/* Starts t with its kind's handler. 0 (its result comes through done,
 * maybe already), or -errno with err (no result comes): no handler for
 * the kind, or it could not start. */
int pd_handlers_start(pd_handlers *h, const pd_task_msg *t, char *err, size_t errlen);
/* Asks every kind to cancel its tasks whose ids are in ids. */
void pd_handlers_cancel(pd_handlers *h, const pd_idset *ids);
/* Closes every kind (ends their tasks and children, without results) and
 * frees h. NULL is fine. */
void pd_handlers_free(pd_handlers *h);

/* The kinds of this agent, each defined in its own file (proc.c,
 * builtin.c, coproc.c). */
extern const pd_handler_ops pd_handler_process;
extern const pd_handler_ops pd_handler_echo;
extern const pd_handler_ops pd_handler_sleep;
extern const pd_handler_ops pd_handler_coproc;

#endif
