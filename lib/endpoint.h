/* endpoint.h - parsing and printing endpoint URLs (pure).
 *
 *   tls+tcp://HOST:PORT   TLS over TCP (port 0: any free port)
 *   tcp://HOST:PORT       plain TCP (only allowed with --insecure)
 *   ipc:///abs/path       Unix stream socket
 * HOST is a name, an IPv4 address or a bracketed IPv6 address ("[::1]").
 */
#ifndef PD_ENDPOINT_H
#define PD_ENDPOINT_H

#include <stddef.h>

enum pd_ep_kind { PD_EP_TLS_TCP, PD_EP_TCP, PD_EP_IPC };

typedef struct pd_endpoint {
	int kind;
	char host[256];  /* without brackets; empty for ipc */
	unsigned port;   /* 0..65535 */
	char path[108];  /* ipc only: sun_path limit */
} pd_endpoint;

/* -EINVAL with err naming the problem, e.g. "endpoint 'x://a': unknown
 * scheme 'x' (use tls+tcp://, tcp:// or ipc://)", "... port '70000' out of
 * range", "... ipc path must be absolute", "... path too long (107 max)". */
int pd_endpoint_parse(const char *url, pd_endpoint *ep, char *err, size_t errlen);
/* Writes the canonical URL (IPv6 hosts bracketed). Returns snprintf's. */
int pd_endpoint_format(const pd_endpoint *ep, char *out, size_t outlen);

#endif
