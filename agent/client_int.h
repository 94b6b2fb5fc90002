/* client_int.h - internal to the agent runtime (client.c, client_link.c):
 * the agent's state and the calls between those files. client.c holds
 * the tasks, results, exit rules and the frames from the controller;
 * client_link.c the connection itself: dialling, HELLO, heartbeats,
 * redialling after a loss, and what ends the agent from outside (a
 * signal, the end of stdin). Not for other callers: they use client.h. */
#ifndef PD_CLIENT_INT_H
#define PD_CLIENT_INT_H

#include <stdint.h>

#include "client.h"
#include "handler.h"
#include "taskq.h"

#define HELLO_DEADLINE_MS 10000
#define DEFAULT_HEARTBEAT_MS 1000
#define MISSED_HEARTBEATS 5
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* --stay: the next controller of a batch script comes up on the same
 * endpoint moments after the last one said BYE; redial at least once a
 * second so that it does not wait on its agents */
#define STAY_BACKOFF_MAX_MS 1000
/* The backoff starts again from BACKOFF_MIN_MS only after a connection
 * that brought tasks or lasted this long: a controller that welcomes the
 * agent and drops it at once is dialled ever more slowly, not 10 times a
 * second forever. */
#define BACKOFF_RESET_MS 5000
/* a WELCOME's heartbeat is taken within these bounds: a controller cannot
 * make the agent ping in a busy loop, nor wait forever on a silent link */
#define HEARTBEAT_MIN_MS 50
#define HEARTBEAT_MAX_MS 60000
/* Tasks started per turn of the loop: a frame of tasks that all finish at
 * once (echo, bad arguments) is worked through a bounded batch at a time,
 * with the loop's other events (heartbeats, signals) in between. */
#define PUMP_BUDGET 1024
/* The most tasks an agent holds (queued + running). A parade controller
 * hands an agent at most slots x 64 (round-robin window) or slots + 2 x
 * chunk (chunk <= 4096) outstanding tasks (lib/dispatch.h); after a rejoin
 * the tasks still running from the old connection come on top (<= slots).
 * A TASKS frame that would go over this is a protocol error. */
#define HOLD_PER_SLOT 65u
#define HOLD_EXTRA 8192u

typedef struct agent {
	pd_loop *loop;
	const pd_agent_opts *o;
	pd_conn *conn;
	int welcomed;      /* on this connection */
	int ever_welcomed; /* on this or an earlier one */
	int exit_code;
	int stopping; /* drain: take no new tasks, exit when idle */
	int stop_for_max; /* stopping only because held tasks reached --max-tasks */
	int said_bye;     /* --stay: this connection ended with the controller's BYE */
	/* tasks received and not started, FIFO */
	pd_taskq queue;
	uint32_t running;
	uint64_t done;
	/* results not yet sent, kept across reconnections: complete RESULTS
	 * frames, then (nunsent > 0) one being built at offset umark */
	pd_buf unsent;
	size_t umark;
	uint32_t nunsent;
	int flush_queued;
	uint64_t hb_ms;
	size_t max_frame; /* the controller's frame limit, from WELCOME */
	uint64_t last_heard;  /* loop ms of the last frame from the controller */
	uint64_t lost_since;  /* loop ms when the controller became unreachable */
	uint64_t idle_since;
	uint64_t backoff_ms;
	uint64_t welcomed_at; /* loop ms of this connection's WELCOME */
	int got_tasks;        /* this connection brought at least one task */
	pd_timer *hb_timer, *retry_timer;
	pd_timer *pump_timer; /* the next batch of PUMP_BUDGET starts */
	int pumping;          /* pump() is on the stack: calls from within return */
	pd_handler_env env;     /* what the handlers report to (handler_done) */
	pd_handlers *handlers; /* one per task kind (handler.h) */
	char host[256];
	pd_endpoint ep; /* where to dial: o->ep, or what connect_file names now */
} agent;

/* client.c */
/* Ends the run with exit status code (the loop stops). */
void cl_finish(agent *a, int code);
/* The exit status when the controller refuses the agent (a REJECT, a
 * failed TLS handshake, another protocol version): 3, and 2 for a
 * follower, which exits as the parade run it stands for would. */
int cl_refused(const agent *a);
/* Starts queued tasks while slots are free and applies the exit rules. */
void cl_pump(agent *a);
/* Takes no new work from now on and tells the controller so. */
void cl_start_drain(agent *a);
/* Opens the handlers of every kind with the agent's own settings: 0, or
 * -1 (said why). */
int cl_open_handlers(agent *a);
/* The connection's frame callback (pd_conn_ops). */
void cl_on_frame(pd_conn *c, uint8_t type, const uint8_t *p, size_t n, void *arg);

/* client_link.c */
/* Dials a->ep; a failure schedules the next attempt. */
void cl_connect(agent *a);
/* Timers (arg: the agent): heartbeats and --idle-exit; the next attempt. */
void cl_hb_cb(pd_loop *l, void *arg);
void cl_retry_cb(pd_loop *l, void *arg);
/* stdin (exit_on_stdin_eof) and SIGTERM, SIGINT, SIGHUP: the agent leaves. */
void cl_on_stdin(pd_loop *l, int fd, uint32_t ev, void *arg);
void cl_on_signal(pd_loop *l, int signo, void *arg);

#endif
