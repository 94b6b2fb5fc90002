#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pd_buf_reserve(pd_buf *b, size_t extra)
{
	size_t need, ncap;
	uint8_t *p;

	/* reclaim consumed space before growing */
	if (b->off && b->len + extra > b->cap) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (extra > SIZE_MAX - b->len)
		return -ENOMEM;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 4096;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	p = realloc(b->data, ncap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int pd_buf_append(pd_buf *b, const void *p, size_t n)
{
	int rv;

	if (n == 0)
		return 0;
	rv = pd_buf_reserve(b, n);
	if (rv < 0)
		return rv;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int pd_buf_join(pd_buf *b, char *const *words, size_t n)
{
	int rv = 0;

	for (size_t i = 0; i < n && rv == 0; i++) {
		if (i)
			rv = pd_buf_append(b, " ", 1);
		if (rv == 0)
			rv = pd_buf_append(b, words[i], strlen(words[i]));
	}
	return rv;
}

void pd_buf_consume(pd_buf *b, size_t n)
{
	if (n > b->len - b->off)
		n = b->len - b->off;
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

void pd_buf_reset(pd_buf *b)
{
	b->off = b->len = 0;
}

void pd_buf_free(pd_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}
