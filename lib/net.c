#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int resolve(const pd_endpoint *ep, struct sockaddr_storage *ss, socklen_t *sl, int passive,
		   char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int g;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	snprintf(port, sizeof(port), "%u", ep->port);
	g = getaddrinfo(ep->host[0] ? ep->host : NULL, port, &hints, &res);
	if (g != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", ep->host, gai_strerror(g));
		return -EHOSTUNREACH;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void addr_string(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(out, outlen, "%s:%u", a, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(out, outlen, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		snprintf(out, outlen, "unix");
	}
}

int pd_net_ipc_clear(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un su;
	struct stat st;
	int fd, rv, e;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		rv = -errno;
		snprintf(err, errlen, "cannot listen on ipc://%s: %s", path, strerror(-rv));
		return rv;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
			 "cannot listen on ipc://%s: %s exists and is not a socket (a %s); parade "
			 "removes only a stale socket of its own there: move it away or choose "
			 "another path",
			 path, path,
			 S_ISLNK(st.st_mode)  ? "symbolic link"
			 : S_ISDIR(st.st_mode) ? "folder"
			 : S_ISREG(st.st_mode) ? "regular file"
					       : "special file");
		return -EEXIST;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen,
			 "cannot listen on ipc://%s: the socket there belongs to uid %lu, not to "
			 "this user; parade leaves it alone: choose another path",
			 path, (unsigned long)st.st_uid);
		return -EPERM;
	}
	if (strlen(path) >= sizeof(su.sun_path)) {
		snprintf(err, errlen, "cannot listen on ipc://%s: path too long for a socket", path);
		return -ENAMETOOLONG;
	}
	/* stale when nobody accepts: connect is refused */
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	memcpy(su.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot listen on ipc://%s: %s", path, strerror(-rv));
		return rv;
	}
	rv = connect(fd, (struct sockaddr *)&su, sizeof(su));
	e = errno;
	close(fd);
	if (rv < 0 && e == ECONNREFUSED) {
		if (unlink(path) < 0 && errno != ENOENT) {
			rv = -errno;
			snprintf(err, errlen, "cannot remove the stale socket %s: %s", path,
				 strerror(-rv));
			return rv;
		}
		return 0;
	}
	snprintf(err, errlen, "cannot listen on ipc://%s: %s is in use by another process", path,
		 path);
	return -EADDRINUSE;
}

int pd_net_listen(const pd_endpoint *ep, pd_endpoint *bound, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int fd = -1, rv, one = 1;

	memset(&ss, 0, sizeof(ss));
	*bound = *ep;
	if (ep->kind == PD_EP_IPC) {
		struct sockaddr_un *su = (void *)&ss;
		su->sun_family = AF_UNIX;
		snprintf(su->sun_path, sizeof(su->sun_path), "%s", ep->path);
		sl = sizeof(*su);
		rv = pd_net_ipc_clear(ep->path, err, errlen);
		if (rv < 0)
			return rv;
	} else {
		rv = resolve(ep, &ss, &sl, 1, err, errlen);
		if (rv < 0)
			return rv;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (ep->kind != PD_EP_IPC)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	/* only this user may dial a socket it binds (outside the 0700
	 * session folder, --insecure ipc:// has no other protection) */
	if (ep->kind == PD_EP_IPC && chmod(ep->path, 0600) < 0) {
		int e = errno;
		unlink(ep->path);
		errno = e;
		goto fail;
	}
	if (listen(fd, 4096) < 0)
		goto fail;
	if (ep->kind != PD_EP_IPC) {
		sl = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &sl);
		bound->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
							    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return fd;
fail:
	rv = -errno;
	{
		char url[400];
		pd_endpoint_format(ep, url, sizeof(url));
		snprintf(err, errlen, "cannot listen on %s: %s", url, strerror(-rv));
	}
	if (fd >= 0)
		close(fd);
	return rv;
}

int pd_net_accept(int lfd, char *peer, size_t peerlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, one = 1;

	fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return (errno == EWOULDBLOCK) ? -EAGAIN : -errno;
	if (ss.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	addr_string(&ss, peer, peerlen);
	return fd;
}

int pd_net_connect(const pd_endpoint *ep, int *in_progress, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int fd, rv, one = 1;
	char url[400];

	memset(&ss, 0, sizeof(ss));
	*in_progress = 0;
	if (ep->kind == PD_EP_IPC) {
		struct sockaddr_un *su = (void *)&ss;
		su->sun_family = AF_UNIX;
		snprintf(su->sun_path, sizeof(su->sun_path), "%s", ep->path);
		sl = sizeof(*su);
	} else {
		rv = resolve(ep, &ss, &sl, 0, err, errlen);
		if (rv < 0)
			return rv;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (ep->kind != PD_EP_IPC)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN)
			goto fail;
		*in_progress = 1;
	}
	return fd;
fail:
	rv = -errno;
	pd_endpoint_format(ep, url, sizeof(url));
	snprintf(err, errlen, "cannot connect to %s: %s", url, strerror(-rv));
	if (fd >= 0)
		close(fd);
	return rv;
}

long pd_net_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur;
}

void pd_net_accept_hint(int rv, char *out, size_t outlen)
{
	struct rlimit rl;
	unsigned long long max = 0;
	FILE *f;

	if (!outlen)
		return;
	out[0] = 0;
	if (rv == -EMFILE) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			snprintf(out, outlen,
				 "RLIMIT_NOFILE is %llu (hard limit %llu); raise it with ulimit -n",
				 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
		else
			snprintf(out, outlen, "RLIMIT_NOFILE reached; raise it with ulimit -n");
	} else if (rv == -ENFILE) {
		f = fopen("/proc/sys/fs/file-max", "re");
		if (f && fscanf(f, "%llu", &max) == 1)
			snprintf(out, outlen,
				 "the system-wide limit fs.file-max is %llu; raise it with sysctl", max);
		else
			snprintf(out, outlen, "the system-wide limit fs.file-max was reached");
		if (f)
			fclose(f);
	} else if (rv == -ENOMEM || rv == -ENOBUFS) {
		snprintf(out, outlen, "out of memory");
	}
}
