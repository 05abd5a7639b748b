/* s3_parts: the parts of a multipart upload (where they live:
 * s3_multipart.c). UploadPart streams its body through PutObject's path
 * (s3_put_data, s3_put_end: Content-MD5, x-amz-checksum-*, aws-chunked)
 * into a hidden staging object in the upload's directory, renamed over
 * the part's name only when the whole body has arrived and its digests
 * hold: a dropped connection stores nothing, and of two uploads of one
 * part number the last to finish wins. UploadPartCopy copies a source
 * range the same way; ListParts lists them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "crypto.h"
#include "log.h"
#include "s3_priv.h"

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define MAX_PART_SIZE (UINT64_C(5) << 30)   /* AWS: 5 GiB */
#define LIST_MAX 1000

/* partNumber: 1..10000, else 0. */
static unsigned part_arg(struct s3_request *r)
{
	const char *s = s3_req_arg(r, "partNumber");
	if (!s || !*s || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s))
		return 0;
	unsigned long v = strtoul(s, NULL, 10);
	return v >= 1 && v <= S3_MPU_MAX_PARTS ? (unsigned)v : 0;
}

/* Resolve the upload and open a new staging object for part number n in
 * it: r->put set up as a part. 0, or -1 with an error response. */
static int part_open(struct s3_request *r)
{
	struct ns_attr ud, ta;
	struct s3_put *p;
	uint64_t rnd;
	unsigned n = part_arg(r);
	int rc;

	if (!n) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT,
			     "Part number must be an integer between 1 and 10000, inclusive");
		return -1;
	}
	if (s3_mpu_resolve(r, NULL, &ud))
		return -1;
	p = calloc(1, sizeof(*p));
	if (!p) {
		s3_fail_code(r, S3E_INTERNAL, "out of memory");
		return -1;
	}
	r->put = p;
	s3_buf_init(&p->meta, 0);
	p->part = 1;
	p->tmpdir = ud;
	p->depth = 0;
	p->ncomps = 1;
	s3_mpu_part_name(n, p->keybuf, sizeof(p->keybuf));
	p->comps[0] = p->keybuf;
	wcrypto_random(&rnd, sizeof(rnd));
	snprintf(p->tmpname, sizeof(p->tmpname), S3_TMP_PREFIX "%s-%016" PRIx64, r->request_id, rnd);
	rc = ns_create_staging(r->n, &r->pr.caller, ud.ino, p->tmpname, 0600, &ta, &p->h);
	if (rc) {
		p->h = NULL;
		/* the upload removed meanwhile (Abort, Complete) */
		s3_fail_errno(r, rc, S3E_NO_SUCH_UPLOAD);
		s3_put_free(r);
		return -1;
	}
	p->tmpino = ta.ino;
	return 0;
}

int s3_part_begin(struct s3_request *r)
{
	const char *te = s3_req_header(r, "Transfer-Encoding");
	if (!r->sb) {      /* s3_auth_request makes it for every UploadPart */
		s3_fail_code(r, S3E_INTERNAL, NULL);
		return -1;
	}
	if (!r->has_length && !(te && strcasestr(te, "chunked"))) {
		s3_fail_code(r, S3E_MISSING_LENGTH, NULL);
		return -1;
	}
	if (r->has_length && r->content_length > MAX_PART_SIZE + (MAX_PART_SIZE >> 4)) {
		/* (aws-chunked framing counts in Content-Length: some slack) */
		s3_fail_code(r, S3E_ENTITY_TOO_LARGE, NULL);
		return -1;
	}
	return part_open(r);
}

/* x-amz-copy-source-range "bytes=A-B" against size: 0 and the range, -1
 * malformed, -2 outside the object. */
static int copy_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	unsigned long long a, b;
	char *e;
	if (strncmp(h, "bytes=", 6) != 0)
		return -1;
	h += 6;
	if (*h < '0' || *h > '9')
		return -1;
	errno = 0;
	a = strtoull(h, &e, 10);
	if (errno || *e != '-' || e[1] < '0' || e[1] > '9')
		return -1;
	b = strtoull(e + 1, &e, 10);
	if (errno || *e || b < a)
		return -1;
	if (b >= size)
		return -2;
	*off = a;
	*len = b - a + 1;
	return 0;
}

void s3_op_upload_part_copy(struct s3_request *r)
{
	char srcbuf[S3_KEY_MAX + 320], *sbn, *sk, etag[33], qetag[44], date[64];
	struct ns_attr src, ta;
	uint64_t off = 0, len;
	int rc;

	if (!part_arg(r)) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT,
			     "Part number must be an integer between 1 and 10000, inclusive");
		return;
	}
	if (s3_copy_source_find(r, srcbuf, sizeof(srcbuf), &sbn, &sk, &src))
		return;
	len = src.size;
	const char *rg = s3_req_header(r, "x-amz-copy-source-range");
	if (rg) {
		rc = copy_range(rg, src.size, &off, &len);
		if (rc == -1) {
			s3_fail_code(r, S3E_INVALID_ARGUMENT, "The x-amz-copy-source-range value must be "
				     "of the form bytes=first-last where first and last are the "
				     "zero-based offsets of the first and last bytes to copy");
			return;
		}
		if (rc) {
			s3_fail_code(r, S3E_INVALID_RANGE, NULL);
			return;
		}
	}
	if (len > MAX_PART_SIZE) {
		s3_fail_code(r, S3E_ENTITY_TOO_LARGE, NULL);
		return;
	}
	if (part_open(r))
		return;
	if (s3_copy_into_put(r, src.ino, off, len, etag))
		return;
	uint64_t udino = r->put->tmpdir.ino;
	char pname[16];
	s3_mpu_part_name(part_arg(r), pname, sizeof(pname));
	if (s3_put_commit(r, etag))
		return;
	s3_put_free(r);
	if (ns_lookup(r->n, udino, pname, &ta))
		ta.mtime_ns = 0;
	snprintf(qetag, sizeof(qetag), "\"%s\"", etag);
	s3_iso_date(ta.mtime_ns, date, sizeof(date));
	s3_xml_start(&r->out);
	s3_buf_puts(&r->out, "<CopyPartResult xmlns=\"" S3_XMLNS "\">");
	s3_xml_elem(&r->out, "LastModified", date);
	s3_xml_elem(&r->out, "ETag", qetag);
	s3_buf_puts(&r->out, "</CopyPartResult>");
	s3_ok_xml(r);
}

/* ---- ListParts --------------------------------------------------------------- */

struct part_set {
	uint8_t bits[(S3_MPU_MAX_PARTS + 8) / 8];
	uint64_t next;
	int more;
};

static int part_cb(void *arg, const char *name, const struct ns_attr *a, uint64_t next_off)
{
	struct part_set *s = arg;
	(void)a;
	s->next = next_off;
	if (name[0] == 'p' && strlen(name) == 6 && strspn(name + 1, "0123456789") == 5) {
		unsigned v = (unsigned)atoi(name + 1);
		if (v >= 1 && v <= S3_MPU_MAX_PARTS)
			s->bits[v / 8] |= (uint8_t)(1u << (v % 8));
	}
	return 0;
}

static int parse_num(const char *s, unsigned long *out)
{
	if (!s)
		return 0;
	if (!*s || strlen(s) > 9 || strspn(s, "0123456789") != strlen(s))
		return -1;
	*out = strtoul(s, NULL, 10);
	return 0;
}

void s3_op_list_parts(struct s3_request *r)
{
	struct ns_attr ud;
	struct part_set *s;
	unsigned long max = LIST_MAX, marker = 0;
	char meta[8192 + 512], uid[16];
	int rc;

	if (parse_num(s3_req_arg(r, "max-parts"), &max)) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT, "max-parts must be an integer >= 0");
		return;
	}
	if (parse_num(s3_req_arg(r, "part-number-marker"), &marker)) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT, "part-number-marker must be an integer >= 0");
		return;
	}
	if (max > LIST_MAX)
		max = LIST_MAX;
	if (s3_mpu_resolve(r, NULL, &ud))
		return;
	s = calloc(1, sizeof(*s));
	if (!s) {
		s3_fail_code(r, S3E_INTERNAL, "out of memory");
		return;
	}
	rc = ns_readdir(r->n, ud.ino, 0, part_cb, s);
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_UPLOAD);
		free(s);
		return;
	}
	struct s3_buf *o = &r->out;
	snprintf(uid, sizeof(uid), "%u", ud.uid);
	s3_xml_start(o);
	s3_buf_puts(o, "<ListPartsResult xmlns=\"" S3_XMLNS "\">");
	s3_xml_elem(o, "Bucket", r->route.bucket);
	s3_xml_elem(o, "Key", r->route.key);
	s3_xml_elem(o, "UploadId", s3_req_arg(r, "uploadId"));
	s3_buf_puts(o, "<Initiator>");
	s3_xml_elem(o, "ID", uid);
	s3_xml_elem(o, "DisplayName", uid);
	s3_buf_puts(o, "</Initiator><Owner>");
	s3_xml_elem(o, "ID", uid);
	s3_xml_elem(o, "DisplayName", uid);
	s3_buf_puts(o, "</Owner><StorageClass>STANDARD</StorageClass>");
	s3_buf_printf(o, "<PartNumberMarker>%lu</PartNumberMarker>", marker);
	struct s3_buf parts;
	s3_buf_init(&parts, 0);
	unsigned long shown = 0, last = 0;
	int truncated = 0;
	for (unsigned long n = marker + 1; n <= S3_MPU_MAX_PARTS; n++) {
		if (!(s->bits[n / 8] & (1u << (n % 8))))
			continue;
		char name[16], etag[48], date[64];
		struct ns_attr a;
		s3_mpu_part_name((unsigned)n, name, sizeof(name));
		if (ns_lookup(r->n, ud.ino, name, &a) || !S_ISREG(a.mode))
			continue;     /* gone meanwhile */
		if (shown == max) {
			truncated = 1;
			break;
		}
		ssize_t ml = ns_getxattr(r->n, &s3_mpu_root, a.ino, S3_META_XATTR, meta,
					 sizeof(meta) - 1);
		if (ml < 0)
			ml = 0;
		meta[ml] = '\0';
		s3_meta_etag(r->n, &a, ml ? meta : NULL, (size_t)ml, etag, sizeof(etag));
		s3_iso_date(a.mtime_ns, date, sizeof(date));
		s3_buf_printf(&parts, "<Part><PartNumber>%lu</PartNumber>", n);
		s3_xml_elem(&parts, "LastModified", date);
		s3_xml_elem(&parts, "ETag", etag);
		s3_buf_printf(&parts, "<Size>%" PRIu64 "</Size></Part>", a.size);
		shown++;
		last = n;
	}
	if (truncated)
		s3_buf_printf(o, "<NextPartNumberMarker>%lu</NextPartNumberMarker>", last);
	s3_buf_printf(o, "<MaxParts>%lu</MaxParts>", max);
	s3_xml_elem(o, "IsTruncated", truncated ? "true" : "false");
	s3_buf_put(o, parts.p ? parts.p : "", parts.len);
	if (parts.failed)
		o->failed = 1;
	s3_buf_free(&parts);
	s3_buf_puts(o, "</ListPartsResult>");
	free(s);
	s3_ok_xml(r);
}
