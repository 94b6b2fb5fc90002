/* launch_ssh.c - the "ssh" launcher (launcher.h): one agent per host,
 * started and kept going over ssh by the pool of lib/ssh_pool.h, which
 * `parade launch ssh` and `parade-agent ssh` use too. It cannot scale: its
 * hosts are the ones given. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "launcher.h"
#include "log.h"
#include "ssh_pool.h"

/* ssh agents dial back over TLS; through a tunnel, loopback is enough */
static const char *ssh_listen_url(const pd_run_opts *o)
{
	return o->ssh.tunnel ? "tls+tcp://127.0.0.1:0" : "tls+tcp://0.0.0.0:0";
}

static int ssh_start(pd_launcher *l, char *err, size_t errlen)
{
	const pd_launch_ctx *x = &l->ctx;
	pd_ssh_opts sso = x->o->ssh;
	pd_endpoint lep;

	/* the pool keeps the secret to send it again when it restarts a host */
	sso.slots = x->o->agent_slots;
	sso.verbose = pd_log_get_level() >= PD_LOG_DEBUG;
	if (pd_endpoint_parse(x->cf->endpoint, &lep, err, errlen) < 0 ||
	    !(l->priv = pd_ssh_start(x->loop, &sso, x->cf, &lep, err, errlen)))
		return -EINVAL;
	l->target = pd_ssh_hosts(l->priv);
	return 0;
}

static void ssh_health(pd_launcher *l, pd_launcher_health *h)
{
	h->alive = pd_ssh_active(l->priv);
	/* every host failed or let its agent go */
	if (h->alive == 0) {
		h->gave_up = 1;
		snprintf(h->why, sizeof(h->why),
			 "no agent is left on the ssh hosts (%u of %u failed); giving up",
			 pd_ssh_failed(l->priv), pd_ssh_hosts(l->priv));
	}
}

static void ssh_report(pd_launcher *l)
{
	pd_ssh_report(l->priv);
}

static void ssh_stop(pd_launcher *l)
{
	pd_ssh_stop(l->priv);
}

static void ssh_free(pd_launcher *l)
{
	pd_ssh_free(l->priv);
}

/* `parade launch ssh ...` */
static int ssh_command(int argc, char **argv)
{
	return pd_ssh_main("parade launch", argc, argv);
}

const pd_launcher_ops pd_launcher_ssh = {
	.name = "ssh",
	.listen_url = ssh_listen_url,
	.start = ssh_start,
	.health = ssh_health,
	.report = ssh_report,
	.stop = ssh_stop,
	.free = ssh_free,
	.command = ssh_command,
};
