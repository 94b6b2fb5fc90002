/* fake_spank.c - just enough of Slurm's SPANK API for test_spank.c to drive
 * the plugin's entry points: a settable context, job items and job
 * environment, registered options, and captured log lines. spank_setenv
 * outside slurmstepd answers ESPANK_NOT_REMOTE, as Slurm 22.05 does.
 *
 * The tests reach the fake through the fake_* functions below (declared
 * at the top of test_spank.c). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <slurm/spank.h>

#define FAKE_MAX_ENV 64
#define FAKE_MAX_LINES 32

struct spank_handle {
	int magic;
};

struct fake_spank {
	spank_context_t ctx;
	uint32_t jobid, stepid, nnodes, nodeid, local_tasks;
	uint16_t ncpus;
	char *envp[FAKE_MAX_ENV + 1]; /* S_JOB_ENV: env without its holes */
	uid_t uid;
	gid_t gid;
	int task_id;
	char *env[FAKE_MAX_ENV]; /* the job's environment, NAME=VALUE */
	struct spank_option options[8];
	int noptions;
	char errors[FAKE_MAX_LINES][1024];
	int nerrors;
	char infos[FAKE_MAX_LINES][1024];
	int ninfos;
};

static struct fake_spank fake;
static struct spank_handle handle = {0x5a5a};

spank_t fake_handle(void)
{
	return &handle;
}

static char **env_find(const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < FAKE_MAX_ENV; i++)
		if (fake.env[i] && !strncmp(fake.env[i], name, n) && fake.env[i][n] == '=')
			return &fake.env[i];
	return NULL;
}

const char *fake_env(const char *name)
{
	char **e = env_find(name);

	return e ? *e + strlen(name) + 1 : NULL;
}

/* value NULL unsets name */
void fake_set_env(const char *name, const char *value)
{
	char **e = env_find(name);
	char *s;

	if (!value) {
		if (e) {
			free(*e);
			*e = NULL;
		}
		return;
	}
	if (asprintf(&s, "%s=%s", name, value) < 0)
		abort();
	if (e) {
		free(*e);
		*e = s;
		return;
	}
	for (int i = 0; i < FAKE_MAX_ENV; i++)
		if (!fake.env[i]) {
			fake.env[i] = s;
			return;
		}
	abort();
}

void fake_reset(spank_context_t ctx)
{
	for (int i = 0; i < FAKE_MAX_ENV; i++)
		free(fake.env[i]);
	memset(&fake, 0, sizeof(fake));
	fake.ctx = ctx;
	fake.jobid = 42;
	fake.stepid = 7;
	fake.nnodes = 1;
	fake.local_tasks = 1;
	fake.uid = getuid();
	fake.gid = getgid();
}

void fake_set_context(spank_context_t ctx)
{
	fake.ctx = ctx;
}

void fake_set_item(spank_item_t item, long value)
{
	switch (item) {
	case S_JOB_UID:
		fake.uid = (uid_t)value;
		break;
	case S_JOB_GID:
		fake.gid = (gid_t)value;
		break;
	case S_JOB_ID:
		fake.jobid = (uint32_t)value;
		break;
	case S_JOB_STEPID:
		fake.stepid = (uint32_t)value;
		break;
	case S_JOB_NNODES:
		fake.nnodes = (uint32_t)value;
		break;
	case S_JOB_NODEID:
		fake.nodeid = (uint32_t)value;
		break;
	case S_JOB_LOCAL_TASK_COUNT:
		fake.local_tasks = (uint32_t)value;
		break;
	case S_JOB_NCPUS:
		fake.ncpus = (uint16_t)value;
		break;
	case S_TASK_ID:
		fake.task_id = (int)value;
		break;
	default:
		abort();
	}
}

int fake_nerrors(void)
{
	return fake.nerrors;
}

const char *fake_error(int i)
{
	return i >= 0 && i < fake.nerrors ? fake.errors[i] : "";
}

int fake_ninfos(void)
{
	return fake.ninfos;
}

const char *fake_info(int i)
{
	return i >= 0 && i < fake.ninfos ? fake.infos[i] : "";
}

/* The option registered under name, or NULL. */
struct spank_option *fake_option(const char *name)
{
	for (int i = 0; i < fake.noptions; i++)
		if (!strcmp(fake.options[i].name, name))
			return &fake.options[i];
	return NULL;
}

spank_context_t spank_context(void)
{
	return fake.ctx;
}

const char *spank_strerror(spank_err_t err)
{
	return err == ESPANK_SUCCESS ? "success" : "fake spank error";
}

spank_err_t spank_option_register(spank_t sp, struct spank_option *opt)
{
	if (sp != &handle || !opt || fake.noptions == 8)
		return ESPANK_BAD_ARG;
	fake.options[fake.noptions++] = *opt;
	return ESPANK_SUCCESS;
}

spank_err_t spank_get_item(spank_t sp, spank_item_t item, ...)
{
	spank_err_t rv = ESPANK_SUCCESS;
	va_list ap;

	if (sp != &handle)
		return ESPANK_BAD_ARG;
	if (fake.ctx != S_CTX_REMOTE)
		return ESPANK_NOT_REMOTE;
	va_start(ap, item);
	switch (item) {
	case S_JOB_UID:
		*va_arg(ap, uid_t *) = fake.uid;
		break;
	case S_JOB_GID:
		*va_arg(ap, gid_t *) = fake.gid;
		break;
	case S_JOB_ID:
		*va_arg(ap, uint32_t *) = fake.jobid;
		break;
	case S_JOB_STEPID:
		*va_arg(ap, uint32_t *) = fake.stepid;
		break;
	case S_JOB_NNODES:
		*va_arg(ap, uint32_t *) = fake.nnodes;
		break;
	case S_JOB_NODEID:
		*va_arg(ap, uint32_t *) = fake.nodeid;
		break;
	case S_JOB_LOCAL_TASK_COUNT:
		*va_arg(ap, uint32_t *) = fake.local_tasks;
		break;
	case S_JOB_NCPUS:
		*va_arg(ap, uint16_t *) = fake.ncpus;
		break;
	case S_JOB_ENV: {
		size_t k = 0;
		for (int i = 0; i < FAKE_MAX_ENV; i++)
			if (fake.env[i])
				fake.envp[k++] = fake.env[i];
		fake.envp[k] = NULL;
		*va_arg(ap, char ***) = fake.envp;
		break;
	}
	case S_TASK_ID:
		*va_arg(ap, int *) = fake.task_id;
		break;
	default:
		rv = ESPANK_BAD_ARG;
		break;
	}
	va_end(ap);
	return rv;
}

spank_err_t spank_getenv(spank_t sp, const char *var, char *buf, int len)
{
	const char *v;

	if (sp != &handle || len < 0)
		return ESPANK_BAD_ARG;
	if (fake.ctx != S_CTX_REMOTE)
		return ESPANK_NOT_REMOTE;
	if (!(v = fake_env(var)))
		return ESPANK_ENV_NOEXIST;
	if (snprintf(buf, (size_t)len, "%s", v) >= len)
		return ESPANK_NOSPACE;
	return ESPANK_SUCCESS;
}

spank_err_t spank_setenv(spank_t sp, const char *var, const char *val, int overwrite)
{
	if (sp != &handle || !var || !val)
		return ESPANK_BAD_ARG;
	if (fake.ctx != S_CTX_REMOTE)
		return ESPANK_NOT_REMOTE;
	if (fake_env(var) && !overwrite)
		return ESPANK_ENV_EXISTS;
	fake_set_env(var, val);
	return ESPANK_SUCCESS;
}

spank_err_t spank_unsetenv(spank_t sp, const char *var)
{
	char **e;

	if (sp != &handle || !var)
		return ESPANK_BAD_ARG;
	if (fake.ctx != S_CTX_REMOTE)
		return ESPANK_NOT_REMOTE;
	if ((e = env_find(var))) {
		free(*e);
		*e = NULL;
	}
	return ESPANK_SUCCESS;
}

static void capture(char lines[][1024], int *n, const char *fmt, va_list ap)
{
	if (*n < FAKE_MAX_LINES)
		vsnprintf(lines[(*n)++], 1024, fmt, ap);
}

void slurm_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	capture(fake.errors, &fake.nerrors, fmt, ap);
	va_end(ap);
}

void slurm_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	capture(fake.infos, &fake.ninfos, fmt, ap);
	va_end(ap);
}

void slurm_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	capture(fake.infos, &fake.ninfos, fmt, ap);
	va_end(ap);
}
