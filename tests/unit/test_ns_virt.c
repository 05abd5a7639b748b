/* ns_virt: the table of the virtual .wormfs files, alone (no store). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/ns_virt.h"
#include "names.h"

Test(ns_virt, lookup_names_the_control_dir_and_its_files)
{
	uint64_t ino = 0;
	cr_assert_eq(ns_virt_lookup(NS_INO_ROOT, NAMES_CTL_DIR, &ino), 0);
	cr_assert_eq(ino, NS_INO_CTL);
	const char *names[] = { "version", "stats", "clock", "audit" };
	const uint64_t inos[] = { NS_INO_VERSION, NS_INO_STATS, NS_INO_CLOCK, NS_INO_AUDIT };
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(ns_virt_lookup(NS_INO_CTL, names[i], &ino), 0, "%s", names[i]);
		cr_assert_eq(ino, inos[i]);
		cr_assert_str_eq(worm_ctl_name(inos[i]), names[i]);
	}
	/* Inside .wormfs only the table's names exist. */
	cr_assert_eq(ns_virt_lookup(NS_INO_CTL, "versions", &ino), -ENOENT);
	cr_assert_eq(ns_virt_lookup(NS_INO_CTL, "", &ino), -ENOENT);
	cr_assert_eq(ns_virt_lookup(NS_INO_CTL, NAMES_CTL_DIR, &ino), -ENOENT);
	/* Elsewhere nothing is virtual: an ordinary lookup follows (1). */
	cr_assert_eq(ns_virt_lookup(NS_INO_ROOT, "version", &ino), 1);
	cr_assert_eq(ns_virt_lookup(NS_INO_ROOT, ".WORMFS", &ino), 1);
	cr_assert_eq(ns_virt_lookup(1000, NAMES_CTL_DIR, &ino), 1);
	cr_assert_null(worm_ctl_name(NS_INO_CTL));
	cr_assert_null(worm_ctl_name(NS_INO_ROOT));
	cr_assert_null(worm_ctl_name(NS_INO_AUDIT + 1));
}

Test(ns_virt, entries_in_readdir_order_then_end)
{
	const char *name;
	uint64_t ino;
	const char *want[] = { "version", "stats", "clock", "audit" };
	size_t i;
	for (i = 0; ns_virt_entry(i, &name, &ino) == 0; i++) {
		cr_assert_lt(i, 4u);
		cr_assert_str_eq(name, want[i]);
		cr_assert(ns_is_virtual(ino));
		/* Each entry is found again by its name. */
		uint64_t back = 0;
		cr_assert_eq(ns_virt_lookup(NS_INO_CTL, name, &back), 0);
		cr_assert_eq(back, ino);
	}
	cr_assert_eq(i, 4u);
	cr_assert_eq(ns_virt_entry(100, &name, &ino), -ENOENT);
}

Test(ns_virt, attributes)
{
	struct ns_attr a;
	cr_assert_eq(ns_virt_attr(NS_INO_CTL, &a), 0);
	cr_assert(S_ISDIR(a.mode));
	cr_assert_eq(a.mode & 07777, 0555);
	cr_assert_eq(a.nlink, 2);
	cr_assert_eq(a.ino, NS_INO_CTL);
	for (uint64_t ino = NS_INO_VERSION; ino <= NS_INO_AUDIT; ino++) {
		cr_assert_eq(ns_virt_attr(ino, &a), 0);
		cr_assert(S_ISREG(a.mode));
		if (ino == NS_INO_AUDIT) {
			/* paths and S3 users: root and the daemon's user only */
			cr_assert_eq(a.mode & 07777, 0400);
			cr_assert_eq(a.uid, (uint32_t)geteuid());
			cr_assert(ns_virt_may_read(ino, 0));
			cr_assert(ns_virt_may_read(ino, (uint32_t)geteuid()));
			cr_assert_not(ns_virt_may_read(ino, (uint32_t)geteuid() + 1000));
		} else {
			cr_assert_eq(a.mode & 07777, 0444, "read-only for everyone");
			cr_assert(ns_virt_may_read(ino, 12345));
		}
		cr_assert_eq(a.size, 0, "served with direct I/O");
		cr_assert_eq(a.ino, ino);
	}
	/* The root and ordinary inodes are not the table's. */
	cr_assert_eq(ns_virt_attr(NS_INO_ROOT, &a), -ENOENT);
	cr_assert_eq(ns_virt_attr(NS_INO_AUDIT + 1, &a), -ENOENT);
	cr_assert_not(ns_is_virtual(NS_INO_ROOT));
	cr_assert_not(ns_is_virtual(NS_INO_AUDIT + 1));
	cr_assert(ns_is_virtual(NS_INO_CTL));
}

Test(ns_virt, render_refuses_what_it_does_not_render)
{
	char *buf = NULL;
	size_t len = 0;
	/* Refused before the engine is touched: no store needed. */
	cr_assert_eq(ns_virt_render(NULL, NS_INO_AUDIT, &buf, &len), -EINVAL);
	cr_assert_eq(ns_virt_render(NULL, NS_INO_ROOT, &buf, &len), -EINVAL);
	cr_assert_eq(ns_virt_render(NULL, 1000, &buf, &len), -EINVAL);
	cr_assert_eq(ns_virt_render(NULL, NS_INO_CTL, &buf, &len), -EISDIR);
	cr_assert_null(buf);
}
