/* fuzz.h - what every harness in tests/fuzz shares.
 *
 * A harness defines LLVMFuzzerTestOneInput(data, size): it hands the bytes
 * to one decoder of outside bytes and checks what it can about the answer
 * (a round trip through the matching encoder, invariants the header
 * promises). A broken promise is a finding: FUZZ_CHECK prints where and
 * aborts, which libFuzzer (and the corpus replay of `make check`) reports
 * as a crash with the input that caused it.
 *
 * Harnesses are built two ways: by scripts/fuzz.sh with clang and
 * -fsanitize=fuzzer,address,undefined, and by `make check` with the
 * project's compiler, linked to replay.c, which runs each file of the
 * harness's seed corpus once. Nothing here writes files or keeps state
 * between inputs, except where a harness says so. */
#ifndef PD_FUZZ_H
#define PD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, what)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: fuzz check failed: %s (%s)\n", __FILE__, __LINE__, \
				(what), #cond);                                                    \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
