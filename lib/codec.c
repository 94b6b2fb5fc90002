#include "codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* smallest encodings, used to cap counts before anything is allocated */
#define STR_MIN 5u		   /* u32 len + NUL */
#define TASK_FIXED 25u		   /* id, attempt, kind, timeout, out_limit, argc */
#define RESULT_FIXED 46u	   /* everything before the three strings */
#define RESULT_MIN (RESULT_FIXED + 3 * STR_MIN)

/* the one allocation behind a decoded task or result */
struct task_block {
	pd_task_msg t;
	char *argv[];
};

struct result_block {
	pd_result_msg r;
	char data[];
};

const char *pd_msg_name(unsigned type)
{
	static const char *const names[PD_MSG_MAX_] = {
		[PD_MSG_HELLO] = "HELLO",     [PD_MSG_WELCOME] = "WELCOME",
		[PD_MSG_REJECT] = "REJECT",   [PD_MSG_TASKS] = "TASKS",
		[PD_MSG_RESULTS] = "RESULTS", [PD_MSG_PING] = "PING",
		[PD_MSG_PONG] = "PONG",	      [PD_MSG_CANCEL] = "CANCEL",
		[PD_MSG_DRAIN] = "DRAIN",     [PD_MSG_BYE] = "BYE",
	};

	if (type >= PD_MSG_MAX_ || !names[type])
		return "?";
	return names[type];
}

const char *pd_status_name(unsigned st)
{
	switch (st) {
	case PD_ST_OK:
		return "ok";
	case PD_ST_FAILED:
		return "failed";
	case PD_ST_TIMEOUT:
		return "timeout";
	case PD_ST_LOST:
		return "lost";
	}
	return "?";
}

/* ---- byte order ---- */

static inline uint8_t *w_u8(uint8_t *w, uint8_t v)
{
	*w = v;
	return w + 1;
}

static inline uint8_t *w_u32(uint8_t *w, uint32_t v)
{
	w[0] = (uint8_t)v;
	w[1] = (uint8_t)(v >> 8);
	w[2] = (uint8_t)(v >> 16);
	w[3] = (uint8_t)(v >> 24);
	return w + 4;
}

static inline uint8_t *w_u64(uint8_t *w, uint64_t v)
{
	w_u32(w, (uint32_t)v);
	return w_u32(w + 4, (uint32_t)(v >> 32));
}

static inline uint8_t *w_str(uint8_t *w, const char *s, uint32_t len)
{
	w = w_u32(w, len);
	if (len)
		memcpy(w, s, len);
	w[len] = 0;
	return w + len + 1;
}

static inline uint32_t r_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t r_u64(const uint8_t *p)
{
	return (uint64_t)r_u32(p) | (uint64_t)r_u32(p + 4) << 32;
}

static inline void w_be32(uint8_t *w, uint32_t v)
{
	w[0] = (uint8_t)(v >> 24);
	w[1] = (uint8_t)(v >> 16);
	w[2] = (uint8_t)(v >> 8);
	w[3] = (uint8_t)v;
}

static inline uint32_t r_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Two's complement without relying on implementation-defined conversion. */
static inline int32_t u32_to_i32(uint32_t v)
{
	if (v <= INT32_MAX)
		return (int32_t)v;
	return -(int32_t)(~v) - 1;
}

/* ---- frames ---- */

int pd_frame_parse(const uint8_t *p, size_t n, size_t max_frame, uint8_t *type,
		   const uint8_t **payload, size_t *plen, size_t *consumed)
{
	uint32_t len;

	if (n < PD_FRAME_HDR)
		return -EAGAIN;
	if (p[4] == 0 || p[4] >= PD_MSG_MAX_ || p[5] || p[6] || p[7])
		return -EPROTO;
	len = r_be32(p);
	if (len > max_frame)
		return -EMSGSIZE;
	if (n - PD_FRAME_HDR < len)
		return -EAGAIN;
	*type = p[4];
	*payload = p + PD_FRAME_HDR;
	*plen = len;
	*consumed = PD_FRAME_HDR + (size_t)len;
	return 0;
}

/*
 * Marks are relative to the unread head, not to data: pd_buf_reserve()
 * compacts the buffer when it grows, which would move an absolute offset.
 */
static inline uint8_t *frame_at(pd_buf *out, size_t mark)
{
	return out->data + out->off + mark;
}

static inline void frame_drop(pd_buf *out, size_t mark)
{
	out->len = out->off + mark;
}

/* Appends a frame header; the caller has reserved the room. */
static size_t put_header(pd_buf *out, uint8_t type, uint32_t len)
{
	uint8_t *w = out->data + out->len;
	size_t mark = out->len - out->off;

	w_be32(w, len);
	w[4] = type;
	w[5] = w[6] = w[7] = 0;
	out->len += PD_FRAME_HDR;
	return mark;
}

int pd_frame_begin(pd_buf *out, uint8_t type, size_t *mark)
{
	int rv = pd_buf_reserve(out, PD_FRAME_HDR);

	if (rv < 0)
		return rv;
	*mark = put_header(out, type, 0);
	return 0;
}

int pd_frame_end(pd_buf *out, size_t mark)
{
	size_t plen = out->len - out->off - mark - PD_FRAME_HDR;

	if (plen > UINT32_MAX) {
		frame_drop(out, mark);
		return -EMSGSIZE;
	}
	w_be32(frame_at(out, mark), (uint32_t)plen);
	return 0;
}

int pd_frame_empty(pd_buf *out, uint8_t type)
{
	int rv = pd_buf_reserve(out, PD_FRAME_HDR);

	if (rv < 0)
		return rv;
	put_header(out, type, 0);
	return 0;
}

/* ---- payload writers ---- */

int pd_put_u8(pd_buf *b, uint8_t v)
{
	int rv = pd_buf_reserve(b, 1);

	if (rv < 0)
		return rv;
	w_u8(b->data + b->len, v);
	b->len += 1;
	return 0;
}

int pd_put_u32(pd_buf *b, uint32_t v)
{
	int rv = pd_buf_reserve(b, 4);

	if (rv < 0)
		return rv;
	w_u32(b->data + b->len, v);
	b->len += 4;
	return 0;
}

int pd_put_u64(pd_buf *b, uint64_t v)
{
	int rv = pd_buf_reserve(b, 8);

	if (rv < 0)
		return rv;
	w_u64(b->data + b->len, v);
	b->len += 8;
	return 0;
}

int pd_put_str(pd_buf *b, const char *s, size_t len)
{
	int rv;

	if (!s)
		len = 0;
	if (len > UINT32_MAX - STR_MIN)
		return -EMSGSIZE;
	rv = pd_buf_reserve(b, len + STR_MIN);
	if (rv < 0)
		return rv;
	w_str(b->data + b->len, s, (uint32_t)len);
	b->len += len + STR_MIN;
	return 0;
}

static inline int put_cstr(pd_buf *b, const char *s)
{
	return pd_put_str(b, s, s ? strlen(s) : 0);
}

/* ---- payload reader ---- */

void pd_reader_init(pd_reader *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->n = p ? n : 0;
	r->off = 0;
}

static inline size_t left(const pd_reader *r)
{
	return r->n - r->off;
}

int pd_get_u8(pd_reader *r, uint8_t *v)
{
	if (left(r) < 1)
		return -EPROTO;
	*v = r->p[r->off];
	r->off += 1;
	return 0;
}

int pd_get_u32(pd_reader *r, uint32_t *v)
{
	if (left(r) < 4)
		return -EPROTO;
	*v = r_u32(r->p + r->off);
	r->off += 4;
	return 0;
}

int pd_get_u64(pd_reader *r, uint64_t *v)
{
	if (left(r) < 8)
		return -EPROTO;
	*v = r_u64(r->p + r->off);
	r->off += 8;
	return 0;
}

int pd_get_str(pd_reader *r, const char **s, uint32_t *len)
{
	size_t avail = left(r);
	uint32_t l;

	if (avail < STR_MIN)
		return -EPROTO;
	l = r_u32(r->p + r->off);
	/* the bytes and the NUL must both fit: l + 1 <= avail - 4 */
	if (l >= avail - 4 || r->p[r->off + 4 + l] != 0)
		return -EPROTO;
	*s = (const char *)r->p + r->off + 4;
	if (len)
		*len = l;
	r->off += 4 + (size_t)l + 1;
	return 0;
}

int pd_reader_end(const pd_reader *r)
{
	return r->off == r->n ? 0 : -EPROTO;
}

/* ---- HELLO ---- */

int pd_hello_encode(pd_buf *out, const pd_hello *h)
{
	size_t mark;
	int rv;

	rv = pd_frame_begin(out, PD_MSG_HELLO, &mark);
	if (rv < 0)
		return rv;
	if ((rv = pd_put_u32(out, PD_HELLO_MAGIC)) < 0 ||
	    (rv = pd_put_u32(out, PD_PROTO_VERSION)) < 0 ||
	    (rv = put_cstr(out, h->agent_id)) < 0 || (rv = put_cstr(out, h->host)) < 0 ||
	    (rv = pd_put_u32(out, h->pid)) < 0 || (rv = pd_put_u32(out, h->slots)) < 0 ||
	    (rv = put_cstr(out, h->mode)) < 0 || (rv = put_cstr(out, h->slurm_job)) < 0 ||
	    (rv = put_cstr(out, h->slurm_step)) < 0 || (rv = pd_put_u32(out, h->features)) < 0)
		goto fail;
	return pd_frame_end(out, mark);
fail:
	frame_drop(out, mark);
	return rv;
}

/* pd_hello_decode: codec_check.c */

/* ---- WELCOME, REJECT, PING ---- */

static int settings_ok(const pd_setting *v, uint32_t n)
{
	if (n > PD_MAX_SETTINGS)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		if (v[i].len > PD_MAX_SETTING_LEN || (v[i].len && !v[i].data))
			return 0;
		if (i && v[i].kind <= v[i - 1].kind)
			return 0;
	}
	return 1;
}

int pd_welcome_encode(pd_buf *out, const pd_welcome *w)
{
	size_t mark;
	int rv;

	if (!settings_ok(w->settings, w->nsettings))
		return -EINVAL;
	rv = pd_frame_begin(out, PD_MSG_WELCOME, &mark);
	if (rv < 0)
		return rv;
	if ((rv = pd_put_u32(out, w->version)) < 0 || (rv = pd_put_u32(out, w->heartbeat_ms)) < 0 ||
	    (rv = pd_put_u32(out, w->max_frame)) < 0 || (rv = put_cstr(out, w->name)) < 0 ||
	    (rv = pd_put_u32(out, w->nsettings)) < 0)
		goto fail;
	for (uint32_t i = 0; i < w->nsettings; i++)
		if ((rv = pd_put_u8(out, w->settings[i].kind)) < 0 ||
		    (rv = pd_put_str(out, (const char *)w->settings[i].data, w->settings[i].len)) < 0)
			goto fail;
	return pd_frame_end(out, mark);
fail:
	frame_drop(out, mark);
	return rv;
}

int pd_welcome_decode(const uint8_t *p, size_t n, pd_welcome *w)
{
	pd_reader r;
	pd_welcome t;
	const char *s;

	memset(&t, 0, sizeof(t));
	pd_reader_init(&r, p, n);
	if (pd_get_u32(&r, &t.version) < 0 || pd_get_u32(&r, &t.heartbeat_ms) < 0 || pd_get_u32(&r, &t.max_frame) < 0 ||
	    pd_get_str(&r, &t.name, NULL) < 0 || pd_get_u32(&r, &t.nsettings) < 0 ||
	    t.nsettings > PD_MAX_SETTINGS)
		return -EPROTO;
	for (uint32_t i = 0; i < t.nsettings; i++) {
		pd_setting *v = &t.settings[i];
		if (pd_get_u8(&r, &v->kind) < 0 || pd_get_str(&r, &s, &v->len) < 0)
			return -EPROTO;
		v->data = (const uint8_t *)s;
	}
	if (pd_reader_end(&r) < 0 || !settings_ok(t.settings, t.nsettings))
		return -EPROTO;
	*w = t;
	return 0;
}

int pd_welcome_version(const uint8_t *p, size_t n, uint32_t *version)
{
	if (n < 4)
		return -EPROTO;
	*version = r_u32(p);
	return 0;
}

const pd_setting *pd_welcome_setting(const pd_welcome *w, uint8_t kind)
{
	for (uint32_t i = 0; i < w->nsettings && i < PD_MAX_SETTINGS; i++)
		if (w->settings[i].kind == kind)
			return &w->settings[i];
	return NULL;
}

int pd_reject_encode(pd_buf *out, const char *reason)
{
	size_t mark;
	int rv;

	rv = pd_frame_begin(out, PD_MSG_REJECT, &mark);
	if (rv < 0)
		return rv;
	rv = put_cstr(out, reason);
	if (rv < 0) {
		frame_drop(out, mark);
		return rv;
	}
	return pd_frame_end(out, mark);
}

int pd_reject_decode(const uint8_t *p, size_t n, const char **reason)
{
	pd_reader r;
	const char *s;

	pd_reader_init(&r, p, n);
	if (pd_get_str(&r, &s, NULL) < 0 || pd_reader_end(&r) < 0)
		return -EPROTO;
	*reason = s;
	return 0;
}

int pd_ping_encode(pd_buf *out, uint8_t type, uint64_t stamp)
{
	int rv;

	rv = pd_buf_reserve(out, PD_FRAME_HDR + 8);
	if (rv < 0)
		return rv;
	put_header(out, type, 8);
	w_u64(out->data + out->len, stamp);
	out->len += 8;
	return 0;
}

int pd_ping_decode(const uint8_t *p, size_t n, uint64_t *stamp)
{
	if (n != 8)
		return -EPROTO;
	*stamp = r_u64(p);
	return 0;
}

/* ---- batches (TASKS, RESULTS) ---- */

static int batch_begin(pd_buf *out, uint8_t type, size_t *mark)
{
	int rv;

	rv = pd_buf_reserve(out, PD_FRAME_HDR + 4);
	if (rv < 0)
		return rv;
	*mark = put_header(out, type, 0);
	w_u32(out->data + out->len, 0);
	out->len += 4;
	return 0;
}

/* Counts one more entry in the batch at mark; the caller has appended it. */
static int batch_count(pd_buf *out, size_t mark)
{
	uint8_t *c = frame_at(out, mark) + PD_FRAME_HDR;
	uint32_t n = r_u32(c);

	if (n == UINT32_MAX)
		return -EMSGSIZE;
	w_u32(c, n + 1);
	return 0;
}

int pd_tasks_begin(pd_buf *out, size_t *mark)
{
	return batch_begin(out, PD_MSG_TASKS, mark);
}

int pd_tasks_add(pd_buf *out, size_t mark, const pd_task_msg *t)
{
	uint8_t *w;
	uint32_t i;
	int rv;

	if (t->argc > PD_MAX_ARGC) {
		rv = -EMSGSIZE;
		goto fail;
	}
	rv = pd_buf_reserve(out, TASK_FIXED);
	if (rv < 0)
		goto fail;
	w = out->data + out->len;
	w = w_u64(w, t->id);
	w = w_u32(w, t->attempt);
	w = w_u8(w, t->kind);
	w = w_u32(w, t->timeout_ms);
	w = w_u32(w, t->out_limit);
	w_u32(w, t->argc);
	out->len += TASK_FIXED;
	for (i = 0; i < t->argc; i++) {
		rv = put_cstr(out, t->argv[i]);
		if (rv < 0)
			goto fail;
	}
	rv = batch_count(out, mark);
	if (rv < 0)
		goto fail;
	return 0;
fail:
	frame_drop(out, mark);
	return rv;
}

int pd_tasks_end(pd_buf *out, size_t mark)
{
	return pd_frame_end(out, mark);
}

static int add_size(size_t *acc, size_t v)
{
	if (v > SIZE_MAX - *acc)
		return -EMSGSIZE;
	*acc += v;
	return 0;
}

int pd_results_begin(pd_buf *out, size_t *mark)
{
	return batch_begin(out, PD_MSG_RESULTS, mark);
}

int pd_results_add(pd_buf *out, size_t mark, const pd_result_msg *r)
{
	uint32_t olen = r->out ? r->out_len : 0;
	uint32_t elen = r->err ? r->err_len : 0;
	size_t xlen = r->error ? strlen(r->error) : 0;
	size_t need = RESULT_MIN;
	uint8_t *w;
	int rv;

	if (xlen > UINT32_MAX - STR_MIN) {
		rv = -EMSGSIZE;
		goto fail;
	}
	if ((rv = add_size(&need, olen)) < 0 || (rv = add_size(&need, elen)) < 0 ||
	    (rv = add_size(&need, xlen)) < 0)
		goto fail;
	rv = pd_buf_reserve(out, need);
	if (rv < 0)
		goto fail;
	w = out->data + out->len;
	w = w_u64(w, r->id);
	w = w_u32(w, r->attempt);
	w = w_u8(w, r->status);
	w = w_u8(w, r->flags);
	w = w_u32(w, (uint32_t)r->exit_code);
	w = w_u32(w, (uint32_t)r->signal);
	w = w_u64(w, r->wall_us);
	w = w_u64(w, r->cpu_us);
	w = w_u64(w, r->maxrss_kb);
	w = w_str(w, r->out, olen);
	w = w_str(w, r->err, elen);
	w_str(w, r->error, (uint32_t)xlen);
	out->len += need;
	rv = batch_count(out, mark);
	if (rv < 0)
		goto fail;
	return 0;
fail:
	frame_drop(out, mark);
	return rv;
}

int pd_results_end(pd_buf *out, size_t mark)
{
	return pd_frame_end(out, mark);
}

/* Reads a batch count and checks that count entries of at least min bytes
 * each can fit in what is left, so a hostile count allocates nothing. */
static int get_count(pd_reader *r, size_t min, uint32_t *count)
{
	uint32_t c;

	if (pd_get_u32(r, &c) < 0 || c > left(r) / min)
		return -EPROTO;
	*count = c;
	return 0;
}

static void free_array(void **a, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		free(a[i]);
	free(a);
}

static int decode_task(pd_reader *r, pd_task_msg **out)
{
	struct task_block *b;
	pd_task_msg t;
	pd_reader scan;
	const char *s;
	uint32_t i, len;
	size_t span, size;
	char *dst;

	if (pd_get_u64(r, &t.id) < 0 || pd_get_u32(r, &t.attempt) < 0 ||
	    pd_get_u8(r, &t.kind) < 0 || pd_get_u32(r, &t.timeout_ms) < 0 ||
	    pd_get_u32(r, &t.out_limit) < 0 || pd_get_u32(r, &t.argc) < 0)
		return -EPROTO;
	if (t.argc > PD_MAX_ARGC || t.argc > left(r) / STR_MIN)
		return -EPROTO;

	/* validate every string first so the block can be sized exactly */
	scan = *r;
	for (i = 0; i < t.argc; i++)
		if (pd_get_str(&scan, &s, NULL) < 0)
			return -EPROTO;
	span = scan.off - r->off; /* sum of (4 + len + 1) */

	size = sizeof(*b) + ((size_t)t.argc + 1) * sizeof(char *) + span - 4 * (size_t)t.argc;
	b = malloc(size);
	if (!b)
		return -ENOMEM;
	b->t = t;
	b->t.argv = b->argv;
	dst = (char *)&b->argv[t.argc + 1];
	for (i = 0; i < t.argc; i++) {
		pd_get_str(r, &s, &len);
		memcpy(dst, s, (size_t)len + 1);
		b->argv[i] = dst;
		dst += (size_t)len + 1;
	}
	b->argv[t.argc] = NULL;
	*out = &b->t;
	return 0;
}

int pd_tasks_decode(const uint8_t *p, size_t n, pd_task_msg ***tasks, uint32_t *count)
{
	pd_task_msg **a = NULL;
	pd_reader r;
	uint32_t c, i = 0;
	int rv;

	*tasks = NULL;
	*count = 0;
	pd_reader_init(&r, p, n);
	rv = get_count(&r, TASK_FIXED, &c);
	if (rv < 0)
		return rv;
	/* at least one slot so a successful decode never hands back NULL */
	a = malloc((c ? c : 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (i = 0; i < c; i++) {
		rv = decode_task(&r, &a[i]);
		if (rv < 0)
			goto fail;
	}
	rv = pd_reader_end(&r);
	if (rv < 0)
		goto fail;
	*tasks = a;
	*count = c;
	return 0;
fail:
	free_array((void **)a, i);
	return rv;
}

static int decode_result(pd_reader *r, pd_result_msg **out)
{
	struct result_block *b;
	pd_result_msg t;
	const char *o, *e, *x;
	uint32_t u, xlen;
	size_t size;

	if (pd_get_u64(r, &t.id) < 0 || pd_get_u32(r, &t.attempt) < 0 ||
	    pd_get_u8(r, &t.status) < 0 || pd_get_u8(r, &t.flags) < 0)
		return -EPROTO;
	if (pd_get_u32(r, &u) < 0)
		return -EPROTO;
	t.exit_code = u32_to_i32(u);
	if (pd_get_u32(r, &u) < 0)
		return -EPROTO;
	t.signal = u32_to_i32(u);
	if (pd_get_u64(r, &t.wall_us) < 0 || pd_get_u64(r, &t.cpu_us) < 0 ||
	    pd_get_u64(r, &t.maxrss_kb) < 0 || pd_get_str(r, &o, &t.out_len) < 0 ||
	    pd_get_str(r, &e, &t.err_len) < 0 || pd_get_str(r, &x, &xlen) < 0)
		return -EPROTO;

	/* each length is bounded by the payload, so this cannot overflow */
	size = sizeof(*b) + (size_t)t.out_len + 1 + (size_t)t.err_len + 1 + (size_t)xlen + 1;
	b = malloc(size);
	if (!b)
		return -ENOMEM;
	b->r = t;
	b->r.out = b->data;
	memcpy(b->r.out, o, (size_t)t.out_len + 1);
	b->r.err = b->r.out + t.out_len + 1;
	memcpy(b->r.err, e, (size_t)t.err_len + 1);
	b->r.error = b->r.err + t.err_len + 1;
	memcpy(b->r.error, x, (size_t)xlen + 1);
	*out = &b->r;
	return 0;
}

int pd_results_decode(const uint8_t *p, size_t n, pd_result_msg ***results, uint32_t *count)
{
	pd_result_msg **a = NULL;
	pd_reader r;
	uint32_t c, i = 0;
	int rv;

	*results = NULL;
	*count = 0;
	pd_reader_init(&r, p, n);
	rv = get_count(&r, RESULT_MIN, &c);
	if (rv < 0)
		return rv;
	a = malloc((c ? c : 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (i = 0; i < c; i++) {
		rv = decode_result(&r, &a[i]);
		if (rv < 0)
			goto fail;
	}
	rv = pd_reader_end(&r);
	if (rv < 0)
		goto fail;
	*results = a;
	*count = c;
	return 0;
fail:
	free_array((void **)a, i);
	return rv;
}

/* ---- CANCEL ---- */

int pd_cancel_encode(pd_buf *out, const uint64_t *ids, uint32_t count)
{
	size_t need = 4 + (size_t)count * 8;
	uint8_t *w;
	uint32_t i;
	int rv;

	if ((uint64_t)count * 8 > UINT32_MAX - 4)
		return -EMSGSIZE;
	rv = pd_buf_reserve(out, PD_FRAME_HDR + need);
	if (rv < 0)
		return rv;
	put_header(out, PD_MSG_CANCEL, (uint32_t)need);
	w = w_u32(out->data + out->len, count);
	for (i = 0; i < count; i++)
		w = w_u64(w, ids[i]);
	out->len += need;
	return 0;
}

int pd_cancel_decode(const uint8_t *p, size_t n, uint64_t **ids, uint32_t *count)
{
	pd_reader r;
	uint64_t *a;
	uint32_t c, i;

	*ids = NULL;
	*count = 0;
	pd_reader_init(&r, p, n);
	if (get_count(&r, 8, &c) < 0 || left(&r) != (size_t)c * 8)
		return -EPROTO;
	a = malloc((c ? c : 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (i = 0; i < c; i++)
		a[i] = r_u64(r.p + r.off + (size_t)i * 8);
	*ids = a;
	*count = c;
	return 0;
}
