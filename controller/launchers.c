/* launchers.c - the registry of launcher kinds (see launcher.h). A new
 * kind is one file defining its pd_launcher_ops and one line below. */
#include <errno.h>
#include <string.h>

#include "launcher.h"

static const pd_launcher_ops *const builtin[] = {
	&pd_launcher_local,
	&pd_launcher_slurm,
	&pd_launcher_ssh,
	&pd_launcher_none,
	&pd_launcher_step,
};

#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))
#define MAX_ADDED 8

static const pd_launcher_ops *added[MAX_ADDED];
static size_t nadded;

const pd_launcher_ops *pd_launcher_at(size_t i)
{
	if (i < NBUILTIN)
		return builtin[i];
	return i - NBUILTIN < nadded ? added[i - NBUILTIN] : NULL;
}

const pd_launcher_ops *pd_launcher_find(const char *name)
{
	const pd_launcher_ops *ops;

	for (size_t i = 0; name && (ops = pd_launcher_at(i)); i++)
		if (!strcmp(ops->name, name))
			return ops;
	return NULL;
}

int pd_launcher_register(const pd_launcher_ops *ops)
{
	if (pd_launcher_find(ops->name))
		return -EEXIST;
	if (nadded == MAX_ADDED)
		return -ENOSPC;
	added[nadded++] = ops;
	return 0;
}
