/* mkoldfmt: tests only (built with -Dtests=true). Rewrites every format-3
 * content file of an unmounted store in format 1 or 2, each node pointed
 * at it with no commit record, as an older build left the store; for
 * tests/integration/test_upgrade.sh, which then checks wormctl upgrade.
 * Needs WORMFS_TEST_OLD_FORMAT=1 (ns_upgrade's test hook).
 * Usage: mkoldfmt STORE 1|2 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ns.h"

int main(int argc, char **argv)
{
	struct ns_upgrade_opts o;
	struct ns_upgrade_stats st;
	struct cfg cfg;
	char path[4096], err[512] = "";
	ns *n = NULL;
	int rc;

	if (argc != 3 || (strcmp(argv[2], "1") && strcmp(argv[2], "2"))) {
		fprintf(stderr, "usage: mkoldfmt STORE 1|2\n");
		return 2;
	}
	cfg_defaults(&cfg);
	snprintf(path, sizeof(path), "%s/wormfs.conf", argv[1]);
	rc = cfg_load(&cfg, path, err, sizeof(err));
	if ((rc < 0 && rc != -ENOENT) || cfg_finish(&cfg, err, sizeof(err)) < 0 ||
	    ns_open(argv[1], &cfg, NS_OFFLINE, &n, err, sizeof(err))) {
		fprintf(stderr, "mkoldfmt: %s\n", err);
		return 1;
	}
	memset(&o, 0, sizeof(o));
	o.test_format = (unsigned)(argv[2][0] - '0');
	rc = ns_upgrade(n, &o, &st);
	ns_close(n);
	if (rc) {
		fprintf(stderr, "mkoldfmt: %s\n", strerror(-rc));
		return 1;
	}
	printf("%" PRIu64 " object(s) rewritten in format %s, %" PRIu64 " failed\n", st.upgraded,
	       argv[2], st.failed);
	return st.failed ? 1 : 0;
}
