/* s3_meta: what S3 keeps with an object besides its bytes (design
 * section 11): Content-Type, Content-Encoding, Content-Disposition,
 * Cache-Control, Expires, Content-Language and x-amz-meta-*, plus the
 * ETag with the size and mtime it was computed for. Stored in one user.*
 * xattr (S3_META_XATTR) as NUL-separated name/value pairs: ns keeps
 * user.* xattrs under its ordinary rules (set while the object is still
 * mutable; frozen with it when it is sealed), and the mount shows them. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <strings.h>
#include "s3_priv.h"

#define S3_META_MAX 8192   /* AWS allows 2 KB of user metadata; headers too */

static const char *const kept[] = {
	"Content-Type", "Content-Encoding", "Content-Disposition", "Cache-Control",
	"Expires", "Content-Language", NULL,
};

/* A stored name that may be sent back: one of kept[] or x-amz-meta-*. */
static int emittable(const char *name)
{
	if (strncasecmp(name, "x-amz-meta-", 11) == 0)
		return 1;
	for (size_t i = 0; kept[i]; i++)
		if (strcasecmp(name, kept[i]) == 0)
			return 1;
	return 0;
}

static void pair(struct s3_buf *b, const char *name, size_t nl, const char *value)
{
	s3_buf_put(b, name, nl);
	s3_buf_put(b, "", 1);
	s3_buf_put(b, value, strlen(value));
	s3_buf_put(b, "", 1);
}

struct meta_acc {
	struct s3_buf *b;
};

int s3_meta_collect(struct s3_request *r, struct s3_buf *b)
{
	struct sigv4_header h[128];
	int nh = s3_req_headers(r, h, 128);

	if (nh < 0)
		return -E2BIG;
	for (size_t i = 0; kept[i]; i++) {
		const char *v = s3_req_header(r, kept[i]);
		char ce[512];
		if (!v)
			continue;
		if (strcasecmp(kept[i], "Content-Encoding") == 0) {
			/* aws-chunked is the transfer framing, not the content's */
			size_t o = 0;
			const char *p = v;
			while (*p) {
				while (*p == ' ' || *p == ',')
					p++;
				const char *e = p;
				while (*e && *e != ',')
					e++;
				size_t l = (size_t)(e - p);
				while (l && p[l - 1] == ' ')
					l--;
				if (l && !(l == 11 && strncasecmp(p, "aws-chunked", 11) == 0)) {
					if (o + l + 2 >= sizeof(ce))
						return -E2BIG;
					if (o)
						ce[o++] = ',';
					memcpy(ce + o, p, l);
					o += l;
				}
				p = e;
			}
			ce[o] = '\0';
			if (!o)
				continue;
			v = ce;
		}
		pair(b, kept[i], strlen(kept[i]), v);
	}
	for (int i = 0; i < nh; i++) {
		if (strncasecmp(h[i].name, "x-amz-meta-", 11) != 0)
			continue;
		char name[256];
		size_t nl = strlen(h[i].name);
		if (nl >= sizeof(name))
			return -E2BIG;
		for (size_t k = 0; k < nl; k++)
			name[k] = (char)tolower((unsigned char)h[i].name[k]);
		pair(b, name, nl, h[i].value);
	}
	if (b->failed || b->len > S3_META_MAX)
		return -E2BIG;
	return 0;
}

void s3_meta_emit(struct s3_request *r, const char *stored, size_t len)
{
	size_t i = 0;
	while (i < len) {
		const char *name = stored + i;
		const char *ne = memchr(name, '\0', len - i);
		if (!ne)
			return;
		const char *val = ne + 1;
		if ((size_t)(val - stored) >= len)
			return;
		const char *ve = memchr(val, '\0', len - (size_t)(val - stored));
		if (!ve)
			return;
		/* ":etag" and friends are ours; and only the headers S3 keeps go
		 * out: the xattr can be written through the mount, and a stored
		 * Set-Cookie or Access-Control-* must not become a response's */
		if (name[0] != ':' && emittable(name))
			s3_resp_header(r, name, val);
		i = (size_t)(ve - stored) + 1;
	}
}

const char *s3_meta_get(const char *stored, size_t len, const char *name)
{
	size_t i = 0;
	while (i < len) {
		const char *n = stored + i;
		const char *ne = memchr(n, '\0', len - i);
		if (!ne || (size_t)(ne + 1 - stored) >= len)
			return NULL;
		const char *v = ne + 1;
		const char *ve = memchr(v, '\0', len - (size_t)(v - stored));
		if (!ve)
			return NULL;
		if (strcasecmp(n, name) == 0)
			return v;
		i = (size_t)(ve - stored) + 1;
	}
	return NULL;
}

void s3_meta_add(struct s3_buf *b, const char *name, const char *value)
{
	pair(b, name, strlen(name), value);
}

/* An ETag as stored: an MD5, or a multipart ETag (MD5 of the part MD5s,
 * -N). */
static int etag_shape(const char *e)
{
	size_t l = strlen(e);

	return l == 32 || (l > 33 && l <= 38 && e[32] == '-' &&
			   strspn(e + 33, "0123456789") == l - 33);
}

void s3_meta_etag(ns *n, const struct ns_attr *a, const char *meta, size_t mlen, char *out,
		  size_t len)
{
	char stamp[72], legacy[48], opened[72];
	snprintf(stamp, sizeof(stamp), "%" PRIu64 ":%" PRId64 ":%" PRIu64, a->size, a->mtime_ns,
		 a->gen);
	/* Stamps written before the generation was part of them (size:mtime)
	 * still hold, so an upgrade changes no object's ETag; those objects
	 * keep the weaker check (README, S3 endpoint). */
	snprintf(legacy, sizeof(legacy), "%" PRIu64 ":%" PRId64, a->size, a->mtime_ns);
	const char *e = meta ? s3_meta_get(meta, mlen, ":etag") : NULL;
	const char *s = meta ? s3_meta_get(meta, mlen, ":stamp") : NULL;
	/* Sealed (every ETag stored since review conf): only the one sealed
	 * for this object and stamp opens. */
	if (e && s && ns_etag_is_sealed(e))
		e = n && !ns_etag_open(n, a->ino, s, e, opened, sizeof(opened)) ? opened : NULL;
	if (S_ISDIR(a->mode))
		snprintf(out, len, "\"d41d8cd98f00b204e9800998ecf8427e\"");   /* MD5 of nothing */
	else if (e && s && (strcmp(s, stamp) == 0 || strcmp(s, legacy) == 0) && etag_shape(e))
		snprintf(out, len, "\"%s\"", e);
	else
		snprintf(out, len, "\"%016" PRIx64 "%016" PRIx64 "\"", a->ino,
			 (uint64_t)((uint64_t)a->mtime_ns ^ (a->size * UINT64_C(0x9e3779b97f4a7c15))));
}
