/* fuzz_codec_ctl.c - what the controller decodes: agent -> controller
 * frames (HELLO, RESULTS, PONG, BYE), alone or as a stream cut into
 * frames. See codec_fuzz.h for the checks. */
#include "codec_fuzz.h"

static void check_payload(uint8_t type, const uint8_t *p, size_t n)
{
	switch (type) {
	case PD_MSG_HELLO:
		check_hello(p, n);
		break;
	case PD_MSG_RESULTS:
		check_results(p, n);
		break;
	case PD_MSG_PONG:
		check_ping(type, p, n);
		break;
	default: /* BYE has no payload to decode; others are not for a controller */
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t types[] = {PD_MSG_HELLO, PD_MSG_RESULTS, PD_MSG_PONG};

	codec_fuzz(data, size, types, sizeof(types));
	return 0;
}
