/* test_ssh.c - the ssh launch mode's pure parts: hosts and host files, the
 * ssh command line, the connection text on stdin, judging an ended ssh. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ssh.h"

#define EXITED(code) ((code) << 8)

static char tmp[256];

static const char SECRET_HEX[] =
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/* ---- hosts ---- */

static int host(const char *s, pd_ssh_host *h, char *err, size_t errlen)
{
	return pd_ssh_host_parse(s, strlen(s), h, err, errlen);
}

static void test_host_parse(void)
{
	pd_ssh_host h;
	char err[300], name[320];

	CU_ASSERT_EQUAL(host("node1", &h, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(h.host, "node1");
	CU_ASSERT_STRING_EQUAL(h.user, "");
	CU_ASSERT_EQUAL(h.port, 0);
	CU_ASSERT_EQUAL(host("alice@node-2.example.org:2222", &h, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(h.user, "alice");
	CU_ASSERT_STRING_EQUAL(h.host, "node-2.example.org");
	CU_ASSERT_EQUAL(h.port, 2222);
	pd_ssh_host_name(&h, name, sizeof(name));
	CU_ASSERT_STRING_EQUAL(name, "alice@node-2.example.org:2222");
	CU_ASSERT_EQUAL(host("root@[::1]:22", &h, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(h.host, "::1");
	CU_ASSERT_EQUAL(h.port, 22);
	pd_ssh_host_name(&h, name, sizeof(name));
	CU_ASSERT_STRING_EQUAL(name, "root@[::1]:22");
	CU_ASSERT_EQUAL(host("fe80::1", &h, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(h.host, "fe80::1");
	CU_ASSERT_EQUAL(h.port, 0);
	CU_ASSERT_EQUAL(host("[::1]", &h, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(h.host, "::1");

	CU_ASSERT_EQUAL(host("node:", &h, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad port ''"));
	CU_ASSERT_EQUAL(host("node:70000", &h, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad port '70000'"));
	CU_ASSERT_EQUAL(host("node:22x", &h, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(host("node:0", &h, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(host("alice@", &h, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "empty host name");
	CU_ASSERT_EQUAL(host(":22", &h, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "empty host name");
	CU_ASSERT_EQUAL(host("@node", &h, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "empty user name");
	/* nothing that ssh would take for an option */
	CU_ASSERT_EQUAL(host("-oProxyCommand=x", &h, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(host("-l@node", &h, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(host("no de", &h, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(host("[::1", &h, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(host("[::1]x", &h, err, sizeof(err)), -EINVAL);
}

static int hostfile(const char *text, pd_ssh_opts *o, char *err, size_t errlen)
{
	return pd_hostfile_parse("hosts.txt", text, strlen(text), o, err, errlen);
}

static void test_hostfile_good(void)
{
	pd_ssh_opts o;
	char err[512];
	const char *text = "# the lab\n"
			   "\n"
			   "node1\n"
			   "  bob@node2:2200   4   # four cores\n"
			   "node3 slots=8\n"
			   "\t[::1]:2222\t2";

	memset(&o, 0, sizeof(o));
	CU_ASSERT_EQUAL_FATAL(hostfile(text, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(o.nhosts, 4);
	CU_ASSERT_STRING_EQUAL(o.hosts[0].host, "node1");
	CU_ASSERT_EQUAL(o.hosts[0].slots, 0);
	CU_ASSERT_STRING_EQUAL(o.hosts[1].user, "bob");
	CU_ASSERT_STRING_EQUAL(o.hosts[1].host, "node2");
	CU_ASSERT_EQUAL(o.hosts[1].port, 2200);
	CU_ASSERT_EQUAL(o.hosts[1].slots, 4);
	CU_ASSERT_EQUAL(o.hosts[2].slots, 8);
	CU_ASSERT_STRING_EQUAL(o.hosts[3].host, "::1");
	CU_ASSERT_EQUAL(o.hosts[3].port, 2222);
	CU_ASSERT_EQUAL(o.hosts[3].slots, 2);
	pd_ssh_opts_free(&o);
	CU_ASSERT_PTR_NULL(o.hosts);
}

static void expect_hostfile_error(const char *text, const char *msg)
{
	pd_ssh_opts o;
	char err[512] = "";

	memset(&o, 0, sizeof(o));
	CU_ASSERT_EQUAL(hostfile(text, &o, err, sizeof(err)), -EINVAL);
	if (!strstr(err, msg)) {
		fprintf(stderr, "\n  expected '%s' in '%s'\n", msg, err);
		CU_FAIL("message");
	}
	pd_ssh_opts_free(&o);
}

static void test_hostfile_errors(void)
{
	expect_hostfile_error("a\nb 0\n", "hosts.txt: line 2: bad slots '0' (expected 1 to 4096)");
	expect_hostfile_error("a x\n", "hosts.txt: line 1: bad slots 'x'");
	expect_hostfile_error("# c\n\na slots=5000\n", "hosts.txt: line 3: bad slots 'slots=5000'");
	expect_hostfile_error("a\n\nb:99999\n", "hosts.txt: line 3: bad port '99999'");
	expect_hostfile_error("a\nb:\n", "hosts.txt: line 2: bad port ''");
	expect_hostfile_error("bob@ 2\n", "hosts.txt: line 1: empty host name");
	expect_hostfile_error("a 2 extra\n", "hosts.txt: line 1: unexpected 'extra'");
	expect_hostfile_error("-oProxyCommand=evil\n", "hosts.txt: line 1: bad host name");
	expect_hostfile_error("# nothing\n\n", "hosts.txt: no hosts in it");
}

static void test_hostfile_load(void)
{
	pd_ssh_opts o;
	char path[400], err[512];
	FILE *f;

	memset(&o, 0, sizeof(o));
	snprintf(path, sizeof(path), "%s/hosts", tmp);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("x1\nx2 3\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(pd_hostfile_load(path, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.nhosts, 2);
	/* appends */
	CU_ASSERT_EQUAL(pd_hostfile_load(path, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.nhosts, 4);
	pd_ssh_opts_free(&o);
	snprintf(path, sizeof(path), "%s/missing", tmp);
	CU_ASSERT_EQUAL(pd_hostfile_load(path, &o, err, sizeof(err)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read host file"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/missing"));
}

static void test_opts(void)
{
	pd_ssh_opts o;

	memset(&o, 0, sizeof(o));
	CU_ASSERT_EQUAL(pd_ssh_opt(&o, "hosts", "a,u@b:2022,[::1]:22"), 1);
	CU_ASSERT_EQUAL(o.nhosts, 3);
	CU_ASSERT_EQUAL(o.hosts[1].port, 2022);
	CU_ASSERT_EQUAL(pd_ssh_opt(&o, "hosts", "a,,b"), -EINVAL);
	CU_ASSERT_EQUAL(pd_ssh_opt(&o, "ssh-opt", "IdentityFile=/k"), 1);
	CU_ASSERT_EQUAL(o.nopts, 1);
	CU_ASSERT_EQUAL(pd_ssh_opt(&o, "ssh-opt", ""), -EINVAL);
	CU_ASSERT_EQUAL(pd_ssh_opt(&o, "tunnel", NULL), 1);
	CU_ASSERT_EQUAL(o.tunnel, 1);
	CU_ASSERT_EQUAL(pd_ssh_opt(&o, "remote-connect-file", NULL), 1);
	CU_ASSERT_EQUAL(pd_ssh_opt(&o, "tunnel-port", "70000"), -EINVAL);
	CU_ASSERT_EQUAL(pd_ssh_opt(&o, "tunnel-port", "7000"), 1);
	CU_ASSERT_EQUAL(o.tunnel_port, 7000);
	CU_ASSERT_EQUAL(pd_ssh_opt(&o, "remote-agent", "/opt/p/parade-agent"), 1);
	CU_ASSERT_STRING_EQUAL(o.remote_agent, "/opt/p/parade-agent");
	CU_ASSERT_EQUAL(pd_ssh_opt(&o, "partition", "x"), 0);
	pd_ssh_opts_free(&o);
}

/* ---- the command line ---- */

static void expect_argv(char **got, const char *const *want)
{
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	for (i = 0; want[i] && got[i]; i++) {
		if (strcmp(got[i], want[i]) != 0) {
			fprintf(stderr, "\n  argv[%zu]: got '%s', want '%s'\n", i, got[i], want[i]);
			CU_FAIL("argv word");
		}
	}
	CU_ASSERT_PTR_NULL(want[i]);
	CU_ASSERT_PTR_NULL(got[i]);
}

static void test_argv_direct(void)
{
	pd_ssh_opts o;
	pd_ssh_host h;
	pd_buf cmd = {0};
	char err[300], **argv;
	const char *want[] = {"ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o",
			      "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "node1", "--",
			      "exec parade-agent --connect - --mode ssh --slots 1", NULL};

	memset(&o, 0, sizeof(o));
	CU_ASSERT_EQUAL_FATAL(host("node1", &h, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pd_ssh_remote_cmd(&o, &h, "s1", 0, &cmd), 0);
	pd_buf_append(&cmd, "", 1);
	argv = pd_ssh_argv("ssh", &o, &h, NULL, (const char *)pd_buf_head(&cmd));
	expect_argv(argv, want);
	pd_ssh_argv_free(argv);
	pd_buf_free(&cmd);
}

static void test_argv_user_port_opts(void)
{
	pd_ssh_opts o;
	pd_ssh_host h;
	pd_buf cmd = {0};
	char err[300], **argv;
	/* the user's -o come first: ssh keeps the first value of an option */
	const char *want[] = {"/usr/bin/ssh", "-o", "IdentityFile=/k/id", "-o",
			      "ConnectTimeout=3", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
			      "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-p",
			      "2222", "bob@10.0.0.7", "--",
			      "exec /opt/parade/bin/parade-agent --connect - --mode ssh --slots 4 -v",
			      NULL};

	memset(&o, 0, sizeof(o));
	o.ssh_opts[o.nopts++] = "IdentityFile=/k/id";
	o.ssh_opts[o.nopts++] = "ConnectTimeout=3";
	o.remote_agent = "/opt/parade/bin/parade-agent";
	o.slots = 2;
	o.verbose = 1;
	CU_ASSERT_EQUAL_FATAL(host("bob@10.0.0.7:2222", &h, err, sizeof(err)), 0);
	h.slots = 4; /* the host's own count wins over o.slots */
	CU_ASSERT_EQUAL(pd_ssh_remote_cmd(&o, &h, "s1", 0, &cmd), 0);
	pd_buf_append(&cmd, "", 1);
	argv = pd_ssh_argv("/usr/bin/ssh", &o, &h, NULL, (const char *)pd_buf_head(&cmd));
	expect_argv(argv, want);
	pd_ssh_argv_free(argv);
	pd_buf_free(&cmd);
}

static void test_argv_tunnel(void)
{
	pd_ssh_opts o;
	pd_ssh_host h;
	char err[300], fwd[200], **argv;
	const char *want[] = {"ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o",
			      "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-p", "22",
			      "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=INFO", "-R",
			      "127.0.0.1:40000:127.0.0.1:41234", "root@::1",
			      "--", "CMD", NULL};

	memset(&o, 0, sizeof(o));
	o.tunnel = 1;
	CU_ASSERT_EQUAL_FATAL(host("root@[::1]:22", &h, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pd_ssh_forward(40000, "127.0.0.1", 41234, fwd, sizeof(fwd)), 0);
	argv = pd_ssh_argv("ssh", &o, &h, fwd, "CMD");
	expect_argv(argv, want);
	pd_ssh_argv_free(argv);
	CU_ASSERT_EQUAL(pd_ssh_forward(5, "::1", 6, fwd, sizeof(fwd)), 0);
	CU_ASSERT_STRING_EQUAL(fwd, "127.0.0.1:5:[::1]:6");
	CU_ASSERT_EQUAL(pd_ssh_forward(5, "::1", 6, fwd, 8), -ENAMETOOLONG);
	/* port 0: the host's sshd picks one */
	CU_ASSERT_EQUAL(pd_ssh_forward(0, "127.0.0.1", 6, fwd, sizeof(fwd)), 0);
	CU_ASSERT_STRING_EQUAL(fwd, "127.0.0.1:0:127.0.0.1:6");
}

/* ssh's report of a -R 0 forward, as OpenSSH prints it; nothing else. */
static void test_allocated_port(void)
{
	unsigned port = 7;

	CU_ASSERT_EQUAL(pd_ssh_allocated_port("Allocated port 40123 for remote forward to "
					      "127.0.0.1:41234", &port), 1);
	CU_ASSERT_EQUAL(port, 40123);
	CU_ASSERT_EQUAL(pd_ssh_allocated_port("Allocated port 1 for remote forward to [::1]:5",
					      &port), 1);
	CU_ASSERT_EQUAL(port, 1);
	port = 7;
	CU_ASSERT_EQUAL(pd_ssh_allocated_port("Allocated port 0 for remote forward to x:1",
					      &port), 0);
	CU_ASSERT_EQUAL(pd_ssh_allocated_port("Allocated port 65536 for remote forward to x:1",
					      &port), 0);
	CU_ASSERT_EQUAL(pd_ssh_allocated_port("Allocated port 99999999999999999999 for remote "
					      "forward to x:1", &port), 0);
	CU_ASSERT_EQUAL(pd_ssh_allocated_port("Allocated port 12 for local forward", &port), 0);
	CU_ASSERT_EQUAL(pd_ssh_allocated_port("parade-agent: Allocated port 12 for remote "
					      "forward to x:1", &port), 0);
	CU_ASSERT_EQUAL(pd_ssh_allocated_port("Allocated port -1 for remote forward to x:1",
					      &port), 0);
	CU_ASSERT_EQUAL(pd_ssh_allocated_port("", &port), 0);
	CU_ASSERT_EQUAL(port, 7);
}

static void test_remote_cmd(void)
{
	pd_ssh_opts o;
	pd_ssh_host h;
	pd_buf cmd = {0};
	char err[300];
	const char *s;

	memset(&o, 0, sizeof(o));
	CU_ASSERT_EQUAL_FATAL(host("n", &h, err, sizeof(err)), 0);
	/* a path with a space is quoted; a leading ~/ stays expandable */
	o.remote_agent = "/opt/my tools/parade-agent";
	CU_ASSERT_EQUAL(pd_ssh_remote_cmd(&o, &h, "s", 0, &cmd), 0);
	pd_buf_append(&cmd, "", 1);
	CU_ASSERT_STRING_EQUAL((const char *)pd_buf_head(&cmd),
			       "exec '/opt/my tools/parade-agent' --connect - --mode ssh --slots 1");
	pd_buf_reset(&cmd);
	o.remote_agent = "~/bin/parade-agent";
	CU_ASSERT_EQUAL(pd_ssh_remote_cmd(&o, &h, "s", 0, &cmd), 0);
	pd_buf_append(&cmd, "", 1);
	CU_ASSERT_STRING_EQUAL((const char *)pd_buf_head(&cmd),
			       "exec ~/bin/parade-agent --connect - --mode ssh --slots 1");
	pd_buf_reset(&cmd);
	o.remote_agent = NULL;
	o.remote_connect_file = 1;
	CU_ASSERT_EQUAL(pd_ssh_remote_cmd(&o, &h, "demo", 2, &cmd), 0);
	pd_buf_append(&cmd, "", 1);
	s = (const char *)pd_buf_head(&cmd);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "umask 077"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "d=~/.parade "));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "f=\"$d\"/remote-demo.2.conn"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "[ \"$l\" != end ]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "parade-agent --connect \"$f\" --exit-on-eof --mode ssh"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "rm -f \"$f\""));
	pd_buf_free(&cmd);
}

/* A command for the coprocess that no remote shell may change: quotes of
 * both kinds, '$', backquotes, ';', '&', '|', redirections, globs, '~',
 * '#', '!', backslashes, a tab, a control byte, UTF-8, newlines, and a
 * quote at both ends. */
static const char HOSTILE[] =
	"'it's \"$HOME\" `id` $(id) ${x:-y}; a && b || c | d > /dev/null < e &"
	" \\ \\\\ \\' ~ ~/x * ? [a] {a,b} # ! !! \t\x01 caf\xc3\xa9\n"
	"second line '' \"\" $\n'";

static void test_remote_cmd_coproc(void)
{
	pd_ssh_opts o;
	pd_ssh_host h;
	pd_buf cmd = {0};
	char err[300];
	const char *s;

	memset(&o, 0, sizeof(o));
	CU_ASSERT_EQUAL_FATAL(host("n", &h, err, sizeof(err)), 0);
	o.coproc = "while read l; do echo \"$l\"; done";
	o.verbose = 1;
	CU_ASSERT_EQUAL(pd_ssh_remote_cmd(&o, &h, "s", 0, &cmd), 0);
	pd_buf_append(&cmd, "", 1);
	CU_ASSERT_STRING_EQUAL((const char *)pd_buf_head(&cmd),
			       "exec parade-agent --connect - --mode ssh --slots 1 -v --coproc "
			       "'while read l; do echo \"$l\"; done'");
	/* a quote is closed, escaped and reopened; nothing else is touched */
	pd_buf_reset(&cmd);
	o.verbose = 0;
	o.coproc = "a'b $c\nd";
	CU_ASSERT_EQUAL(pd_ssh_remote_cmd(&o, &h, "s", 0, &cmd), 0);
	pd_buf_append(&cmd, "", 1);
	CU_ASSERT_STRING_EQUAL((const char *)pd_buf_head(&cmd),
			       "exec parade-agent --connect - --mode ssh --slots 1 --coproc "
			       "'a'\\''b $c\nd'");
	/* the script form: the same options for the agent it runs */
	pd_buf_reset(&cmd);
	o.remote_connect_file = 1;
	CU_ASSERT_EQUAL(pd_ssh_remote_cmd(&o, &h, "demo", 1, &cmd), 0);
	pd_buf_append(&cmd, "", 1);
	s = (const char *)pd_buf_head(&cmd);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "parade-agent --connect \"$f\" --exit-on-eof --mode ssh "
					 "--slots 1 --coproc 'a'\\''b $c\nd'; r=$?;"));
	pd_buf_free(&cmd);
}

/* Nothing is cut short: a long command, the longest session name. */
static void test_remote_cmd_long(void)
{
	static char big[20000];
	char name[128], want[200], err[300];
	pd_ssh_opts o;
	pd_ssh_host h;
	pd_buf cmd = {0};
	const char *s;

	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\'';
	memset(name, 's', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	memset(&o, 0, sizeof(o));
	CU_ASSERT_EQUAL_FATAL(host("n", &h, err, sizeof(err)), 0);
	o.coproc = big;
	o.remote_connect_file = 1;
	o.slots = 4096;
	CU_ASSERT_EQUAL(pd_ssh_remote_cmd(&o, &h, name, 7, &cmd), 0);
	pd_buf_append(&cmd, "", 1);
	s = (const char *)pd_buf_head(&cmd);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "--slots 4096 --coproc 'xxx"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "x'\\'''; r=$?; rm -f \"$f\"; exit $r; }"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(s, " --coproc '"));
	CU_ASSERT_EQUAL(strspn(strstr(s, " --coproc '") + 11, "x"), sizeof(big) - 2);
	snprintf(want, sizeof(want), "f=\"$d\"/remote-%s.7.conn && ", name);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, want));
	pd_buf_free(&cmd);
}

/* Runs `shell -c cmd` with HOME=tmp and `input` on its stdin, as sshd
 * would; its exit status, or -1. */
static int run_shell(const char *shell, const char *cmd, const char *input)
{
	int p[2], st = 0;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		setenv("HOME", tmp, 1);
		execl(shell, shell, "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	signal(SIGPIPE, SIG_IGN); /* a shell that does not read is its own failure */
	if (write(p[1], input, strlen(input)) < 0)
		perror("write to the shell");
	close(p[1]);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Reads the words (NUL-terminated) the fake agent wrote and compares them
 * with want; 0 if equal. */
static int expect_words(const char *path, const char *const *want)
{
	char buf[8192];
	int fd = open(path, O_RDONLY), bad = 0;
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	size_t off = 0, i;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return -1;
	for (i = 0; want[i]; i++) {
		if (off >= (size_t)n || strcmp(buf + off, want[i]) != 0) {
			fprintf(stderr, "\n  word %zu: got '%s', want '%s'\n", i,
				off < (size_t)n ? buf + off : "(none)", want[i]);
			bad = 1;
			break;
		}
		off += strlen(want[i]) + 1;
	}
	return bad || off != (size_t)n ? -1 : 0;
}

/* The remote command, run by each POSIX shell here in place of the login
 * shell, gives a fake agent HOSTILE as one word, unchanged, in both forms. */
static void test_remote_cmd_shells(void)
{
	static const char *const shells[] = {"/bin/sh",  "/bin/dash", "/bin/bash",
					     "/bin/ksh", "/bin/mksh", "/bin/zsh"};
	char agent[300], words[300], conn[300], copy[300], err[300];
	pd_ssh_opts o;
	pd_ssh_host h;
	pd_buf cmd = {0};
	FILE *f;
	int tried = 0;

	snprintf(agent, sizeof(agent), "%s/fake-agent", tmp);
	snprintf(words, sizeof(words), "%s/words", tmp);
	snprintf(conn, sizeof(conn), "%s/.parade/remote-s.3.conn", tmp);
	snprintf(copy, sizeof(copy), "%s/conn-copy", tmp);
	f = fopen(agent, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	/* its words, NUL-terminated; with --connect FILE, that file too */
	fprintf(f, "#!/bin/sh\nprintf '%%s\\0' \"$@\" >'%s'\n"
		   "[ \"$2\" = - ] || cp \"$2\" '%s'\n", words, copy);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(chmod(agent, 0700), 0);
	memset(&o, 0, sizeof(o));
	CU_ASSERT_EQUAL_FATAL(host("n", &h, err, sizeof(err)), 0);
	o.remote_agent = agent;
	o.coproc = HOSTILE;
	for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++) {
		const char *direct[] = {"--connect", "-", "--mode", "ssh", "--slots", "1",
					"--coproc", HOSTILE, NULL};
		const char *file[] = {"--connect", conn, "--exit-on-eof", "--mode", "ssh",
				      "--slots", "1", "--coproc", HOSTILE, NULL};
		if (access(shells[i], X_OK) != 0)
			continue;
		tried++;
		o.remote_connect_file = 0;
		pd_buf_reset(&cmd);
		CU_ASSERT_EQUAL(pd_ssh_remote_cmd(&o, &h, "s", 3, &cmd), 0);
		pd_buf_append(&cmd, "", 1);
		unlink(words);
		CU_ASSERT_EQUAL(run_shell(shells[i], (const char *)pd_buf_head(&cmd), ""), 0);
		if (expect_words(words, direct) != 0) {
			fprintf(stderr, "  (%s, --connect -)\n", shells[i]);
			CU_FAIL("the agent's words after the remote shell (--connect -)");
		}
		o.remote_connect_file = 1;
		pd_buf_reset(&cmd);
		CU_ASSERT_EQUAL(pd_ssh_remote_cmd(&o, &h, "s", 3, &cmd), 0);
		pd_buf_append(&cmd, "", 1);
		unlink(words);
		CU_ASSERT_EQUAL(run_shell(shells[i], (const char *)pd_buf_head(&cmd),
					  "version=1\nsecret=00\nend\nnot this\n"), 0);
		if (expect_words(words, file) != 0) {
			fprintf(stderr, "  (%s, --remote-connect-file)\n", shells[i]);
			CU_FAIL("the agent's words after the remote shell (a connection file)");
		}
		/* the file held the text up to `end`, and is gone */
		f = fopen(copy, "r");
		CU_ASSERT_PTR_NOT_NULL(f);
		if (f) {
			char got[100] = "";
			size_t n = fread(got, 1, sizeof(got) - 1, f);
			got[n] = 0;
			CU_ASSERT_STRING_EQUAL(got, "version=1\nsecret=00\n");
			fclose(f);
		}
		CU_ASSERT_EQUAL(access(conn, F_OK), -1);
		unlink(copy);
	}
	CU_ASSERT(tried > 0);
	pd_buf_free(&cmd);
}

/* ---- the connection text ---- */

/* Reads path into buf ("" when it cannot). */
static void slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* Runs the --remote-connect-file script with HOME=tmp through shell;
 * its exit status, its stderr in err. */
static int run_private(const char *shell, const char *cmd, char *err, size_t errlen)
{
	char errpath[300];
	int saved = dup(2), fd, st;

	snprintf(errpath, sizeof(errpath), "%s/script.err", tmp);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	st = run_shell(shell, cmd, "version=1\nsecret=00\nend\n");
	dup2(saved, 2);
	close(saved);
	slurp(errpath, err, errlen);
	return st;
}

/* ~/.parade on the host must be the user's alone before the secret is
 * written there: one writable by group or others (or another user's) is
 * refused with exit 2 (ssh.md: a usage error gives the host up) and a
 * link planted at the file's name is never written through. */
static void test_remote_cmd_private_home(void)
{
	static const char *const shells[] = {"/bin/sh", "/bin/dash", "/bin/bash", "/bin/ksh",
					     "/bin/mksh", "/bin/zsh"};
	char agent[300], ran[300], dir[300], conn[400], victim[300], err[2000], text[400];
	char cmd[1300];
	pd_ssh_opts o;
	pd_ssh_host h;
	pd_buf script = {0};
	FILE *f;
	int tried = 0;

	snprintf(agent, sizeof(agent), "%s/stand-in", tmp);
	snprintf(ran, sizeof(ran), "%s/ran", tmp);
	snprintf(dir, sizeof(dir), "%s/.parade", tmp);
	snprintf(conn, sizeof(conn), "%s/remote-p.0.conn", dir);
	snprintf(victim, sizeof(victim), "%s/victim", tmp);
	f = fopen(agent, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "#!/bin/sh\ncat \"$2\" >'%s'\n", ran);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(chmod(agent, 0700), 0);
	memset(&o, 0, sizeof(o));
	CU_ASSERT_EQUAL_FATAL(host("n", &h, err, sizeof(err)), 0);
	o.remote_agent = agent;
	o.remote_connect_file = 1;
	CU_ASSERT_EQUAL_FATAL(pd_ssh_remote_cmd(&o, &h, "p", 0, &script), 0);
	pd_buf_append(&script, "", 1);
	for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++) {
		const char *sh = shells[i], *s = (const char *)pd_buf_head(&script);
		if (access(sh, X_OK) != 0)
			continue;
		tried++;
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		CU_ASSERT_EQUAL(system(cmd), 0);
		f = fopen(victim, "w");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fputs("untouched\n", f);
		fclose(f);

		/* writable by others, a link planted at the file's name */
		CU_ASSERT_EQUAL(mkdir(dir, 0700), 0);
		CU_ASSERT_EQUAL(chmod(dir, 0777), 0);
		CU_ASSERT_EQUAL(symlink(victim, conn), 0);
		unlink(ran);
		CU_ASSERT_EQUAL(run_private(sh, s, err, sizeof(err)), 2);
		snprintf(text, sizeof(text), "%s is writable by group or others", dir);
		if (!strstr(err, text))
			fprintf(stderr, "\n  %s said: %s\n", sh, err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, text));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "chmod 700"));
		CU_ASSERT_EQUAL(access(ran, F_OK), -1); /* no agent */
		slurp(victim, text, sizeof(text));
		CU_ASSERT_STRING_EQUAL(text, "untouched\n");
		/* writable by the group: the same */
		CU_ASSERT_EQUAL(chmod(dir, 0770), 0);
		CU_ASSERT_EQUAL(run_private(sh, s, err, sizeof(err)), 2);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "is writable by group or others"));

		/* the user's own 0700 folder: the link is removed, not written
		 * through, and the agent reads the text */
		CU_ASSERT_EQUAL(chmod(dir, 0700), 0);
		CU_ASSERT_EQUAL(run_private(sh, s, err, sizeof(err)), 0);
		slurp(victim, text, sizeof(text));
		CU_ASSERT_STRING_EQUAL(text, "untouched\n");
		slurp(ran, text, sizeof(text));
		CU_ASSERT_STRING_EQUAL(text, "version=1\nsecret=00\n");
		CU_ASSERT_EQUAL(access(conn, F_OK), -1);

		/* another user's folder (as root: a real second owner) */
		if (geteuid() == 0) {
			CU_ASSERT_EQUAL(chown(dir, 65534, 65534), 0);
			unlink(ran);
			CU_ASSERT_EQUAL(run_private(sh, s, err, sizeof(err)), 2);
			snprintf(text, sizeof(text), "%s belongs to another user", dir);
			CU_ASSERT_PTR_NOT_NULL(strstr(err, text));
			CU_ASSERT_EQUAL(access(ran, F_OK), -1);
		}
	}
	if (geteuid() != 0)
		fprintf(stderr, "SKIP: (not root: a ~/.parade of another user not tested) ");
	CU_ASSERT(tried > 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s' '%s'", dir, victim, ran, agent);
	CU_ASSERT_EQUAL(system(cmd), 0);
	pd_buf_free(&script);
}

static void test_conntext_roundtrip(void)
{
	pd_connfile cf, back;
	pd_buf b = {0};
	size_t used = 0;
	char err[300];

	memset(&cf, 0, sizeof(cf));
	cf.version = 1;
	strcpy(cf.session, "demo");
	strcpy(cf.endpoint, "tls+tcp://ctl.example.org:4000");
	strcpy(cf.local, "ipc:///tmp/x/agents.sock");
	strcpy(cf.identity, "parade");
	for (int i = 0; i < PD_SECRET_LEN; i++)
		cf.secret[i] = (uint8_t)(i * 7 + 1);
	CU_ASSERT_EQUAL_FATAL(pd_ssh_conn_text(&cf, "tls+tcp://127.0.0.1:4100", &b), 0);
	/* the local socket is of no use over there */
	CU_ASSERT_PTR_NULL(memmem(pd_buf_head(&b), pd_buf_size(&b), "local=", 6));
	CU_ASSERT_EQUAL(pd_conntext_parse((const char *)pd_buf_head(&b), pd_buf_size(&b), &back,
					  &used, err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(used, pd_buf_size(&b));
	CU_ASSERT_EQUAL(back.version, 1);
	CU_ASSERT_STRING_EQUAL(back.session, "demo");
	CU_ASSERT_STRING_EQUAL(back.endpoint, "tls+tcp://127.0.0.1:4100");
	CU_ASSERT_STRING_EQUAL(back.identity, "parade");
	CU_ASSERT_EQUAL(memcmp(back.secret, cf.secret, PD_SECRET_LEN), 0);
	pd_buf_free(&b);
}

static int parse(const char *text, pd_connfile *cf, size_t *used, char *err, size_t errlen)
{
	return pd_conntext_parse(text, strlen(text), cf, used, err, errlen);
}

static void test_conntext_parse(void)
{
	pd_connfile cf;
	size_t used;
	char err[300], text[1200];
	static const uint8_t zero[PD_SECRET_LEN];

	/* comments, blank lines, spaces; what follows `end` is not taken */
	snprintf(text, sizeof(text),
		 "# parade\n\nversion = 1\nendpoint=tls+tcp://h:1\r\nsecret=%s\nend\nmore\n",
		 SECRET_HEX);
	CU_ASSERT_EQUAL(parse(text, &cf, &used, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(used, strlen(text) - strlen("more\n"));
	CU_ASSERT_STRING_EQUAL(cf.identity, "parade");
	CU_ASSERT_EQUAL(cf.secret[1], 0x11);

	/* missing secret */
	CU_ASSERT_EQUAL(parse("version=1\nendpoint=tls+tcp://h:1\nend\n", &cf, &used, err,
			      sizeof(err)),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "line 3: 'end' before secret");
	CU_ASSERT_EQUAL(parse("version=1\nend\n", &cf, &used, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "line 2: 'end' before endpoint");

	/* bad hex: reported at once, and no secret is left behind */
	snprintf(text, sizeof(text), "version=1\nsecret=%s\nsecret=%.63sg\n", SECRET_HEX,
		 SECRET_HEX);
	CU_ASSERT_EQUAL(parse(text, &cf, &used, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "line 3: secret must be 64 hex digits");
	CU_ASSERT_EQUAL(memcmp(cf.secret, zero, PD_SECRET_LEN), 0);
	CU_ASSERT_EQUAL(parse("secret=0011\n", &cf, &used, err, sizeof(err)), -EINVAL);

	/* unknown key, no '=', bad version */
	CU_ASSERT_EQUAL(parse("version=1\ncolour=blue\n", &cf, &used, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "line 2: unknown key 'colour'");
	CU_ASSERT_EQUAL(parse("version 1\n", &cf, &used, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "line 1: expected key=value");
	CU_ASSERT_EQUAL(parse("version=x\n", &cf, &used, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "line 1: bad version 'x'");

	/* no `end` (yet): not an error until the input ends */
	snprintf(text, sizeof(text), "version=1\nendpoint=tls+tcp://h:1\nsecret=%s\nen",
		 SECRET_HEX);
	CU_ASSERT_EQUAL(parse(text, &cf, &used, err, sizeof(err)), -EAGAIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "without its 'end' line"));
	CU_ASSERT_EQUAL(memcmp(cf.secret, zero, PD_SECRET_LEN), 0);
	CU_ASSERT_EQUAL(parse("", &cf, &used, err, sizeof(err)), -EAGAIN);

	/* a line too long, even before its end arrives */
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = 0;
	CU_ASSERT_EQUAL(parse(text, &cf, &used, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "line 1: line too long");
}

static void test_conntext_read(void)
{
	pd_connfile cf;
	char err[300], text[400], c = 0;
	int p[2];

	/* from a pipe that stays open, up to `end` and not a byte further */
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	snprintf(text, sizeof(text), "version=1\nendpoint=tls+tcp://h:1\nsecret=%s\nend\nX",
		 SECRET_HEX);
	CU_ASSERT_EQUAL(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
	CU_ASSERT_EQUAL(pd_conntext_read(p[0], 2000, &cf, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cf.endpoint, "tls+tcp://h:1");
	CU_ASSERT_EQUAL(read(p[0], &c, 1), 1);
	CU_ASSERT_EQUAL(c, 'X');

	/* nothing comes */
	CU_ASSERT_EQUAL(pd_conntext_read(p[0], 100, &cf, err, sizeof(err)), -ETIMEDOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no connection text"));

	/* the input ends before `end` */
	CU_ASSERT_EQUAL(write(p[1], "version=1\n", 10), 10);
	close(p[1]);
	CU_ASSERT_EQUAL(pd_conntext_read(p[0], 2000, &cf, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "closed before the connection text's 'end' line"));
	close(p[0]);

	/* a bad line is reported without waiting for more */
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL(write(p[1], "version=1\nsecret=zz\n", 20), 20);
	CU_ASSERT_EQUAL(pd_conntext_read(p[0], 5000, &cf, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "stdin: connection text: line 2: secret must be 64 hex digits");
	close(p[0]);
	close(p[1]);
}

/* ---- how a session ended ---- */

static void test_classify(void)
{
	char why[300];

	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(0), "", 0, why, sizeof(why)), PD_SSH_LEFT);
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(255),
					"Warning: Permanently added 'h' (ED25519) to the list of "
					"known hosts.\r\nroot@h: Permission denied (publickey).\r\n",
					0, why, sizeof(why)),
			PD_SSH_GIVE_UP);
	CU_ASSERT_STRING_EQUAL(why, "authentication refused");
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(255), "Host key verification failed.\r\n", 0, why,
					sizeof(why)),
			PD_SSH_GIVE_UP);
	CU_ASSERT_STRING_EQUAL(why, "host key verification failed");
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(255),
					"ssh: Could not resolve hostname nope: Name or service not "
					"known\r\n",
					0, why, sizeof(why)),
			PD_SSH_GIVE_UP);
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(255),
					"Error: remote port forwarding failed for listen port 4000\r\n",
					4000, why, sizeof(why)),
			PD_SSH_GIVE_UP);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "remote port 4000 is taken"));
	/* a port the host's sshd was to pick: not "taken", refused */
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(255),
					"Error: remote port forwarding failed for listen port 0\r\n",
					0, why, sizeof(why)),
			PD_SSH_GIVE_UP);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "refused the tunnel"));
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(255),
					"ssh: connect to host h port 22: Connection refused\r\n", 0,
					why, sizeof(why)),
			PD_SSH_RETRY);
	/* ssh says nothing when the remote command dies of a signal */
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(255), "", 0, why, sizeof(why)), PD_SSH_RETRY);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "killed"));
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(127), "sh: 1: exec: parade-agent: not found\n", 0,
					why, sizeof(why)),
			PD_SSH_GIVE_UP);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "not found"));
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(127), "parade: cannot run ssh program 'ssh': No "
					"such file or directory\n", 0, why, sizeof(why)),
			PD_SSH_GIVE_UP);
	CU_ASSERT_STRING_EQUAL(why, "cannot run the ssh program");
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(3), "", 0, why, sizeof(why)), PD_SSH_GIVE_UP);
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(2), "", 0, why, sizeof(why)), PD_SSH_GIVE_UP);
	CU_ASSERT_EQUAL(pd_ssh_classify(EXITED(1), "", 0, why, sizeof(why)), PD_SSH_RETRY);
	CU_ASSERT_EQUAL(pd_ssh_classify(9 /* SIGKILL */, "", 0, why, sizeof(why)), PD_SSH_RETRY);
	CU_ASSERT_STRING_EQUAL(why, "ssh ended by signal 9");
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;
	char cmd[300];

	snprintf(tmp, sizeof(tmp), "/tmp/pd-test-ssh-XXXXXX");
	if (!mkdtemp(tmp))
		return 2;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("ssh", NULL, NULL);
	CU_add_test(s, "host parsing", test_host_parse);
	CU_add_test(s, "host file", test_hostfile_good);
	CU_add_test(s, "host file errors", test_hostfile_errors);
	CU_add_test(s, "host file load", test_hostfile_load);
	CU_add_test(s, "options", test_opts);
	CU_add_test(s, "argv direct", test_argv_direct);
	CU_add_test(s, "argv user, port, options", test_argv_user_port_opts);
	CU_add_test(s, "argv tunnel", test_argv_tunnel);
	CU_add_test(s, "ssh's allocated port line", test_allocated_port);
	CU_add_test(s, "remote command", test_remote_cmd);
	CU_add_test(s, "remote command with --coproc", test_remote_cmd_coproc);
	CU_add_test(s, "remote command, long", test_remote_cmd_long);
	CU_add_test(s, "remote command through the shells", test_remote_cmd_shells);
	CU_add_test(s, "remote ~/.parade must be private", test_remote_cmd_private_home);
	CU_add_test(s, "connection text round trip", test_conntext_roundtrip);
	CU_add_test(s, "connection text errors", test_conntext_parse);
	CU_add_test(s, "connection text from a pipe", test_conntext_read);
	CU_add_test(s, "classify", test_classify);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	return fails ? 1 : 0;
}
