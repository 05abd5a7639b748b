/* s3_list: ListObjects (v1) and ListObjectsV2. Keys are paths, so the
 * listing is a depth-first walk of the bucket in key order: in each
 * directory the children are sorted by their key piece (a file "x", a
 * directory "x/"), which makes the walk's order the byte order of the full
 * keys. Only the first max-keys + 1 children of a directory past the
 * marker are kept, so memory is bounded by max-keys times the depth,
 * whatever the directory sizes. Directories are not keys: with a
 * delimiter '/' they are CommonPrefixes; symlinks and uploads in progress
 * are not listed; a directory the caller may not read (r and x) is
 * skipped. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "crypto.h"
#include "s3_priv.h"

#define LIST_MAX_KEYS 1000

struct cand {
	char *piece;             /* name, or name + "/" for a directory */
	struct ns_attr a;
};

struct level {
	struct cand *v;
	size_t n, cap;
	int cut;                 /* children past cap were dropped */
	/* filter */
	const char *dirkey;      /* this directory's key prefix ("" or "a/b/") */
	size_t dlen;
	const char *prefix, *bound;
	int oom;
};

struct result {
	char *key;               /* a key, or a common prefix */
	int is_prefix;
	struct ns_attr a;
};

struct listing {
	struct s3_request *r;
	const char *prefix, *bound, *delim;
	size_t plen, dlen;
	size_t max;
	struct result *res;
	size_t nres;
	int truncated;
	int err;
	char *last_cp;           /* the last common prefix emitted */
};

static int starts(const char *s, const char *p, size_t pl)
{
	return strncmp(s, p, pl) == 0;
}

/* The full key of piece in lv into buf (S3_KEY_MAX + 2 bytes): 0, or -1
 * when it is too long to be a key. */
static int full_key(const struct level *lv, const char *piece, char *buf)
{
	size_t pl = strlen(piece);
	if (lv->dlen + pl > S3_KEY_MAX + 1)
		return -1;
	memcpy(buf, lv->dirkey, lv->dlen);
	memcpy(buf + lv->dlen, piece, pl + 1);
	return 0;
}

static int collect(void *arg, const char *name, const struct ns_attr *a, uint64_t next_off)
{
	struct level *lv = arg;
	char piece[260], key[S3_KEY_MAX + 2];
	size_t nl = strlen(name);
	int dir = S_ISDIR(a->mode);
	(void)next_off;

	/* Uploads in progress are files (a directory of that name is a
	 * user's, and its keys are real); the multipart area is at the top. */
	if (!strcmp(name, ".") || !strcmp(name, "..") || nl > 255 ||
	    (!dir && starts(name, S3_TMP_PREFIX, strlen(S3_TMP_PREFIX))) ||
	    (lv->dlen == 0 && !strcmp(name, S3_MPU_DIR)))
		return 0;
	if (!dir && !S_ISREG(a->mode))
		return 0;   /* symlinks are not served */
	memcpy(piece, name, nl);
	if (dir)
		piece[nl++] = '/';
	piece[nl] = '\0';
	if (full_key(lv, piece, key))
		return 0;
	size_t pl = strlen(lv->prefix);
	if (dir) {
		/* anything below may match the prefix, and be past the bound */
		if (!starts(key, lv->prefix, pl) && !starts(lv->prefix, key, strlen(key)))
			return 0;
		if (strcmp(key, lv->bound) <= 0 && !starts(lv->bound, key, strlen(key)))
			return 0;
	} else {
		if (!starts(key, lv->prefix, pl) || strcmp(key, lv->bound) <= 0)
			return 0;
	}
	/* keep the cap smallest pieces */
	if (lv->n == lv->cap) {
		lv->cut = 1;
		if (strcmp(piece, lv->v[lv->n - 1].piece) >= 0)
			return 0;
		free(lv->v[lv->n - 1].piece);
		lv->n--;
	}
	char *p = strdup(piece);
	if (!p) {
		lv->oom = 1;
		return 1;
	}
	/* insertion in order (binary search) */
	size_t lo = 0, hi = lv->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(lv->v[mid].piece, piece) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&lv->v[lo + 1], &lv->v[lo], (lv->n - lo) * sizeof(lv->v[0]));
	lv->v[lo].piece = p;
	lv->v[lo].a = *a;
	lv->n++;
	return 0;
}

/* Add a result; 1 when the page is full (and one more exists). */
static int emit(struct listing *l, const char *key, int is_prefix, const struct ns_attr *a)
{
	if (is_prefix) {
		if (l->last_cp && strcmp(l->last_cp, key) == 0)
			return 0;
		if (strcmp(key, l->bound) <= 0)
			return 0;   /* that prefix was on an earlier page */
	}
	if (l->nres == l->max) {
		l->truncated = 1;
		return 1;
	}
	char *k = strdup(key);
	if (!k) {
		l->err = -ENOMEM;
		return 1;
	}
	l->res[l->nres].key = k;
	l->res[l->nres].is_prefix = is_prefix;
	if (a)
		l->res[l->nres].a = *a;
	l->nres++;
	if (is_prefix)
		l->last_cp = k;
	return 0;
}

/* The common prefix key rolls up into (into cp), or 0 when none. */
static int rollup(const struct listing *l, const char *key, char *cp)
{
	if (!l->dlen || !starts(key, l->prefix, l->plen))
		return 0;
	const char *d = strstr(key + l->plen, l->delim);
	if (!d)
		return 0;
	size_t n = (size_t)(d - key) + l->dlen;
	memcpy(cp, key, n);
	cp[n] = '\0';
	return 1;
}

static int walk(struct listing *l, uint64_t ino, const char *dirkey, int depth)
{
	struct level lv;
	char key[S3_KEY_MAX + 2], cp[S3_KEY_MAX + 2];
	int stop = 0, rc;

	if (depth > S3_KEY_MAXCOMPS)
		return 0;
	memset(&lv, 0, sizeof(lv));
	lv.cap = l->max + 1;
	lv.v = calloc(lv.cap, sizeof(*lv.v));
	if (!lv.v) {
		l->err = -ENOMEM;
		return 1;
	}
	lv.dirkey = dirkey;
	lv.dlen = strlen(dirkey);
	lv.prefix = l->prefix;
	lv.bound = l->bound;
	rc = ns_readdir(l->r->n, ino, 0, collect, &lv);
	if (!rc && lv.oom)
		rc = -ENOMEM;
	if (rc) {
		l->err = rc;
		stop = 1;
		goto out;
	}
	for (size_t i = 0; i < lv.n && !stop; i++) {
		struct cand *c = &lv.v[i];
		if (full_key(&lv, c->piece, key))
			continue;
		if (S_ISDIR(c->a.mode)) {
			if (rollup(l, key, cp)) {
				/* every key below rolls up into cp (with "/":
				 * the directory itself is the prefix) */
				stop = emit(l, cp, 1, NULL);
				continue;
			}
			if (!s3_perm_ok(&l->r->pr.caller, &c->a, S3_PERM_R | S3_PERM_X))
				continue;
			stop = walk(l, c->a.ino, key, depth + 1);
		} else if (rollup(l, key, cp)) {
			stop = emit(l, cp, 1, NULL);
		} else {
			stop = emit(l, key, 0, &c->a);
		}
	}
	if (!stop && lv.cut) {
		/* children past the cap were not looked at: this page ends
		 * here and the next one starts after its last key */
		l->truncated = 1;
		stop = 1;
	}
out:
	for (size_t i = 0; i < lv.n; i++)
		free(lv.v[i].piece);
	free(lv.v);
	return stop;
}

static void put_field(struct s3_buf *b, const char *name, const char *v, int url)
{
	s3_buf_printf(b, "<%s>", name);
	if (url) {
		struct s3_buf e;
		s3_buf_init(&e, 0);
		s3_url_encode(&e, v, strlen(v));
		s3_xml_text(b, e.p ? e.p : "", e.len);
		if (e.failed)
			b->failed = 1;
		s3_buf_free(&e);
	} else {
		s3_xml_text(b, v, strlen(v));
	}
	s3_buf_printf(b, "</%s>", name);
}

void s3_op_list_objects(struct s3_request *r, int v2)
{
	struct listing l;
	struct ns_attr b;
	const char *prefix = s3_req_arg(r, "prefix");
	const char *delim = s3_req_arg(r, "delimiter");
	const char *mk = s3_req_arg(r, "max-keys");
	const char *enc = s3_req_arg(r, "encoding-type");
	const char *marker = v2 ? NULL : s3_req_arg(r, "marker");
	const char *token = v2 ? s3_req_arg(r, "continuation-token") : NULL;
	const char *after = v2 ? s3_req_arg(r, "start-after") : NULL;
	const char *fo = v2 ? s3_req_arg(r, "fetch-owner") : NULL;
	int url = 0, owner = !v2 || (fo && strcmp(fo, "true") == 0), rc;
	unsigned long max = LIST_MAX_KEYS;
	char date[64], etag[48], id[32];

	memset(&l, 0, sizeof(l));
	if (enc) {
		if (strcmp(enc, "url") != 0) {
			s3_fail_code(r, S3E_INVALID_ARGUMENT, "Invalid Encoding Method specified in Request");
			return;
		}
		url = 1;
	}
	if (mk) {
		char *e;
		errno = 0;
		long v = strtol(mk, &e, 10);
		if (errno || e == mk || *e || v < 0) {
			s3_fail_code(r, S3E_INVALID_ARGUMENT, "max-keys must be an integer >= 0");
			return;
		}
		max = (unsigned long)v < LIST_MAX_KEYS ? (unsigned long)v : LIST_MAX_KEYS;
	}
	if ((rc = s3_ns_bucket(r, &b))) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return;
	}
	if (!s3_perm_ok(&r->pr.caller, &b, S3_PERM_R | S3_PERM_X)) {
		s3_fail_code(r, S3E_ACCESS_DENIED, NULL);
		return;
	}
	l.r = r;
	l.prefix = prefix ? prefix : "";
	l.plen = strlen(l.prefix);
	l.delim = delim ? delim : "";
	l.dlen = strlen(l.delim);
	/* The continuation token is the last key of the page before, in hex:
	 * as a key in XML text, a key that XML cannot carry (a control byte,
	 * bytes that are not UTF-8, made through the mount) came back as
	 * U+FFFD and the next page started past every key between. */
	char *tkey = NULL;
	if (token && *token) {
		size_t tl = strlen(token);
		if (tl % 2 || tl / 2 > S3_KEY_MAX + 1 || !(tkey = calloc(1, tl / 2 + 1)) ||
		    wcrypto_unhex((uint8_t *)tkey, tl / 2, token, tl) ||
		    memchr(tkey, '\0', tl / 2)) {
			free(tkey);
			s3_fail_code(r, S3E_INVALID_ARGUMENT,
				     "The continuation token provided is incorrect");
			return;
		}
	}
	l.bound = tkey ? tkey : after ? after : marker ? marker : "";
	l.max = max;
	if (max) {
		l.res = calloc(max, sizeof(*l.res));
		if (!l.res) {
			s3_fail_code(r, S3E_INTERNAL, "out of memory");
			goto out;
		}
		(void)walk(&l, b.ino, "", 0);
	}
	if (l.err) {
		s3_fail_errno(r, l.err, S3E_NO_SUCH_BUCKET);
		goto out;
	}

	struct s3_buf *o = &r->out;
	s3_xml_start(o);
	s3_buf_puts(o, "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	s3_xml_elem(o, "Name", r->route.bucket);
	put_field(o, "Prefix", l.prefix, url);
	if (!v2)
		put_field(o, "Marker", marker ? marker : "", url);
	s3_buf_printf(o, "<MaxKeys>%lu</MaxKeys>", max);
	if (v2)
		s3_buf_printf(o, "<KeyCount>%zu</KeyCount>", l.nres);
	if (l.dlen)
		put_field(o, "Delimiter", l.delim, url);
	if (url)
		s3_buf_puts(o, "<EncodingType>url</EncodingType>");
	s3_buf_printf(o, "<IsTruncated>%s</IsTruncated>", l.truncated ? "true" : "false");
	if (v2 && token)
		s3_xml_elem(o, "ContinuationToken", token);
	if (v2 && after)
		put_field(o, "StartAfter", after, url);
	if (l.truncated && l.nres) {
		const char *next = l.res[l.nres - 1].key;
		if (v2) {
			size_t nl = strlen(next);
			char *hex = malloc(2 * nl + 1);
			if (!hex) {
				o->failed = 1;
			} else {
				wcrypto_hex(hex, (const uint8_t *)next, nl);
				s3_xml_elem(o, "NextContinuationToken", hex);
				free(hex);
			}
		} else
			put_field(o, "NextMarker", next, url);
	}
	snprintf(id, sizeof(id), "%u", 0u);
	for (size_t i = 0; i < l.nres; i++) {
		struct result *x = &l.res[i];
		char meta[8192 + 512];
		if (x->is_prefix)
			continue;
		ssize_t ml = ns_getxattr(r->n, &r->pr.caller, x->a.ino, S3_META_XATTR, meta,
					 sizeof(meta) - 1);
		if (ml < 0)
			ml = 0;
		meta[ml] = '\0';
		s3_meta_etag(r->n, &x->a, ml ? meta : NULL, (size_t)ml, etag, sizeof(etag));
		s3_buf_puts(o, "<Contents>");
		put_field(o, "Key", x->key, url);
		s3_iso_date(x->a.mtime_ns, date, sizeof(date));
		s3_xml_elem(o, "LastModified", date);
		s3_xml_elem(o, "ETag", etag);
		s3_buf_printf(o, "<Size>%" PRIu64 "</Size>", x->a.size);
		if (owner) {
			snprintf(id, sizeof(id), "%u", x->a.uid);
			s3_buf_puts(o, "<Owner>");
			s3_xml_elem(o, "ID", id);
			s3_xml_elem(o, "DisplayName", id);
			s3_buf_puts(o, "</Owner>");
		}
		s3_buf_puts(o, "<StorageClass>STANDARD</StorageClass></Contents>");
	}
	for (size_t i = 0; i < l.nres; i++) {
		if (!l.res[i].is_prefix)
			continue;
		s3_buf_puts(o, "<CommonPrefixes>");
		put_field(o, "Prefix", l.res[i].key, url);
		s3_buf_puts(o, "</CommonPrefixes>");
	}
	s3_buf_puts(o, "</ListBucketResult>");
	s3_ok_xml(r);
out:
	for (size_t i = 0; i < l.nres; i++)
		free(l.res[i].key);
	free(l.res);
	free(tkey);
}
