/* loop.h - a single-threaded epoll event loop with timers, signals and
 * deferred calls.
 *
 * Only this module and the connection layer touch epoll. Callbacks run on
 * the loop's thread; any of them may add or remove watches and timers,
 * including their own. A watch removed during an iteration gets no further
 * events in that iteration, even if its fd number is reused at once.
 */
#ifndef PD_LOOP_H
#define PD_LOOP_H

#include <stddef.h>
#include <stdint.h>

typedef struct pd_loop pd_loop;
typedef struct pd_timer pd_timer;

#define PD_EV_IN 0x1u
#define PD_EV_OUT 0x2u
#define PD_EV_ERR 0x4u /* error or hang-up; always reported */

typedef void (*pd_io_cb)(pd_loop *l, int fd, uint32_t events, void *arg);
typedef void (*pd_cb)(pd_loop *l, void *arg);
typedef void (*pd_signal_cb)(pd_loop *l, int signo, void *arg);

/* NULL on failure (errno-free: logs nothing, the caller reports). */
pd_loop *pd_loop_new(void);
/* Frees the loop; watches are forgotten (fds are not closed), timers must
 * have been freed by their owners, pending deferred calls are dropped. */
void pd_loop_free(pd_loop *l);

/* Watches fd for events (PD_EV_IN | PD_EV_OUT). 0, -EEXIST, -errno. */
int pd_loop_add(pd_loop *l, int fd, uint32_t events, pd_io_cb cb, void *arg);
/* Changes the event mask of a watched fd. 0 or -errno. */
int pd_loop_mod(pd_loop *l, int fd, uint32_t events);
/* Stops watching fd (does not close it). 0 or -ENOENT. */
int pd_loop_del(pd_loop *l, int fd);
/* Marks a watched fd as holding buffered input the kernel will not announce
 * (TLS records already decrypted): while marked, the loop does not sleep
 * and calls its callback with PD_EV_IN every iteration. */
void pd_loop_set_pending(pd_loop *l, int fd, int on);

/* Timers: created stopped; owned by the caller (pd_timer_free). */
pd_timer *pd_timer_new(pd_loop *l, pd_cb cb, void *arg);
/* (Re)arms the timer to fire once after ms milliseconds. */
void pd_timer_start(pd_timer *t, uint64_t ms);
void pd_timer_stop(pd_timer *t);
int pd_timer_active(const pd_timer *t);
void pd_timer_free(pd_timer *t);

/* Delivers signo through the loop (signalfd): the signal is blocked for
 * the process. Children must unblock it: pd_spawn does (spawn.h,
 * pd_spawn_child_reset).
 * 0 or -errno. */
int pd_loop_signal(pd_loop *l, int signo, pd_signal_cb cb, void *arg);

/* Runs cb once, after the current iteration's events (before sleeping).
 * 0 or -ENOMEM. */
int pd_loop_defer(pd_loop *l, pd_cb cb, void *arg);

/* Polling before sleeping: a loop checks for events without sleeping for
 * up to max_us microseconds before it blocks, in a window that adapts to
 * how long it sleeps (grows while events come within max_us of going idle,
 * shrinks to nothing when they do not). On a VM a wake-up from sleep costs
 * tens of microseconds; two of them are most of a task's round trip. An
 * idle loop stops polling after a few long sleeps. */
#define PD_LOOP_POLL_US 50u      /* default max_us of new loops */
#define PD_LOOP_POLL_MAX_US 1000u /* the largest accepted */
/* Reads PARADE_POLL_US (unset: keep PD_LOOP_POLL_US) as the max_us of
 * loops created from now on; call once at start-up. 0, or -EINVAL with err
 * naming the variable and the accepted range. */
int pd_loop_poll_env(char *err, size_t errlen);
/* Sets this loop's max_us (0: never poll). */
void pd_loop_set_poll(pd_loop *l, uint32_t max_us);
/* How many times polling found events (so it saved a sleep). */
uint64_t pd_loop_poll_hits(const pd_loop *l);

/* Runs until pd_loop_stop. 0, or -errno if epoll fails. */
int pd_loop_run(pd_loop *l);
void pd_loop_stop(pd_loop *l);
/* Runs the deferred calls now (closing connections after the loop ended). */
void pd_loop_run_deferred(pd_loop *l);
/* Monotonic time in milliseconds, cached at the start of each iteration. */
uint64_t pd_loop_now(const pd_loop *l);
/* Monotonic time now, in microseconds (not cached). */
uint64_t pd_now_us(void);

#endif
