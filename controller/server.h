/* server.h - the controller core: listeners, agent connections, the
 * dispatcher, heartbeats, and results handed back to the caller.
 *
 * Tasks are dense ids 0..n-1 added with pd_server_add_tasks; the caller
 * supplies each task's argv when it is sent (task_argv) and receives each
 * task's final result once (on_result): ok/failed/timeout as reported by
 * an agent, or lost (synthesised here after the crash limit). Results for
 * retried attempts and duplicate reports never reach the caller. A late
 * report of an older attempt (an agent that reconnected, to this or to a
 * restarted controller, with results finished meanwhile) is taken as the
 * task's result when the task has none yet.
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
	/* Handler settings per kind (codec.h's rules: at most PD_MAX_SETTINGS,
	 * kinds increasing), handed as they are to every agent in its
	 * WELCOME; the server never reads the bytes. Copied by
	 * pd_server_new (NULL when they break those rules). A coproc session whose kind has none here takes
	 * only agents that bring their own (HELLO PD_HELLO_COPROC,
	 * parade-agent --coproc) and refuses the others when they join. */
	const pd_setting *settings;
	uint32_t nsettings;
	uint32_t timeout_ms;	/* per task, 0: none */
	uint32_t out_limit;	/* per stream, bytes */
	uint32_t max_conns;	/* connections held at once (0: no limit) */
	/* connections held that have not said HELLO (TLS handshake or HELLO
	 * under way); one more drops the oldest (0: no limit) */
	uint32_t max_unauth;
} pd_server_opts;

#define PD_SERVER_MAX_UNAUTH 512u

/* Fills the defaults above. */
void pd_server_opts_default(pd_server_opts *o);

/* What the controller knows of a connected agent (strings borrowed). */
typedef struct pd_agent_info {
	const char *name, *host, *mode, *slurm_job, *slurm_step;
	uint32_t pid, slots;
	uint64_t running;	/* tasks handed out and not reported */
	uint64_t done;		/* results received on this connection */
	uint64_t heard_ms_ago;	/* since the last frame from it */
	uint32_t slot;		/* unique among connected agents (reused later) */
	int draining;
} pd_agent_info;

typedef struct pd_server_cbs {
	/* argv for task id: a malloc block freed by the server (as
	 * pd_template_expand makes). 0 or -errno (the task then fails). */
	int (*task_argv)(void *arg, uint64_t id, char ***argv, size_t *argc);
	/* The task's final result; r and agent are valid during the call. */
	void (*on_result)(void *arg, const pd_result_msg *r, const char *agent);
	/* An agent joined (joined = 1) or left (0); may be NULL. */
	void (*on_agent)(void *arg, int joined, const pd_agent_info *a);
	/* Task id was handed to agent at attempt; may be NULL. */
	void (*on_sent)(void *arg, uint64_t id, uint32_t attempt, const char *agent);
} pd_server_cbs;

/* opts (its settings too) and cbs are copied. NULL on allocation
 * failure or settings that break the codec's rules. */
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
/* Tasks waiting in the queue, and handed out but not reported. */
uint64_t pd_server_queued(const pd_server *s);
uint64_t pd_server_running(const pd_server *s);
/* Calls cb for every agent that has joined; a non-zero return stops. */
void pd_server_agent_list(pd_server *s, void (*cb)(void *arg, const pd_agent_info *a),
			  void *arg);
/* Asks up to n agents (the least busy first) to drain: they take no more
 * tasks, finish what they hold and leave. Returns how many were asked. */
size_t pd_server_drain(pd_server *s, size_t n);
/* Drains every agent now and every agent that joins later (a graceful
 * stop). */
void pd_server_drain_all(pd_server *s);
/* A task already has its result (a restarted controller read it from its
 * journal): it is never handed out. 1 settled now, 0 already finished. */
int pd_server_settle(pd_server *s, uint64_t id);
/* The next hand-out of queued task id carries this attempt number. */
int pd_server_set_attempt(pd_server *s, uint64_t id, uint32_t attempt);
/* pause 1: no queued task is handed out (results still come in, agents
 * keep what they hold) until pause 0 resumes the hand-out. */
void pd_server_pause(pd_server *s, int pause);
/* Followers: peers whose HELLO says 0 slots (parade-agent --follow, the
 * other tasks of a Slurm step whose task 0 is the controller). They are
 * welcomed and kept alive by heartbeats, but never given a task, not
 * counted by pd_server_agents, not listed by pd_server_agent_list, not
 * drained and not reported through on_agent: for the run they are not
 * agents. Each gets the run's exit status in the BYE of
 * pd_server_shutdown. How many are connected now: */
size_t pd_server_followers(const pd_server *s);
/* The exit status (0-255) every BYE of pd_server_shutdown carries, so
 * that followers exit with it; 0 until set. */
void pd_server_exit_status(pd_server *s, int status);
/* Says BYE to every agent, closes every connection and listener. The
 * closes complete from deferred calls: run the loop (or
 * pd_loop_run_deferred) before pd_server_free. */
void pd_server_shutdown(pd_server *s);
void pd_server_free(pd_server *s);

#endif
