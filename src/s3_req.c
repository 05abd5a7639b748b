/* s3_req: the request as the operations see it (headers, query
 * arguments) and the response they build: status, headers, an XML body
 * or an S3 error document. The HTTP library stays in s3_server.c, which
 * sets the lookup functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "log.h"
#include "s3_priv.h"

const char *s3_req_header(struct s3_request *r, const char *name)
{
	return r->lookup(r->conn, 0, name);
}

const char *s3_req_arg(struct s3_request *r, const char *name)
{
	return r->lookup(r->conn, 1, name);
}

int s3_req_headers(struct s3_request *r, struct sigv4_header *h, size_t max)
{
	return r->headers(r->conn, h, max);
}

/* ---- responses ----------------------------------------------------------- */

void s3_resp_header(struct s3_request *r, const char *name, const char *value)
{
	if (r->nhdr == S3_MAX_RESP_HEADERS)
		return;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return;
	}
	r->hdr[r->nhdr].name = n;
	r->hdr[r->nhdr].value = v;
	r->nhdr++;
}

void s3_resp_del_header(struct s3_request *r, const char *name)
{
	size_t k = 0;
	for (size_t i = 0; i < r->nhdr; i++) {
		if (strcasecmp(r->hdr[i].name, name) == 0) {
			free(r->hdr[i].name);
			free(r->hdr[i].value);
			continue;
		}
		r->hdr[k++] = r->hdr[i];
	}
	r->nhdr = k;
}

void s3_resp_clear(struct s3_request *r)
{
	for (size_t i = 0; i < r->nhdr; i++) {
		free(r->hdr[i].name);
		free(r->hdr[i].value);
	}
	r->nhdr = 0;
	s3_buf_free(&r->out);
}

void s3_fail(struct s3_request *r, const struct s3_error *e, const char *message)
{
	char res[S3_KEY_MAX + 300];

	s3_resp_clear(r);
	r->status = e->status;
	snprintf(res, sizeof(res), "/%s%s%s", r->route.bucket ? r->route.bucket : "",
		 r->route.key && *r->route.key ? "/" : "", r->route.key ? r->route.key : "");
	if (e->status != 304)
		s3_xml_error(&r->out, e->code, message ? message : e->message, res, r->request_id);
	r->responded = 1;
	if (e->status == 403 || e->status >= 500) {
		char q1[300], q2[300];
		wlog(e->status == 403 ? WLOG_INFO : WLOG_WARN,
		     "s3 refused op=%s path=%s access_key=%s uid=%u status=%u code=%s reason=%s",
		     s3_op_name(r->route.op), wlog_quote(res, q1, sizeof(q1)),
		     r->pr.anonymous ? "-" : (r->pr.access_key[0] ? r->pr.access_key : "?"),
		     r->pr.caller.uid, e->status, e->code,
		     wlog_quote(message ? message : e->message, q2, sizeof(q2)));
	}
}

void s3_fail_code(struct s3_request *r, enum s3_err e, const char *message)
{
	s3_fail(r, s3_error_get(e), message);
}

void s3_fail_errno(struct s3_request *r, int err, enum s3_err notfound)
{
	s3_fail(r, s3_error_from_errno(err, notfound), NULL);
}

void s3_ok_xml(struct s3_request *r)
{
	if (r->out.failed) {
		s3_buf_free(&r->out);
		s3_fail_code(r, S3E_INTERNAL, "response too large or out of memory");
		return;
	}
	r->status = 200;
	s3_resp_header(r, "Content-Type", "application/xml");
	r->responded = 1;
}

