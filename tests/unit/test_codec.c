#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "codec.h"

#define MAXF PD_MAX_FRAME_DEFAULT

/* ---- helpers ---- */

/* A copy with nothing readable past n, so ASan sees any overread. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	if (!d)
		abort();
	if (n)
		memcpy(d, p, n);
	return d;
}

/* The single frame in b: its payload, or NULL (with a failed assertion). */
static const uint8_t *only_frame(const pd_buf *b, uint8_t want, size_t *plen)
{
	const uint8_t *p = NULL;
	size_t used = 0;
	uint8_t type = 0;
	int rv;

	rv = pd_frame_parse(pd_buf_head(b), pd_buf_size(b), MAXF, &type, &p, plen, &used);
	CU_ASSERT_EQUAL(rv, 0);
	CU_ASSERT_EQUAL(type, want);
	CU_ASSERT_EQUAL(used, pd_buf_size(b));
	if (rv || type != want || used != pd_buf_size(b))
		return NULL;
	return p;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: fixed seed, so a failure is reproducible */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* Mostly small values, so random bytes often form plausible counts. */
static uint8_t rnd_byte(void)
{
	static const uint8_t interesting[] = {0, 0, 0, 1, 2, 3, 5, 0xff, 0x7f, 0x80};

	if (rnd() & 1)
		return (uint8_t)rnd();
	return interesting[rnd_below(sizeof(interesting))];
}

/* ---- encoded-again checks used by round trips and fuzzing ---- */

/*
 * A decoded message encoded again must give the original payload, except
 * that strings holding inner NULs come back shorter (C strings), so the
 * re-encoding may only be shorter, and equal when it is the same length.
 */
static int same_payload(const pd_buf *b, uint8_t type, const uint8_t *orig, size_t n)
{
	const uint8_t *p;
	size_t plen, used;
	uint8_t t;

	if (pd_frame_parse(pd_buf_head(b), pd_buf_size(b), SIZE_MAX, &t, &p, &plen, &used) != 0)
		return 0;
	if (t != type || used != pd_buf_size(b) || plen > n)
		return 0;
	return plen < n || memcmp(p, orig, n) == 0;
}

static int cstr_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/*
 * Runs the decoder for type on p[0, n) and checks what it hands back.
 * Returns the decoder's result, or 1000 if a result was inconsistent.
 * Allocated outputs are released.
 */
static int check_payload(uint8_t type, const uint8_t *p, size_t n)
{
	pd_buf b = {0};
	int rv, ok = 1;

	switch (type) {
	case PD_MSG_HELLO: {
		pd_hello h;

		memset(&h, 0xa5, sizeof(h));
		rv = pd_hello_decode(p, n, &h);
		if (rv == -EPROTONOSUPPORT) {
			ok = n >= 8 && h.version != PD_PROTO_VERSION && memcmp(p, "PRDE", 4) == 0;
		} else if (rv == 0) {
			ok = h.version == PD_PROTO_VERSION && pd_hello_encode(&b, &h) == 0 &&
			     same_payload(&b, type, p, n);
		}
		break;
	}
	case PD_MSG_WELCOME: {
		pd_welcome w;

		rv = pd_welcome_decode(p, n, &w);
		if (rv == 0)
			ok = pd_welcome_encode(&b, &w) == 0 && same_payload(&b, type, p, n);
		break;
	}
	case PD_MSG_REJECT: {
		const char *reason = NULL;

		rv = pd_reject_decode(p, n, &reason);
		if (rv == 0)
			ok = reason && pd_reject_encode(&b, reason) == 0 &&
			     same_payload(&b, type, p, n);
		break;
	}
	case PD_MSG_PING:
	case PD_MSG_PONG: {
		uint64_t stamp;

		rv = pd_ping_decode(p, n, &stamp);
		if (rv == 0)
			ok = pd_ping_encode(&b, type, stamp) == 0 && same_payload(&b, type, p, n) &&
			     n == 8;
		break;
	}
	case PD_MSG_TASKS: {
		pd_task_msg **t = (void *)1;
		uint32_t c = 77, i, j;
		size_t mark;

		rv = pd_tasks_decode(p, n, &t, &c);
		if (rv) {
			ok = !t && c == 0;
			break;
		}
		ok = t != NULL && (uint64_t)c * 25 + 4 <= n && pd_tasks_begin(&b, &mark) == 0;
		for (i = 0; ok && i < c; i++) {
			ok = t[i]->argv && !t[i]->argv[t[i]->argc];
			for (j = 0; ok && j < t[i]->argc; j++)
				ok = t[i]->argv[j] != NULL;
			ok = ok && pd_tasks_add(&b, mark, t[i]) == 0;
		}
		ok = ok && pd_tasks_end(&b, mark) == 0 && same_payload(&b, type, p, n);
		for (i = 0; t && i < c; i++)
			free(t[i]);
		free(t);
		break;
	}
	case PD_MSG_RESULTS: {
		pd_result_msg **r = (void *)1;
		uint32_t c = 77, i;
		size_t mark;

		rv = pd_results_decode(p, n, &r, &c);
		if (rv) {
			ok = !r && c == 0;
			break;
		}
		ok = r != NULL && pd_results_begin(&b, &mark) == 0;
		for (i = 0; ok && i < c; i++) {
			ok = r[i]->out[r[i]->out_len] == 0 && r[i]->err[r[i]->err_len] == 0 &&
			     r[i]->error != NULL;
			ok = ok && pd_results_add(&b, mark, r[i]) == 0;
		}
		ok = ok && pd_results_end(&b, mark) == 0 && same_payload(&b, type, p, n);
		for (i = 0; r && i < c; i++)
			free(r[i]);
		free(r);
		break;
	}
	case PD_MSG_BYE: {
		uint8_t st = 0xa5;

		rv = pd_bye_decode(p, n, &st);
		if (rv == 0)
			ok = n == 1 && st == p[0] && pd_bye_encode(&b, st) == 0 &&
			     same_payload(&b, type, p, n);
		else
			ok = st == 0xa5;
		break;
	}
	case PD_MSG_CANCEL: {
		uint64_t *ids = (void *)1;
		uint32_t c = 77;

		rv = pd_cancel_decode(p, n, &ids, &c);
		if (rv) {
			ok = !ids && c == 0;
			break;
		}
		/* no strings here, so the bytes must match exactly */
		ok = ids && n == 4 + (size_t)c * 8 && pd_cancel_encode(&b, ids, c) == 0 &&
		     same_payload(&b, type, p, n);
		free(ids);
		break;
	}
	default:
		rv = n == 0 ? 0 : -EPROTO;
		break;
	}
	if (rv && rv != -EPROTO && !(type == PD_MSG_HELLO && rv == -EPROTONOSUPPORT))
		ok = 0;
	pd_buf_free(&b);
	return ok ? rv : 1000;
}

/* ---- basics ---- */

static void test_names(void)
{
	CU_ASSERT_STRING_EQUAL(pd_msg_name(PD_MSG_HELLO), "HELLO");
	CU_ASSERT_STRING_EQUAL(pd_msg_name(PD_MSG_RESULTS), "RESULTS");
	CU_ASSERT_STRING_EQUAL(pd_msg_name(PD_MSG_BYE), "BYE");
	CU_ASSERT_STRING_EQUAL(pd_msg_name(0), "?");
	CU_ASSERT_STRING_EQUAL(pd_msg_name(PD_MSG_MAX_), "?");
	CU_ASSERT_STRING_EQUAL(pd_msg_name(~0u), "?");
	CU_ASSERT_STRING_EQUAL(pd_status_name(PD_ST_OK), "ok");
	CU_ASSERT_STRING_EQUAL(pd_status_name(PD_ST_FAILED), "failed");
	CU_ASSERT_STRING_EQUAL(pd_status_name(PD_ST_TIMEOUT), "timeout");
	CU_ASSERT_STRING_EQUAL(pd_status_name(PD_ST_LOST), "lost");
	CU_ASSERT_STRING_EQUAL(pd_status_name(4), "?");
}

static void test_primitives(void)
{
	static const uint8_t want[] = {
		0xab,						/* u8 */
		0x04, 0x03, 0x02, 0x01,				/* u32 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* u64 */
		0x03, 0x00, 0x00, 0x00, 'a', 0x00, 'b', 0x00,	/* "a\0b" */
		0x00, 0x00, 0x00, 0x00, 0x00,			/* "" */
		0x00, 0x00, 0x00, 0x00, 0x00,			/* NULL */
	};
	pd_buf b = {0};
	pd_reader r;
	const char *s;
	uint32_t u32, len;
	uint64_t u64;
	uint8_t u8;

	CU_ASSERT_EQUAL(pd_put_u8(&b, 0xab), 0);
	CU_ASSERT_EQUAL(pd_put_u32(&b, 0x01020304u), 0);
	CU_ASSERT_EQUAL(pd_put_u64(&b, 0x0102030405060708ull), 0);
	CU_ASSERT_EQUAL(pd_put_str(&b, "a\0b", 3), 0);
	CU_ASSERT_EQUAL(pd_put_str(&b, "", 0), 0);
	CU_ASSERT_EQUAL(pd_put_str(&b, NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(pd_buf_size(&b), sizeof(want));
	CU_ASSERT(memcmp(pd_buf_head(&b), want, sizeof(want)) == 0);

	pd_reader_init(&r, want, sizeof(want));
	CU_ASSERT_EQUAL(pd_get_u8(&r, &u8), 0);
	CU_ASSERT_EQUAL(u8, 0xab);
	CU_ASSERT_EQUAL(pd_get_u32(&r, &u32), 0);
	CU_ASSERT_EQUAL(u32, 0x01020304u);
	CU_ASSERT_EQUAL(pd_get_u64(&r, &u64), 0);
	CU_ASSERT(u64 == 0x0102030405060708ull);
	CU_ASSERT_EQUAL(pd_reader_end(&r), -EPROTO);
	CU_ASSERT_EQUAL_FATAL(pd_get_str(&r, &s, &len), 0);
	CU_ASSERT_EQUAL(len, 3);
	CU_ASSERT(memcmp(s, "a\0b", 4) == 0);
	CU_ASSERT_EQUAL(pd_get_str(&r, &s, &len), 0);
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT_STRING_EQUAL(s, "");
	CU_ASSERT_EQUAL(pd_get_str(&r, &s, NULL), 0);
	CU_ASSERT_EQUAL(pd_reader_end(&r), 0);

	/* at the end everything fails and leaves the outputs alone */
	u8 = 7;
	u32 = 7;
	u64 = 7;
	s = "keep";
	len = 7;
	CU_ASSERT_EQUAL(pd_get_u8(&r, &u8), -EPROTO);
	CU_ASSERT_EQUAL(pd_get_u32(&r, &u32), -EPROTO);
	CU_ASSERT_EQUAL(pd_get_u64(&r, &u64), -EPROTO);
	CU_ASSERT_EQUAL(pd_get_str(&r, &s, &len), -EPROTO);
	CU_ASSERT_EQUAL(u8, 7);
	CU_ASSERT_EQUAL(u32, 7);
	CU_ASSERT(u64 == 7);
	CU_ASSERT_STRING_EQUAL(s, "keep");
	CU_ASSERT_EQUAL(len, 7);
	CU_ASSERT_EQUAL(r.off, sizeof(want));
	pd_buf_free(&b);
}

static void test_bad_strings(void)
{
	static const uint8_t no_nul[] = {2, 0, 0, 0, 'a', 'b', 'c'};
	static const uint8_t short_len[] = {2, 0, 0, 0, 'a', 'b'};
	static const uint8_t huge_len[] = {0xff, 0xff, 0xff, 0xff, 'a', 0};
	static const uint8_t near_len[] = {0xfe, 0xff, 0xff, 0xff, 0};
	static const uint8_t exact[] = {2, 0, 0, 0, 'a', 'b', 0};
	const uint8_t *cases[] = {no_nul, short_len, huge_len, near_len};
	const size_t lens[] = {sizeof(no_nul), sizeof(short_len), sizeof(huge_len),
			       sizeof(near_len)};
	pd_reader r;
	const char *s = NULL;
	uint32_t len = 0;
	size_t i, k;

	for (i = 0; i < 4; i++) {
		uint8_t *d = dup_exact(cases[i], lens[i]);

		pd_reader_init(&r, d, lens[i]);
		CU_ASSERT_EQUAL(pd_get_str(&r, &s, &len), -EPROTO);
		CU_ASSERT_EQUAL(r.off, 0);
		free(d);
	}
	for (k = 0; k < sizeof(exact); k++) {
		uint8_t *d = dup_exact(exact, k);

		pd_reader_init(&r, d, k);
		CU_ASSERT_EQUAL(pd_get_str(&r, &s, &len), -EPROTO);
		free(d);
	}
	pd_reader_init(&r, exact, sizeof(exact));
	CU_ASSERT_EQUAL(pd_get_str(&r, &s, &len), 0);
	CU_ASSERT_EQUAL(len, 2);
	CU_ASSERT_EQUAL(pd_reader_end(&r), 0);
}

/* ---- frames ---- */

static void test_frame_layout(void)
{
	static const uint8_t want[] = {
		0, 0, 0, 4, PD_MSG_REJECT, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef,
		0, 0, 0, 0, PD_MSG_DRAIN, 0, 0, 0,
		0, 0, 0, 0, PD_MSG_BYE, 0, 0, 0,
	};
	pd_buf b = {0};
	const uint8_t *p;
	size_t mark = 99, plen, used, off = 0;
	uint8_t type;
	int i;

	CU_ASSERT_EQUAL(pd_frame_begin(&b, PD_MSG_REJECT, &mark), 0);
	CU_ASSERT_EQUAL(mark, 0);
	CU_ASSERT_EQUAL(pd_put_u32(&b, 0xefbeadde), 0);
	CU_ASSERT_EQUAL(pd_frame_end(&b, mark), 0);
	CU_ASSERT_EQUAL(pd_frame_begin(&b, PD_MSG_DRAIN, &mark), 0);
	CU_ASSERT_EQUAL(mark, 12);
	CU_ASSERT_EQUAL(pd_frame_end(&b, mark), 0);
	CU_ASSERT_EQUAL(pd_frame_empty(&b, PD_MSG_BYE), 0);
	CU_ASSERT_EQUAL_FATAL(pd_buf_size(&b), sizeof(want));
	CU_ASSERT(memcmp(pd_buf_head(&b), want, sizeof(want)) == 0);

	for (i = 0; i < 3; i++) {
		static const uint8_t types[] = {PD_MSG_REJECT, PD_MSG_DRAIN, PD_MSG_BYE};
		static const size_t lens[] = {4, 0, 0};

		CU_ASSERT_EQUAL_FATAL(pd_frame_parse(want + off, sizeof(want) - off, MAXF, &type,
						     &p, &plen, &used),
				      0);
		CU_ASSERT_EQUAL(type, types[i]);
		CU_ASSERT_EQUAL(plen, lens[i]);
		CU_ASSERT_PTR_EQUAL(p, want + off + 8);
		CU_ASSERT_EQUAL(used, 8 + lens[i]);
		off += used;
	}
	CU_ASSERT_EQUAL(off, sizeof(want));
	pd_buf_free(&b);
}

/* Builds one valid frame of every type, for truncation and fuzzing. */
static char bin_arg[] = {'\x01', '\x7f', '\x80', '\xfe', '\xff', '\n', ' ', 0};
static char *argv_a[] = {"/bin/echo", "", "hello world", bin_arg, "", NULL};
static char *argv_b[] = {"x", NULL};

static const pd_task_msg sample_tasks[] = {
	{1, 0, PD_TASK_PROCESS, 0, 65536, 5, argv_a},
	{0xffffffffffffffffull, 7, PD_TASK_ECHO, 1000, 0, 0, NULL},
	{42, 0xffffffffu, PD_TASK_SLEEP, 0xffffffffu, 0xffffffffu, 1, argv_b},
};

static const pd_result_msg sample_results[] = {
	{1, 0, PD_ST_OK, 0, 0, 0, 10, 20, 30, 5, 0, "a\0b\0c", "", ""},
	{2, 3, PD_ST_FAILED, PD_RF_OUT_TRUNC | PD_RF_ERR_TRUNC, -1, 9, 0xffffffffffffffffull, 0,
	 1, 1, 3, "\0", "e\xff\0", "cannot execute /x: No such file"},
	{3, 1, PD_ST_TIMEOUT, 0, INT32_MIN, INT32_MAX, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const pd_hello sample_hello = {
	PD_PROTO_VERSION, "agent-7", "node12.cluster", 4242, 64, "slurm", "123456", "0",
	PD_HELLO_COPROC | 0x80000000u, /* a bit this version does not know rides along */
};

static void build_frame(pd_buf *b, uint8_t type)
{
	static const uint64_t ids[] = {1, 0xffffffffffffffffull, 0x0102030405060708ull};
	pd_welcome w = {PD_PROTO_VERSION, 5000, MAXF, "controller", 0, {{0}}};
	size_t mark;
	size_t i;

	switch (type) {
	case PD_MSG_HELLO:
		CU_ASSERT_EQUAL(pd_hello_encode(b, &sample_hello), 0);
		break;
	case PD_MSG_WELCOME:
		CU_ASSERT_EQUAL(pd_welcome_encode(b, &w), 0);
		break;
	case PD_MSG_REJECT:
		CU_ASSERT_EQUAL(pd_reject_encode(b, "too many agents"), 0);
		break;
	case PD_MSG_PING:
	case PD_MSG_PONG:
		CU_ASSERT_EQUAL(pd_ping_encode(b, type, 0x1122334455667788ull), 0);
		break;
	case PD_MSG_TASKS:
		CU_ASSERT_EQUAL(pd_tasks_begin(b, &mark), 0);
		for (i = 0; i < 3; i++)
			CU_ASSERT_EQUAL(pd_tasks_add(b, mark, &sample_tasks[i]), 0);
		CU_ASSERT_EQUAL(pd_tasks_end(b, mark), 0);
		break;
	case PD_MSG_RESULTS:
		CU_ASSERT_EQUAL(pd_results_begin(b, &mark), 0);
		for (i = 0; i < 3; i++)
			CU_ASSERT_EQUAL(pd_results_add(b, mark, &sample_results[i]), 0);
		CU_ASSERT_EQUAL(pd_results_end(b, mark), 0);
		break;
	case PD_MSG_CANCEL:
		CU_ASSERT_EQUAL(pd_cancel_encode(b, ids, 3), 0);
		break;
	case PD_MSG_BYE:
		CU_ASSERT_EQUAL(pd_bye_encode(b, 130), 0);
		break;
	default:
		CU_ASSERT_EQUAL(pd_frame_empty(b, type), 0);
		break;
	}
}

static void test_frame_truncation(void)
{
	uint8_t type;

	for (type = 1; type < PD_MSG_MAX_; type++) {
		pd_buf b = {0};
		const uint8_t *p;
		size_t plen, used, k, n;
		uint8_t *d, t;

		build_frame(&b, type);
		n = pd_buf_size(&b);
		for (k = 0; k < n; k++) {
			d = dup_exact(pd_buf_head(&b), k);
			t = 0;
			CU_ASSERT_EQUAL(pd_frame_parse(d, k, MAXF, &t, &p, &plen, &used), -EAGAIN);
			CU_ASSERT_EQUAL(t, 0);
			free(d);
		}
		d = dup_exact(pd_buf_head(&b), n);
		CU_ASSERT_EQUAL(pd_frame_parse(d, n, MAXF, &t, &p, &plen, &used), 0);
		CU_ASSERT_EQUAL(t, type);
		CU_ASSERT_EQUAL(used, n);
		CU_ASSERT_EQUAL(plen, n - 8);
		CU_ASSERT_EQUAL(check_payload(type, p, plen), 0);
		free(d);

		/* a following frame's bytes are not consumed */
		CU_ASSERT_EQUAL(pd_buf_append(&b, "\0\0\0", 3), 0);
		CU_ASSERT_EQUAL(pd_frame_parse(pd_buf_head(&b), pd_buf_size(&b), MAXF, &t, &p,
					       &plen, &used),
				0);
		CU_ASSERT_EQUAL(used, n);
		pd_buf_free(&b);
	}
}

static void test_payload_truncation(void)
{
	uint8_t type;

	for (type = 1; type < PD_MSG_MAX_; type++) {
		pd_buf b = {0};
		const uint8_t *p;
		size_t plen = 0, k;
		uint8_t *d;

		build_frame(&b, type);
		p = only_frame(&b, type, &plen);
		if (!p || type == PD_MSG_DRAIN) {
			pd_buf_free(&b);
			continue;
		}
		CU_ASSERT(plen > 0);
		for (k = 0; k < plen; k++) {
			d = dup_exact(p, k);
			CU_ASSERT_EQUAL(check_payload(type, d, k), -EPROTO);
			free(d);
		}
		/* one trailing byte too many */
		d = malloc(plen + 1);
		memcpy(d, p, plen);
		d[plen] = 0;
		CU_ASSERT_EQUAL(check_payload(type, d, plen + 1), -EPROTO);
		free(d);
		pd_buf_free(&b);
	}
}

static void test_oversize(void)
{
	uint8_t h[8] = {0, 0, 0x10, 0x01, PD_MSG_TASKS, 0, 0, 0};
	uint8_t *d, type = 0;
	const uint8_t *p;
	size_t plen, used;

	/* 4097 bytes declared, only the header present */
	CU_ASSERT_EQUAL(pd_frame_parse(h, 8, 4096, &type, &p, &plen, &used), -EMSGSIZE);
	CU_ASSERT_EQUAL(type, 0);
	CU_ASSERT_EQUAL(pd_frame_parse(h, 7, 4096, &type, &p, &plen, &used), -EAGAIN);
	CU_ASSERT_EQUAL(pd_frame_parse(h, 8, 4097, &type, &p, &plen, &used), -EAGAIN);
	h[0] = h[1] = h[2] = h[3] = 0xff;
	CU_ASSERT_EQUAL(pd_frame_parse(h, 8, MAXF, &type, &p, &plen, &used), -EMSGSIZE);

	/* exactly max_frame is fine */
	d = calloc(1, 8 + 4096);
	d[2] = 0x10;
	d[4] = PD_MSG_PING;
	CU_ASSERT_EQUAL(pd_frame_parse(d, 8 + 4096, 4096, &type, &p, &plen, &used), 0);
	CU_ASSERT_EQUAL(plen, 4096);
	CU_ASSERT_EQUAL(pd_frame_parse(d, 8 + 4096, 4095, &type, &p, &plen, &used), -EMSGSIZE);
	free(d);
}

static void test_bad_header(void)
{
	static const uint8_t bad_types[] = {0, PD_MSG_MAX_, PD_MSG_MAX_ + 1, 0x80, 0xff};
	uint8_t h[8] = {0, 0, 0, 0, PD_MSG_BYE, 0, 0, 0};
	uint8_t type;
	const uint8_t *p;
	size_t plen, used, i;

	CU_ASSERT_EQUAL(pd_frame_parse(h, 8, MAXF, &type, &p, &plen, &used), 0);
	for (i = 0; i < sizeof(bad_types); i++) {
		h[4] = bad_types[i];
		CU_ASSERT_EQUAL(pd_frame_parse(h, 8, MAXF, &type, &p, &plen, &used), -EPROTO);
	}
	h[4] = PD_MSG_BYE;
	for (i = 5; i < 8; i++) {
		h[i] = 1;
		CU_ASSERT_EQUAL(pd_frame_parse(h, 8, MAXF, &type, &p, &plen, &used), -EPROTO);
		h[i] = 0x80;
		CU_ASSERT_EQUAL(pd_frame_parse(h, 8, MAXF, &type, &p, &plen, &used), -EPROTO);
		h[i] = 0;
	}
	CU_ASSERT_EQUAL(pd_frame_parse(h, 8, MAXF, &type, &p, &plen, &used), 0);
}

/* ---- round trips ---- */

static void test_hello(void)
{
	pd_buf b = {0};
	pd_hello h = sample_hello, out;
	const uint8_t *p;
	size_t plen;

	h.version = 99; /* ignored by the encoder */
	CU_ASSERT_EQUAL(pd_hello_encode(&b, &h), 0);
	p = only_frame(&b, PD_MSG_HELLO, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(memcmp(p, "PRDE", 4) == 0 && p[4] == PD_PROTO_VERSION && !p[5] && !p[6] && !p[7]);
	memset(&out, 0, sizeof(out));
	CU_ASSERT_EQUAL_FATAL(pd_hello_decode(p, plen, &out), 0);
	CU_ASSERT_EQUAL(out.version, PD_PROTO_VERSION);
	CU_ASSERT_STRING_EQUAL(out.agent_id, "agent-7");
	CU_ASSERT_STRING_EQUAL(out.host, "node12.cluster");
	CU_ASSERT_EQUAL(out.pid, 4242);
	CU_ASSERT_EQUAL(out.slots, 64);
	CU_ASSERT_STRING_EQUAL(out.mode, "slurm");
	CU_ASSERT_STRING_EQUAL(out.slurm_job, "123456");
	CU_ASSERT_STRING_EQUAL(out.slurm_step, "0");
	CU_ASSERT_EQUAL(out.features, PD_HELLO_COPROC | 0x80000000u);
	/* features are the last 4 bytes, little endian */
	CU_ASSERT(memcmp(p + plen - 4, "\x01\0\0\x80", 4) == 0);
	CU_ASSERT(out.host > (const char *)p && out.host < (const char *)p + plen);

	/* NULL strings go out as "" */
	pd_buf_reset(&b);
	memset(&h, 0, sizeof(h));
	h.mode = "local";
	CU_ASSERT_EQUAL(pd_hello_encode(&b, &h), 0);
	p = only_frame(&b, PD_MSG_HELLO, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(plen, 8 + 5 + 5 + 8 + 10 + 5 + 5 + 4);
	CU_ASSERT_EQUAL_FATAL(pd_hello_decode(p, plen, &out), 0);
	CU_ASSERT_STRING_EQUAL(out.agent_id, "");
	CU_ASSERT_STRING_EQUAL(out.host, "");
	CU_ASSERT_STRING_EQUAL(out.mode, "local");
	CU_ASSERT_STRING_EQUAL(out.slurm_job, "");
	CU_ASSERT_STRING_EQUAL(out.slurm_step, "");
	CU_ASSERT_EQUAL(out.features, 0);
	/* a version-1 HELLO (no features field) is cut short for version 2 */
	CU_ASSERT_EQUAL(pd_hello_decode(p, plen - 4, &out), -EPROTO);
	pd_buf_free(&b);
}

static void test_hello_version(void)
{
	pd_buf b = {0};
	pd_hello h;
	const uint8_t *p;
	size_t plen;
	uint8_t *d;

	build_frame(&b, PD_MSG_HELLO);
	p = only_frame(&b, PD_MSG_HELLO, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	d = dup_exact(p, plen);

	d[4] = PD_PROTO_VERSION + 1;
	memset(&h, 0, sizeof(h));
	CU_ASSERT_EQUAL(pd_hello_decode(d, plen, &h), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(h.version, PD_PROTO_VERSION + 1);
	/* the rest is not looked at: a newer agent may send anything */
	memset(&h, 0, sizeof(h));
	CU_ASSERT_EQUAL(pd_hello_decode(d, 8, &h), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(h.version, PD_PROTO_VERSION + 1);
	d[4] = 1; /* an agent of the version before */
	CU_ASSERT_EQUAL(pd_hello_decode(d, plen, &h), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(h.version, 1);
	d[4] = 0;
	d[7] = 1;
	CU_ASSERT_EQUAL(pd_hello_decode(d, 8, &h), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(h.version, 0x01000000u);
	CU_ASSERT_EQUAL(pd_hello_decode(d, 7, &h), -EPROTO);

	/* the magic comes first, whatever the version says */
	d[0] = 'X';
	CU_ASSERT_EQUAL(pd_hello_decode(d, plen, &h), -EPROTO);
	d[0] = 'P';
	d[4] = PD_PROTO_VERSION;
	d[7] = 0;
	CU_ASSERT_EQUAL(pd_hello_decode(d, plen, &h), 0);
	d[3] = 'F';
	CU_ASSERT_EQUAL(pd_hello_decode(d, plen, &h), -EPROTO);
	free(d);
	CU_ASSERT_EQUAL(pd_hello_decode((const uint8_t *)"RDEP\x01\0\0\0", 8, &h), -EPROTO);
	pd_buf_free(&b);
}

/* WELCOME's handler settings: u32 count, then per kind u8 kind, str bytes */
static void test_welcome_settings(void)
{
	static const uint8_t inner[] = {'a', 0, 'b'};
	pd_buf b = {0};
	pd_welcome w = {PD_PROTO_VERSION, 1000, 1u << 20, "c", 0, {{0}}}, wo;
	const uint8_t *p;
	uint8_t *d, *big;
	size_t plen, before;
	uint32_t v;

	w.nsettings = 3;
	w.settings[0] = (pd_setting){PD_TASK_PROCESS, 0, NULL};
	w.settings[1] = (pd_setting){PD_TASK_COPROC, 3, inner};
	w.settings[2] = (pd_setting){200, 2, (const uint8_t *)"hi"};
	CU_ASSERT_EQUAL(pd_welcome_encode(&b, &w), 0);
	p = only_frame(&b, PD_MSG_WELCOME, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* the wire bytes after the name */
	CU_ASSERT_EQUAL_FATAL(plen, 12 + 6 + 4 + 6 + 9 + 8);
	CU_ASSERT(memcmp(p + 18,
			 "\x03\0\0\0"
			 "\x00\0\0\0\0\0"
			 "\x03\x03\0\0\0a\0b\0"
			 "\xc8\x02\0\0\0hi\0",
			 4 + 6 + 9 + 8) == 0);
	memset(&wo, 0xa5, sizeof(wo));
	CU_ASSERT_EQUAL_FATAL(pd_welcome_decode(p, plen, &wo), 0);
	CU_ASSERT_EQUAL_FATAL(wo.nsettings, 3);
	CU_ASSERT_EQUAL(wo.settings[0].kind, PD_TASK_PROCESS);
	CU_ASSERT_EQUAL(wo.settings[0].len, 0);
	CU_ASSERT_EQUAL(wo.settings[1].len, 3);
	CU_ASSERT(memcmp(wo.settings[1].data, inner, 3) == 0);
	CU_ASSERT_EQUAL(wo.settings[1].data[3], 0); /* NUL-ended after len */
	CU_ASSERT_PTR_EQUAL(pd_welcome_setting(&wo, 200), &wo.settings[2]);
	CU_ASSERT_PTR_NULL(pd_welcome_setting(&wo, PD_TASK_ECHO));
	CU_ASSERT(memcmp(pd_welcome_setting(&wo, 200)->data, "hi", 2) == 0);

	/* every cut is refused */
	d = dup_exact(p, plen);
	for (size_t i = 0; i < plen; i++)
		CU_ASSERT_EQUAL(pd_welcome_decode(d, i, &wo), -EPROTO);
	/* kinds out of order or twice: refused both ways */
	d[18 + 4 + 6] = 0; /* coproc's kind byte becomes process, as the first */
	CU_ASSERT_EQUAL(pd_welcome_decode(d, plen, &wo), -EPROTO);
	d[18 + 4 + 6] = 0xc9; /* above the next one */
	CU_ASSERT_EQUAL(pd_welcome_decode(d, plen, &wo), -EPROTO);
	d[18 + 4 + 6] = PD_TASK_COPROC;
	/* a count over the bytes there, or over the limit */
	d[18] = 4;
	CU_ASSERT_EQUAL(pd_welcome_decode(d, plen, &wo), -EPROTO);
	d[18] = 0xff, d[19] = 0xff, d[20] = 0xff, d[21] = 0xff;
	CU_ASSERT_EQUAL(pd_welcome_decode(d, plen, &wo), -EPROTO);
	d[18] = 3, d[19] = d[20] = d[21] = 0;
	CU_ASSERT_EQUAL(pd_welcome_decode(d, plen, &wo), 0);
	free(d);

	before = pd_buf_size(&b);
	w.settings[2].kind = PD_TASK_COPROC;
	CU_ASSERT_EQUAL(pd_welcome_encode(&b, &w), -EINVAL);
	w.settings[2].kind = PD_TASK_PROCESS;
	CU_ASSERT_EQUAL(pd_welcome_encode(&b, &w), -EINVAL);
	w.settings[2].kind = 200;
	w.settings[2].len = PD_MAX_SETTING_LEN + 1;
	CU_ASSERT_EQUAL(pd_welcome_encode(&b, &w), -EINVAL);
	w.settings[2].len = 2;
	w.nsettings = PD_MAX_SETTINGS + 1;
	CU_ASSERT_EQUAL(pd_welcome_encode(&b, &w), -EINVAL);
	CU_ASSERT_EQUAL(pd_buf_size(&b), before); /* nothing appended */

	/* the limits themselves: 16 kinds of 64 KiB each */
	big = malloc(PD_MAX_SETTING_LEN + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'x', PD_MAX_SETTING_LEN + 1);
	w.nsettings = PD_MAX_SETTINGS;
	for (uint32_t i = 0; i < PD_MAX_SETTINGS; i++)
		w.settings[i] = (pd_setting){(uint8_t)(10 * i), PD_MAX_SETTING_LEN, big};
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_welcome_encode(&b, &w), 0);
	p = only_frame(&b, PD_MSG_WELCOME, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(pd_welcome_decode(p, plen, &wo), 0);
	CU_ASSERT_EQUAL(wo.nsettings, PD_MAX_SETTINGS);
	CU_ASSERT_EQUAL(wo.settings[15].kind, 150);
	CU_ASSERT_EQUAL(wo.settings[15].len, PD_MAX_SETTING_LEN);
	/* one byte more in the last one, its length patched: refused */
	{
		pd_buf o = {0};
		size_t last = plen - (4 + PD_MAX_SETTING_LEN + 1);
		pd_buf_append(&o, p, last);
		pd_put_u32(&o, PD_MAX_SETTING_LEN + 1);
		pd_buf_append(&o, big, PD_MAX_SETTING_LEN + 1);
		pd_put_u8(&o, 0);
		CU_ASSERT_EQUAL(pd_welcome_decode(pd_buf_head(&o), pd_buf_size(&o), &wo), -EPROTO);
		/* a 17th kind */
		pd_buf_reset(&o);
		pd_buf_append(&o, p, plen);
		pd_put_u8(&o, 160);
		pd_put_str(&o, "z", 1);
		d = (uint8_t *)pd_buf_head(&o);
		d[18] = PD_MAX_SETTINGS + 1;
		CU_ASSERT_EQUAL(pd_welcome_decode(d, pd_buf_size(&o), &wo), -EPROTO);
		pd_buf_free(&o);
	}
	free(big);

	/* a version-2 WELCOME (no settings): not decoded, but its version is
	 * read so that the agent can name it */
	pd_buf_reset(&b);
	pd_put_u32(&b, 2);
	pd_put_u32(&b, 1000);
	pd_put_u32(&b, 1u << 20);
	pd_put_str(&b, "old", 3);
	CU_ASSERT_EQUAL(pd_welcome_decode(pd_buf_head(&b), pd_buf_size(&b), &wo), -EPROTO);
	CU_ASSERT_EQUAL(pd_welcome_version(pd_buf_head(&b), pd_buf_size(&b), &v), 0);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_EQUAL(pd_welcome_version(pd_buf_head(&b), 3, &v), -EPROTO);
	pd_buf_free(&b);
}

static void test_welcome_reject_ping(void)
{
	pd_buf b = {0};
	pd_welcome w = {PD_PROTO_VERSION, 2500, 1u << 20, "ctl \xc3\xa9", 0, {{0}}}, wo;
	const uint8_t *p;
	const char *reason;
	uint64_t stamp;
	size_t plen;

	CU_ASSERT_EQUAL(pd_welcome_encode(&b, &w), 0);
	p = only_frame(&b, PD_MSG_WELCOME, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(pd_welcome_decode(p, plen, &wo), 0);
	CU_ASSERT_EQUAL(wo.version, PD_PROTO_VERSION);
	CU_ASSERT_EQUAL(wo.heartbeat_ms, 2500);
	CU_ASSERT_EQUAL(wo.max_frame, 1u << 20);
	CU_ASSERT_STRING_EQUAL(wo.name, "ctl \xc3\xa9");

	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_reject_encode(&b, "protocol version 2 not supported"), 0);
	p = only_frame(&b, PD_MSG_REJECT, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(pd_reject_decode(p, plen, &reason), 0);
	CU_ASSERT_STRING_EQUAL(reason, "protocol version 2 not supported");
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_reject_encode(&b, NULL), 0);
	p = only_frame(&b, PD_MSG_REJECT, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(pd_reject_decode(p, plen, &reason), 0);
	CU_ASSERT_STRING_EQUAL(reason, "");

	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_ping_encode(&b, PD_MSG_PING, 0x1122334455667788ull), 0);
	CU_ASSERT_EQUAL_FATAL(pd_buf_size(&b), 16);
	CU_ASSERT(memcmp(pd_buf_head(&b),
			 "\0\0\0\x08\x06\0\0\0\x88\x77\x66\x55\x44\x33\x22\x11", 16) == 0);
	p = only_frame(&b, PD_MSG_PING, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(pd_ping_decode(p, plen, &stamp), 0);
	CU_ASSERT(stamp == 0x1122334455667788ull);
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_ping_encode(&b, PD_MSG_PONG, 0), 0);
	p = only_frame(&b, PD_MSG_PONG, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	stamp = 5;
	CU_ASSERT_EQUAL(pd_ping_decode(p, plen, &stamp), 0);
	CU_ASSERT(stamp == 0);
	pd_buf_free(&b);
}

static void test_empty_frames(void)
{
	pd_buf b = {0};
	const uint8_t *p;
	size_t plen = 1;

	CU_ASSERT_EQUAL(pd_frame_empty(&b, PD_MSG_DRAIN), 0);
	p = only_frame(&b, PD_MSG_DRAIN, &plen);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_EQUAL(plen, 0);
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_frame_empty(&b, PD_MSG_BYE), 0);
	p = only_frame(&b, PD_MSG_BYE, &plen);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_EQUAL(plen, 0);
	pd_buf_free(&b);
}

/* The controller's BYE carries the run's exit status: one byte, every
 * value, and nothing else (an agent's empty BYE does not decode). */
static void test_bye_status(void)
{
	static const uint8_t want[] = {0, 0, 0, 1, PD_MSG_BYE, 0, 0, 0, 143};
	static const uint8_t two[] = {1, 0};
	pd_buf b = {0};
	const uint8_t *p;
	size_t plen = 0;
	uint8_t st;

	CU_ASSERT_EQUAL(pd_bye_encode(&b, 143), 0);
	CU_ASSERT_EQUAL(pd_buf_size(&b), sizeof(want));
	CU_ASSERT(memcmp(pd_buf_head(&b), want, sizeof(want)) == 0);
	for (unsigned v = 0; v < 256; v++) {
		pd_buf_reset(&b);
		CU_ASSERT_EQUAL(pd_bye_encode(&b, (uint8_t)v), 0);
		p = only_frame(&b, PD_MSG_BYE, &plen);
		st = (uint8_t)(v + 1);
		CU_ASSERT_EQUAL(pd_bye_decode(p, plen, &st), 0);
		CU_ASSERT_EQUAL(st, v);
	}
	st = 7;
	CU_ASSERT_EQUAL(pd_bye_decode(two, 0, &st), -EPROTO);
	CU_ASSERT_EQUAL(pd_bye_decode(two, 2, &st), -EPROTO);
	CU_ASSERT_EQUAL(st, 7);
	pd_buf_free(&b);
}

static void test_cancel(void)
{
	static const uint64_t ids[] = {5, 0xaabb};
	static const uint8_t want[] = {
		0, 0, 0, 0x14, PD_MSG_CANCEL, 0, 0, 0, 2, 0, 0, 0, /* header, count */
		5, 0, 0, 0, 0, 0, 0, 0,				   /* 5 */
		0xbb, 0xaa, 0, 0, 0, 0, 0, 0,			   /* 0xaabb */
	};
	pd_buf b = {0};
	const uint8_t *p;
	uint64_t *out;
	uint32_t n;
	size_t plen;

	CU_ASSERT_EQUAL(pd_cancel_encode(&b, ids, 2), 0);
	CU_ASSERT_EQUAL_FATAL(pd_buf_size(&b), sizeof(want));
	CU_ASSERT(memcmp(pd_buf_head(&b), want, sizeof(want)) == 0);
	p = only_frame(&b, PD_MSG_CANCEL, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(pd_cancel_decode(p, plen, &out, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT(out[0] == 5 && out[1] == 0xaabb);
	free(out);

	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_cancel_encode(&b, NULL, 0), 0);
	p = only_frame(&b, PD_MSG_CANCEL, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(plen, 4);
	CU_ASSERT_EQUAL(pd_cancel_decode(p, plen, &out, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	free(out);
	pd_buf_free(&b);
}

static void test_tasks_golden(void)
{
	static char *av[] = {"ab", "", NULL};
	static const pd_task_msg t = {0x0102030405060708ull, 2, 1, 0x10, 0x20, 2, av};
	static const uint8_t want[] = {
		0, 0, 0, 0x29, PD_MSG_TASKS, 0, 0, 0, 1, 0, 0, 0,	   /* header, count */
		8, 7, 6, 5, 4, 3, 2, 1, 2, 0, 0, 0, 1,			   /* id, attempt, kind */
		0x10, 0, 0, 0, 0x20, 0, 0, 0, 2, 0, 0, 0,		   /* timeout, limit, argc */
		2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0, 0, 0,			   /* argv */
	};
	pd_buf b = {0};
	size_t mark;

	CU_ASSERT_EQUAL(pd_tasks_begin(&b, &mark), 0);
	CU_ASSERT_EQUAL(pd_tasks_add(&b, mark, &t), 0);
	CU_ASSERT_EQUAL(pd_tasks_end(&b, mark), 0);
	CU_ASSERT_EQUAL_FATAL(pd_buf_size(&b), sizeof(want));
	CU_ASSERT(memcmp(pd_buf_head(&b), want, sizeof(want)) == 0);
	pd_buf_free(&b);
}

static void test_results_golden(void)
{
	static const pd_result_msg r = {1, 0, 1, 3, -1, 9, 2, 3, 4, 3, 0, "x\0y", "", "e"};
	static const uint8_t want[] = {
		0, 0, 0, 0x45, PD_MSG_RESULTS, 0, 0, 0, 1, 0, 0, 0,	/* header, count */
		1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3,		/* id attempt st fl */
		0xff, 0xff, 0xff, 0xff, 9, 0, 0, 0,			/* exit, signal */
		2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0,		/* wall, cpu */
		4, 0, 0, 0, 0, 0, 0, 0,					/* maxrss */
		3, 0, 0, 0, 'x', 0, 'y', 0, 0, 0, 0, 0, 0,		/* out, err */
		1, 0, 0, 0, 'e', 0,					/* error */
	};
	pd_buf b = {0};
	size_t mark;

	CU_ASSERT_EQUAL(pd_results_begin(&b, &mark), 0);
	CU_ASSERT_EQUAL(pd_results_add(&b, mark, &r), 0);
	CU_ASSERT_EQUAL(pd_results_end(&b, mark), 0);
	CU_ASSERT_EQUAL_FATAL(pd_buf_size(&b), sizeof(want));
	CU_ASSERT(memcmp(pd_buf_head(&b), want, sizeof(want)) == 0);
	pd_buf_free(&b);
}

static void check_task(const pd_task_msg *got, const pd_task_msg *want)
{
	uint32_t i;

	CU_ASSERT(got->id == want->id);
	CU_ASSERT_EQUAL(got->attempt, want->attempt);
	CU_ASSERT_EQUAL(got->kind, want->kind);
	CU_ASSERT_EQUAL(got->timeout_ms, want->timeout_ms);
	CU_ASSERT_EQUAL(got->out_limit, want->out_limit);
	CU_ASSERT_EQUAL_FATAL(got->argc, want->argc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got->argv);
	for (i = 0; i < got->argc; i++)
		CU_ASSERT_STRING_EQUAL(got->argv[i], want->argv[i]);
	CU_ASSERT_PTR_NULL(got->argv[got->argc]);
}

static void test_tasks(void)
{
	pd_buf b = {0};
	pd_task_msg **t;
	const uint8_t *p;
	uint32_t n, i;
	size_t plen;

	build_frame(&b, PD_MSG_TASKS);
	p = only_frame(&b, PD_MSG_TASKS, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(memcmp(p, "\x03\0\0\0", 4) == 0); /* the count was kept in place */
	CU_ASSERT_EQUAL_FATAL(pd_tasks_decode(p, plen, &t, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	for (i = 0; i < n; i++) {
		check_task(t[i], &sample_tasks[i]);
		/* one block: argv and the strings live inside the task's allocation */
		CU_ASSERT((char *)t[i]->argv > (char *)t[i]);
		free(t[i]);
	}
	free(t);

	/* an empty batch */
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_tasks_begin(&b, &(size_t){0}), 0);
	CU_ASSERT_EQUAL(pd_tasks_end(&b, 0), 0);
	p = only_frame(&b, PD_MSG_TASKS, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(plen, 4);
	t = NULL;
	CU_ASSERT_EQUAL(pd_tasks_decode(p, plen, &t, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NOT_NULL(t);
	free(t);
	pd_buf_free(&b);
}

static void test_results(void)
{
	pd_buf b = {0};
	pd_result_msg **r;
	const uint8_t *p;
	uint32_t n, i;
	size_t plen;

	build_frame(&b, PD_MSG_RESULTS);
	p = only_frame(&b, PD_MSG_RESULTS, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(pd_results_decode(p, plen, &r, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	for (i = 0; i < n; i++) {
		const pd_result_msg *w = &sample_results[i];

		CU_ASSERT(r[i]->id == w->id);
		CU_ASSERT_EQUAL(r[i]->attempt, w->attempt);
		CU_ASSERT_EQUAL(r[i]->status, w->status);
		CU_ASSERT_EQUAL(r[i]->flags, w->flags);
		CU_ASSERT_EQUAL(r[i]->exit_code, w->exit_code);
		CU_ASSERT_EQUAL(r[i]->signal, w->signal);
		CU_ASSERT(r[i]->wall_us == w->wall_us);
		CU_ASSERT(r[i]->cpu_us == w->cpu_us);
		CU_ASSERT(r[i]->maxrss_kb == w->maxrss_kb);
		CU_ASSERT_EQUAL_FATAL(r[i]->out_len, w->out ? w->out_len : 0);
		CU_ASSERT_EQUAL_FATAL(r[i]->err_len, w->err ? w->err_len : 0);
		CU_ASSERT(memcmp(r[i]->out, w->out ? w->out : "", r[i]->out_len) == 0);
		CU_ASSERT(memcmp(r[i]->err, w->err ? w->err : "", r[i]->err_len) == 0);
		CU_ASSERT_EQUAL(r[i]->out[r[i]->out_len], 0);
		CU_ASSERT_EQUAL(r[i]->err[r[i]->err_len], 0);
		CU_ASSERT(cstr_eq(r[i]->error, w->error));
		free(r[i]);
	}
	free(r);
	pd_buf_free(&b);
}

/* A large batch; also exercises buffer growth inside one frame. */
static void test_many(void)
{
	enum { N = 50000 };
	char idbuf[32];
	char *av[] = {"/usr/bin/sim", "--seed", idbuf, "--out", "", NULL};
	pd_task_msg t = {0, 1, PD_TASK_PROCESS, 30000, 1 << 20, 5, av};
	pd_result_msg res = {0};
	pd_buf b = {0};
	pd_task_msg **tt;
	pd_result_msg **rr;
	const uint8_t *p;
	uint32_t n, i, bad = 0;
	size_t mark, plen;

	CU_ASSERT_EQUAL_FATAL(pd_tasks_begin(&b, &mark), 0);
	for (i = 0; i < N; i++) {
		t.id = i;
		snprintf(idbuf, sizeof(idbuf), "%u", i * 7919u);
		if (pd_tasks_add(&b, mark, &t) != 0)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(pd_tasks_end(&b, mark), 0);
	p = only_frame(&b, PD_MSG_TASKS, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(pd_tasks_decode(p, plen, &tt, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, N);
	for (i = 0; i < n; i++) {
		snprintf(idbuf, sizeof(idbuf), "%u", i * 7919u);
		if (tt[i]->id != i || tt[i]->argc != 5 || strcmp(tt[i]->argv[2], idbuf) ||
		    tt[i]->argv[5])
			bad++;
		free(tt[i]);
	}
	free(tt);
	CU_ASSERT_EQUAL(bad, 0);

	pd_buf_reset(&b);
	res.out = "some output\n";
	res.out_len = 12;
	res.error = NULL;
	CU_ASSERT_EQUAL_FATAL(pd_results_begin(&b, &mark), 0);
	for (i = 0; i < N; i++) {
		res.id = i;
		res.exit_code = (int32_t)i - N / 2;
		if (pd_results_add(&b, mark, &res) != 0)
			bad++;
	}
	CU_ASSERT_EQUAL(pd_results_end(&b, mark), 0);
	p = only_frame(&b, PD_MSG_RESULTS, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(pd_results_decode(p, plen, &rr, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, N);
	for (i = 0; i < n; i++) {
		if (rr[i]->id != i || rr[i]->exit_code != (int32_t)i - N / 2 ||
		    rr[i]->out_len != 12 || strcmp(rr[i]->out, "some output\n") ||
		    strcmp(rr[i]->error, ""))
			bad++;
		free(rr[i]);
	}
	free(rr);
	CU_ASSERT_EQUAL(bad, 0);
	pd_buf_free(&b);
}

/*
 * Frames appended behind unread bytes: growing the buffer moves the unread
 * bytes to the front, and the batch must still be patched in the right place.
 */
static void test_mark_survives_compaction(void)
{
	pd_buf b = {0};
	pd_task_msg **t;
	const uint8_t *p;
	size_t mark, plen, i;
	uint32_t n;

	for (i = 0; i < 500; i++)
		CU_ASSERT_EQUAL(pd_ping_encode(&b, PD_MSG_PING, i), 0);
	pd_buf_consume(&b, 499 * 16);
	CU_ASSERT_EQUAL_FATAL(b.off, 499 * 16);
	CU_ASSERT_EQUAL(pd_tasks_begin(&b, &mark), 0);
	for (i = 0; i < 400; i++)
		CU_ASSERT_EQUAL(pd_tasks_add(&b, mark, &sample_tasks[i % 3]), 0);
	CU_ASSERT_EQUAL(pd_tasks_end(&b, mark), 0);
	CU_ASSERT_EQUAL(b.off, 0); /* it did compact */

	pd_buf_consume(&b, 16);
	p = only_frame(&b, PD_MSG_TASKS, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(pd_tasks_decode(p, plen, &t, &n), 0);
	CU_ASSERT_EQUAL(n, 400);
	for (i = 0; i < n; i++) {
		check_task(t[i], &sample_tasks[i % 3]);
		free(t[i]);
	}
	free(t);
	pd_buf_free(&b);
}

static void test_encode_errors_drop_frame(void)
{
	pd_task_msg big = {1, 0, 0, 0, 0, PD_MAX_ARGC + 1, NULL};
	pd_buf b = {0};
	size_t mark, before;
	uint8_t *copy;

	build_frame(&b, PD_MSG_PING);
	before = pd_buf_size(&b);
	copy = dup_exact(pd_buf_head(&b), before);
	CU_ASSERT_EQUAL(pd_tasks_begin(&b, &mark), 0);
	CU_ASSERT_EQUAL(pd_tasks_add(&b, mark, &sample_tasks[0]), 0);
	CU_ASSERT_EQUAL(pd_tasks_add(&b, mark, &big), -EMSGSIZE);
	CU_ASSERT_EQUAL(pd_buf_size(&b), before);
	CU_ASSERT(memcmp(pd_buf_head(&b), copy, before) == 0);
	free(copy);

#if SIZE_MAX > UINT32_MAX
	/* A payload over 4 GiB - 1, faked: only the header is ever touched. */
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(pd_frame_begin(&b, PD_MSG_RESULTS, &mark), 0);
	b.len = mark + PD_FRAME_HDR + (size_t)UINT32_MAX + 1;
	CU_ASSERT_EQUAL(pd_frame_end(&b, mark), -EMSGSIZE);
	CU_ASSERT_EQUAL(b.len, mark);
	CU_ASSERT_EQUAL(pd_frame_begin(&b, PD_MSG_RESULTS, &mark), 0);
	b.len = mark + PD_FRAME_HDR + (size_t)UINT32_MAX;
	CU_ASSERT_EQUAL(pd_frame_end(&b, mark), 0);
	CU_ASSERT(memcmp(b.data, "\xff\xff\xff\xff\x05\0\0\0", 8) == 0);
	b.len = 0;
#endif
	pd_buf_free(&b);
}

/* ---- hostile input ---- */

#ifdef __SANITIZE_ADDRESS__
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
					      void (*f)(const volatile void *));
static volatile int tracking;
static volatile size_t biggest;

static void on_malloc(const volatile void *p, size_t size)
{
	(void)p;
	if (tracking && size > biggest)
		biggest = size;
}

static void on_free(const volatile void *p)
{
	(void)p;
}
#endif

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Decodes payloads with absurd counts; returns how many were not -EPROTO. */
static int run_hostile(void)
{
	uint8_t small[64];
	uint8_t *many;
	size_t nmany;
	int bad = 0;
	uint32_t c, i;

	/* batch counts with a handful of bytes behind them */
	memset(small, 0, sizeof(small));
	for (c = 0; c < 3; c++) {
		static const uint32_t counts[] = {0xffffffffu, 0x80000000u, 0x10000000u};

		put_le32(small, counts[c]);
		bad += check_payload(PD_MSG_TASKS, small, sizeof(small)) != -EPROTO;
		bad += check_payload(PD_MSG_RESULTS, small, sizeof(small)) != -EPROTO;
		bad += check_payload(PD_MSG_CANCEL, small, sizeof(small)) != -EPROTO;
		bad += check_payload(PD_MSG_TASKS, small, 4) != -EPROTO;
	}
	/* one more entry than the bytes could hold */
	put_le32(small, 64 / 25 + 1);
	bad += check_payload(PD_MSG_TASKS, small, sizeof(small)) != -EPROTO;
	put_le32(small, 2);
	bad += check_payload(PD_MSG_RESULTS, small, sizeof(small)) != -EPROTO;
	put_le32(small, 8);
	bad += check_payload(PD_MSG_CANCEL, small, sizeof(small)) != -EPROTO;

	/* a task claiming 4 billion arguments */
	memset(small, 0, sizeof(small));
	put_le32(small, 1);
	put_le32(small + 4 + 21, 0xffffffffu);
	bad += check_payload(PD_MSG_TASKS, small, sizeof(small)) != -EPROTO;
	/* ... or a 4 GiB argument, or a 4 GiB output */
	put_le32(small + 4 + 21, 1);
	put_le32(small + 4 + 25, 0xfffffffeu);
	bad += check_payload(PD_MSG_TASKS, small, sizeof(small)) != -EPROTO;
	memset(small, 0, sizeof(small));
	put_le32(small, 1);
	put_le32(small + 4 + 46, 0xffffffffu);
	bad += check_payload(PD_MSG_RESULTS, small, sizeof(small)) != -EPROTO;
	put_le32(small, 0xffffffffu);
	bad += check_payload(PD_MSG_REJECT, small, sizeof(small)) != -EPROTO;
	bad += check_payload(PD_MSG_REJECT, small, 4) != -EPROTO;

	/* more than PD_MAX_ARGC arguments, all really present */
	nmany = 4 + 25 + (size_t)(PD_MAX_ARGC + 1) * 5;
	many = calloc(1, nmany);
	if (!many)
		return 1;
	put_le32(many, 1);
	put_le32(many + 4 + 21, PD_MAX_ARGC + 1);
	bad += check_payload(PD_MSG_TASKS, many, nmany) != -EPROTO;
	/* exactly PD_MAX_ARGC is fine */
	put_le32(many + 4 + 21, PD_MAX_ARGC);
	bad += check_payload(PD_MSG_TASKS, many, nmany - 5) != 0;
	free(many);

	/* counts exactly at the bound are fine when the entries are there */
	many = calloc(1, 4 + 25 * 100);
	put_le32(many, 100);
	bad += check_payload(PD_MSG_TASKS, many, 4 + 25 * 100) != 0;
	bad += check_payload(PD_MSG_TASKS, many, 4 + 25 * 100 - 1) != -EPROTO;
	free(many);
	for (i = 0; i < 2; i++) {
		uint8_t cancel[4 + 16] = {2};

		bad += check_payload(PD_MSG_CANCEL, cancel, sizeof(cancel) - i) != (i ? -EPROTO : 0);
	}
	return bad;
}

static void test_hostile_counts(void)
{
#ifdef __SANITIZE_ADDRESS__
	static int hooked;

	if (!hooked) {
		__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
		hooked = 1;
	}
	biggest = 0;
	tracking = 1;
	CU_ASSERT_EQUAL(run_hostile(), 0);
	tracking = 0;
	/* the largest legitimate block is the PD_MAX_ARGC task's argv */
	CU_ASSERT(biggest < (size_t)(PD_MAX_ARGC + 2) * sizeof(char *) + 4096 + 512 * 1024);
	CU_ASSERT(biggest > 0);
#else
	pid_t pid;
	int st;

	CU_ASSERT_EQUAL(run_hostile(), 0);
	/* again with little address space: a huge allocation would fail */
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		long pages = 0;
		FILE *f = fopen("/proc/self/statm", "r");
		struct rlimit rl;

		if (!f || fscanf(f, "%ld", &pages) != 1)
			_exit(3);
		fclose(f);
		rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (64 << 20);
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(3);
		_exit(run_hostile() ? 1 : 0);
	}
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#endif
}

/* ---- fuzzing ---- */

static unsigned fuzz_bad;

static void fuzz_one(const uint8_t *buf, size_t n, size_t max_frame)
{
	const uint8_t *p = NULL;
	size_t plen = 0, used = 0;
	uint8_t type = 0, t;
	int rv;

	rv = pd_frame_parse(buf, n, max_frame, &type, &p, &plen, &used);
	if (rv == 0) {
		if (type == 0 || type >= PD_MSG_MAX_ || p != buf + 8 || used != 8 + plen ||
		    used > n || plen > max_frame || buf[5] || buf[6] || buf[7])
			fuzz_bad++;
		else if (check_payload(type, p, plen) == 1000)
			fuzz_bad++;
	} else if (rv == -EAGAIN) {
		if (n >= 8 && ((size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 |
			       buf[3]) <= n - 8)
			fuzz_bad++;
	} else if (rv != -EPROTO && rv != -EMSGSIZE) {
		fuzz_bad++;
	}
	/* every decoder on the raw bytes and on what follows a header */
	for (t = 1; t < PD_MSG_MAX_; t++) {
		if (check_payload(t, buf, n) == 1000)
			fuzz_bad++;
		if (n >= 8 && check_payload(t, buf + 8, n - 8) == 1000)
			fuzz_bad++;
	}
}

static void test_fuzz_random(void)
{
	uint8_t *buf;
	size_t n, i;
	int iter;

	rng_state = 0x9e3779b97f4a7c15ull;
	fuzz_bad = 0;
	for (iter = 0; iter < 20000; iter++) {
		n = rnd_below(513);
		buf = malloc(n ? n : 1);
		for (i = 0; i < n; i++)
			buf[i] = rnd_byte();
		/* often make the header plausible so the payload gets decoded */
		if (n >= 8 && (iter & 1)) {
			size_t len = (rnd() & 3) ? n - 8 : rnd_below(600);

			buf[0] = buf[1] = 0;
			buf[2] = (uint8_t)(len >> 8);
			buf[3] = (uint8_t)len;
			buf[4] = (uint8_t)(1 + rnd_below(PD_MSG_MAX_ - 1));
			buf[5] = buf[6] = buf[7] = 0;
		}
		fuzz_one(buf, n, (rnd() & 1) ? 512 : MAXF);
		free(buf);
	}
	CU_ASSERT_EQUAL(fuzz_bad, 0);
}

static void test_fuzz_mutations(void)
{
	pd_buf corpus[PD_MSG_MAX_];
	uint8_t type;
	int iter;

	memset(corpus, 0, sizeof(corpus));
	for (type = 1; type < PD_MSG_MAX_; type++)
		build_frame(&corpus[type], type);
	rng_state = 0x0123456789abcdefull;
	fuzz_bad = 0;
	for (iter = 0; iter < 20000; iter++) {
		const pd_buf *src = &corpus[1 + rnd_below(PD_MSG_MAX_ - 1)];
		size_t n = pd_buf_size(src), cap = n + 16, k, nmut, pos;
		uint8_t *buf = malloc(cap);

		memcpy(buf, pd_buf_head(src), n);
		nmut = 1 + rnd_below(4);
		for (k = 0; k < nmut && n > 0; k++) {
			pos = rnd_below(n);
			switch (rnd_below(6)) {
			case 0:
				buf[pos] ^= (uint8_t)(1u << rnd_below(8));
				break;
			case 1:
				buf[pos] = rnd_byte();
				break;
			case 2: /* a count or length field gone wild */
				if (pos + 4 <= n)
					put_le32(buf + pos, (rnd() & 1) ? 0xffffffffu
									: (uint32_t)rnd_below(n));
				break;
			case 3:
				n = pos;
				break;
			case 4:
				if (n < cap) {
					memmove(buf + pos + 1, buf + pos, n - pos);
					buf[pos] = rnd_byte();
					n++;
				}
				break;
			case 5:
				memmove(buf + pos, buf + pos + 1, n - pos - 1);
				n--;
				break;
			}
		}
		/* keep the header honest half the time so the payload is reached */
		if (n >= 8 && (iter & 1)) {
			buf[0] = buf[1] = 0;
			buf[2] = (uint8_t)((n - 8) >> 8);
			buf[3] = (uint8_t)(n - 8);
		}
		{
			/* exact-size copy so any overread is caught */
			uint8_t *d = dup_exact(buf, n);

			fuzz_one(d, n, MAXF);
			free(d);
		}
		free(buf);
	}
	for (type = 1; type < PD_MSG_MAX_; type++)
		pd_buf_free(&corpus[type]);
	CU_ASSERT_EQUAL(fuzz_bad, 0);
}

/* The coproc kind travels like any other: one line as its one word. */
static void test_task_coproc(void)
{
	static char *line[] = {"alpha beta {\"x\":1}", NULL};
	const pd_task_msg want = {9, 2, PD_TASK_COPROC, 1000, 4096, 1, line};
	pd_buf b = {0};
	pd_task_msg **t = NULL;
	const uint8_t *p;
	uint8_t type;
	size_t mark, plen, used;
	uint32_t n = 0;

	CU_ASSERT_EQUAL_FATAL(pd_tasks_begin(&b, &mark), 0);
	CU_ASSERT_EQUAL_FATAL(pd_tasks_add(&b, mark, &want), 0);
	CU_ASSERT_EQUAL_FATAL(pd_tasks_end(&b, mark), 0);
	CU_ASSERT_EQUAL_FATAL(pd_frame_parse(pd_buf_head(&b), pd_buf_size(&b), PD_MAX_FRAME_DEFAULT,
					     &type, &p, &plen, &used), 0);
	CU_ASSERT_EQUAL_FATAL(pd_tasks_decode(p, plen, &t, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	check_task(t[0], &want);
	CU_ASSERT_EQUAL(t[0]->kind, PD_TASK_COPROC);
	free(t[0]);
	free(t);
	pd_buf_free(&b);
}

/* Issue #11: a HELLO's strings reach log lines and `parade status`: a
 * newline fakes a log line, ESC clears the screen. The decoder refuses
 * anything but printable ASCII and over-long strings, naming the field. */
static void hello_with(pd_hello *h, const char *field, const char *v)
{
	*h = sample_hello;
	if (!strcmp(field, "agent_id"))
		h->agent_id = v;
	else if (!strcmp(field, "host"))
		h->host = v;
	else if (!strcmp(field, "mode"))
		h->mode = v;
	else if (!strcmp(field, "slurm_job"))
		h->slurm_job = v;
	else
		h->slurm_step = v;
}

static int decode_with(const char *field, const char *v, char *why, size_t whylen)
{
	pd_buf b = {0};
	pd_hello h, out;
	const uint8_t *p;
	size_t plen;
	int rv;

	hello_with(&h, field, v);
	CU_ASSERT_EQUAL_FATAL(pd_hello_encode(&b, &h), 0);
	p = only_frame(&b, PD_MSG_HELLO, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	rv = pd_hello_decode_why(p, plen, &out, why, whylen);
	CU_ASSERT_EQUAL(pd_hello_decode(p, plen, &out), rv);
	pd_buf_free(&b);
	return rv;
}

static void test_hello_hostile(void)
{
	static const char *const fields[] = {"agent_id", "host", "mode", "slurm_job",
					     "slurm_step"};
	static const char *const bad[] = {
		"a\nparade: fake line", "\x1b[2J\x1b[H", "tab\there", "del\x7f",
		"utf8-\xc2\x9b" "31m", "cr\r",
	};
	char why[200], big[300];

	for (size_t f = 0; f < 5; f++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			why[0] = 0;
			CU_ASSERT_EQUAL(decode_with(fields[f], bad[i], why, sizeof(why)), -EPROTO);
			CU_ASSERT(strstr(why, "printable ASCII") != NULL);
		}
		memset(big, 'a', 200);
		big[200] = 0;
		CU_ASSERT_EQUAL(decode_with(fields[f], big, why, sizeof(why)), -EPROTO);
		CU_ASSERT(strstr(why, "bytes long") != NULL);
	}
	CU_ASSERT_EQUAL(decode_with("host", "\x1b[31m", why, sizeof(why)), -EPROTO);
	CU_ASSERT_STRING_EQUAL(why, "host holds the byte 0x1b (printable ASCII only)");
	/* a space only where a name may hold one */
	CU_ASSERT_EQUAL(decode_with("agent_id", "my agent 1", why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(decode_with("host", "my host", why, sizeof(why)), -EPROTO);
	CU_ASSERT_EQUAL(decode_with("mode", "", why, sizeof(why)), -EPROTO);
	CU_ASSERT_STRING_EQUAL(why, "mode is empty");
	/* the longest accepted */
	memset(big, 'h', 127);
	big[127] = 0;
	CU_ASSERT_EQUAL(decode_with("host", big, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(decode_with("agent_id", big, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(decode_with("slurm_job", "4242_7", why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(decode_with("slurm_step", "batch", why, sizeof(why)), 0);
}

/* an inner NUL is refused too (a C string would hide what follows) */
static void test_hello_inner_nul(void)
{
	pd_buf b = {0};
	pd_hello out;
	const uint8_t *p;
	size_t plen;
	uint8_t *d;
	char why[200];

	CU_ASSERT_EQUAL_FATAL(pd_hello_encode(&b, &sample_hello), 0);
	p = only_frame(&b, PD_MSG_HELLO, &plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	d = dup_exact(p, plen);
	/* "agent-7" starts at 8 + 4: turn its '-' into a NUL */
	CU_ASSERT_EQUAL_FATAL(d[12 + 5], '-');
	d[12 + 5] = 0;
	CU_ASSERT_EQUAL(pd_hello_decode_why(d, plen, &out, why, sizeof(why)), -EPROTO);
	CU_ASSERT_STRING_EQUAL(why, "agent id holds the byte 0x00 (printable ASCII only)");
	free(d);
	pd_buf_free(&b);
}

/* Issue #11: a result is checked field by field before it decides a task */
static void test_result_check(void)
{
	pd_result_msg r;
	char why[200];

	memset(&r, 0, sizeof(r));
	r.out = r.err = r.error = "";
	r.wall_us = 1500;
	CU_ASSERT_EQUAL(pd_result_check(&r, 1 << 20, why, sizeof(why)), 0);
#define BAD(field, value, words)                                                                \
	do {                                                                                    \
		pd_result_msg x = r;                                                            \
		x.field = value;                                                                \
		why[0] = 0;                                                                     \
		CU_ASSERT_EQUAL(pd_result_check(&x, 1 << 20, why, sizeof(why)), -EPROTO);       \
		CU_ASSERT(strstr(why, words) != NULL);                                          \
	} while (0)
	BAD(status, 4, "status 4");
	BAD(status, 255, "status 255");
	BAD(flags, 0x4, "flags");
	BAD(exit_code, 256, "exit code 256");
	BAD(exit_code, -2, "exit code -2");
	BAD(signal, -1, "signal -1");
	BAD(signal, 65, "signal 65");
	BAD(wall_us, UINT64_MAX, "wall 18446744073709551615 us");
	BAD(cpu_us, UINT64_MAX, "cpu");
	BAD(maxrss_kb, UINT64_MAX, "maxrss");
	BAD(out_len, (1 << 20) + 1, "stdout 1048577");
	BAD(err_len, (1 << 20) + 1, "stderr 1048577");
	BAD(exit_code, 3, "status ok with exit code 3");
	BAD(signal, 9, "status ok with exit code 0 and signal 9");
#undef BAD
	/* the same numbers are fine where they can be true */
	r.status = PD_ST_FAILED;
	r.exit_code = 3;
	CU_ASSERT_EQUAL(pd_result_check(&r, 1 << 20, why, sizeof(why)), 0);
	r.exit_code = -1;
	r.signal = 9;
	r.flags = PD_RF_OUT_TRUNC | PD_RF_ERR_TRUNC;
	CU_ASSERT_EQUAL(pd_result_check(&r, 1 << 20, why, sizeof(why)), 0);
	r.status = PD_ST_LOST;
	CU_ASSERT_EQUAL(pd_result_check(&r, 0, NULL, 0), 0);
	/* no limit given: the lengths are not checked */
	r.out_len = 1u << 30;
	CU_ASSERT_EQUAL(pd_result_check(&r, 0, NULL, 0), 0);
	CU_ASSERT_EQUAL(pd_result_check(&r, 100, NULL, 0), -EPROTO);
	/* the agent's own message is short; task output goes in out/err */
	{
		static char msg[4098];
		memset(msg, 'e', 4096);
		r.error = msg;
		CU_ASSERT_EQUAL(pd_result_check(&r, 0, why, sizeof(why)), 0);
		msg[4096] = 'e';
		CU_ASSERT_EQUAL(pd_result_check(&r, 0, why, sizeof(why)), -EPROTO);
		CU_ASSERT_STRING_EQUAL(why, "error message over 4096 bytes");
	}
}

/* pd_hello_field_ok, the agent's check before it sends, agrees with what
 * the controller's decoder takes: a string it passes decodes, one it
 * refuses is refused by pd_hello_decode in that field. */
static void test_hello_field_ok(void)
{
	static const struct {
		int field;
		const char *s;
		int ok;
		const char *why;
	} c[] = {
	    {PD_HELLO_F_ID, "host:12 #a", 1, ""},
	    {PD_HELLO_F_ID, "caf\xc3\xa9", 0, "agent id holds the byte 0xc3"},
	    {PD_HELLO_F_ID, "a\x1b[31m", 0, "agent id holds the byte 0x1b"},
	    {PD_HELLO_F_MODE, "manual", 1, ""},
	    {PD_HELLO_F_MODE, "a b", 0, "mode holds the byte 0x20"},
	    {PD_HELLO_F_MODE, "", 0, "mode is empty"},
	    {PD_HELLO_F_MODE, "0123456789abcdef", 0, "mode is 16 bytes long (at most 15)"},
	    {PD_HELLO_F_HOST, "node-1.example", 1, ""},
	    {PD_HELLO_F_HOST, "node 1", 0, "host holds the byte 0x20"},
	    {PD_HELLO_F_SLURM, "12345", 1, ""},
	};
	char why[200];

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		pd_hello h = {0}, d;
		pd_buf b = {0};
		int rv = pd_hello_field_ok(c[i].field, c[i].s, why, sizeof(why));

		CU_ASSERT_EQUAL(rv, c[i].ok ? 0 : -EINVAL);
		if (!c[i].ok)
			CU_ASSERT_PTR_NOT_NULL(strstr(why, c[i].why));
		h.agent_id = c[i].field == PD_HELLO_F_ID ? c[i].s : "id";
		h.host = c[i].field == PD_HELLO_F_HOST ? c[i].s : "host";
		h.mode = c[i].field == PD_HELLO_F_MODE ? c[i].s : "manual";
		h.slurm_job = c[i].field == PD_HELLO_F_SLURM ? c[i].s : "";
		h.slots = 1;
		CU_ASSERT_EQUAL_FATAL(pd_hello_encode(&b, &h), 0);
		CU_ASSERT_EQUAL(pd_hello_decode(b.data + PD_FRAME_HDR, b.len - PD_FRAME_HDR, &d),
		                c[i].ok ? 0 : -EPROTO);
		pd_buf_free(&b);
	}
	CU_ASSERT_EQUAL(pd_hello_field_ok(99, "x", why, sizeof(why)), -EINVAL);
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{"tasks: coproc kind", test_task_coproc},
		{"names", test_names},
		{"put/get primitives", test_primitives},
		{"bad strings", test_bad_strings},
		{"frame layout", test_frame_layout},
		{"frame parse at every truncation", test_frame_truncation},
		{"payload decode at every truncation", test_payload_truncation},
		{"oversized frames", test_oversize},
		{"bad type and reserved bytes", test_bad_header},
		{"HELLO round trip", test_hello},
		{"HELLO version and magic", test_hello_version},
		{"HELLO strings from a hostile agent", test_hello_hostile},
		{"HELLO string with a NUL inside", test_hello_inner_nul},
		{"HELLO fields checked before sending", test_hello_field_ok},
		{"result fields checked", test_result_check},
		{"WELCOME, REJECT, PING, PONG", test_welcome_reject_ping},
		{"WELCOME handler settings", test_welcome_settings},
		{"DRAIN and BYE", test_empty_frames},
		{"BYE carries the exit status", test_bye_status},
		{"CANCEL", test_cancel},
		{"TASKS wire bytes", test_tasks_golden},
		{"RESULTS wire bytes", test_results_golden},
		{"TASKS round trip", test_tasks},
		{"RESULTS round trip", test_results},
		{"50000 tasks and results", test_many},
		{"batch mark survives compaction", test_mark_survives_compaction},
		{"encode errors drop the frame", test_encode_errors_drop_frame},
		{"hostile counts", test_hostile_counts},
		{"fuzz random buffers", test_fuzz_random},
		{"fuzz mutated frames", test_fuzz_mutations},
	};
	CU_pSuite s;
	unsigned fails;
	size_t i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("codec", NULL, NULL);
	if (!s)
		goto fail;
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			goto fail;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
fail:
	CU_cleanup_registry();
	return 2;
}
