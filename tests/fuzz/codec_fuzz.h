/* codec_fuzz.h - decodes one frame payload of the wire codec and checks
 * it against the encoder; shared by fuzz_codec_agent.c and
 * fuzz_codec_ctl.c (each includes it once).
 *
 * The check: decode, encode what was decoded, decode that again. The two
 * decodings must be equal (strings compared as the C strings receivers
 * use), and when the new payload is as long as the input, byte for byte
 * the same. (Decoded C strings may hold inner NULs, which the encoders of
 * C strings drop: then the new payload is shorter, documented in codec.h.)
 * The stream check cuts the same bytes into chunks the way lib/conn.c does
 * (a pd_buf that grows and is consumed) and must see the same frames and
 * the same final answer as a parse of the whole. */
#ifndef PD_FUZZ_CODEC_FUZZ_H
#define PD_FUZZ_CODEC_FUZZ_H

#include "codec.h"
#include "fuzz.h"

#include <errno.h>
#include <string.h>

/* The payload of the one frame in b (checked). */
static inline const uint8_t *one_frame(const pd_buf *b, uint8_t want, size_t *plen)
{
	const uint8_t *p;
	uint8_t type;
	size_t used;
	int rv = pd_frame_parse(pd_buf_head(b), pd_buf_size(b), SIZE_MAX, &type, &p, plen, &used);

	FUZZ_CHECK(rv == 0, "an encoded frame parses");
	FUZZ_CHECK(type == want, "an encoded frame keeps its type");
	FUZZ_CHECK(used == pd_buf_size(b), "an encoder wrote exactly one frame");
	return p;
}

static inline void same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen == blen)
		FUZZ_CHECK(memcmp(a, b, alen) == 0, "re-encoded payload equals the input");
	else
		FUZZ_CHECK(blen < alen, "re-encoding only drops bytes after inner NULs");
}

static inline int str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* codec.h: a decoded HELLO's strings are printable ASCII, host, mode and
 * the slurm fields without spaces, mode not empty, within their lengths. */
static inline void clean_str(const char *s, size_t max, int space_ok, int empty_ok)
{
	size_t n = strlen(s);

	FUZZ_CHECK(n <= max && (empty_ok || n > 0), "HELLO string lengths");
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(s[i] >= 0x20 && s[i] <= 0x7e && (space_ok || s[i] != ' '),
			   "HELLO strings are printable ASCII");
}

static inline void hello_clean(const pd_hello *h)
{
	clean_str(h->agent_id, 127, 1, 1);
	clean_str(h->host, 127, 0, 1);
	clean_str(h->mode, 15, 0, 0);
	clean_str(h->slurm_job, 31, 0, 1);
	clean_str(h->slurm_step, 31, 0, 1);
}

static inline void check_hello(const uint8_t *p, size_t n)
{
	pd_hello h, h2;
	pd_buf b = {0};
	const uint8_t *q;
	size_t qn;
	int rv;

	memset(&h, 0, sizeof(h));
	rv = pd_hello_decode(p, n, &h);
	if (rv == -EPROTONOSUPPORT) {
		FUZZ_CHECK(h.version != PD_PROTO_VERSION, "only another version is unsupported");
		return;
	}
	if (rv < 0) {
		pd_hello h3;
		char why[128] = "";
		FUZZ_CHECK(rv == -EPROTO, "HELLO fails with -EPROTO");
		FUZZ_CHECK(pd_hello_decode_why(p, n, &h3, why, sizeof(why)) == rv && why[0],
			   "decode_why agrees with decode and says why");
		return;
	}
	FUZZ_CHECK(h.version == PD_PROTO_VERSION, "a decoded HELLO has our version");
	hello_clean(&h);
	{
		pd_hello h3;
		char why[128] = "";
		FUZZ_CHECK(pd_hello_decode_why(p, n, &h3, why, sizeof(why)) == 0,
			   "decode_why agrees with decode");
	}
	FUZZ_CHECK(pd_hello_encode(&b, &h) == 0, "HELLO encodes");
	q = one_frame(&b, PD_MSG_HELLO, &qn);
	FUZZ_CHECK(pd_hello_decode(q, qn, &h2) == 0, "re-encoded HELLO decodes");
	FUZZ_CHECK(h2.pid == h.pid && h2.slots == h.slots && h2.features == h.features &&
			   str_eq(h2.agent_id, h.agent_id) && str_eq(h2.host, h.host) &&
			   str_eq(h2.mode, h.mode) && str_eq(h2.slurm_job, h.slurm_job) &&
			   str_eq(h2.slurm_step, h.slurm_step),
		   "HELLO round trip");
	same_bytes(p, n, q, qn);
	pd_buf_free(&b);
}

static inline void check_welcome(const uint8_t *p, size_t n)
{
	pd_welcome w, w2;
	pd_buf b = {0};
	const uint8_t *q;
	size_t qn;
	int rv = pd_welcome_decode(p, n, &w);

	if (rv < 0) {
		FUZZ_CHECK(rv == -EPROTO, "WELCOME fails with -EPROTO");
		return;
	}
	FUZZ_CHECK(pd_welcome_encode(&b, &w) == 0, "WELCOME encodes");
	q = one_frame(&b, PD_MSG_WELCOME, &qn);
	FUZZ_CHECK(pd_welcome_decode(q, qn, &w2) == 0, "re-encoded WELCOME decodes");
	FUZZ_CHECK(w2.version == w.version && w2.heartbeat_ms == w.heartbeat_ms &&
			   w2.max_frame == w.max_frame && str_eq(w2.name, w.name) &&
			   w2.nsettings == w.nsettings && w.nsettings <= PD_MAX_SETTINGS,
		   "WELCOME round trip");
	for (uint32_t i = 0; i < w.nsettings; i++) {
		const pd_setting *a = &w.settings[i], *c = &w2.settings[i];
		FUZZ_CHECK(a->kind == c->kind && a->len == c->len && a->len <= PD_MAX_SETTING_LEN &&
				   !memcmp(a->data, c->data, a->len) && !a->data[a->len] &&
				   (!i || a->kind > w.settings[i - 1].kind) &&
				   pd_welcome_setting(&w, a->kind) == a,
			   "WELCOME settings round trip: kinds increasing, bytes NUL-ended");
	}
	same_bytes(p, n, q, qn);
	pd_buf_free(&b);
}

static inline void check_reject(const uint8_t *p, size_t n)
{
	const char *why, *why2;
	pd_buf b = {0};
	const uint8_t *q;
	size_t qn;
	int rv = pd_reject_decode(p, n, &why);

	if (rv < 0) {
		FUZZ_CHECK(rv == -EPROTO, "REJECT fails with -EPROTO");
		return;
	}
	FUZZ_CHECK(pd_reject_encode(&b, why) == 0, "REJECT encodes");
	q = one_frame(&b, PD_MSG_REJECT, &qn);
	FUZZ_CHECK(pd_reject_decode(q, qn, &why2) == 0 && str_eq(why, why2), "REJECT round trip");
	same_bytes(p, n, q, qn);
	pd_buf_free(&b);
}

/* The controller's BYE: exactly one byte, the run's exit status. */
static inline void check_bye(const uint8_t *p, size_t n)
{
	uint8_t st = 0xAA, st2;
	pd_buf b = {0};
	const uint8_t *q;
	size_t qn;
	int rv = pd_bye_decode(p, n, &st);

	if (rv < 0) {
		FUZZ_CHECK(rv == -EPROTO && n != 1, "BYE fails only on a wrong size");
		FUZZ_CHECK(st == 0xAA, "a failed BYE decode leaves the status alone");
		return;
	}
	FUZZ_CHECK(pd_bye_encode(&b, st) == 0, "BYE encodes");
	q = one_frame(&b, PD_MSG_BYE, &qn);
	FUZZ_CHECK(pd_bye_decode(q, qn, &st2) == 0 && st2 == st, "BYE round trip");
	same_bytes(p, n, q, qn);
	FUZZ_CHECK(qn == 1, "BYE is always 1 byte");
	pd_buf_free(&b);
}

static inline void check_ping(uint8_t type, const uint8_t *p, size_t n)
{
	uint64_t stamp, stamp2;
	pd_buf b = {0};
	const uint8_t *q;
	size_t qn;
	int rv = pd_ping_decode(p, n, &stamp);

	if (rv < 0) {
		FUZZ_CHECK(rv == -EPROTO && n != 8, "PING/PONG fails only on a wrong size");
		return;
	}
	FUZZ_CHECK(pd_ping_encode(&b, type, stamp) == 0, "PING encodes");
	q = one_frame(&b, type, &qn);
	FUZZ_CHECK(pd_ping_decode(q, qn, &stamp2) == 0 && stamp2 == stamp, "PING round trip");
	same_bytes(p, n, q, qn);
	FUZZ_CHECK(qn == n, "PING is always 8 bytes");
	pd_buf_free(&b);
}

static inline void free_tasks(pd_task_msg **t, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(t[i]);
	free(t);
}

static inline void check_tasks(const uint8_t *p, size_t n)
{
	pd_task_msg **t, **t2;
	uint32_t count, count2;
	pd_buf b = {0};
	const uint8_t *q;
	size_t qn, mark;
	int rv = pd_tasks_decode(p, n, &t, &count);

	if (rv < 0) {
		FUZZ_CHECK(rv == -EPROTO && !t && !count, "TASKS fails with -EPROTO and nothing");
		return;
	}
	FUZZ_CHECK(t != NULL, "a decoded TASKS has an array");
	FUZZ_CHECK(pd_tasks_begin(&b, &mark) == 0, "TASKS begins");
	for (uint32_t i = 0; i < count; i++) {
		FUZZ_CHECK(t[i]->argc <= PD_MAX_ARGC && t[i]->argv[t[i]->argc] == NULL,
			   "argv is NULL-terminated and bounded");
		FUZZ_CHECK(pd_tasks_add(&b, mark, t[i]) == 0, "a decoded task encodes");
	}
	FUZZ_CHECK(pd_tasks_end(&b, mark) == 0, "TASKS ends");
	q = one_frame(&b, PD_MSG_TASKS, &qn);
	FUZZ_CHECK(pd_tasks_decode(q, qn, &t2, &count2) == 0, "re-encoded TASKS decodes");
	FUZZ_CHECK(count2 == count, "TASKS keeps its count");
	for (uint32_t i = 0; i < count; i++) {
		const pd_task_msg *a = t[i], *c = t2[i];
		FUZZ_CHECK(a->id == c->id && a->attempt == c->attempt && a->kind == c->kind &&
				   a->timeout_ms == c->timeout_ms && a->out_limit == c->out_limit &&
				   a->argc == c->argc,
			   "task fields round trip");
		for (uint32_t k = 0; k < a->argc; k++)
			FUZZ_CHECK(str_eq(a->argv[k], c->argv[k]), "argv round trip");
	}
	same_bytes(p, n, q, qn);
	free_tasks(t, count);
	free_tasks(t2, count2);
	pd_buf_free(&b);
}

static inline void free_results(pd_result_msg **r, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(r[i]);
	free(r);
}

/* pd_result_check's promise: what it lets through can be true. */
static inline void result_checked(const pd_result_msg *r, uint32_t out_limit)
{
	char why[128] = "";
	int rv = pd_result_check(r, out_limit, why, sizeof(why));

	if (rv < 0) {
		FUZZ_CHECK(rv == -EPROTO && why[0], "a refused result says why");
		return;
	}
	FUZZ_CHECK(rv == 0, "result check");
	FUZZ_CHECK(r->status <= PD_ST_LOST && !(r->flags & ~(PD_RF_OUT_TRUNC | PD_RF_ERR_TRUNC)),
		   "status and flags are known");
	FUZZ_CHECK(r->exit_code >= -1 && r->exit_code <= 255 && r->signal >= 0 && r->signal <= 64,
		   "exit code and signal in range");
	FUZZ_CHECK(r->status != PD_ST_OK || (r->exit_code == 0 && r->signal == 0),
		   "ok only with exit code 0 and no signal");
	FUZZ_CHECK(r->wall_us <= 1000000000000000ull && r->cpu_us <= 1000000000000000ull &&
			   r->maxrss_kb <= (1ull << 40),
		   "times and memory in range");
	FUZZ_CHECK(!out_limit || (r->out_len <= out_limit && r->err_len <= out_limit),
		   "output within the limit");
}

static inline void check_results(const uint8_t *p, size_t n)
{
	pd_result_msg **r, **r2;
	uint32_t count, count2;
	pd_buf b = {0};
	const uint8_t *q;
	size_t qn, mark;
	int rv = pd_results_decode(p, n, &r, &count);

	if (rv < 0) {
		FUZZ_CHECK(rv == -EPROTO && !r && !count, "RESULTS fails with -EPROTO and nothing");
		return;
	}
	FUZZ_CHECK(pd_results_begin(&b, &mark) == 0, "RESULTS begins");
	for (uint32_t i = 0; i < count; i++) {
		FUZZ_CHECK(r[i]->out[r[i]->out_len] == 0 && r[i]->err[r[i]->err_len] == 0,
			   "out and err are NUL-terminated after their lengths");
		FUZZ_CHECK(pd_results_add(&b, mark, r[i]) == 0, "a decoded result encodes");
		result_checked(r[i], (uint32_t)(p[n > 0 ? n - 1 : 0] * 8u));
	}
	FUZZ_CHECK(pd_results_end(&b, mark) == 0, "RESULTS ends");
	q = one_frame(&b, PD_MSG_RESULTS, &qn);
	FUZZ_CHECK(pd_results_decode(q, qn, &r2, &count2) == 0, "re-encoded RESULTS decodes");
	FUZZ_CHECK(count2 == count, "RESULTS keeps its count");
	for (uint32_t i = 0; i < count; i++) {
		const pd_result_msg *a = r[i], *c = r2[i];
		FUZZ_CHECK(a->id == c->id && a->attempt == c->attempt && a->status == c->status &&
				   a->flags == c->flags && a->exit_code == c->exit_code &&
				   a->signal == c->signal && a->wall_us == c->wall_us &&
				   a->cpu_us == c->cpu_us && a->maxrss_kb == c->maxrss_kb,
			   "result fields round trip");
		FUZZ_CHECK(a->out_len == c->out_len && !memcmp(a->out, c->out, a->out_len) &&
				   a->err_len == c->err_len && !memcmp(a->err, c->err, a->err_len),
			   "out and err round trip byte for byte");
		FUZZ_CHECK(str_eq(a->error, c->error), "error round trips");
	}
	same_bytes(p, n, q, qn);
	free_results(r, count);
	free_results(r2, count2);
	pd_buf_free(&b);
}

static inline void check_cancel(const uint8_t *p, size_t n)
{
	uint64_t *ids, *ids2;
	uint32_t count, count2;
	pd_buf b = {0};
	const uint8_t *q;
	size_t qn;
	int rv = pd_cancel_decode(p, n, &ids, &count);

	if (rv < 0) {
		FUZZ_CHECK(rv == -EPROTO && !ids && !count, "CANCEL fails with -EPROTO and nothing");
		return;
	}
	FUZZ_CHECK(pd_cancel_encode(&b, ids, count) == 0, "CANCEL encodes");
	q = one_frame(&b, PD_MSG_CANCEL, &qn);
	FUZZ_CHECK(pd_cancel_decode(q, qn, &ids2, &count2) == 0 && count2 == count &&
			   !memcmp(ids, ids2, (size_t)count * 8),
		   "CANCEL round trip");
	FUZZ_CHECK(qn == n && !memcmp(p, q, n), "CANCEL re-encodes byte for byte");
	free(ids);
	free(ids2);
	pd_buf_free(&b);
}

/* Decodes one payload of `type` as the receiver of this harness would. */
static inline void check_payload(uint8_t type, const uint8_t *p, size_t n);

/* A frame seen by a parse: where its payload starts and how long it is. */
struct seen {
	uint8_t type;
	size_t off, len;
};

#define MAX_SEEN 64

/* Parses stream[0, n) whole with limit max_frame, as far as it goes. */
static int parse_whole(const uint8_t *s, size_t n, size_t max_frame, struct seen *v, size_t *nv)
{
	size_t at = 0;
	int rv;

	*nv = 0;
	for (;;) {
		const uint8_t *p;
		size_t plen, used;
		uint8_t type;
		rv = pd_frame_parse(s + at, n - at, max_frame, &type, &p, &plen, &used);
		if (rv < 0)
			break;
		FUZZ_CHECK(used == PD_FRAME_HDR + plen && used <= n - at, "a frame fits its bytes");
		FUZZ_CHECK(p == s + at + PD_FRAME_HDR, "the payload follows the header");
		FUZZ_CHECK(plen <= max_frame, "no frame is over the limit");
		FUZZ_CHECK(type > 0 && type < PD_MSG_MAX_, "frame types are known");
		if (*nv == MAX_SEEN)
			return 1; /* enough: the rest is not compared */
		v[*nv].type = type;
		v[*nv].off = at + PD_FRAME_HDR;
		v[*nv].len = plen;
		(*nv)++;
		at += used;
	}
	FUZZ_CHECK(rv == -EAGAIN || rv == -EPROTO || rv == -EMSGSIZE, "frame errors are known");
	if (rv == -EAGAIN)
		FUZZ_CHECK(n - at < PD_FRAME_HDR ||
				   n - at - PD_FRAME_HDR < ((size_t)s[at] << 24 | (size_t)s[at + 1] << 16 |
							     (size_t)s[at + 2] << 8 | s[at + 3]),
			   "-EAGAIN only for a frame still incomplete");
	return rv;
}

/* The stream check: cut into chunks whose sizes come from seed, delivered
 * into a pd_buf the way lib/conn.c reads, frames consumed as they come. */
static inline void check_stream(const uint8_t *s, size_t n, uint8_t seed)
{
	size_t max_frame = (seed & 1) ? 64 : 1u << 20;
	struct seen whole[MAX_SEEN];
	size_t nwhole, k = 0, at = 0;
	pd_buf in = {0};
	int full, end = -EAGAIN;

	full = parse_whole(s, n, max_frame, whole, &nwhole);
	for (size_t i = 0; i < nwhole; i++)
		check_payload(whole[i].type, s + whole[i].off, whole[i].len);
	if (full == 1)
		return;
	while (at < n && end == -EAGAIN) {
		size_t chunk = 1 + (size_t)((seed * 7u + at * 13u) % 23u);
		if (chunk > n - at)
			chunk = n - at;
		FUZZ_CHECK(pd_buf_append(&in, s + at, chunk) == 0, "append");
		at += chunk;
		for (;;) {
			const uint8_t *p;
			size_t plen, used;
			uint8_t type;
			end = pd_frame_parse(pd_buf_head(&in), pd_buf_size(&in), max_frame, &type, &p,
					     &plen, &used);
			if (end < 0)
				break;
			FUZZ_CHECK(k < nwhole, "chunks give no extra frame");
			FUZZ_CHECK(type == whole[k].type && plen == whole[k].len &&
					   !memcmp(p, s + whole[k].off, plen),
				   "chunks give the same frames");
			k++;
			pd_buf_consume(&in, used);
		}
	}
	FUZZ_CHECK(k == nwhole, "chunks give every frame");
	FUZZ_CHECK(end == full, "chunks end the same way");
	pd_buf_free(&in);
}

/* data[0] picks the mode: high bit set, the rest is a stream of frames;
 * else the rest is one payload of the type types[data[0] % ntypes]. */
static void codec_fuzz(const uint8_t *data, size_t size, const uint8_t *types, size_t ntypes)
{
	if (size < 1)
		return;
	if (data[0] & 0x80)
		check_stream(data + 1, size - 1, data[0]);
	else
		check_payload(types[data[0] % ntypes], data + 1, size - 1);
}

#endif
