/* codec_batch.c - the batch messages of the wire format (TASKS, RESULTS)
 * and CANCEL; see codec.h. */
#include "codec.h"
#include "codec_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- batches (TASKS, RESULTS) ---- */

static int batch_begin(pd_buf *out, uint8_t type, size_t *mark)
{
	int rv;

	rv = pd_buf_reserve(out, PD_FRAME_HDR + 4);
	if (rv < 0)
		return rv;
	*mark = pd_codec_put_header(out, type, 0);
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

/* One entry of a batch, decoded into *out (one malloc block). */
typedef int (*decode_one_fn)(pd_reader *r, void **out);

/* A batch (TASKS, RESULTS): u32 count, then count entries of at least min
 * bytes each. *items is a malloc'd array of *count owned entries; -EPROTO
 * or -ENOMEM leaves nothing. */
static int decode_batch(const uint8_t *p, size_t n, size_t min, decode_one_fn one, void ***items,
			uint32_t *count)
{
	void **a;
	pd_reader r;
	uint32_t c, i = 0;
	int rv;

	*items = NULL;
	*count = 0;
	pd_reader_init(&r, p, n);
	rv = get_count(&r, min, &c);
	if (rv < 0)
		return rv;
	/* at least one slot so a successful decode never hands back NULL */
	a = malloc((c ? c : 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (i = 0; i < c; i++) {
		rv = one(&r, &a[i]);
		if (rv < 0)
			goto fail;
	}
	rv = pd_reader_end(&r);
	if (rv < 0)
		goto fail;
	*items = a;
	*count = c;
	return 0;
fail:
	free_array(a, i);
	return rv;
}

static int decode_task_one(pd_reader *r, void **out)
{
	pd_task_msg *t = NULL;
	int rv = decode_task(r, &t);

	*out = t;
	return rv;
}

int pd_tasks_decode(const uint8_t *p, size_t n, pd_task_msg ***tasks, uint32_t *count)
{
	void **a;
	int rv = decode_batch(p, n, TASK_FIXED, decode_task_one, &a, count);

	*tasks = (pd_task_msg **)a;
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

static int decode_result_one(pd_reader *r, void **out)
{
	pd_result_msg *m = NULL;
	int rv = decode_result(r, &m);

	*out = m;
	return rv;
}

int pd_results_decode(const uint8_t *p, size_t n, pd_result_msg ***results, uint32_t *count)
{
	void **a;
	int rv = decode_batch(p, n, RESULT_MIN, decode_result_one, &a, count);

	*results = (pd_result_msg **)a;
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
	pd_codec_put_header(out, PD_MSG_CANCEL, (uint32_t)need);
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
