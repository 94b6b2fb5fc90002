/* server.h - the controller core: listeners, agent connections, the
 * dispatcher, heartbeats, and results handed back to the caller.
 *
 * Tasks are dense ids 0..n-1 added with pd_server_add_tasks; the caller
 * supplies each task's argv when it is sent (task_argv) and receives each
 * task's final result once (on_result): ok/failed/timeout as reported by
 * an agent, or lost (synthesised here after the crash limit). Results for
 * retried attempts and stale or duplicate reports never reach the caller.
 */
#ifndef PD_SERVER_H
#define PD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "conn.h"
#include "dispatch.h"
#include "endpoint.h"
#include "loop.h"

typedef struct pd_server pd_server;

typedef struct pd_server_opts {
	pd_disp_opts disp;
	uint32_t heartbeat_ms;	/* PING interval both ways (default 1000) */
	uint32_t missed;	/* heartbeats missed before an agent is lost (5) */
	uint32_t handshake_ms;	/* TLS handshake + HELLO deadline (5000) */
	size_t max_frame;	/* frame size limit (64 MiB) */
	uint8_t kind;		/* enum pd_task_kind for every task */
	uint32_t timeout_ms;	/* per task, 0: none */
	uint32_t out_limit;	/* per stream, bytes */
	uint32_t max_conns;	/* connections held at once (0: no limit) */
} pd_server_opts;

/* Fills the defaults above. */
void pd_server_opts_default(pd_server_opts *o);

typedef struct pd_server_cbs {
	/* argv for task id: a malloc block freed by the server (as
	 * pd_template_expand makes). 0 or -errno (the task then fails). */
	int (*task_argv)(void *arg, uint64_t id, char ***argv, size_t *argc);
	/* The task's final result; r and agent are valid during the call. */
	void (*on_result)(void *arg, const pd_result_msg *r, const char *agent);
	/* An agent joined (joined = 1) or left (0); may be NULL. */
	void (*on_agent)(void *arg, int joined, const char *agent);
} pd_server_cbs;

/* opts and cbs are copied. NULL on allocation failure. */
pd_server *pd_server_new(pd_loop *l, const pd_server_opts *opts, const pd_server_cbs *cbs,
			 void *arg);
/* Listens on ep: TLS with tls (borrowed) or plain with tls NULL. bound gets
 * the actual endpoint. 0 or -errno with err. */
int pd_server_listen(pd_server *s, const pd_endpoint *ep, pd_tls *tls, pd_endpoint *bound,
		     char *err, size_t errlen);
/* Adds n more tasks (ids continue from the last). 0 or -ENOMEM. */
int pd_server_add_tasks(pd_server *s, uint64_t n);
/* Tasks finished (done or lost) and total. */
uint64_t pd_server_finished(const pd_server *s);
uint64_t pd_server_total(const pd_server *s);
size_t pd_server_agents(const pd_server *s);
/* Says BYE to every agent, closes every connection and listener. The
 * closes complete from deferred calls: run the loop (or
 * pd_loop_run_deferred) before pd_server_free. */
void pd_server_shutdown(pd_server *s);
void pd_server_free(pd_server *s);

#endif
