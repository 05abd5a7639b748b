/* s3_xml: the S3 XML dialect. Responses are written with an escaping
 * text builder; request bodies are parsed with expat, refusing any DTD
 * (so no entity of any kind, internal or external, is ever declared or
 * expanded: billion laughs and XXE are refused before they start). Also
 * the HTTP date formats S3 uses. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <expat.h>
#include "s3.h"
#include "s3_priv.h"

void s3_buf_init(struct s3_buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

void s3_buf_free(struct s3_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int grow(struct s3_buf *b, size_t n)
{
	if (b->failed)
		return -1;
	if (n > SIZE_MAX / 2 - b->len || (b->limit && b->len + n > b->limit)) {
		b->failed = 1;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	return 0;
}

void s3_buf_put(struct s3_buf *b, const void *s, size_t n)
{
	if (grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void s3_buf_puts(struct s3_buf *b, const char *s)
{
	s3_buf_put(b, s, strlen(s));
}

void s3_buf_printf(struct s3_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->failed = 1;   /* callers print short fields only */
		return;
	}
	s3_buf_put(b, tmp, (size_t)n);
}

void s3_xml_text(struct s3_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned c = u[i];
		switch (c) {
		case '&': s3_buf_puts(b, "&amp;"); i++; continue;
		case '<': s3_buf_puts(b, "&lt;"); i++; continue;
		case '>': s3_buf_puts(b, "&gt;"); i++; continue;
		case '"': s3_buf_puts(b, "&quot;"); i++; continue;
		case '\'': s3_buf_puts(b, "&apos;"); i++; continue;
		case '\t': case '\n': case '\r':
			/* kept exactly: a raw CR or LF would be normalized */
			s3_buf_printf(b, "&#%u;", c);
			i++;
			continue;
		default:
			break;
		}
		if (c < 0x20) {
			/* XML 1.0 cannot carry these at all */
			s3_buf_puts(b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		size_t k = s3_utf8_len(u + i, n - i);
		if (k == 3 && c == 0xef && u[i + 1] == 0xbf && u[i + 2] >= 0xbe) {
			/* U+FFFE, U+FFFF: not XML characters either (a file
			 * name from the mount may hold them) */
			s3_buf_puts(b, "\xef\xbf\xbd");
			i += 3;
			continue;
		}
		if (k == 0) {
			s3_buf_puts(b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		s3_buf_put(b, u + i, k);
		i += k;
	}
}

void s3_xml_elem(struct s3_buf *b, const char *name, const char *value)
{
	s3_buf_printf(b, "<%s>", name);
	s3_xml_text(b, value, strlen(value));
	s3_buf_printf(b, "</%s>", name);
}

void s3_xml_start(struct s3_buf *b)
{
	s3_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
}

void s3_xml_error(struct s3_buf *b, const char *code, const char *message,
		  const char *resource, const char *request_id)
{
	s3_xml_start(b);
	s3_buf_puts(b, "<Error>");
	s3_xml_elem(b, "Code", code);
	s3_xml_elem(b, "Message", message);
	if (resource)
		s3_xml_elem(b, "Resource", resource);
	s3_xml_elem(b, "RequestId", request_id ? request_id : "");
	s3_buf_puts(b, "</Error>");
}

void s3_url_encode(struct s3_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		    c == '~' || c == '/') {
			s3_buf_put(b, &s[i], 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			s3_buf_put(b, e, 3);
		}
	}
}

/* ---- dates --------------------------------------------------------------- */

void s3_http_date(int64_t sec, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm))
		snprintf(buf, len, "Thu, 01 Jan 1970 00:00:00 GMT");
}

int64_t s3_seconds(int64_t ns)
{
	/* C division truncates toward zero: -1.5 s would be -1 s, a time
	 * after the object's (touch -d @-1.5 sets one) */
	return ns / 1000000000 - (ns % 1000000000 < 0);
}

void s3_iso_date(int64_t ns, char *buf, size_t len)
{
	struct tm tm;
	int64_t sec = s3_seconds(ns);
	time_t t = (time_t)sec;
	char d[32];
	/* the fraction from the remainder: sec * 1e9 overflows before
	 * 1677-09-21T00:12:44, where fs.c clamps the earliest time */
	int64_t frac = ns % 1000000000;
	if (frac < 0)
		frac += 1000000000;
	if (!gmtime_r(&t, &tm) || !strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(d, sizeof(d), "1970-01-01T00:00:00");
	snprintf(buf, len, "%s.%03dZ", d, (int)(frac / 1000000));
}

int s3_parse_http_date(const char *s, int64_t *sec)
{
	static const char *const fmts[] = {
		"%a, %d %b %Y %H:%M:%S GMT",   /* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT",   /* RFC 850 */
		"%a %b %e %H:%M:%S %Y",        /* asctime */
		"%Y-%m-%dT%H:%M:%SZ",          /* ISO 8601, as some clients send */
	};
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *e = strptime(s, fmts[i], &tm);
		if (e && *e == '\0') {
			*sec = (int64_t)timegm(&tm);
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- request bodies (expat) --------------------------------------------- */

#define XML_MAX_DEPTH 8

struct xp {
	XML_Parser p;
	int bad;                 /* refuse: -EBADMSG or -ENOMEM */
	int depth;
	char path[XML_MAX_DEPTH][32];
	struct s3_buf text;      /* character data of the current leaf */
	/* what the document is for */
	const char *root;
	int (*leaf)(struct xp *x, const char *text, size_t len);
	void *arg;
};

static void xp_fail(struct xp *x, int err)
{
	if (!x->bad)
		x->bad = err;
	XML_StopParser(x->p, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xp *x = ud;
	(void)atts;
	if (x->depth == 0 && strcmp(name, x->root) != 0) {
		xp_fail(x, -EBADMSG);
		return;
	}
	if (x->depth >= XML_MAX_DEPTH || strlen(name) >= sizeof(x->path[0])) {
		xp_fail(x, -EBADMSG);
		return;
	}
	strcpy(x->path[x->depth++], name);
	x->text.len = 0;
	x->text.failed = 0;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct xp *x = ud;
	(void)name;
	if (x->text.failed) {
		xp_fail(x, -EBADMSG);
		return;
	}
	int rc = x->leaf(x, x->text.p ? x->text.p : "", x->text.len);
	if (rc) {
		xp_fail(x, rc);
		return;
	}
	x->depth--;
	x->text.len = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct xp *x = ud;
	s3_buf_put(&x->text, s, (size_t)len);
}

/* Any DTD at all is refused: S3 documents have none, and without one no
 * entity can be declared. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal)
{
	(void)name; (void)sysid; (void)pubid; (void)has_internal;
	xp_fail(ud, -EBADMSG);
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
				   const XML_Char *value, int vlen, const XML_Char *base,
				   const XML_Char *sysid, const XML_Char *pubid,
				   const XML_Char *notation)
{
	(void)name; (void)is_param; (void)value; (void)vlen; (void)base;
	(void)sysid; (void)pubid; (void)notation;
	xp_fail(ud, -EBADMSG);
}

static int XMLCALL on_ext_ref(XML_Parser p, const XML_Char *ctx, const XML_Char *base,
			      const XML_Char *sysid, const XML_Char *pubid)
{
	(void)p; (void)ctx; (void)base; (void)sysid; (void)pubid;
	return XML_STATUS_ERROR;   /* never load anything */
}

static int xml_parse(const char *doc, size_t len, const char *root,
		     int (*leaf)(struct xp *, const char *, size_t), void *arg)
{
	struct xp x;
	int rc = 0;

	if (len > INT32_MAX)
		return -EBADMSG;
	memset(&x, 0, sizeof(x));
	s3_buf_init(&x.text, S3_KEY_MAX * 4);
	x.root = root;
	x.leaf = leaf;
	x.arg = arg;
	x.p = XML_ParserCreate("UTF-8");
	if (!x.p)
		return -ENOMEM;
	XML_SetUserData(x.p, &x);
	XML_SetElementHandler(x.p, on_start, on_end);
	XML_SetCharacterDataHandler(x.p, on_text);
	XML_SetStartDoctypeDeclHandler(x.p, on_doctype);
	XML_SetEntityDeclHandler(x.p, on_entity_decl);
	XML_SetExternalEntityRefHandler(x.p, on_ext_ref);
	XML_SetParamEntityParsing(x.p, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(x.p, doc, (int)len, XML_TRUE) != XML_STATUS_OK && !x.bad)
		x.bad = -EBADMSG;
	rc = x.bad;
	XML_ParserFree(x.p);
	s3_buf_free(&x.text);
	return rc;
}

/* DeleteObjects: Delete/Quiet, Delete/Object/Key (VersionId ignored:
 * buckets are unversioned so far). */
static int delete_leaf(struct xp *x, const char *text, size_t len)
{
	struct s3_delete_req *r = x->arg;
	if (x->depth == 2 && strcmp(x->path[1], "Quiet") == 0) {
		if (len == 4 && strncasecmp(text, "true", 4) == 0)
			r->quiet = 1;
		else if (len == 5 && strncasecmp(text, "false", 5) == 0)
			r->quiet = 0;
		else
			return -EBADMSG;
	} else if (x->depth == 3 && strcmp(x->path[1], "Object") == 0 &&
		   strcmp(x->path[2], "Key") == 0) {
		if (len == 0 || len > S3_KEY_MAX || memchr(text, '\0', len))
			return -EBADMSG;
		if (r->nkeys == S3_DELETE_MAX_KEYS)
			return -EBADMSG;
		char *k = strndup(text, len);
		if (!k)
			return -ENOMEM;
		r->keys[r->nkeys++] = k;
	}
	return 0;
}

int s3_xml_parse_delete(const char *doc, size_t len, struct s3_delete_req *out)
{
	memset(out, 0, sizeof(*out));
	out->keys = calloc(S3_DELETE_MAX_KEYS, sizeof(char *));
	if (!out->keys)
		return -ENOMEM;
	int rc = xml_parse(doc, len, "Delete", delete_leaf, out);
	if (rc == 0 && out->nkeys == 0)
		rc = -EBADMSG;   /* S3: at least one Object */
	if (rc)
		s3_delete_req_free(out);
	return rc;
}

void s3_delete_req_free(struct s3_delete_req *r)
{
	if (r->keys)
		for (size_t i = 0; i < r->nkeys; i++)
			free(r->keys[i]);
	free(r->keys);
	memset(r, 0, sizeof(*r));
}

struct loc_arg {
	char *loc;
	size_t len;
};

static int loc_leaf(struct xp *x, const char *text, size_t len)
{
	struct loc_arg *a = x->arg;
	if (x->depth == 2 && strcmp(x->path[1], "LocationConstraint") == 0) {
		if (len >= a->len || memchr(text, '\0', len))
			return -EBADMSG;
		memcpy(a->loc, text, len);
		a->loc[len] = '\0';
	}
	return 0;
}

int s3_xml_parse_create_bucket(const char *doc, size_t len, char *loc, size_t loclen)
{
	struct loc_arg a = { loc, loclen };
	size_t i = 0;

	loc[0] = '\0';
	while (i < len && (doc[i] == ' ' || doc[i] == '\n' || doc[i] == '\r' || doc[i] == '\t'))
		i++;
	if (i == len)
		return 0;   /* no body: the default region */
	return xml_parse(doc, len, "CreateBucketConfiguration", loc_leaf, &a);
}

/* CompleteMultipartUpload: Part/PartNumber and Part/ETag (the checksum
 * elements are ignored: parts' checksums were verified at UploadPart). */
struct complete_arg {
	struct s3_complete_req *r;
	long number;             /* of the Part being read; -1 none yet */
	int has_etag;
	char etag[36];
};

static int complete_leaf(struct xp *x, const char *text, size_t len)
{
	struct complete_arg *a = x->arg;
	if (x->depth == 3 && strcmp(x->path[1], "Part") == 0) {
		if (strcmp(x->path[2], "PartNumber") == 0) {
			char num[8], *e;
			while (len && (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')) {
				text++;
				len--;
			}
			while (len && (text[len - 1] == ' ' || text[len - 1] == '\n' ||
				       text[len - 1] == '\t' || text[len - 1] == '\r'))
				len--;
			if (a->number >= 0 || len == 0 || len >= sizeof(num) ||
			    strspn(text, "0123456789") < len)
				return -EBADMSG;
			memcpy(num, text, len);
			num[len] = '\0';
			long v = strtol(num, &e, 10);
			if (v < 1 || v > S3_MPU_MAX_PARTS)
				return -EBADMSG;
			a->number = v;
		} else if (strcmp(x->path[2], "ETag") == 0) {
			/* "hex", &quot;hex&quot; (decoded by expat) or hex */
			if (a->has_etag)
				return -EBADMSG;
			while (len && (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')) {
				text++;
				len--;
			}
			while (len && (text[len - 1] == ' ' || text[len - 1] == '\n' ||
				       text[len - 1] == '\t' || text[len - 1] == '\r'))
				len--;
			if (len == 34 && text[0] == '"' && text[33] == '"') {
				text++;
				len -= 2;
			}
			if (len != 32)
				return -EBADMSG;
			for (size_t i = 0; i < 32; i++) {
				char c = text[i];
				if (c >= 'A' && c <= 'F')
					c = (char)(c - 'A' + 'a');
				else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
					return -EBADMSG;
				a->etag[i] = c;
			}
			a->etag[32] = '\0';
			a->has_etag = 1;
		}
	} else if (x->depth == 2 && strcmp(x->path[1], "Part") == 0) {
		if (a->number < 0 || !a->has_etag || a->r->nparts == S3_MPU_MAX_PARTS)
			return -EBADMSG;
		struct s3_complete_part *p = &a->r->parts[a->r->nparts++];
		p->number = (unsigned)a->number;
		memcpy(p->etag, a->etag, sizeof(p->etag));
		a->number = -1;
		a->has_etag = 0;
	}
	return 0;
}

int s3_xml_parse_complete(const char *doc, size_t len, struct s3_complete_req *out)
{
	struct complete_arg a;
	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	a.r = out;
	a.number = -1;
	out->parts = calloc(S3_MPU_MAX_PARTS, sizeof(*out->parts));
	if (!out->parts)
		return -ENOMEM;
	int rc = xml_parse(doc, len, "CompleteMultipartUpload", complete_leaf, &a);
	if (rc == 0 && out->nparts == 0)
		rc = -EBADMSG;   /* S3: at least one Part */
	if (rc)
		s3_complete_req_free(out);
	return rc;
}

void s3_complete_req_free(struct s3_complete_req *r)
{
	free(r->parts);
	memset(r, 0, sizeof(*r));
}
