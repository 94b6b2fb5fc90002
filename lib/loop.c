#include "loop.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256
#define LOOP_POLL_START_US 8u /* first polling window */

static uint32_t poll_default = PD_LOOP_POLL_US; /* pd_loop_poll_env */

struct watch {
	pd_io_cb cb;
	void *arg;
	uint32_t gen;
	uint32_t events;
	int pending; /* index+1 in the pending list, 0 when not pending */
};

struct pd_timer {
	pd_loop *loop;
	pd_cb cb;
	void *arg;
	uint64_t due;
	size_t slot; /* index+1 in the heap, 0 when stopped */
};

struct deferred {
	pd_cb cb;
	void *arg;
};

struct sighandler {
	pd_signal_cb cb;
	void *arg;
};

struct pd_loop {
	int epfd;
	int sigfd;
	sigset_t sigmask;
	struct sighandler sig[65];
	struct watch *w; /* indexed by fd */
	size_t nw;
	uint32_t gen;
	int *pend; /* fds with buffered input */
	size_t npend, cappend;
	pd_timer **heap;
	size_t nheap, capheap;
	struct deferred *defer;
	size_t ndefer, capdefer;
	uint64_t now;
	int stop;
	uint32_t poll_max; /* microseconds; 0: never poll before sleeping */
	uint32_t poll_us;  /* the current polling window (adaptive) */
	uint64_t poll_hits;
};

uint64_t pd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t now_ms(void)
{
	return pd_now_us() / 1000u;
}

pd_loop *pd_loop_new(void)
{
	pd_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->sigfd = -1;
	sigemptyset(&l->sigmask);
	l->poll_max = poll_default;
	l->now = now_ms();
	return l;
}

void pd_loop_free(pd_loop *l)
{
	if (!l)
		return;
	if (l->sigfd >= 0)
		close(l->sigfd);
	close(l->epfd);
	free(l->w);
	free(l->pend);
	for (size_t i = 0; i < l->nheap; i++)
		l->heap[i]->slot = 0;
	free(l->heap);
	free(l->defer);
	free(l);
}

static int watch_grow(pd_loop *l, int fd)
{
	size_t n;
	struct watch *w;

	if ((size_t)fd < l->nw)
		return 0;
	n = l->nw ? l->nw : 64;
	while (n <= (size_t)fd)
		n *= 2;
	w = realloc(l->w, n * sizeof(*w));
	if (!w)
		return -ENOMEM;
	memset(w + l->nw, 0, (n - l->nw) * sizeof(*w));
	l->w = w;
	l->nw = n;
	return 0;
}

static uint32_t to_epoll(uint32_t ev)
{
	return ((ev & PD_EV_IN) ? EPOLLIN : 0) | ((ev & PD_EV_OUT) ? EPOLLOUT : 0);
}

int pd_loop_add(pd_loop *l, int fd, uint32_t events, pd_io_cb cb, void *arg)
{
	struct epoll_event ev;
	int rv;

	if (fd < 0 || !cb)
		return -EINVAL;
	rv = watch_grow(l, fd);
	if (rv < 0)
		return rv;
	if (l->w[fd].cb)
		return -EEXIST;
	l->gen++;
	memset(&ev, 0, sizeof(ev));
	ev.events = to_epoll(events);
	ev.data.u64 = ((uint64_t)l->gen << 32) | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	l->w[fd].cb = cb;
	l->w[fd].arg = arg;
	l->w[fd].gen = l->gen;
	l->w[fd].events = events;
	l->w[fd].pending = 0;
	return 0;
}

int pd_loop_mod(pd_loop *l, int fd, uint32_t events)
{
	struct epoll_event ev;

	if (fd < 0 || (size_t)fd >= l->nw || !l->w[fd].cb)
		return -ENOENT;
	if (l->w[fd].events == events)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = to_epoll(events);
	ev.data.u64 = ((uint64_t)l->w[fd].gen << 32) | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	l->w[fd].events = events;
	return 0;
}

int pd_loop_del(pd_loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nw || !l->w[fd].cb)
		return -ENOENT;
	pd_loop_set_pending(l, fd, 0);
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(&l->w[fd], 0, sizeof(l->w[fd]));
	return 0;
}

void pd_loop_set_pending(pd_loop *l, int fd, int on)
{
	struct watch *w;

	if (fd < 0 || (size_t)fd >= l->nw || !l->w[fd].cb)
		return;
	w = &l->w[fd];
	if (on && !w->pending) {
		if (l->npend == l->cappend) {
			size_t n = l->cappend ? l->cappend * 2 : 16;
			int *p = realloc(l->pend, n * sizeof(*p));
			if (!p)
				return; /* the next read will find the data anyway */
			l->pend = p;
			l->cappend = n;
		}
		l->pend[l->npend++] = fd;
		w->pending = (int)l->npend;
	} else if (!on && w->pending) {
		size_t i = (size_t)w->pending - 1;
		int last = l->pend[--l->npend];
		if (i < l->npend) {
			l->pend[i] = last;
			l->w[last].pending = (int)i + 1;
		}
		w->pending = 0;
	}
}

/* ---- timers: a binary min-heap on due time ---- */

static void heap_swap(pd_loop *l, size_t a, size_t b)
{
	pd_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->slot = a + 1;
	l->heap[b]->slot = b + 1;
}

static void heap_up(pd_loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->due <= l->heap[i]->due)
			break;
		heap_swap(l, i, p);
		i = p;
	}
}

static void heap_down(pd_loop *l, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;
		if (c < l->nheap && l->heap[c]->due < l->heap[m]->due)
			m = c;
		if (c + 1 < l->nheap && l->heap[c + 1]->due < l->heap[m]->due)
			m = c + 1;
		if (m == i)
			break;
		heap_swap(l, i, m);
		i = m;
	}
}

pd_timer *pd_timer_new(pd_loop *l, pd_cb cb, void *arg)
{
	pd_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->loop = l;
	t->cb = cb;
	t->arg = arg;
	return t;
}

void pd_timer_stop(pd_timer *t)
{
	pd_loop *l;
	size_t i;

	if (!t || !t->slot)
		return;
	l = t->loop;
	i = t->slot - 1;
	t->slot = 0;
	l->nheap--;
	if (i < l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->heap[i]->slot = i + 1;
		heap_down(l, i);
		heap_up(l, i);
	}
}

void pd_timer_start(pd_timer *t, uint64_t ms)
{
	pd_loop *l = t->loop;

	pd_timer_stop(t);
	if (l->nheap == l->capheap) {
		size_t n = l->capheap ? l->capheap * 2 : 64;
		pd_timer **h = realloc(l->heap, n * sizeof(*h));
		if (!h)
			abort(); /* a lost timer would hang a task forever */
		l->heap = h;
		l->capheap = n;
	}
	t->due = now_ms() + ms;
	l->heap[l->nheap++] = t;
	t->slot = l->nheap;
	heap_up(l, l->nheap - 1);
}

int pd_timer_active(const pd_timer *t)
{
	return t && t->slot != 0;
}

void pd_timer_free(pd_timer *t)
{
	if (!t)
		return;
	pd_timer_stop(t);
	free(t);
}

/* ---- signals ---- */

static void on_signalfd(pd_loop *l, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo < 65 && l->sig[si.ssi_signo].cb)
			l->sig[si.ssi_signo].cb(l, (int)si.ssi_signo, l->sig[si.ssi_signo].arg);
	}
}

int pd_loop_signal(pd_loop *l, int signo, pd_signal_cb cb, void *arg)
{
	int fd;

	if (signo <= 0 || signo >= 65)
		return -EINVAL;
	sigaddset(&l->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) < 0)
		return -errno;
	fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	l->sig[signo].cb = cb;
	l->sig[signo].arg = arg;
	if (l->sigfd < 0) {
		int rv = pd_loop_add(l, fd, PD_EV_IN, on_signalfd, NULL);
		if (rv < 0) {
			close(fd);
			return rv;
		}
		l->sigfd = fd;
	}
	return 0;
}

/* ---- deferred calls and the loop ---- */

int pd_loop_defer(pd_loop *l, pd_cb cb, void *arg)
{
	if (l->ndefer == l->capdefer) {
		size_t n = l->capdefer ? l->capdefer * 2 : 16;
		struct deferred *d = realloc(l->defer, n * sizeof(*d));
		if (!d)
			return -ENOMEM;
		l->defer = d;
		l->capdefer = n;
	}
	l->defer[l->ndefer].cb = cb;
	l->defer[l->ndefer].arg = arg;
	l->ndefer++;
	return 0;
}

static void run_deferred(pd_loop *l)
{
	/* calls may defer more calls; run until quiet */
	while (l->ndefer) {
		size_t n = l->ndefer;
		struct deferred batch[64];
		size_t take = n < 64 ? n : 64;

		memcpy(batch, l->defer, take * sizeof(*batch));
		memmove(l->defer, l->defer + take, (n - take) * sizeof(*batch));
		l->ndefer -= take;
		for (size_t i = 0; i < take; i++)
			batch[i].cb(l, batch[i].arg);
	}
}

static void run_timers(pd_loop *l)
{
	while (l->nheap && l->heap[0]->due <= l->now) {
		pd_timer *t = l->heap[0];
		pd_timer_stop(t);
		t->cb(l, t->arg);
	}
}

static void run_pending(pd_loop *l)
{
	/* snapshot: callbacks change the list */
	size_t n = l->npend;
	int fds[64];

	if (n == 0)
		return;
	if (n > 64)
		n = 64;
	memcpy(fds, l->pend, n * sizeof(int));
	for (size_t i = 0; i < n; i++) {
		int fd = fds[i];
		if ((size_t)fd < l->nw && l->w[fd].cb && l->w[fd].pending)
			l->w[fd].cb(l, fd, PD_EV_IN, l->w[fd].arg);
	}
}

int pd_loop_poll_env(char *err, size_t errlen)
{
	const char *s = getenv("PARADE_POLL_US");
	unsigned long v;
	char *end;

	if (!s)
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v > PD_LOOP_POLL_MAX_US || s[0] == '-' || s[0] == '+' ||
	    s[0] == ' ') {
		snprintf(err, errlen,
			 "PARADE_POLL_US='%.40s': give whole microseconds from 0 to %u (0: never poll)",
			 s, PD_LOOP_POLL_MAX_US);
		return -EINVAL;
	}
	poll_default = (uint32_t)v;
	return 0;
}

void pd_loop_set_poll(pd_loop *l, uint32_t max_us)
{
	l->poll_max = max_us;
	if (l->poll_us > max_us)
		l->poll_us = max_us;
}

/* Checks for events without sleeping for up to poll_us microseconds (not
 * past timeout ms), then sleeps in epoll_wait. The window adapts to how
 * long the loop sleeps: a wake-up that came within poll_max of falling
 * asleep doubles it (up to poll_max), a longer sleep halves it, so a loop
 * that is idle for long stops polling and one in a quick exchange of
 * messages polls through the gaps instead of paying a wake-up each time. */
static int wait_events(pd_loop *l, struct epoll_event *evs, int timeout)
{
	uint64_t start = l->poll_max ? pd_now_us() : 0, slept;
	int n;

	if (l->poll_us) {
		uint64_t end = start + l->poll_us;

		if (timeout > 0 && (uint64_t)timeout * 1000u < l->poll_us)
			end = start + (uint64_t)timeout * 1000u;
		do {
			n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, 0);
			if (n > 0)
				l->poll_hits++;
			if (n != 0)
				return n;
			sched_yield();
		} while (pd_now_us() < end);
	}
	n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout);
	if (!l->poll_max || n <= 0)
		return n;
	slept = pd_now_us() - start;
	if (slept <= l->poll_max) {
		uint64_t grown = l->poll_us ? 2u * (uint64_t)l->poll_us : LOOP_POLL_START_US;
		l->poll_us = (uint32_t)(grown < l->poll_max ? grown : l->poll_max);
	} else {
		l->poll_us /= 2u;
		if (l->poll_us < LOOP_POLL_START_US)
			l->poll_us = 0;
	}
	return n;
}

uint64_t pd_loop_poll_hits(const pd_loop *l)
{
	return l->poll_hits;
}

int pd_loop_run(pd_loop *l)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];

	l->stop = 0;
	while (!l->stop) {
		int timeout = -1, n;

		run_deferred(l);
		if (l->stop)
			break;
		l->now = now_ms();
		if (l->npend || l->ndefer)
			timeout = 0;
		else if (l->nheap) {
			uint64_t due = l->heap[0]->due;
			timeout = due <= l->now ? 0 : (int)(due - l->now > 60000 ? 60000 : due - l->now);
		}
		n = timeout == 0 ? epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, 0)
				 : wait_events(l, evs, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->now = now_ms();
		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
			uint32_t ev = 0;

			if ((size_t)fd >= l->nw || !l->w[fd].cb || l->w[fd].gen != gen)
				continue; /* removed earlier in this batch */
			if (evs[i].events & EPOLLIN)
				ev |= PD_EV_IN;
			if (evs[i].events & EPOLLOUT)
				ev |= PD_EV_OUT;
			if (evs[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
				ev |= PD_EV_ERR | PD_EV_IN;
			l->w[fd].cb(l, fd, ev, l->w[fd].arg);
		}
		run_pending(l);
		run_timers(l);
	}
	run_deferred(l);
	return 0;
}

void pd_loop_run_deferred(pd_loop *l)
{
	run_deferred(l);
}

void pd_loop_stop(pd_loop *l)
{
	l->stop = 1;
}

uint64_t pd_loop_now(const pd_loop *l)
{
	return l->now;
}
