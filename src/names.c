/* names: name rules of the namespace (design section 3). Pure. */
#include "names.h"

#include <errno.h>
#include <string.h>

#define NAMES_COMPONENT_MAX 255

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* "Formatted as an IP address" per S3: four dot-separated runs of digits.
 * Values above 255 are still refused; they look like an address to people
 * and tools. */
static int looks_like_ipv4(const char *name)
{
	int groups = 0, digits = 0;

	for (const char *p = name;; p++) {
		if (*p >= '0' && *p <= '9') {
			digits++;
		} else if (*p == '.' || *p == '\0') {
			if (digits == 0)
				return 0;
			groups++;
			digits = 0;
			if (*p == '\0')
				break;
		} else {
			return 0;
		}
	}
	return groups == 4;
}

static int has_suffix(const char *s, size_t len, const char *suf)
{
	size_t n = strlen(suf);

	return len >= n && memcmp(s + len - n, suf, n) == 0;
}

/* Forms S3 reserves for its own use: punycode and internal prefixes, and
 * the suffixes of access point aliases, Object Lambda aliases, directory
 * buckets, table buckets and Multi-Region Access Points. A name that S3
 * would refuse must not exist here either, or it could not be copied to S3
 * unchanged. */
static const char *const reserved_prefix[] = { "xn--", "sthree-", "amzn-s3-demo-" };
static const char *const reserved_suffix[] = { "-s3alias", "--ol-s3", "--x-s3", "--table-s3",
						".mrap" };

static int is_reserved(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(reserved_prefix) / sizeof(reserved_prefix[0]); i++)
		if (strncmp(name, reserved_prefix[i], strlen(reserved_prefix[i])) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(reserved_suffix) / sizeof(reserved_suffix[0]); i++)
		if (has_suffix(name, len, reserved_suffix[i]))
			return 1;
	return 0;
}

int names_bucket_valid(const char *name)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strlen(name);
	if (len < 3 || len > 63)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum(name[i]) && name[i] != '.' && name[i] != '-')
			return -EINVAL;
	if (!is_lower_alnum(name[0]) || !is_lower_alnum(name[len - 1]))
		return -EINVAL;
	if (strstr(name, ".."))
		return -EINVAL;
	if (looks_like_ipv4(name))
		return -EINVAL;
	if (is_reserved(name, len))
		return -EINVAL;
	/* Cannot happen after the first-char rule, kept so the contract is
	 * visible here. */
	if (strcmp(name, NAMES_CTL_DIR) == 0)
		return -EINVAL;
	return 0;
}

int names_component_valid(const char *name)
{
	size_t len;

	if (!name || !*name)
		return -EINVAL;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	if (strchr(name, '/'))
		return -EINVAL;
	len = strlen(name);
	if (len > NAMES_COMPONENT_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int names_split(char *path, char **comps, int ncomps)
{
	int n = 0;
	char *p;

	if (!path || ncomps < 0 || (ncomps > 0 && !comps))
		return -EINVAL;
	p = path;
	while (*p) {
		char *start;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - start);
		if ((len == 1 && start[0] == '.') ||
		    (len == 2 && start[0] == '.' && start[1] == '.'))
			return -EINVAL;
		if (len > NAMES_COMPONENT_MAX)
			return -ENAMETOOLONG;
		if (n >= ncomps)
			return -EINVAL;
		comps[n++] = start;
		if (*p)
			*p++ = '\0';
	}
	return n;
}
