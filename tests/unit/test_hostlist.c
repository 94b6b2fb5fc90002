/* test_hostlist.c - hostlist.h: Slurm's compact host lists expanded in
 * order, the first host, and what is refused. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hostlist.h"

struct acc {
	char out[4096];
	size_t n;
};

static int cb(void *arg, const char *host)
{
	struct acc *a = arg;
	int k = snprintf(a->out + a->n, sizeof(a->out) - a->n, "%s%s", a->n ? " " : "", host);

	if (k > 0)
		a->n += (size_t)k;
	return 0;
}

/* The hosts of list joined by spaces, or "ERR<errno>". */
static const char *expand(const char *list)
{
	static struct acc a;
	int rv;

	a.out[0] = 0;
	a.n = 0;
	rv = pd_hostlist_each(list, cb, &a, NULL, 0);
	if (rv < 0)
		snprintf(a.out, sizeof(a.out), "ERR%d", -rv);
	return a.out;
}

static void test_forms(void)
{
	CU_ASSERT_STRING_EQUAL(expand("pn1"), "pn1");
	CU_ASSERT_STRING_EQUAL(expand("pn[1-3]"), "pn1 pn2 pn3");
	CU_ASSERT_STRING_EQUAL(expand("pn[1-3,5],login01"), "pn1 pn2 pn3 pn5 login01");
	CU_ASSERT_STRING_EQUAL(expand("n[08-11]"), "n08 n09 n10 n11");
	CU_ASSERT_STRING_EQUAL(expand("n[8-11]"), "n8 n9 n10 n11");
	CU_ASSERT_STRING_EQUAL(expand("n[001-002,010]"), "n001 n002 n010");
	CU_ASSERT_STRING_EQUAL(expand("rack[1-2]-gpu"), "rack1-gpu rack2-gpu");
	CU_ASSERT_STRING_EQUAL(expand("a,b,c"), "a b c");
	CU_ASSERT_STRING_EQUAL(expand("[1-2]"), "1 2");
	CU_ASSERT_STRING_EQUAL(expand("x[0]"), "x0");
}

static void test_refused(void)
{
	const char *bad[] = {"",        "a,,b",     "a[",        "a]",      "a[1-",  "a[2-1]",
	                     "a[x]",    "a[1-2]]",  "a[[1]]",    "a[1][2]", "a[1,]", "a[,1]",
	                     "a[1-2x]", ",a",       "a,",        "a[1234567890]"};
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (strncmp(expand(bad[i]), "ERR", 3))
			fprintf(stderr, "\n  '%s' accepted as '%s'\n", bad[i], expand(bad[i]));
		CU_ASSERT_STRING_EQUAL(expand(bad[i]), "ERR22");
	}
	err[0] = 0;
	CU_ASSERT_EQUAL(pd_hostlist_each("a[2-1]", cb, &(struct acc){0}, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "backwards"));
}

static void test_first_count(void)
{
	char h[8], big[400];

	CU_ASSERT_EQUAL(pd_hostlist_first("pn[2-3],pn1", h, sizeof(h)), 0);
	CU_ASSERT_STRING_EQUAL(h, "pn2");
	CU_ASSERT_EQUAL(pd_hostlist_first("averylongname", h, sizeof(h)), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(pd_hostlist_first("", h, sizeof(h)), -EINVAL);
	CU_ASSERT_EQUAL(pd_hostlist_count("pn[1-3,5],x"), 5);
	CU_ASSERT_EQUAL(pd_hostlist_count("n[0-99999]"), 100000);
	CU_ASSERT_EQUAL(pd_hostlist_count("n[0-100000]"), -E2BIG);
	CU_ASSERT_EQUAL(pd_hostlist_count("a[1-2"), -EINVAL);
	/* a name of PD_HOST_MAX bytes or more is refused, not cut */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	CU_ASSERT_EQUAL(pd_hostlist_count(big), -EINVAL);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("hostlist", NULL, NULL);
	CU_add_test(s, "forms", test_forms);
	CU_add_test(s, "refused", test_refused);
	CU_add_test(s, "first and count", test_first_count);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	{
		unsigned f = CU_get_number_of_failures();
		CU_cleanup_registry();
		return f ? 1 : 0;
	}
}
