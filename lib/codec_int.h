/* codec_int.h - internal to the codec's files (codec.c: frames, payload
 * readers and writers, HELLO, WELCOME, REJECT, PING; codec_batch.c:
 * TASKS, RESULTS, CANCEL): the byte order, the smallest encodings and the
 * decoded blocks. Not part of libparade's surface. */
#ifndef PD_CODEC_INT_H
#define PD_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"

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

/* Appends a frame header of type with length len at out's end (the caller
 * has reserved PD_FRAME_HDR bytes); returns its mark. */
size_t pd_codec_put_header(pd_buf *out, uint8_t type, uint32_t len);

static inline int put_cstr(pd_buf *b, const char *s)
{
	return pd_put_str(b, s, s ? strlen(s) : 0);
}

static inline size_t left(const pd_reader *r)
{
	return r->n - r->off;
}

#endif
