/* builtin.h - the agent's built-in handlers for tests and benchmarks, the
 * kinds pd_handler_echo and pd_handler_sleep (handler.h), defined here.
 *   echo: stdout is the task's words joined by spaces, then a newline.
 *   sleep: waits argv[0] seconds (decimal, <= 1 day) on a loop timer, then
 *          succeeds with empty output; a bad duration fails the task.
 */
#ifndef PD_BUILTIN_H
#define PD_BUILTIN_H

#include "codec.h"
#include "loop.h"

typedef void (*pd_builtin_done_cb)(const pd_result_msg *r, void *arg);

/* Runs t now (echo) or later (sleep); cb gets the result exactly once
 * (possibly before this returns). 0 or -ENOMEM. */
int pd_builtin_run(pd_loop *l, const pd_task_msg *t, pd_builtin_done_cb cb, void *arg);
/* Drops every sleep under way without calling its cb (for an agent that
 * exits; call it before the loop is freed). */
void pd_builtin_stop_all(void);

#endif
