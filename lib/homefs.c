/* homefs.c - homefs.h: network file systems, the runtime folder's base and
 * the pointer to it. */
#include "homefs.h"
#include "private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* statfs f_type of the file systems whose files several hosts share
 * (linux/magic.h and the vendors' own). */
static const struct {
	unsigned long magic;
	const char *name;
} network_fs[] = {
	{0x6969UL, "nfs"},
	{0x517BUL, "smb"},
	{0xFF534D42UL, "cifs"},
	{0xFE534D42UL, "smb2"},
	{0x0BD00BD0UL, "lustre"},
	{0x47504653UL, "gpfs"},
	{0x00C36400UL, "ceph"},
	{0x19830326UL, "beegfs"},
	{0x5346414FUL, "afs"},
	{0x6B414653UL, "afs"},
	{0x73757245UL, "coda"},
	{0x564CUL, "ncp"},
	{0x01021997UL, "9p"},
	{0x7461636FUL, "ocfs2"},
	{0x01161970UL, "gfs2"},
	{0x20030528UL, "orangefs"},
	{0xAAD7AAEAUL, "panfs"},
};

#define FUSE_MAGIC 0x65735546UL

/* FUSE file systems that reach other hosts, by subtype ("fuse.NAME") */
static const char *const network_fuse[] = {
	"sshfs",    "s3fs",     "gcsfuse",  "rclone",   "glusterfs", "ceph-fuse", "ceph",
	"juicefs",  "mfs",      "lizardfs", "quobyte",  "nfs",       "smbnetfs",  "curlftpfs",
	"davfs",    "goofys",   "blobfuse", "blobfuse2", "xtreemfs", "cvmfs2",    "beegfs",
	"gpfs",     "lustre",   "weka",     "wekafs",
};

const char *pd_fs_network_name(unsigned long magic, const char *fstype)
{
	magic &= 0xFFFFFFFFUL; /* f_type is signed on some ABIs */
	for (size_t i = 0; i < sizeof(network_fs) / sizeof(network_fs[0]); i++)
		if (network_fs[i].magic == magic)
			return network_fs[i].name;
	if (magic != FUSE_MAGIC || !fstype || strncmp(fstype, "fuse.", 5) != 0)
		return NULL;
	for (size_t i = 0; i < sizeof(network_fuse) / sizeof(network_fuse[0]); i++)
		if (!strcmp(fstype + 5, network_fuse[i]))
			return fstype;
	return NULL;
}

int pd_homefs_setting_parse(const char *s, int *mode)
{
	*mode = PD_HOMEFS_AUTO;
	if (!s || !*s || !strcmp(s, "auto"))
		return 0;
	if (!strcmp(s, "local")) {
		*mode = PD_HOMEFS_LOCAL;
		return 0;
	}
	if (!strcmp(s, "network")) {
		*mode = PD_HOMEFS_NETWORK;
		return 0;
	}
	return -EINVAL;
}

/* Skips n space-separated fields of s: where the next one starts, or NULL. */
static const char *skip_fields(const char *s, int n)
{
	while (n-- > 0) {
		s = strchr(s, ' ');
		if (!s)
			return NULL;
		s++;
	}
	return s;
}

int pd_mountinfo_type(const char *line, unsigned major, unsigned minor, char *type,
		      size_t typelen)
{
	/* "ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER" */
	const char *dev = skip_fields(line, 2), *sep, *t, *end;
	unsigned ma, mi;
	char tail;

	if (!dev || sscanf(dev, "%u:%u%c", &ma, &mi, &tail) != 3 || tail != ' ')
		return -EINVAL;
	sep = strstr(dev, " - ");
	if (!sep)
		return -EINVAL;
	t = sep + 3;
	end = t + strcspn(t, " \n");
	if (end == t)
		return -EINVAL;
	if (ma != major || mi != minor)
		return 0;
	if (typelen) {
		size_t n = (size_t)(end - t) < typelen - 1 ? (size_t)(end - t) : typelen - 1;
		memcpy(type, t, n);
		type[n] = 0;
	}
	return 1;
}

/* The mount table's type of device dev ("" if not found). */
static void mount_type(dev_t dev, char *type, size_t typelen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];

	type[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (pd_mountinfo_type(line, major(dev), minor(dev), type, typelen) == 1)
			break;
	fclose(f);
}

int pd_homefs_network(int fd, char *what, size_t whatlen, char *err, size_t errlen)
{
	const char *set = getenv(PD_HOMEFS_ENV), *name;
	char type[128] = "";
	struct statfs sf;
	struct stat st;
	int mode;

	if (whatlen)
		what[0] = 0;
	if (pd_homefs_setting_parse(set, &mode) < 0) {
		snprintf(err, errlen, "%s='%s': use auto, local or network", PD_HOMEFS_ENV, set);
		return -EINVAL;
	}
	if (mode != PD_HOMEFS_AUTO) {
		snprintf(what, whatlen, "%s=%s", PD_HOMEFS_ENV, set);
		return mode == PD_HOMEFS_NETWORK;
	}
	if (fstatfs(fd, &sf) < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot ask the file system of PARADE_HOME: %s", strerror(e));
		return -e;
	}
	if ((unsigned long)sf.f_type == FUSE_MAGIC)
		mount_type(st.st_dev, type, sizeof(type));
	name = pd_fs_network_name((unsigned long)sf.f_type, type);
	if (name)
		snprintf(what, whatlen, "%s", name);
	return name != NULL;
}

int pd_runtime_base(char *path, size_t pathlen, int *fd, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int n, f, v = PD_PRIVATE_OK;

	*fd = -1;
	if (xdg && xdg[0] == '/')
		n = snprintf(path, pathlen, "%s/parade", xdg);
	else
		n = snprintf(path, pathlen, "/tmp/parade-%lu", (unsigned long)geteuid());
	if (n < 0 || (size_t)n >= pathlen) {
		snprintf(err, errlen, "runtime folder path too long");
		return -ENAMETOOLONG;
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "cannot create the runtime folder %s: %s", path, strerror(e));
		return -e;
	}
	/* /tmp is everybody's: the name may have been taken by someone else,
	 * or planted as a link */
	f = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f < 0) {
		int e = errno;
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
			pd_private_message(PD_PRIVATE_LINK, path, st.st_uid, st.st_mode, err, errlen);
			return -ELOOP;
		}
		snprintf(err, errlen, "cannot open the runtime folder %s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(f, &st) < 0 || (v = pd_private_judge(&st, geteuid())) != PD_PRIVATE_OK) {
		size_t n;
		if (fstat(f, &st) < 0)
			snprintf(err, errlen, "cannot check %s: %s", path, strerror(errno));
		else
			pd_private_message(v, path, st.st_uid, st.st_mode, err, errlen);
		/* the folder is not PARADE_HOME: say how to choose another one */
		n = strlen(err);
		if (n < errlen)
			snprintf(err + n, errlen - n,
				 " (it holds the sessions' runtime folders while PARADE_HOME is on a "
				 "network file system; XDG_RUNTIME_DIR=DIR puts them in DIR/parade)");
		close(f);
		return -EPERM;
	}
	*fd = f;
	return 0;
}

int pd_rtptr_parse(const char *text, const char *src, pd_rtptr *p, char *err, size_t errlen)
{
	const char *s = text;
	int lineno = 0;

	memset(p, 0, sizeof(*p));
	while (*s) {
		size_t len = strcspn(s, "\n");
		const char *eq = memchr(s, '=', len), *v;
		size_t klen, vlen;

		lineno++;
		if (len == 0 || s[0] == '#')
			goto next;
		if (!eq) {
			snprintf(err, errlen, "%s: line %d: expected key=value", src, lineno);
			return -EINVAL;
		}
		klen = (size_t)(eq - s);
		v = eq + 1;
		vlen = len - klen - 1;
		if (klen == 4 && !memcmp(s, "host", 4) && vlen && vlen < sizeof(p->host)) {
			memcpy(p->host, v, vlen);
			p->host[vlen] = 0;
		} else if (klen == 3 && !memcmp(s, "dir", 3) && vlen && vlen < sizeof(p->dir) &&
			   v[0] == '/') {
			memcpy(p->dir, v, vlen);
			p->dir[vlen] = 0;
		} else {
			snprintf(err, errlen, "%s: line %d: unexpected '%.*s'", src, lineno,
				 (int)(len > 80 ? 80 : len), s);
			return -EINVAL;
		}
next:
		s += len;
		if (*s == '\n')
			s++;
	}
	if (!p->host[0] || !p->dir[0]) {
		snprintf(err, errlen, "%s: missing %s", src, !p->host[0] ? "host" : "dir");
		return -EINVAL;
	}
	return 0;
}

int pd_rtptr_write(int dfd, const pd_rtptr *p, char *err, size_t errlen)
{
	static const char tmp[] = PD_SF_RUNTIME ".tmp";
	char text[4600];
	int n, fd, rv = 0;

	n = snprintf(text, sizeof(text),
		     "# parade: this session's live files are on host %s, in %s\nhost=%s\ndir=%s\n",
		     p->host, p->dir, p->host, p->dir);
	if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
		rv = -errno;
	fd = rv ? -1 : openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && !rv)
		rv = -errno;
	if (fd >= 0) {
		if (write(fd, text, (size_t)n) != n)
			rv = errno ? -errno : -EIO;
		if (rv == 0 && fsync(fd) < 0)
			rv = -errno;
		close(fd);
	}
	if (rv == 0 && renameat(dfd, tmp, dfd, PD_SF_RUNTIME) < 0)
		rv = -errno;
	if (rv < 0) {
		unlinkat(dfd, tmp, 0);
		snprintf(err, errlen, "cannot write the session's pointer file: %s", strerror(-rv));
	}
	return rv;
}

int pd_rtptr_read(int dfd, pd_rtptr *p, time_t *age_s, char *err, size_t errlen)
{
	char text[4600];
	struct stat st;
	ssize_t n;
	int fd, rv;

	memset(p, 0, sizeof(*p));
	fd = openat(dfd, PD_SF_RUNTIME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rv = -errno;
		if (rv != -ENOENT)
			snprintf(err, errlen, "cannot read the session's pointer file: %s",
				 strerror(-rv));
		return rv;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		snprintf(err, errlen, "the session's pointer file is not a file of this user");
		return -EPERM;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot read the session's pointer file: %s", strerror(-rv));
		return rv;
	}
	text[n] = 0;
	if (age_s) {
		time_t now = time(NULL);
		*age_s = now > st.st_mtime ? now - st.st_mtime : 0;
	}
	return pd_rtptr_parse(text, PD_SF_RUNTIME, p, err, errlen);
}

int pd_rtptr_touch(int dfd)
{
	return utimensat(dfd, PD_SF_RUNTIME, NULL, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

void pd_host_name(char *out, size_t outlen)
{
	char h[256];

	if (gethostname(h, sizeof(h)) < 0 || !h[0])
		snprintf(h, sizeof(h), "localhost");
	h[sizeof(h) - 1] = 0;
	snprintf(out, outlen, "%s", h);
}
