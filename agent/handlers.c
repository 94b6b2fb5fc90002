/* handlers.c - the registry of task kinds and the set an agent runs; see
 * handler.h. */
#include "handler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The kinds every agent has: one line per kind. */
static const pd_handler_ops *const builtin_kinds[] = {
	&pd_handler_process,
	&pd_handler_echo,
	&pd_handler_sleep,
	&pd_handler_coproc,
};

#define NBUILTIN (sizeof(builtin_kinds) / sizeof(builtin_kinds[0]))
#define MAX_EXTRA 16

/* kinds added at run time (tests) */
static const pd_handler_ops *extra_kinds[MAX_EXTRA];
static size_t nextra;

static const pd_handler_ops *kind_at(size_t i)
{
	return i < NBUILTIN ? builtin_kinds[i] : extra_kinds[i - NBUILTIN];
}

const pd_handler_ops *pd_handler_find(uint8_t kind)
{
	for (size_t i = 0; i < NBUILTIN + nextra; i++)
		if (kind_at(i)->kind == kind)
			return kind_at(i);
	return NULL;
}

int pd_handler_register(const pd_handler_ops *ops)
{
	if (!ops || !ops->start || !ops->name)
		return -EINVAL;
	if (pd_handler_find(ops->kind))
		return -EEXIST;
	if (nextra == MAX_EXTRA)
		return -ENOSPC;
	extra_kinds[nextra++] = ops;
	return 0;
}

/* ---- the set of one agent ---- */

typedef struct slot {
	const pd_handler_ops *ops;
	void *state;
	int own;        /* configured from the agent's command line */
	int configured; /* has settings (own or the controller's) */
	uint8_t *data;  /* the controller's settings now in force, or NULL */
	size_t len;
	char why[200]; /* why it has none, for its tasks' errors */
} slot;

struct pd_handlers {
	size_t n;
	slot *s;
};

static slot *find_slot(const pd_handlers *h, uint8_t kind)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->s[i].ops->kind == kind)
			return &h->s[i];
	return NULL;
}

int pd_handlers_new(const pd_handler_env *env, pd_handlers **out, char *err, size_t errlen)
{
	pd_handlers *h;
	size_t n = NBUILTIN + nextra;
	int rv;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h || !(h->s = calloc(n, sizeof(*h->s)))) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		slot *s = &h->s[i];
		s->ops = kind_at(i);
		h->n = i + 1;
		if (s->ops->open && (rv = s->ops->open(env, &s->state)) < 0) {
			snprintf(err, errlen, "cannot set up the %s handler: %s", s->ops->name,
				 strerror(-rv));
			pd_handlers_free(h);
			return rv;
		}
	}
	*out = h;
	return 0;
}

static int configure(slot *s, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	int rv;

	err[0] = '\0';
	if (!s->ops->configure)
		return 0;
	rv = s->ops->configure(s->state, data, len, err, errlen);
	s->configured = rv == 0 && data;
	if (rv < 0 && !err[0])
		snprintf(err, errlen, "the %s handler refused its settings: %s", s->ops->name,
			 strerror(-rv));
	snprintf(s->why, sizeof(s->why), "%s", rv < 0 ? err : "");
	return rv;
}

int pd_handlers_own(pd_handlers *h, uint8_t kind, const uint8_t *data, size_t len, char *err,
		    size_t errlen)
{
	slot *s = find_slot(h, kind);

	if (!s) {
		snprintf(err, errlen, "no handler for task kind %u", (unsigned)kind);
		return -ENOENT;
	}
	s->own = 1;
	return configure(s, data, len, err, errlen);
}

int pd_handlers_welcome(pd_handlers *h, const pd_welcome *w, char *err, size_t errlen)
{
	int rv;

	for (size_t i = 0; i < h->n; i++) {
		slot *s = &h->s[i];
		const pd_setting *v = pd_welcome_setting(w, s->ops->kind);
		const uint8_t *data = v ? v->data : NULL;
		size_t len = v ? v->len : 0;
		uint8_t *copy = NULL;

		if (s->own) {
			if (v)
				pd_debug("the %s handler keeps its own settings (the agent's command "
					 "line), not the controller's", s->ops->name);
			continue;
		}
		/* the same again (a rejoin) after they were taken: nothing to do */
		if (!s->ops->configure ||
		    (!s->why[0] && ((!data && !s->data) ||
				    (data && s->data && len == s->len && !memcmp(data, s->data, len)))))
			continue;
		if (data && !(copy = malloc(len + 1))) {
			snprintf(err, errlen, "out of memory keeping the %s handler's settings",
				 s->ops->name);
			return -ENOMEM;
		}
		if (copy) {
			memcpy(copy, data, len);
			copy[len] = 0;
		}
		free(s->data);
		s->data = copy;
		s->len = len;
		if ((rv = configure(s, copy, len, err, errlen)) < 0) {
			/* not kept: the same settings again are tried again */
			free(s->data);
			s->data = NULL;
			s->len = 0;
			return rv;
		}
		if (copy)
			pd_debug("the %s handler took the controller's settings", s->ops->name);
	}
	return 0;
}

uint32_t pd_handlers_features(const pd_handlers *h)
{
	uint32_t f = 0;

	for (size_t i = 0; i < h->n; i++)
		if (h->s[i].own && h->s[i].configured)
			f |= h->s[i].ops->feature;
	return f;
}

int pd_handlers_start(pd_handlers *h, const pd_task_msg *t, char *err, size_t errlen)
{
	slot *s = find_slot(h, t->kind);

	err[0] = '\0';
	if (!s) {
		snprintf(err, errlen, "this agent has no handler for task kind %u",
			 (unsigned)t->kind);
		return -ENOENT;
	}
	if (s->why[0]) {
		snprintf(err, errlen, "%s", s->why);
		return -EINVAL;
	}
	return s->ops->start(s->state, t, err, errlen);
}

void pd_handlers_cancel(pd_handlers *h, const pd_idset *ids)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->s[i].ops->cancel)
			h->s[i].ops->cancel(h->s[i].state, ids);
}

void pd_handlers_free(pd_handlers *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		if (h->s[i].ops->close)
			h->s[i].ops->close(h->s[i].state);
		free(h->s[i].data);
	}
	free(h->s);
	free(h);
}
