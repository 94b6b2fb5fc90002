/* tls.c - GnuTLS PSK credentials and the TLS transport under pd_conn. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "conn.h"
#include "transport.h"

/* TLS 1.3 only, and only key exchanges that combine the PSK with (EC)DHE,
 * so a leaked secret does not reveal past sessions. */
#define PD_TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK"

struct pd_tls {
	int server;
	char identity[64];
	gnutls_datum_t key; /* gnutls_malloc'd: GnuTLS may free copies of it */
	gnutls_psk_server_credentials_t scred;
	gnutls_psk_client_credentials_t ccred;
	gnutls_priority_t prio;
};

typedef struct tls_transport {
	pd_transport base;
	gnutls_session_t s;
	size_t resend; /* length of a send interrupted by EAGAIN */
} tls_transport;

int pd_tls_global_init(void)
{
	return gnutls_global_init() == GNUTLS_E_SUCCESS ? 0 : -EIO;
}

static int server_key_cb(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
	pd_tls *t = gnutls_session_get_ptr(s);

	if (!t || strcmp(user, t->identity) != 0)
		return -1;
	key->data = gnutls_malloc(t->key.size);
	if (!key->data)
		return -1;
	memcpy(key->data, t->key.data, t->key.size);
	key->size = t->key.size;
	return 0;
}

int pd_tls_new_psk(int server, const char *identity, const uint8_t *key, size_t keylen,
		   pd_tls **out, char *err, size_t errlen)
{
	pd_tls *t = NULL;
	const char *epos = NULL;
	int rv = -ENOMEM, g;

	*out = NULL;
	if (!identity || strlen(identity) >= sizeof(t->identity) || keylen == 0 || keylen > 64) {
		snprintf(err, errlen, "invalid PSK identity or key length");
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	t->server = server;
	snprintf(t->identity, sizeof(t->identity), "%s", identity);
	t->key.data = gnutls_malloc(keylen);
	if (!t->key.data)
		goto nomem;
	memcpy(t->key.data, key, keylen);
	t->key.size = (unsigned)keylen;
	if (server) {
		if (gnutls_psk_allocate_server_credentials(&t->scred) < 0)
			goto nomem;
		gnutls_psk_set_server_credentials_function(t->scred, server_key_cb);
	} else {
		if (gnutls_psk_allocate_client_credentials(&t->ccred) < 0)
			goto nomem;
		g = gnutls_psk_set_client_credentials(t->ccred, t->identity, &t->key,
						      GNUTLS_PSK_KEY_RAW);
		if (g < 0) {
			snprintf(err, errlen, "TLS: %s", gnutls_strerror(g));
			rv = -EINVAL;
			goto fail;
		}
	}
	g = gnutls_priority_init(&t->prio, PD_TLS_PRIORITY, &epos);
	if (g < 0) {
		snprintf(err, errlen, "TLS priority string rejected at '%s': %s", epos ? epos : "?",
			 gnutls_strerror(g));
		rv = -EINVAL;
		goto fail;
	}
	*out = t;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	pd_tls_free(t);
	return rv;
}

void pd_tls_free(pd_tls *t)
{
	if (!t)
		return;
	if (t->scred)
		gnutls_psk_free_server_credentials(t->scred);
	if (t->ccred)
		gnutls_psk_free_client_credentials(t->ccred);
	if (t->prio)
		gnutls_priority_deinit(t->prio);
	if (t->key.data) {
		memset(t->key.data, 0, t->key.size);
		gnutls_free(t->key.data);
	}
	free(t);
}

static ssize_t map_err(ssize_t g)
{
	if (g == GNUTLS_E_AGAIN || g == GNUTLS_E_INTERRUPTED)
		return -EAGAIN;
	if (g == GNUTLS_E_PREMATURE_TERMINATION)
		return 0; /* the peer closed without close_notify: treat as EOF */
	return -EPROTO;
}

static ssize_t tls_read(pd_transport *tr, void *buf, size_t n)
{
	tls_transport *t = (tls_transport *)tr;
	ssize_t r = gnutls_record_recv(t->s, buf, n);

	if (r >= 0)
		return r;
	return map_err(r);
}

static ssize_t tls_write(pd_transport *tr, const void *buf, size_t n)
{
	tls_transport *t = (tls_transport *)tr;
	ssize_t r;

	if (t->resend) {
		/* GnuTLS keeps the interrupted record; resume it, then report
		 * the bytes it covered */
		r = gnutls_record_send(t->s, NULL, 0);
		if (r < 0)
			return map_err(r);
		t->resend = 0;
		return r;
	}
	r = gnutls_record_send(t->s, buf, n);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
		t->resend = n;
		return -EAGAIN;
	}
	if (r < 0)
		return map_err(r);
	return r;
}

static int tls_handshake(pd_transport *tr, char *err, size_t errlen)
{
	tls_transport *t = (tls_transport *)tr;
	int g = gnutls_handshake(t->s);

	if (g == GNUTLS_E_SUCCESS)
		return 0;
	if (g == GNUTLS_E_AGAIN || g == GNUTLS_E_INTERRUPTED)
		return -EAGAIN;
	if (!gnutls_error_is_fatal(g))
		return -EAGAIN;
	/* the peer went away mid-handshake (killed, reset): nothing was judged,
	 * so no "failed" and no secret to blame; agents retry such a link */
	if (g == GNUTLS_E_PREMATURE_TERMINATION || g == GNUTLS_E_PULL_ERROR ||
	    g == GNUTLS_E_PUSH_ERROR || g == GNUTLS_E_UNEXPECTED_PACKET_LENGTH) {
		snprintf(err, errlen, "connection lost during the TLS handshake: %s",
			 gnutls_strerror(g));
		return -ECONNRESET;
	}
	/* tell the peer why, best effort, so both sides can log one clear line */
	gnutls_alert_send_appropriate(t->s, g);
	{
		const char *alert = NULL;
		if (g == GNUTLS_E_FATAL_ALERT_RECEIVED || g == GNUTLS_E_WARNING_ALERT_RECEIVED)
			alert = gnutls_alert_get_name(gnutls_alert_get(t->s));
		/* with PSK, a wrong secret shows up as a bad binder, a bad MAC or an
		 * alert from the other side: name the likely cause once */
		snprintf(err, errlen, "TLS handshake failed: %s%s%s (wrong session secret?)",
			 gnutls_strerror(g), alert ? ": " : "", alert ? alert : "");
	}
	return -EPROTO;
}

static int tls_has_pending(pd_transport *tr)
{
	return gnutls_record_check_pending(((tls_transport *)tr)->s) > 0;
}

static uint32_t tls_want(pd_transport *tr)
{
	return gnutls_record_get_direction(((tls_transport *)tr)->s) ? PD_EV_OUT : PD_EV_IN;
}

static void tls_free(pd_transport *tr)
{
	tls_transport *t = (tls_transport *)tr;

	gnutls_deinit(t->s);
	free(t);
}

static const pd_transport_ops tls_ops = {tls_read,	  tls_write, tls_handshake,
					 tls_has_pending, tls_want,  tls_free};

pd_transport *pd_tls_transport(pd_tls *tls, int fd, int server, char *err, size_t errlen)
{
	tls_transport *t = calloc(1, sizeof(*t));
	int g;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g = gnutls_init(&t->s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK |
				       GNUTLS_NO_TICKETS);
	if (g < 0)
		goto fail;
	g = gnutls_priority_set(t->s, tls->prio);
	if (g < 0)
		goto fail_s;
	g = gnutls_credentials_set(t->s, GNUTLS_CRD_PSK,
				   server ? (void *)tls->scred : (void *)tls->ccred);
	if (g < 0)
		goto fail_s;
	gnutls_session_set_ptr(t->s, tls);
	gnutls_transport_set_int(t->s, fd);
	gnutls_handshake_set_timeout(t->s, 0);
	t->base.ops = &tls_ops;
	t->base.fd = fd;
	return &t->base;
fail_s:
	gnutls_deinit(t->s);
fail:
	snprintf(err, errlen, "TLS set-up: %s", gnutls_strerror(g));
	free(t);
	return NULL;
}
