/* Unit tests for names: bucket names (S3 rules), component names, split. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "names.h"

Test(path, bucket_names_valid)
{
	static const char *const good[] = {
		"abc", "a-b", "a.b", "my-bucket.2024", "0ab", "ab9", "123",
		"1.2.3", "1.2.3.4.5", "192.168.1.a", "a-s3alias-x", "xn-a",
		"b--b", "a.b-c.d",
		/* near the reserved forms, not in them */
		"sthree", "asthree-x", "amzn-s3-demo", "amzn-s3-x", "a-ol-s3",
		"a--ol-s3x", "a-x-s3", "a--x-s3-b", "a-table-s3", "s3--x-s3a",
		"a-mrap", "a.mrapx", "mrap",
		/* 63 chars */
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123",
	};

	cr_assert_eq(strlen(good[sizeof(good) / sizeof(good[0]) - 1]), 63);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(names_bucket_valid(good[i]), 0, "'%s' refused", good[i]);
}

Test(path, bucket_names_invalid)
{
	static const char *const bad[] = {
		"", "a", "ab", "Ab", "aB1", "-ab", "ab-", ".ab", "ab.", "a..b",
		"a_b", "a b", "a/b", "ab\n", "192.168.1.1", "0.0.0.0",
		"999.999.999.999", ".wormfs", "xn--abc", "abc-s3alias",
		"caf\xc3\xa9",
		/* reserved by current S3 rules */
		"sthree-abc", "sthree-configurator", "amzn-s3-demo-bucket",
		"amzn-s3-demo-x", "abc--ol-s3", "mybucket--x-s3", "a--x-s3",
		"zone--usw2-az1--x-s3", "tables--table-s3", "global.mrap", "a-b.mrap",
		/* 64 chars */
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234",
	};

	cr_assert_eq(strlen(bad[sizeof(bad) / sizeof(bad[0]) - 1]), 64);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(names_bucket_valid(bad[i]), -EINVAL,
			     "'%s' accepted", bad[i]);
	cr_assert_eq(names_bucket_valid(NULL), -EINVAL);
}

Test(path, component_names)
{
	char longname[300];

	cr_assert_eq(names_component_valid("file.txt"), 0);
	cr_assert_eq(names_component_valid("..."), 0);
	cr_assert_eq(names_component_valid(".hidden"), 0);
	cr_assert_eq(names_component_valid("a b\tc"), 0);
	cr_assert_eq(names_component_valid(""), -EINVAL);
	cr_assert_eq(names_component_valid("."), -EINVAL);
	cr_assert_eq(names_component_valid(".."), -EINVAL);
	cr_assert_eq(names_component_valid("a/b"), -EINVAL);
	cr_assert_eq(names_component_valid("/"), -EINVAL);
	cr_assert_eq(names_component_valid(NULL), -EINVAL);

	memset(longname, 'x', sizeof(longname));
	longname[255] = '\0';
	cr_assert_eq(names_component_valid(longname), 0, "255 bytes is allowed");
	longname[255] = 'x';
	longname[256] = '\0';
	cr_assert_eq(names_component_valid(longname), -ENAMETOOLONG);
	/* '/' in an over-long name: EINVAL wins, as for any bad character */
	longname[10] = '/';
	cr_assert_eq(names_component_valid(longname), -EINVAL);
}

Test(path, split_basic)
{
	char p[] = "bucket/a/b.txt";
	char *c[8];

	cr_assert_eq(names_split(p, c, 8), 3);
	cr_assert_str_eq(c[0], "bucket");
	cr_assert_str_eq(c[1], "a");
	cr_assert_str_eq(c[2], "b.txt");
}

Test(path, split_slashes)
{
	char p[] = "//bucket//a///b/";
	char *c[8];

	cr_assert_eq(names_split(p, c, 8), 3);
	cr_assert_str_eq(c[0], "bucket");
	cr_assert_str_eq(c[1], "a");
	cr_assert_str_eq(c[2], "b");
}

Test(path, split_empty)
{
	char e[] = "", s[] = "/", ss[] = "///";
	char *c[2];

	cr_assert_eq(names_split(e, c, 2), 0);
	cr_assert_eq(names_split(s, c, 2), 0);
	cr_assert_eq(names_split(ss, c, 2), 0);
}

Test(path, split_refusals)
{
	char dot[] = "bucket/./a", dotdot[] = "bucket/../x", tail[] = "a/..";
	char many[] = "a/b/c", fits[] = "a/b/c/";
	char dots3[] = "a/.../b";
	char lng[300];
	char *c[3];

	cr_assert_eq(names_split(dot, c, 3), -EINVAL);
	cr_assert_eq(names_split(dotdot, c, 3), -EINVAL);
	cr_assert_eq(names_split(tail, c, 3), -EINVAL);
	cr_assert_eq(names_split(many, c, 2), -EINVAL);
	cr_assert_eq(names_split(fits, c, 3), 3);
	cr_assert_eq(names_split(dots3, c, 3), 3);
	cr_assert_str_eq(c[1], "...");
	cr_assert_eq(names_split(NULL, c, 3), -EINVAL);

	memset(lng, 'y', sizeof(lng));
	lng[0] = 'b';
	lng[1] = '/';
	lng[2 + 256] = '\0';
	cr_assert_eq(names_split(lng, c, 3), -ENAMETOOLONG);
}
