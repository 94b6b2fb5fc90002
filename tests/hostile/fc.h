/* fc.h - the fake controller (tests/hostile/fake_controller.c) as its case
 * files see it: the connection to the agent under test, the agent process,
 * and how the outcome of one frame is judged and counted. Single-threaded;
 * every call runs the fake's event loop until its condition holds. */
#ifndef FC_H
#define FC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"

#define WAIT_MS 10000u /* longest wait for anything the agent must do */
#define FLOOD 32768u   /* tasks in the flood cases */

/* One connection from the agent; freed by the fake once it is closed and
 * no longer the latest one. */
typedef struct peer {
	pd_conn *c; /* NULL once closed */
	int hello, closed, welcomed;
	uint32_t slots;
	uint64_t pong; /* last PONG stamp */
	uint64_t results;
	uint64_t cancelled; /* of those results: failed, error "cancelled" */
	char why[256];
} peer;

/* What the agent did after a frame (outcome), and its words for a line. */
enum { KEPT, DROPPED, EXITED, HUNG };
extern const char *const outcome_name[];

/* The agent process: its wait status once it has exited, and when the
 * latest HELLO came (ms, pd_now_us() / 1000). */
extern int agent_status, agent_exited;
extern uint64_t hello_ms;

/* Runs the loop until cond(arg) holds or ms pass; 1 when it holds. */
int wait_until(int (*cond)(void *), void *arg, uint64_t ms);
/* Conditions for wait_until: never true; the agent has exited; a
 * connection said HELLO and was not welcomed yet. */
int never(void *arg);
int agent_gone(void *arg);
int cur_hello(void *arg);

/* Starts the agent (--slots slots, its log DIR/agent-K.log); stops it
 * (SIGTERM, then SIGKILL); "running", "exit status N" or "killed by signal
 * N" (a static buffer). */
void agent_start(unsigned slots);
void agent_stop(void);
const char *describe_exit(void);
/* 1 if the latest agent's log has a line holding needle. */
int grep_log(const char *needle);

/* Waits for a connection that said HELLO and was not welcomed; NULL when
 * the agent exited or none came within WAIT_MS. */
peer *wait_hello(void);
/* Appends b's bytes as they are to pe's output and sends them. */
void send_raw(peer *pe, const pd_buf *b);
void send_welcome(peer *pe, uint32_t version, uint32_t hb);
/* Welcomes the next connection and has it run one echo task (results
 * counts from 0 after); NULL if that fails. */
peer *welcomed(void);
/* A new agent with `slots` slots, welcomed. */
peer *fresh_agent(unsigned slots);
/* results_in: pe has FLOOD results, or is closed, or the agent exited. */
int results_in(void *arg);

/* After a frame: a PING tells whether the agent kept the connection. */
int outcome(peer *pe);
/* Counts an outcome; after a drop waits for the reconnection. The next
 * welcomed connection, or NULL when the agent is gone or hung. */
peer *settle(peer *pe, int got, const char *what);
/* One check: counted and printed as "ok" or "FAIL" with name: detail. */
void expect(int ok, const char *name, const char *detail);

/* fc_cases.c: the crafted frames on a welcomed connection (returns the
 * connection to go on with, or NULL), and the reconnection backoff over
 * the Unix socket. */
peer *fc_crafted(peer *pe);
/* A CANCEL of millions of ids at an agent holding thousands of tasks. */
peer *fc_huge_cancel(void);
void fc_backoff_cases(void);

#endif
