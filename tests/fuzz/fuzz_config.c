/* fuzz_config: wormfs.conf as cfg_load reads it (src/config.c, libinih
 * underneath): the input is the whole file, handed over as a memfd. A bad
 * file must leave the configuration untouched; a good one must pass
 * cfg_finish's invariants or be refused by it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "config.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cfg c, before;   /* ~4 KiB each: not on the stack */
	char path[64], err[512];
	int fd, rc;

	fd = memfd_create("wormfs.conf", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(write_all(fd, data, size) == 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	cfg_defaults(&c);
	memcpy(&before, &c, sizeof(c));   /* padding too: compared bytewise */
	err[0] = '\0';
	rc = cfg_load(&c, path, err, sizeof(err));
	if (rc) {
		CHECK(rc == -EINVAL);
		CHECK(err[0] != '\0');
		/* Refused: nothing changed. */
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	} else {
		CHECK(c.max_threads >= 1 && c.max_threads <= 64);
		CHECK(c.attr_timeout >= 0 && c.attr_timeout <= 3600);
		CHECK(c.sync_interval_ms >= 10 && c.sync_interval_ms <= 60000);
		CHECK(memchr(c.passphrase_file, '\0', sizeof(c.passphrase_file)));
		CHECK(c.rules.bypass.nuids <= POLICY_MAX_PRINCIPALS &&
		      c.rules.bypass.ngids <= POLICY_MAX_PRINCIPALS &&
		      c.rules.hold.nuids <= POLICY_MAX_PRINCIPALS &&
		      c.rules.hold.ngids <= POLICY_MAX_PRINCIPALS);
		(void)cfg_finish(&c, err, sizeof(err));
	}
	close(fd);
	return 0;
}
