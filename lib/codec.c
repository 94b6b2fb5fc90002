/* codec.c - frames, the payload readers and writers, HELLO, WELCOME,
 * REJECT and PING (the batches are in codec_batch.c); see codec.h. */
#include "codec.h"
#include "codec_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Appends a frame header; the caller has reserved the room. */
size_t pd_codec_put_header(pd_buf *out, uint8_t type, uint32_t len)
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
	*mark = pd_codec_put_header(out, type, 0);
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
	pd_codec_put_header(out, type, 0);
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

/* ---- payload reader ---- */

void pd_reader_init(pd_reader *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->n = p ? n : 0;
	r->off = 0;
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
	pd_codec_put_header(out, type, 8);
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

int pd_bye_encode(pd_buf *out, uint8_t status)
{
	int rv = pd_buf_reserve(out, PD_FRAME_HDR + 1);

	if (rv < 0)
		return rv;
	pd_codec_put_header(out, PD_MSG_BYE, 1);
	out->data[out->len++] = status;
	return 0;
}

int pd_bye_decode(const uint8_t *p, size_t n, uint8_t *status)
{
	if (n != 1)
		return -EPROTO;
	*status = p[0];
	return 0;
}
