/* server_int.h - internal to the controller core (server.c, srv_accept.c,
 * srv_results.c): the structs behind pd_server and the calls between
 * those files. Not for other callers: they use server.h. */
#ifndef PD_SERVER_INT_H
#define PD_SERVER_INT_H

#include "held.h"
#include "server.h"

#define SRV_MAX_BATCH 4096  /* tasks per dispatcher turn */
#define ACCEPT_WARN_MS 5000 /* at most one accept warning per 5 s */
/* output queued for one agent above which the controller stops reading
 * from it until it reads (a peer that never reads cannot grow it) */
#define SRV_OUT_CAP (4u << 20)

typedef struct srv_agent {
	pd_server *srv;
	pd_conn *conn;
	uint32_t id;
	int welcomed;
	int follower; /* HELLO with 0 slots: no tasks, waits for BYE(status) */
	int draining;
	int dropped; /* by unauth_make_room, which logs it */
	uint64_t last_heard;
	uint64_t done;
	/* accept order of connections without HELLO yet (the oldest goes
	 * first when there are too many); those of ipc:// listeners are
	 * never on it: a flood from the network cannot evict them */
	struct srv_agent *un_prev, *un_next;
	uint32_t pid, slots;
	uint64_t who; /* pd_held_digest of the id it claimed */
	char name[160];
	char host[128], mode[16], slurm_job[32], slurm_step[32];
} srv_agent;

typedef struct listener {
	int fd;
	pd_tls *tls;
	int local; /* ipc://: its connections are not on the unauth list */
	char url[300];
} listener;

struct pd_server {
	pd_loop *loop;
	pd_server_opts o;
	pd_server_cbs cb;
	void *arg;
	pd_disp *disp;
	srv_agent **agents; /* indexed by id; NULL when free */
	size_t nagents_cap;
	uint32_t next_id;
	size_t nconns, nwelcomed; /* nwelcomed: agents, followers not counted */
	size_t nfollowers;
	uint8_t exit_status; /* carried by every BYE (pd_server_exit_status) */
	srv_agent *un_head, *un_tail; /* connections that said no HELLO yet */
	size_t nunauth;
	listener ls[4];
	size_t nls;
	pd_timer *hb;
	pd_timer *accept_retry;
	uint64_t accept_warned_ms; /* loop time of the last accept warning */
	uint64_t unauth_warned_ms; /* ... and of the last unauth_make_room one */
	uint64_t unauth_dropped;   /* dropped by it since that warning */
	int dispatch_queued;
	int shutting_down;
	int paused; /* pd_server_pause: no task leaves the queue */
	int drain_all;
	pd_ratelimit rl;
	uint64_t *ids;
	pd_held *held;     /* who held which attempt, of agents gone */
	int held_full;     /* said once that it is full */
	uint32_t *carried; /* per task: first attempt of this controller
	                    * (pd_server_set_attempt), 0 when none */
	uint64_t ncarried;
};

/* server.c */
/* Runs the dispatcher after this iteration (once however often asked). */
void srv_dispatch_later(pd_server *s);
/* Frees a (its connection is gone or was never made) and its id. */
void srv_agent_free(srv_agent *a);
/* The callbacks of every agent connection. */
extern const pd_conn_ops srv_conn_ops;

/* srv_accept.c */
/* The listeners' pd_io_cb (arg: the server), and the timer that watches
 * them again after accept() failed for lack of descriptors or memory. */
void srv_on_accept(pd_loop *l, int fd, uint32_t ev, void *arg);
void srv_accept_retry_cb(pd_loop *l, void *arg);
/* Takes a off the list of connections without HELLO (if it is on it). */
void srv_unauth_remove(pd_server *s, srv_agent *a);

/* srv_results.c */
/* A RESULTS frame from a: each result is checked (codec's
 * pd_result_check, then that a holds or held its attempt) and handed to
 * the dispatcher and the caller; a result that cannot be true closes a
 * with a protocol error. */
void srv_on_results(srv_agent *a, const uint8_t *p, size_t n);
/* pd_disp_agent_held callback (arg: the srv_agent leaving): notes that it
 * held (task, attempt), so that its late report can be taken. */
void srv_note_held(void *arg, uint64_t task, uint32_t attempt);

#endif
