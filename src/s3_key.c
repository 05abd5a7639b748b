/* s3_key: S3 keys <-> paths (design section 11, "Keys <-> paths"). A key
 * a/b/c is object c in directory a/b of the bucket; keys no path can hold
 * are refused rather than mangled. Pure. */
#include <errno.h>
#include <string.h>
#include "s3.h"

size_t s3_utf8_len(const unsigned char *s, size_t n)
{
	size_t k;
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4;
	else
		return 0;
	if (k > n)
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (k == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
		return 0;   /* overlong, or a surrogate */
	if (k == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
		return 0;   /* overlong, or past U+10FFFF */
	return k;
}

/* 1 if s (n bytes) is valid UTF-8 without NUL (S3 keys are UTF-8). */
static int s3_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (u[i] == 0 || (k = s3_utf8_len(u + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

int s3_key_split(const char *key, size_t len, char *buf, char **comps, int maxcomps,
		 int *is_dir)
{
	int n = 0;

	*is_dir = 0;
	if (len == 0 || len > S3_KEY_MAX || !s3_utf8_valid(key, len))
		return -EINVAL;
	memcpy(buf, key, len);
	buf[len] = '\0';
	if (buf[len - 1] == '/') {
		*is_dir = 1;
		buf[--len] = '\0';
		if (len == 0)
			return -EINVAL;      /* the key "/" */
	}
	char *p = buf;
	for (;;) {
		char *slash = strchr(p, '/');
		size_t cl = slash ? (size_t)(slash - p) : strlen(p);
		if (cl == 0 || cl > 255)
			return -EINVAL;
		if ((cl == 1 && p[0] == '.') || (cl == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		if (n == maxcomps)
			return -EINVAL;
		comps[n++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	return n;
}
