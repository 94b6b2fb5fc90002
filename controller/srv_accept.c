/* srv_accept.c - the controller core (server_int.h): accepting agent
 * connections, and the cap on connections that have not said HELLO. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "server_int.h"

/* ---- connections that have not said HELLO ---- */

static void unauth_push(pd_server *s, srv_agent *a)
{
	a->un_prev = s->un_tail;
	a->un_next = NULL;
	if (s->un_tail)
		s->un_tail->un_next = a;
	else
		s->un_head = a;
	s->un_tail = a;
	s->nunauth++;
}

void srv_unauth_remove(pd_server *s, srv_agent *a)
{
	if (!a->un_prev && s->un_head != a)
		return; /* not on the list */
	if (a->un_prev)
		a->un_prev->un_next = a->un_next;
	else
		s->un_head = a->un_next;
	if (a->un_next)
		a->un_next->un_prev = a->un_prev;
	else
		s->un_tail = a->un_prev;
	a->un_prev = a->un_next = NULL;
	s->nunauth--;
}

/* Makes room for one more connection without HELLO: the oldest goes. Its
 * close completes later; it is off the list at once. */
static void unauth_make_room(pd_server *s)
{
	while (s->o.max_unauth && s->nunauth >= s->o.max_unauth && s->un_head) {
		srv_agent *old = s->un_head;
		char why[120];

		srv_unauth_remove(s, old);
		snprintf(why, sizeof(why),
		         "dropped: %u connections without HELLO (the limit), this one the oldest",
		         s->o.max_unauth);
		old->dropped = 1;
		pd_conn_close(old->conn, why);
		s->unauth_dropped++;
		/* one line per 5 s while it lasts, with the count */
		if (!s->unauth_warned_ms ||
		    pd_loop_now(s->loop) - s->unauth_warned_ms >= ACCEPT_WARN_MS) {
			pd_warn("dropped %llu connection(s), the oldest first: %u connections "
			        "without HELLO is the limit (last dropped: %s)",
			        (unsigned long long)s->unauth_dropped, s->o.max_unauth,
			        pd_conn_peer(old->conn));
			s->unauth_warned_ms = pd_loop_now(s->loop);
			s->unauth_dropped = 0;
		}
	}
}

static int agent_slot(pd_server *s, srv_agent *a)
{
	/* ids are reused lowest-first so the table stays as small as the crowd */
	for (uint32_t i = 0; i < s->nagents_cap; i++) {
		uint32_t id = (s->next_id + i) % (uint32_t)s->nagents_cap;
		if (!s->agents[id]) {
			a->id = id;
			s->agents[id] = a;
			s->next_id = id + 1;
			return 0;
		}
	}
	{
		size_t n = s->nagents_cap ? s->nagents_cap * 2 : 64;
		srv_agent **t = realloc(s->agents, n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		memset(t + s->nagents_cap, 0, (n - s->nagents_cap) * sizeof(*t));
		a->id = (uint32_t)s->nagents_cap;
		s->agents = t;
		s->nagents_cap = n;
		s->agents[a->id] = a;
		s->next_id = a->id + 1;
	}
	return 0;
}

void srv_on_accept(pd_loop *l, int fd, uint32_t ev, void *arg)
{
	pd_server *s = arg;
	listener *ls = NULL;

	(void)ev;
	for (size_t i = 0; i < s->nls; i++)
		if (s->ls[i].fd == fd)
			ls = &s->ls[i];
	if (!ls)
		return;
	for (int k = 0; k < 256; k++) {
		char peer[64];
		int cfd = pd_net_accept(fd, peer, sizeof(peer));
		srv_agent *a;

		if (cfd == -EAGAIN)
			return;
		if (cfd == -EINTR || cfd == -ECONNABORTED)
			continue;
		if (cfd < 0) {
			/* out of descriptors or memory: say so, then give the
			 * system a moment instead of spinning */
			/* one line per 5 s while it lasts: every retry would
			 * log ten a second */
			if (!s->accept_warned_ms ||
			    pd_loop_now(l) - s->accept_warned_ms >= ACCEPT_WARN_MS) {
				char hint[160];
				s->accept_warned_ms = pd_loop_now(l);
				pd_net_accept_hint(cfd, hint, sizeof(hint));
				pd_warn("cannot accept a connection on %s: %s%s%s%s; retrying in "
				        "100 ms",
				        ls->url, strerror(-cfd), hint[0] ? " (" : "", hint,
				        hint[0] ? ")" : "");
			}
			pd_loop_del(l, fd);
			pd_timer_start(s->accept_retry, 100);
			return;
		}
		if (s->o.max_conns && s->nconns >= s->o.max_conns) {
			if (pd_ratelimit_ok(&s->rl, 10))
				pd_warn("refusing %s: %zu connections held (limit)", peer,
				        s->nconns);
			close(cfd);
			continue;
		}
		/* the cap is for connections from the network: a local one
		 * (ipc://, the session folder's socket) is never evicted for
		 * them, and still has the HELLO deadline */
		if (!ls->local)
			unauth_make_room(s);
		a = calloc(1, sizeof(*a));
		if (!a || agent_slot(s, a) < 0) {
			free(a);
			close(cfd);
			continue;
		}
		a->srv = s;
		a->conn =
		    pd_conn_new(l, cfd, ls->tls, PD_CONN_SERVER, &srv_conn_ops, a, s->o.max_frame);
		if (!a->conn) {
			srv_agent_free(a);
			close(cfd);
			continue;
		}
		s->nconns++;
		if (!ls->local)
			unauth_push(s, a);
		pd_conn_set_peer(a->conn, peer);
		pd_conn_out_cap(a->conn, SRV_OUT_CAP);
		pd_conn_deadline(a->conn, s->o.handshake_ms,
		                 ls->tls ? "no TLS handshake and HELLO in time"
		                         : "no HELLO in time");
	}
}

void srv_accept_retry_cb(pd_loop *l, void *arg)
{
	pd_server *s = arg;
	int again = 0;

	for (size_t i = 0; i < s->nls; i++) {
		/* -EEXIST: a listener that did not fail is watched still */
		int rv = pd_loop_add(l, s->ls[i].fd, PD_EV_IN, srv_on_accept, s);
		if (rv == 0 || rv == -EEXIST)
			continue;
		/* not watched, no agent could join there: say so (once per
		 * 5 s) and try again rather than give up in silence */
		again = 1;
		if (!s->accept_warned_ms || pd_loop_now(l) - s->accept_warned_ms >= ACCEPT_WARN_MS) {
			s->accept_warned_ms = pd_loop_now(l);
			pd_warn("cannot watch the listener %s again: %s; retrying in 100 ms",
			        s->ls[i].url, strerror(-rv));
		}
	}
	if (again)
		pd_timer_start(s->accept_retry, 100);
}
