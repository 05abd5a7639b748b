/* Unit tests for log: field quoting (no name may forge log fields or
 * lines). */
#include <criterion/criterion.h>

#include <string.h>

#include "log.h"

static const char *q(const char *s)
{
	static char buf[256];

	return wlog_quote(s, buf, sizeof(buf));
}

Test(log, plain_values_stay_bare)
{
	cr_assert_str_eq(q("abc"), "abc");
	cr_assert_str_eq(q("/bucket/dir/file.txt"), "/bucket/dir/file.txt");
	cr_assert_str_eq(q("user.worm.retention"), "user.worm.retention");
	cr_assert_str_eq(q(NULL), "-");
}

Test(log, blanks_and_equals_are_quoted)
{
	cr_assert_str_eq(q("/b/x uid=0 rule=none"), "\"/b/x uid=0 rule=none\"");
	cr_assert_str_eq(q("a=b"), "\"a=b\"");
	cr_assert_str_eq(q(""), "\"\"");
}

Test(log, quotes_backslashes_and_controls_are_escaped)
{
	cr_assert_str_eq(q("a\"b"), "\"a\\\"b\"");
	cr_assert_str_eq(q("a\\b"), "\"a\\\\b\"");
	cr_assert_str_eq(q("x\nrefused op=unlink"), "\"x\\nrefused op=unlink\"");
	cr_assert_str_eq(q("t\tr\r"), "\"t\\tr\\r\"");
	cr_assert_str_eq(q("\x1b[2J"), "\"\\x1b[2J\"");
	cr_assert_str_eq(q("del\x7f"), "\"del\\x7f\"");
}

Test(log, utf8_kept_invalid_and_unsafe_bytes_escaped)
{
	cr_assert_str_eq(q("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
	cr_assert_str_eq(q("bad\xff\xfe"), "\"bad\\xff\\xfe\"");
	cr_assert_str_eq(q("cut\xc3"), "\"cut\\xc3\"");
	cr_assert_str_eq(q("overlong\xc0\xaf"), "\"overlong\\xc0\\xaf\"");
	cr_assert_str_eq(q("surrogate\xed\xa0\x80"), "\"surrogate\\xed\\xa0\\x80\"");
	/* C1 NEL, LINE SEPARATOR, RIGHT-TO-LEFT OVERRIDE */
	cr_assert_str_eq(q("a\xc2\x85z"), "\"a\\xc2\\x85z\"");
	cr_assert_str_eq(q("a\xe2\x80\xa8z"), "\"a\\xe2\\x80\\xa8z\"");
	cr_assert_str_eq(q("a\xe2\x80\xaez"), "\"a\\xe2\\x80\\xaez\"");
}

Test(log, long_values_are_cut_inside_the_quotes)
{
	char in[100], out[16];

	memset(in, 'a', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	cr_assert_str_eq(wlog_quote(in, out, sizeof(out)), "\"aaaaaaaaaa...\"");
	memset(in, '\n', 20);
	in[20] = '\0';
	wlog_quote(in, out, sizeof(out));
	cr_assert_str_eq(out, "\"\\n\\n\\n\\n\\n...\"");
	cr_assert_str_eq(wlog_quote("abcdefghijklm", out, sizeof(out)), "abcdefghijklm");
	cr_assert_str_eq(wlog_quote("abc def ghijk", out, sizeof(out)), "\"abc def ghijk\"");
}
