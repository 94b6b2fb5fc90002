/* buf.h - a growable byte buffer with a read offset.
 *
 * Bytes live in data[off, len). Appending may move data; pointers into the
 * buffer are invalid after any append or consume. Zero-initialise to use. */
#ifndef PD_BUF_H
#define PD_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct pd_buf {
	uint8_t *data;
	size_t off; /* first unread byte */
	size_t len; /* end of valid bytes */
	size_t cap;
} pd_buf;

/* Ensures room for `extra` more bytes after len. 0 or -ENOMEM. */
int pd_buf_reserve(pd_buf *b, size_t extra);
/* Appends n bytes. 0 or -ENOMEM (buffer unchanged). */
int pd_buf_append(pd_buf *b, const void *p, size_t n);
/* Appends the n strings of words joined by single spaces (nothing for
 * n == 0). 0 or -ENOMEM (part of them may be appended). */
int pd_buf_join(pd_buf *b, char *const *words, size_t n);
/* Drops n unread bytes from the front (n <= pd_buf_size). */
void pd_buf_consume(pd_buf *b, size_t n);
/* Unread bytes and their count (NULL for a buffer that never held any:
 * NULL + 0 is undefined behaviour). */
static inline const uint8_t *pd_buf_head(const pd_buf *b)
{
	return b->data ? b->data + b->off : NULL;
}
static inline size_t pd_buf_size(const pd_buf *b)
{
	return b->len - b->off;
}
/* Forgets all bytes, keeps the allocation. */
void pd_buf_reset(pd_buf *b);
/* Frees the allocation; the buffer is zero again. */
void pd_buf_free(pd_buf *b);

#endif
