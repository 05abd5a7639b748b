/* fuzz_mount_opts: wormfs's -o option lists (cfg_take_opts in
 * src/config.c, what main.c calls for each -o). The input is split at NUL
 * bytes into several -o arguments, as a command line can only carry C
 * strings. Checks: the FUSE options kept are unique by key and joined
 * into one list; a refused list comes with a message. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

/* The key with its '=' (or its NUL): "ro" and "ro=1" are different. */
static size_t key_len(const char *o)
{
	const char *eq = strchr(o, '=');
	return eq ? (size_t)(eq - o) + 1 : strlen(o) + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cfg c;
	struct cfg_mopts m = { NULL, 0, 0, 0 };
	char err[1024], *buf, *p, *end, *joined;
	int rc = 0;

	buf = malloc(size + 1);
	CHECK(buf);
	memcpy(buf, data, size);
	buf[size] = '\0';
	cfg_defaults(&c);
	for (p = buf, end = buf + size; p <= end && !rc; p += strlen(p) + 1) {
		err[0] = '\0';
		rc = cfg_take_opts(&c, p, &m, err, sizeof(err));
		if (rc) {
			CHECK(rc == -EINVAL || rc == -ENOMEM);
			CHECK(err[0] != '\0');
		}
	}
	if (!rc) {
		for (size_t i = 0; i < m.n; i++) {
			CHECK(m.v[i][0] != '\0');
			for (size_t j = i + 1; j < m.n; j++)
				CHECK(key_len(m.v[i]) != key_len(m.v[j]) ||
				      strncmp(m.v[i], m.v[j], key_len(m.v[i])) != 0);
		}
		CHECK(m.max_read == 0 || (m.max_read >= 4096 && m.max_read <= CFG_MAX_READ));
		joined = cfg_mopts_join(&m);
		CHECK(joined);
		free(joined);
		(void)cfg_finish(&c, err, sizeof(err));
	}
	cfg_mopts_free(&m);
	free(buf);
	return 0;
}
