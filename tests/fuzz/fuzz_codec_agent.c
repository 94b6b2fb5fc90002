/* fuzz_codec_agent.c - what an agent decodes: controller -> agent frames
 * (WELCOME, REJECT, TASKS, CANCEL, DRAIN, PING, BYE), alone or as a stream cut
 * into frames. See codec_fuzz.h for the checks. */
#include "codec_fuzz.h"

static void check_payload(uint8_t type, const uint8_t *p, size_t n)
{
	switch (type) {
	case PD_MSG_WELCOME:
		check_welcome(p, n);
		break;
	case PD_MSG_REJECT:
		check_reject(p, n);
		break;
	case PD_MSG_TASKS:
		check_tasks(p, n);
		break;
	case PD_MSG_CANCEL:
		check_cancel(p, n);
		break;
	case PD_MSG_PING:
		check_ping(type, p, n);
		break;
	case PD_MSG_BYE:
		check_bye(p, n);
		break;
	default: /* DRAIN has no payload to decode; others are not for agents */
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t types[] = {PD_MSG_WELCOME, PD_MSG_REJECT, PD_MSG_TASKS,
					PD_MSG_CANCEL, PD_MSG_PING, PD_MSG_BYE};

	codec_fuzz(data, size, types, sizeof(types));
	return 0;
}
