/* transport.h - internal to conn.c and tls.c: the byte-stream vtable
 * under a connection. Not part of libparade's public surface. */
#ifndef PD_TRANSPORT_H
#define PD_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"

typedef struct pd_transport pd_transport;

typedef struct pd_transport_ops {
	/* > 0 bytes read, 0 end of stream, -EAGAIN not now, -errno broken */
	ssize_t (*read)(pd_transport *t, void *buf, size_t n);
	/* > 0 bytes written, -EAGAIN not now, -errno broken. After -EAGAIN the
	 * next call must pass the same bytes again (TLS requires it). */
	ssize_t (*write)(pd_transport *t, const void *buf, size_t n);
	/* 0 done, -EAGAIN not yet, -EPROTO etc. with a message in err */
	int (*handshake)(pd_transport *t, char *err, size_t errlen);
	/* bytes already decrypted and waiting */
	int (*has_pending)(pd_transport *t);
	/* PD_EV_IN / PD_EV_OUT wanted after the last -EAGAIN */
	uint32_t (*want)(pd_transport *t);
	void (*free)(pd_transport *t);
} pd_transport_ops;

struct pd_transport {
	const pd_transport_ops *ops;
	int fd;
};

/* tls.c: a TLS transport on fd (not owned). NULL with err on failure. */
pd_transport *pd_tls_transport(pd_tls *tls, int fd, int server, char *err, size_t errlen);

#endif
