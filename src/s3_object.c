/* s3_object: PutObject, GetObject, HeadObject, DeleteObject and
 * DeleteObjects over ns. ns decides every lock rule (a locked object's
 * DELETE or overwrite comes back -EPERM: 403 AccessDenied); this file
 * checks mode bits (s3_perm) and maps keys to paths (s3_key).
 *
 * PutObject writes the body into a hidden temporary object
 * (S3_TMP_PREFIX + request id) in the deepest existing directory of the
 * key, in bounded pieces, and renames it over the key only when the whole
 * body has arrived and its digests hold; the handle is released after the
 * rename, so the bucket's default retention applies to the object under
 * its real name at that commit (design section 4). A connection dropped
 * mid-body unlinks the temporary object: nothing becomes visible. The
 * temporary object is made with ns_create_upload and renamed with
 * NS_RENAME_UPLOAD: its default becomes pending only with the rename, so
 * a daemon killed before it leaves an unlocked temporary object that the
 * next start removes (s3_stale.c), never a locked leak. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "crypto.h"
#include "log.h"
#include "s3_priv.h"

#define S3_EMPTY_MD5 "d41d8cd98f00b204e9800998ecf8427e"

/* A key as path components, or an error response. */
static int split_key(struct s3_request *r, char *buf, char **comps, int *n, int *is_dir)
{
	size_t len = strlen(r->route.key);
	if (len > S3_KEY_MAX) {
		s3_fail_code(r, S3E_KEY_TOO_LONG, NULL);
		return -1;
	}
	*n = s3_key_split(r->route.key, len, buf, comps, S3_KEY_MAXCOMPS, is_dir);
	if (*n < 0) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT,
			     "this key cannot name a path: an empty, '.' or '..' component, "
			     "a component over 255 bytes, or not UTF-8 (wormfs keys are paths)");
		return -1;
	}
	if (strcmp(comps[0], S3_MPU_DIR) == 0) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT,
			     "the top-level name " S3_MPU_DIR " is reserved for multipart uploads");
		return -1;
	}
	if (strncmp(comps[*n - 1], S3_TMP_PREFIX, strlen(S3_TMP_PREFIX)) == 0) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT,
			     "names starting with " S3_TMP_PREFIX " are reserved for uploads in progress");
		return -1;
	}
	return 0;
}

/* Walk the existing directories of comps[0..n-2] from the bucket: *depth
 * gets how many exist, *dir the deepest. -ENOTDIR one is an object,
 * -EACCES no search permission, other ns errors. */
static int walk_existing(struct s3_request *r, const struct ns_attr *b, char **comps, int n,
			 int *depth, struct ns_attr *dir)
{
	struct ns_attr cur = *b, next;
	int i;
	for (i = 0; i + 1 < n; i++) {
		int rc = ns_lookup(r->n, cur.ino, comps[i], &next);
		if (rc == -ENOENT)
			break;
		if (rc)
			return rc;
		if (!S_ISDIR(next.mode))
			return -ENOTDIR;
		if (!s3_perm_ok(&r->pr.caller, &next, S3_PERM_X))
			return -EACCES;
		cur = next;
	}
	*depth = i;
	*dir = cur;
	return 0;
}

/* Make comps[from..to-1] below dir (each must not exist or be a
 * directory); *dir becomes the last. */
static int make_dirs(struct s3_request *r, struct ns_attr *dir, char **comps, int from, int to)
{
	for (int i = from; i < to; i++) {
		struct ns_attr next;
		int rc = ns_lookup(r->n, dir->ino, comps[i], &next);
		if (rc == -ENOENT) {
			if (!s3_perm_ok(&r->pr.caller, dir, S3_PERM_W | S3_PERM_X))
				return -EACCES;
			rc = ns_mkdir(r->n, &r->pr.caller, dir->ino, comps[i],
				      0777 & ~r->pr.caller.umask, &next);
			if (rc == -EEXIST)   /* made by a concurrent request */
				rc = ns_lookup(r->n, dir->ino, comps[i], &next);
		}
		if (rc)
			return rc;
		if (!S_ISDIR(next.mode))
			return -ENOTDIR;
		if (!s3_perm_ok(&r->pr.caller, &next, S3_PERM_X))
			return -EACCES;
		*dir = next;
	}
	return 0;
}

static int etag_listed(const char *list, const char *etag, int strong);

/* Conditional writes (PutObject, CopyObject's destination and
 * CompleteMultipartUpload, as AWS):
 * If-None-Match: * creates only, If-Match replaces only an object of one
 * of its ETags. Checked before the body and again at the commit, whose
 * rename is pinned to what was checked (NOREPLACE, or the checked
 * inode): 0, or the error (nothing answered yet). */
static const struct s3_error *put_conditions(struct s3_request *r, const struct ns_attr *victim,
					     int at_commit)
{
	struct s3_put *p = r->put;
	char meta[8192 + 512], etag[48];

	if (p->cond_none && victim)
		return s3_error_get(S3E_PRECONDITION_FAILED);
	if (p->cond_match) {
		/* AWS: the object deleted while the write ran is a conflict
		 * (409, try again), not a missing key */
		if (!victim)
			return s3_error_get(at_commit ? S3E_CONDITIONAL_CONFLICT : S3E_NO_SUCH_KEY);
		ssize_t ml = ns_getxattr(r->n, &r->pr.caller, victim->ino, S3_META_XATTR, meta,
					 sizeof(meta) - 1);
		if (ml < 0)
			ml = 0;
		meta[ml] = '\0';
		s3_meta_etag(r->n, victim, ml ? meta : NULL, (size_t)ml, etag, sizeof(etag));
		if (!etag_listed(p->cond_match, etag, 1))
			return s3_error_get(S3E_PRECONDITION_FAILED);
	}
	return NULL;
}

void s3_put_free(struct s3_request *r)
{
	struct s3_put *p = r->put;
	if (!p)
		return;
	s3_buf_free(&p->meta);
	free(p);
	r->put = NULL;
}

void s3_put_abort(struct s3_request *r)
{
	struct s3_put *p = r->put;
	if (!p)
		return;
	if (p->h) {
		/* only our object, checked in the unlink's transaction: a file
		 * a local user renamed onto the name is not ours to remove */
		int rc = ns_unlink_ino(r->n, &r->pr.caller, p->tmpdir.ino, p->tmpname, p->tmpino);
		if (rc && rc != -ENOENT && rc != -ESTALE)
			wlog(WLOG_WARN, "s3: cannot remove the unfinished upload %s: %s",
			     p->tmpname, strerror(-rc));
		worm_discard(ns_release(r->n, p->h));   /* logged by ns */
		p->h = NULL;
	}
	s3_put_free(r);
}

int s3_put_begin(struct s3_request *r)
{
	struct s3_put *p;
	struct ns_attr victim;
	int rc;

	int copy = r->route.op == S3_OP_COPY_OBJECT;
	int create = r->route.op == S3_OP_CREATE_MPU;
	/* CopyObject, CompleteMultipartUpload and CreateMultipartUpload
	 * carry no object body */
	int nobody = copy || create || r->route.op == S3_OP_COMPLETE_MPU;
	if (!nobody && !r->sb) {      /* s3_auth_request makes it for every PUT */
		s3_fail_code(r, S3E_INTERNAL, NULL);
		return -1;
	}
	const char *te = s3_req_header(r, "Transfer-Encoding");
	if (!nobody && !r->has_length && !(te && strcasestr(te, "chunked"))) {
		s3_fail_code(r, S3E_MISSING_LENGTH, NULL);
		return -1;
	}
	if (s3_req_header(r, "x-amz-object-lock-mode") ||
	    s3_req_header(r, "x-amz-object-lock-retain-until-date") ||
	    s3_req_header(r, "x-amz-object-lock-legal-hold")) {
		s3_fail_code(r, S3E_NOT_IMPLEMENTED,
			     "Object Lock headers over S3 are not implemented yet (set the lock through the mount)");
		return -1;
	}
	const char *acl = s3_req_header(r, "x-amz-acl");
	if (acl && strcmp(acl, "private") != 0) {
		s3_fail_code(r, S3E_NOT_IMPLEMENTED, "canned ACLs other than private are not implemented yet");
		return -1;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		s3_fail_code(r, S3E_INTERNAL, "out of memory");
		return -1;
	}
	r->put = p;
	s3_buf_init(&p->meta, 0);
	if (split_key(r, p->keybuf, p->comps, &p->ncomps, &p->is_dir))
		goto fail;
	if (nobody && p->is_dir) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT, "a key ending in '/' names a directory: no copy or multipart target");
		goto fail;
	}
	if (p->is_dir && r->has_length && r->content_length) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT,
			     "a key ending in '/' names a directory: its body must be empty");
		goto fail;
	}
	if (r->route.op == S3_OP_PUT_OBJECT || r->route.op == S3_OP_COMPLETE_MPU || copy) {
		/* never ignored: a create-only write that replaced would be a
		 * wrong success (CopyObject: the destination's, as AWS; the
		 * source's are x-amz-copy-source-if-*) */
		const char *inm = s3_req_header(r, "If-None-Match");
		p->cond_match = s3_req_header(r, "If-Match");
		if (inm && strcmp(inm, "*") != 0) {
			s3_fail_code(r, S3E_NOT_IMPLEMENTED,
				     "If-None-Match on a write takes only '*' (create only)");
			goto fail;
		}
		p->cond_none = inm != NULL;
		if (p->is_dir && (p->cond_none || p->cond_match)) {
			s3_fail_code(r, S3E_NOT_IMPLEMENTED,
				     "conditional writes of a directory key are not implemented");
			goto fail;
		}
	}
	if ((rc = s3_ns_bucket(r, &p->bucket))) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		goto fail;
	}
	if ((rc = walk_existing(r, &p->bucket, p->comps, p->ncomps, &p->depth, &p->tmpdir))) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_KEY);
		goto fail;
	}
	int have_victim = 0;
	if (p->depth == p->ncomps - 1) {
		rc = ns_lookup(r->n, p->tmpdir.ino, p->comps[p->ncomps - 1], &victim);
		have_victim = rc == 0;
		if (rc == 0) {
			if (S_ISDIR(victim.mode) && !p->is_dir) {
				s3_fail_code(r, S3E_KEY_IS_DIRECTORY, NULL);
				goto fail;
			}
			if (!S_ISDIR(victim.mode) && p->is_dir) {
				s3_fail_code(r, S3E_PARENT_IS_OBJECT, NULL);
				goto fail;
			}
			if (!p->is_dir && victim.sealed && !create) {
				/* ns refuses the replace too; say so before the body */
				s3_fail_code(r, S3E_ACCESS_DENIED,
					     "the object is locked or expired (WORM): it cannot be replaced");
				goto fail;
			}
			if (!p->is_dir && !s3_perm_may_delete(&r->pr.caller, &p->tmpdir, &victim)) {
				s3_fail_code(r, S3E_ACCESS_DENIED, NULL);
				goto fail;
			}
		} else if (rc != -ENOENT) {
			s3_fail_errno(r, rc, S3E_NO_SUCH_KEY);
			goto fail;
		}
	}
	const struct s3_error *ce = put_conditions(r, have_victim ? &victim : NULL, 0);
	if (ce) {
		s3_fail(r, ce, NULL);
		goto fail;
	}
	if (p->is_dir)
		return 0;    /* made at the end */
	if (!s3_perm_ok(&r->pr.caller, &p->tmpdir, S3_PERM_W | S3_PERM_X)) {
		s3_fail_code(r, S3E_ACCESS_DENIED, NULL);
		goto fail;
	}
	const char *dirv = s3_req_header(r, "x-amz-metadata-directive");
	if ((copy && (!dirv || strcmp(dirv, "REPLACE") != 0)) || r->route.op == S3_OP_COMPLETE_MPU) {
		/* COPY: the source's, filled in by the copy; Complete: the
		 * ones CreateMultipartUpload kept */
	} else if ((rc = s3_meta_collect(r, &p->meta))) {
		static const struct s3_error big = { 400, "MetadataTooLarge",
			"Your metadata headers exceed the maximum allowed metadata size" };
		s3_fail(r, &big, NULL);
		goto fail;
	}
	if (create)
		return 0;     /* the checks only: the upload keeps the headers */
	/* Not the request id alone: ids are sequential and sent to clients,
	 * so a local user could make the next ones first and refuse others'
	 * uploads (EEXIST) in a directory both may write. */
	uint64_t rnd;
	wcrypto_random(&rnd, sizeof(rnd));
	snprintf(p->tmpname, sizeof(p->tmpname), S3_TMP_PREFIX "%s-%016" PRIx64, r->request_id, rnd);
	/* Never wider than the object it replaces (review conf): a PUT over
	 * an object its owner made 0600 made it 0644, readable by every
	 * other user, local and S3, from the upload on. AWS gives a new
	 * object the default ACL (private), an editor's save keeps the
	 * mode. */
	uint32_t mode = 0666 & ~r->pr.caller.umask;
	if (have_victim)
		mode &= victim.mode & 0777;
	struct ns_attr ta;
	rc = ns_create_upload(r->n, &r->pr.caller, p->tmpdir.ino, p->tmpname,
		       S_IFREG | mode, O_WRONLY, &ta, &p->h);
	if (rc) {
		p->h = NULL;
		s3_fail_errno(r, rc, S3E_NO_SUCH_KEY);
		goto fail;
	}
	p->tmpino = ta.ino;
	return 0;
fail:
	s3_put_abort(r);
	return -1;
}

static int put_sink(void *arg, const void *data, size_t len)
{
	struct s3_request *r = arg;
	struct s3_put *p = r->put;
	const char *d = data;

	if (p->is_dir) {
		if (len) {
			s3_fail_code(r, S3E_INVALID_ARGUMENT,
				     "a key ending in '/' names a directory: its body must be empty");
			return -EINVAL;
		}
		return 0;
	}
	while (len) {
		size_t k = len < S3_STREAM_CHUNK ? len : S3_STREAM_CHUNK;
		ssize_t w = ns_write(r->n, &r->pr.caller, p->h, d, k, p->written);
		if (w < 0) {
			s3_fail_errno(r, (int)w, S3E_NO_SUCH_KEY);
			return (int)w;
		}
		stats_add_written(ns_stats(r->n), (uint64_t)w);
		p->written += (uint64_t)w;
		d += w;
		len -= (size_t)w;
	}
	return 0;
}

int s3_put_data(struct s3_request *r, const char *data, size_t len)
{
	if (!r->put)
		return -1;
	if (s3_body_feed(r, data, len, put_sink, r)) {
		s3_put_abort(r);
		return -1;
	}
	return 0;
}

/* Commit an upload whose bytes are all written: flush, keep the
 * metadata with the ETag (hex MD5), make the missing directories, rename
 * the temporary object over the key and release it (the bucket default
 * applies then). 0, or -1 with an error response and nothing visible. */
int s3_put_commit(struct s3_request *r, const char *etag)
{
	struct s3_put *p = r->put;
	/* a part whose upload was aborted meanwhile: NoSuchUpload */
	enum s3_err nf = p->part ? S3E_NO_SUCH_UPLOAD : S3E_NO_SUCH_KEY;
	struct ns_attr dir = p->tmpdir;
	char num[72];
	int rc;

	if ((rc = ns_flush(r->n, p->h))) {
		s3_fail_errno(r, rc, nf);
		goto fail;
	}
	/* The ETag holds for this size, mtime and content generation: a
	 * later write through the mount changes the generation (also a
	 * same-size rewrite whose mtime was put back with utimensat), and the
	 * ETag is then derived again (GET). */
	struct ns_attr ta;
	rc = ns_lookup(r->n, p->tmpdir.ino, p->tmpname, &ta);
	if (!rc && ta.ino != p->tmpino)
		rc = -ESTALE;    /* another object renamed onto our name */
	if (rc == -ESTALE)
		goto swapped;
	if (rc) {
		s3_fail_errno(r, rc, nf);
		goto fail;
	}
	snprintf(num, sizeof(num), "%" PRIu64 ":%" PRId64 ":%" PRIu64, ta.size, ta.mtime_ns, ta.gen);
	/* The MD5 of the plaintext is not kept in clear (review conf): it
	 * told which objects hold equal bytes and confirmed guessed ones. */
	char sealed[NS_ETAG_SEALED_MAX];
	if ((rc = ns_etag_seal(r->n, ta.ino, num, etag, sealed, sizeof(sealed)))) {
		s3_fail_errno(r, rc, nf);
		goto fail;
	}
	s3_meta_add(&p->meta, ":etag", sealed);
	s3_meta_add(&p->meta, ":stamp", num);
	if (p->meta.failed) {
		s3_fail_code(r, S3E_INTERNAL, "out of memory");
		goto fail;
	}
	rc = ns_setxattr(r->n, &r->pr.caller, ta.ino, S3_META_XATTR, p->meta.p, p->meta.len, 0);
	if (rc) {
		s3_fail_errno(r, rc, nf);
		goto fail;
	}
	rc = make_dirs(r, &dir, p->comps, p->depth, p->ncomps - 1);
	uint64_t pin = 0;         /* If-Match: the object checked */
	if (!rc && !p->part) {   /* a part: its upload's owner was checked */
		/* the directory as it is now (made or re-moded meanwhile by
		 * another request, not checked by make_dirs when it existed),
		 * and a name made meanwhile: the same checks as at the start */
		struct ns_attr victim;
		int lr = ns_lookup(r->n, dir.ino, p->comps[p->ncomps - 1], &victim);
		if (!s3_perm_ok(&r->pr.caller, &dir, S3_PERM_W | S3_PERM_X))
			rc = -EACCES;
		else if (lr == 0 && S_ISDIR(victim.mode))
			rc = -EISDIR;
		else if (lr == 0 && !s3_perm_may_delete(&r->pr.caller, &dir, &victim))
			rc = -EACCES;
		else if (lr && lr != -ENOENT)
			rc = lr;
		if (!rc) {
			const struct s3_error *ce = put_conditions(r, lr == 0 ? &victim : NULL, 1);
			if (ce) {
				s3_fail(r, ce, NULL);
				goto fail;
			}
			if (p->cond_match)
				pin = victim.ino;
		}
	}
	/* by inode: the object written and checked here, whatever a local
	 * user renamed onto its name since (ns_rename_ino) */
	if (!rc)
		rc = ns_rename_ino(r->n, &r->pr.caller, p->tmpdir.ino, p->tmpname, p->tmpino,
				   dir.ino, p->comps[p->ncomps - 1], pin,
				   NS_RENAME_UPLOAD | (p->cond_none ? NS_RENAME_NOREPLACE : 0));
	if (rc == -ESTALE) {
		/* our name swapped, or (If-Match) the key replaced meanwhile */
		struct ns_attr cur;
		if (ns_lookup(r->n, p->tmpdir.ino, p->tmpname, &cur) || cur.ino != p->tmpino)
			goto swapped;
		/* AWS: the object an If-Match write was checked against deleted
		 * before the write completed is a conflict (409), not a failed
		 * condition; replaced by another, the first to finish won (412) */
		if (p->cond_match && ns_lookup(r->n, dir.ino, p->comps[p->ncomps - 1], &cur) == -ENOENT) {
			s3_fail_code(r, S3E_CONDITIONAL_CONFLICT, NULL);
			goto fail;
		}
		rc = -EEXIST;
	}
	if (rc == -EEXIST && (p->cond_none || p->cond_match)) {
		s3_fail_code(r, S3E_PRECONDITION_FAILED, NULL);
		goto fail;
	}
	if (rc) {
		s3_fail_errno(r, rc, nf);
		goto fail;
	}
	/* The name is visible: the last release commits and applies the
	 * bucket's default retention to it. */
	rc = ns_release(r->n, p->h);
	p->h = NULL;
	if (rc) {
		s3_fail_errno(r, rc, nf);
		s3_put_free(r);
		return -1;
	}
	return 0;
swapped:
	/* not "nothing written": a user who moved our object away before
	 * putting another at its name leaves it where it went, locked by
	 * the default at our release (any rename of an open upload marks it) */
	wlog(WLOG_WARN, "s3: the temporary object %s of a %s was replaced through the mount "
	     "before its commit: refused, nothing written under the key (access_key=%s)", p->tmpname,
	     s3_op_name(r->route.op), r->pr.access_key);
	s3_fail_code(r, S3E_OPERATION_ABORTED,
		     "the upload's temporary object was replaced by another one meanwhile: "
		     "nothing was written under the key; try again");
fail:
	s3_put_abort(r);
	return -1;
}

void s3_put_end(struct s3_request *r)
{
	struct s3_put *p = r->put;
	struct ns_attr dir;
	char etag[40], qetag[44];
	int rc;

	if (!p) {
		if (!r->responded)
			s3_fail_code(r, S3E_INTERNAL, NULL);
		return;
	}
	if (s3_body_finish(r))
		goto fail;
	dir = p->tmpdir;
	if (p->is_dir) {
		rc = make_dirs(r, &dir, p->comps, p->depth, p->ncomps);
		if (rc) {
			s3_fail_errno(r, rc, S3E_NO_SUCH_KEY);
			goto fail;
		}
		snprintf(qetag, sizeof(qetag), "\"%s\"", S3_EMPTY_MD5);
		s3_resp_header(r, "ETag", qetag);
		r->status = 200;
		r->responded = 1;
		s3_put_free(r);
		return;
	}
	if (sigv4_body_etag(r->sb, etag)) {
		s3_fail_code(r, S3E_INTERNAL, NULL);
		goto fail;
	}
	if (s3_put_commit(r, etag))
		return;
	snprintf(qetag, sizeof(qetag), "\"%s\"", etag);
	s3_resp_header(r, "ETag", qetag);
	const char *ckname;
	char ck[45];
	if (sigv4_body_checksum(r->sb, &ckname, ck) == 0)
		s3_resp_header(r, ckname, ck);
	r->status = 200;
	r->responded = 1;
	s3_put_free(r);
	return;
fail:
	s3_put_abort(r);
}

/* ---- reads ----------------------------------------------------------------- */

/* Resolve an existing object key: 0 with its attributes and parent, or an
 * error response (-1). */
static int s3_find_object(struct s3_request *r, struct ns_attr *obj, struct ns_attr *parent,
		       int *is_dir)
{
	char buf[S3_KEY_MAX + 1];
	char *comps[S3_KEY_MAXCOMPS];
	struct ns_attr b;
	int n, rc;

	if (split_key(r, buf, comps, &n, is_dir))
		return -1;
	if ((rc = s3_ns_bucket(r, &b))) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return -1;
	}
	rc = s3_ns_parent(r, &b, comps, n, 0, parent);
	if (!rc)
		rc = ns_lookup(r->n, parent->ino, comps[n - 1], obj);
	if (rc == -ENOTDIR)
		rc = -ENOENT;     /* no object can have this key */
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_KEY);
		return -1;
	}
	if (S_ISDIR(obj->mode) != !!*is_dir || (!S_ISDIR(obj->mode) && !S_ISREG(obj->mode))) {
		/* "a" naming a directory, "a/" naming an object, a symlink */
		s3_fail_code(r, S3E_NO_SUCH_KEY, NULL);
		return -1;
	}
	return 0;
}

/* 1 if the comma-separated If-Match / If-None-Match list names etag.
 * strong (If-Match, RFC 7232 3.1): a weak tag W/"..." never matches;
 * If-None-Match compares weakly. */
static int etag_listed(const char *list, const char *etag, int strong)
{
	const char *p = list;
	size_t el = strlen(etag);
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		size_t l = (size_t)(e - p);
		while (l && p[l - 1] == ' ')
			l--;
		if (l >= 2 && p[0] == 'W' && p[1] == '/') {
			if (strong) {
				p = e;
				continue;
			}
			p += 2;
			l -= 2;
		}
		if ((l == 1 && *p == '*') || (l == el && memcmp(p, etag, l) == 0) ||
		    (l + 2 == el && memcmp(p, etag + 1, l) == 0))   /* unquoted */
			return 1;
		p = e;
	}
	return 0;
}

/* The conditional headers PREFIX + Match, None-Match, Unmodified-Since
 * and Modified-Since ("If-" for GET and HEAD, "x-amz-copy-source-if-" for
 * a copy's source) against an object's etag and mtime (seconds), in RFC
 * 7232 order: -1 a Match or Unmodified-Since fails (412), 1 a None-Match
 * or Modified-Since fails (304 for a GET, 412 for a copy), 0 none does.
 * Header names are case-insensitive, so one prefix serves both forms. */
static int preconditions(struct s3_request *r, const char *prefix, const char *etag,
			 int64_t mtime)
{
	char h[4][64];
	int64_t t;
	snprintf(h[0], sizeof(h[0]), "%sMatch", prefix);
	snprintf(h[1], sizeof(h[1]), "%sNone-Match", prefix);
	snprintf(h[2], sizeof(h[2]), "%sUnmodified-Since", prefix);
	snprintf(h[3], sizeof(h[3]), "%sModified-Since", prefix);
	const char *im = s3_req_header(r, h[0]), *inm = s3_req_header(r, h[1]);
	const char *ius = s3_req_header(r, h[2]), *ims = s3_req_header(r, h[3]);
	if (im && !etag_listed(im, etag, 1))
		return -1;
	if (!im && ius && s3_parse_http_date(ius, &t) == 0 && mtime > t)
		return -1;
	if (inm && etag_listed(inm, etag, 0))
		return 1;
	if (!inm && ims && s3_parse_http_date(ims, &t) == 0 && mtime <= t)
		return 1;
	return 0;
}

/* A decimal number of digits only (strtoull alone would take a sign or
 * leading blanks: "bytes=--1" read as the suffix 2^64 - 1): *v and the end,
 * or NULL when s does not start with a digit or overflows. */
static const char *range_num(const char *s, unsigned long long *v)
{
	char *e;
	if (*s < '0' || *s > '9')
		return NULL;
	errno = 0;
	*v = strtoull(s, &e, 10);
	return errno ? NULL : e;
}

/* RFC 7233 single byte range against size: 1 and [*off, *off + *len)
 * when it applies, 0 to serve the whole object (absent, or a form we do
 * not serve: malformed, or several ranges, which S3 ignores too), -1
 * unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	unsigned long long a, b;
	const char *e;

	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		e = range_num(h + 1, &b);
		if (!e || *e)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*len = b > size ? size : b;
		*off = size - *len;
		return 1;
	}
	e = range_num(h, &a);
	if (!e || *e != '-')
		return 0;
	const char *bs = e + 1;
	if (*bs == '\0') {
		b = size ? size - 1 : 0;
	} else {
		e = range_num(bs, &b);
		if (!e || *e || b < a)
			return 0;
		if (b >= size)
			b = size - 1;
	}
	if (a >= size)
		return -1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

void s3_op_get_object(struct s3_request *r, int head)
{
	struct ns_attr obj, parent;
	char etag[48], date[64], cr[96];
	char meta[8192 + 512];
	ssize_t ml;
	int is_dir, keep, rc;
	uint64_t off = 0, len;

	if (s3_find_object(r, &obj, &parent, &is_dir))
		return;
	if (!s3_perm_ok(&r->pr.caller, &obj, S3_PERM_R)) {
		s3_fail_code(r, S3E_ACCESS_DENIED, NULL);
		return;
	}
	ml = ns_getxattr(r->n, &r->pr.caller, obj.ino, S3_META_XATTR, meta, sizeof(meta) - 1);
	if (ml < 0)
		ml = 0;
	meta[ml] = '\0';
	s3_meta_etag(r->n, &obj, ml ? meta : NULL, (size_t)ml, etag, sizeof(etag));

	int64_t mtime = s3_seconds(obj.mtime_ns);
	int not_modified = 0;
	rc = preconditions(r, "If-", etag, mtime);
	if (rc < 0) {
		s3_fail_code(r, S3E_PRECONDITION_FAILED, NULL);
		return;
	}
	if (rc > 0)
		not_modified = 1;

	s3_http_date(mtime, date, sizeof(date));
	if (not_modified) {
		s3_resp_header(r, "ETag", etag);
		s3_resp_header(r, "Last-Modified", date);
		r->status = 304;
		r->responded = 1;
		return;
	}

	len = S_ISDIR(obj.mode) ? 0 : obj.size;
	int rg = parse_range(s3_req_header(r, "Range"), len, &off, &len);
	if (rg < 0) {
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, obj.size);
		s3_fail_code(r, S3E_INVALID_RANGE, NULL);
		s3_resp_header(r, "Content-Range", cr);
		return;
	}
	if (!S_ISDIR(obj.mode)) {
		rc = ns_open_file(r->n, &r->pr.caller, obj.ino, O_RDONLY, &r->rh, &keep);
		if (rc) {
			r->rh = NULL;
			s3_fail_errno(r, rc, S3E_NO_SUCH_KEY);
			return;
		}
	}
	r->roff = off;
	r->rlen = len;
	(void)head;   /* MHD sends no body for HEAD, and a Content-Length */

	s3_resp_header(r, "ETag", etag);
	s3_resp_header(r, "Last-Modified", date);
	s3_resp_header(r, "Accept-Ranges", "bytes");
	if (ml)
		s3_meta_emit(r, meta, (size_t)ml);
	if (!(ml && s3_meta_get(meta, (size_t)ml, "Content-Type")))
		s3_resp_header(r, "Content-Type", "binary/octet-stream");
	if (rg > 0) {
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off,
			 off + len - 1, obj.size);
		s3_resp_header(r, "Content-Range", cr);
	}
	/* response-* overrides: signed requests only (S3 refuses them on
	 * anonymous ones) */
	static const char *const over[][2] = {
		{ "response-content-type", "Content-Type" },
		{ "response-content-language", "Content-Language" },
		{ "response-expires", "Expires" },
		{ "response-cache-control", "Cache-Control" },
		{ "response-content-disposition", "Content-Disposition" },
		{ "response-content-encoding", "Content-Encoding" },
	};
	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		const char *v = s3_req_arg(r, over[i][0]);
		if (!v)
			continue;
		if (r->pr.anonymous) {
			s3_fail_code(r, S3E_INVALID_REQUEST,
				     "Request specific response headers cannot be used for anonymous GET requests.");
			if (r->rh) {
				worm_discard(ns_release(r->n, r->rh));
				r->rh = NULL;
			}
			return;
		}
		s3_resp_del_header(r, over[i][1]);
		s3_resp_header(r, over[i][1], v);
	}
	r->status = rg > 0 ? 206 : 200;
	r->responded = 1;
}

/* ---- deletes ----------------------------------------------------------------- */

/* Delete one key; NULL when done (also when there was nothing to
 * delete: S3 answers 204 then), else the error. */
static const struct s3_error *delete_key(struct s3_request *r, const char *key, size_t klen)
{
	char buf[S3_KEY_MAX + 1];
	char *comps[S3_KEY_MAXCOMPS];
	struct ns_attr b, parent, obj;
	int n, is_dir, rc;

	if (klen > S3_KEY_MAX)
		return s3_error_get(S3E_KEY_TOO_LONG);
	n = s3_key_split(key, klen, buf, comps, S3_KEY_MAXCOMPS, &is_dir);
	if (n < 0)
		return s3_error_get(S3E_INVALID_ARGUMENT);
	if (strncmp(comps[n - 1], S3_TMP_PREFIX, strlen(S3_TMP_PREFIX)) == 0)
		return NULL;   /* never an object */
	if (strcmp(comps[0], S3_MPU_DIR) == 0)
		return s3_error_get(S3E_INVALID_ARGUMENT);   /* uploads: AbortMultipartUpload */
	if ((rc = s3_ns_bucket(r, &b)))
		return s3_error_from_errno(rc, S3E_NO_SUCH_BUCKET);
	rc = s3_ns_parent(r, &b, comps, n, 0, &parent);
	if (!rc)
		rc = ns_lookup(r->n, parent.ino, comps[n - 1], &obj);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return NULL;
	if (rc)
		return s3_error_from_errno(rc, S3E_NO_SUCH_KEY);
	if (S_ISDIR(obj.mode) != !!is_dir)
		return NULL;   /* no such object: "a" is a directory, or "a/" a file */
	if (!s3_perm_may_delete(&r->pr.caller, &parent, &obj))
		return s3_error_get(S3E_ACCESS_DENIED);
	if (is_dir) {
		rc = ns_rmdir(r->n, &r->pr.caller, parent.ino, comps[n - 1]);
		if (rc == -ENOTEMPTY)
			return NULL;   /* the prefix still has keys: it stays */
	} else {
		rc = ns_unlink(r->n, &r->pr.caller, parent.ino, comps[n - 1]);
	}
	if (rc == -ENOENT)
		return NULL;
	if (rc == -EPERM) {
		static const struct s3_error locked = { 403, "AccessDenied",
			"Access Denied because object protected by object lock." };
		return &locked;
	}
	return rc ? s3_error_from_errno(rc, S3E_NO_SUCH_KEY) : NULL;
}

void s3_op_delete_object(struct s3_request *r)
{
	const struct s3_error *e;
	struct ns_attr b;
	int rc;

	if ((rc = s3_ns_bucket(r, &b))) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return;
	}
	e = delete_key(r, r->route.key, strlen(r->route.key));
	if (e) {
		s3_fail(r, e, NULL);
		return;
	}
	r->status = 204;
	r->responded = 1;
}

void s3_op_delete_objects(struct s3_request *r)
{
	struct s3_delete_req d;
	struct ns_attr b;
	int rc;

	if (r->sb && s3_body_finish(r))
		return;
	if ((rc = s3_ns_bucket(r, &b))) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return;
	}
	rc = s3_xml_parse_delete(r->body.p ? r->body.p : "", r->body.len, &d);
	if (rc) {
		s3_fail_code(r, rc == -ENOMEM ? S3E_INTERNAL : S3E_MALFORMED_XML, NULL);
		return;
	}
	s3_xml_start(&r->out);
	s3_buf_puts(&r->out, "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (size_t i = 0; i < d.nkeys; i++) {
		const struct s3_error *e = delete_key(r, d.keys[i], strlen(d.keys[i]));
		if (e) {
			s3_buf_puts(&r->out, "<Error>");
			s3_xml_elem(&r->out, "Key", d.keys[i]);
			s3_xml_elem(&r->out, "Code", e->code);
			s3_xml_elem(&r->out, "Message", e->message);
			s3_buf_puts(&r->out, "</Error>");
			if (e->status == 403)
				wlog(WLOG_INFO, "s3 refused op=DeleteObjects bucket=%s access_key=%s "
				     "uid=%u code=%s", r->route.bucket, r->pr.access_key,
				     r->pr.caller.uid, e->code);
		} else if (!d.quiet) {
			s3_buf_puts(&r->out, "<Deleted>");
			s3_xml_elem(&r->out, "Key", d.keys[i]);
			s3_buf_puts(&r->out, "</Deleted>");
		}
	}
	s3_buf_puts(&r->out, "</DeleteResult>");
	s3_delete_req_free(&d);
	s3_ok_xml(r);
}

/* ---- CopyObject ---------------------------------------------------------- */

int s3_copy_range(struct s3_request *r, uint64_t src, uint64_t off, uint64_t len,
		  ns_handle *dst, uint64_t doff, wcrypto_digest *md5)
{
	ns_handle *sh = NULL;
	char *chunk = NULL;
	int keep, rc;

	rc = ns_open_file(r->n, &r->pr.caller, src, O_RDONLY, &sh, &keep);
	if (rc)
		return rc;
	chunk = malloc(S3_STREAM_CHUNK);
	if (!chunk)
		rc = -ENOMEM;
	while (!rc && len) {
		size_t want = len < S3_STREAM_CHUNK ? (size_t)len : S3_STREAM_CHUNK;
		ssize_t k = ns_read(r->n, sh, chunk, want, off);
		if (k < 0) {
			rc = (int)k;
			break;
		}
		if (k == 0) {
			rc = -EIO;     /* the source was cut short meanwhile */
			break;
		}
		if (md5)
			rc = wcrypto_digest_update(md5, chunk, (size_t)k);
		if (rc)
			break;
		ssize_t w = ns_write(r->n, &r->pr.caller, dst, chunk, (size_t)k, doff);
		if (w < 0) {
			rc = (int)w;
			break;
		}
		stats_add_written(ns_stats(r->n), (uint64_t)w);
		off += (uint64_t)k;
		doff += (uint64_t)k;
		len -= (uint64_t)k;
	}
	free(chunk);
	worm_discard(ns_release(r->n, sh));
	return rc;
}

/* x-amz-copy-source ("[/]bucket/key[?versionId=null]", percent-encoded)
 * into bucket and key (buf holds both). -EINVAL malformed, -ENOSYS a
 * version other than null (versions are not implemented). */
static int s3_copy_source(const char *v, char *buf, size_t len, char **bucket, char **key)
{
	size_t o = 0;
	const char *q = strchr(v, '?');
	size_t n = q ? (size_t)(q - v) : strlen(v);
	if (q && strcmp(q, "?versionId=null") != 0)
		return -ENOSYS;
	if (n && v[0] == '/') {
		v++;
		n--;
	}
	for (size_t i = 0; i < n; i++) {
		if (o + 1 >= len)
			return -EINVAL;
		if (v[i] == '%' && i + 2 < n) {
			char hex[3] = { v[i + 1], v[i + 2], 0 }, *e;
			unsigned long c = strtoul(hex, &e, 16);
			if (*e || !hex[0] || hex[0] == '+' || hex[0] == '-' || hex[0] == ' ' || c == 0)
				return -EINVAL;
			buf[o++] = (char)c;
			i += 2;
		} else {
			buf[o++] = v[i];
		}
	}
	buf[o] = '\0';
	char *slash = strchr(buf, '/');
	if (!slash || slash == buf || !slash[1])
		return -EINVAL;
	*slash = '\0';
	*bucket = buf;
	*key = slash + 1;
	return 0;
}

int s3_copy_source_find(struct s3_request *r, char *buf, size_t buflen, char **bucket,
			char **key, struct ns_attr *src)
{
	struct ns_attr sparent;
	struct s3_route dst = r->route;
	char meta[8192 + 512], etag[48];
	int is_dir, rc;

	rc = s3_copy_source(s3_req_header(r, "x-amz-copy-source"), buf, buflen, bucket, key);
	if (rc == -ENOSYS) {
		s3_fail_code(r, S3E_NOT_IMPLEMENTED, "object versions are not implemented yet");
		return -1;
	}
	if (rc) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT, "bad x-amz-copy-source");
		return -1;
	}
	/* resolved as a GET of it would be */
	r->route.bucket = *bucket;
	r->route.key = *key;
	rc = s3_find_object(r, src, &sparent, &is_dir);
	r->route = dst;
	if (rc)
		return -1;
	if (is_dir || !S_ISREG(src->mode)) {
		s3_fail_code(r, S3E_NO_SUCH_KEY, NULL);
		return -1;
	}
	if (!s3_perm_ok(&r->pr.caller, src, S3_PERM_R)) {
		s3_fail_code(r, S3E_ACCESS_DENIED, "no read permission on the copy source");
		return -1;
	}
	ssize_t ml = ns_getxattr(r->n, &r->pr.caller, src->ino, S3_META_XATTR, meta, sizeof(meta) - 1);
	if (ml < 0)
		ml = 0;
	meta[ml] = '\0';
	s3_meta_etag(r->n, src, ml ? meta : NULL, (size_t)ml, etag, sizeof(etag));
	/* AWS: a copy whose source fails any of its conditions is 412 */
	if (preconditions(r, "x-amz-copy-source-if-", etag, s3_seconds(src->mtime_ns))) {
		s3_fail_code(r, S3E_PRECONDITION_FAILED, NULL);
		return -1;
	}
	return 0;
}

int s3_copy_into_put(struct s3_request *r, uint64_t src, uint64_t off, uint64_t len,
		     char etag[33])
{
	wcrypto_digest *md5 = NULL;
	uint8_t dg[16];
	int rc = wcrypto_digest_new(WCRYPTO_DIGEST_MD5, &md5);
	if (!rc)
		rc = s3_copy_range(r, src, off, len, r->put->h, 0, md5);
	if (!rc)
		rc = wcrypto_digest_final(md5, dg, sizeof(dg));
	wcrypto_digest_free(md5);
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_KEY);
		s3_put_abort(r);
		return -1;
	}
	wcrypto_hex(etag, dg, sizeof(dg));
	return 0;
}

void s3_op_copy_object(struct s3_request *r)
{
	char srcbuf[S3_KEY_MAX + 320], *sb_name, *sk, etag[33], qetag[44], date[64];
	char meta[8192 + 512];
	struct ns_attr src;
	struct s3_route dst = r->route;
	ssize_t ml;

	if (s3_req_header(r, "x-amz-copy-source-range")) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT,
			     "x-amz-copy-source-range is for UploadPartCopy, not CopyObject");
		return;
	}
	const char *dirv = s3_req_header(r, "x-amz-metadata-directive");
	if (dirv && strcmp(dirv, "COPY") != 0 && strcmp(dirv, "REPLACE") != 0) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT, "x-amz-metadata-directive must be COPY or REPLACE");
		return;
	}
	int replace = dirv && strcmp(dirv, "REPLACE") == 0;
	if (s3_copy_source_find(r, srcbuf, sizeof(srcbuf), &sb_name, &sk, &src))
		return;
	if (!replace && strcmp(sb_name, dst.bucket) == 0 && strcmp(sk, dst.key) == 0) {
		s3_fail_code(r, S3E_INVALID_REQUEST, "This copy request is illegal because it is trying "
			     "to copy an object to itself without changing the object's metadata");
		return;
	}
	/* the destination, as a PutObject */
	if (s3_put_begin(r))
		return;
	if (!replace) {
		ml = ns_getxattr(r->n, &r->pr.caller, src.ino, S3_META_XATTR, meta, sizeof(meta) - 1);
		if (ml > 0) {
			/* the source's headers, not its ETag bookkeeping */
			size_t i = 0;
			while (i < (size_t)ml) {
				const char *nm = meta + i, *ne = memchr(nm, '\0', (size_t)ml - i);
				if (!ne || (size_t)(ne + 1 - meta) >= (size_t)ml)
					break;
				const char *vv = ne + 1, *ve = memchr(vv, '\0', (size_t)ml - (size_t)(vv - meta));
				if (!ve)
					break;
				if (nm[0] != ':')
					s3_meta_add(&r->put->meta, nm, vv);
				i = (size_t)(ve - meta) + 1;
			}
		}
	}
	if (s3_copy_into_put(r, src.ino, 0, src.size, etag))
		return;
	if (s3_put_commit(r, etag))
		return;
	s3_put_free(r);
	snprintf(qetag, sizeof(qetag), "\"%s\"", etag);
	/* ns_clock_now is in seconds; s3_iso_date takes nanoseconds */
	s3_iso_date(ns_clock_now(r->n) * INT64_C(1000000000), date, sizeof(date));
	s3_xml_start(&r->out);
	s3_buf_puts(&r->out, "<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	s3_xml_elem(&r->out, "LastModified", date);
	s3_xml_elem(&r->out, "ETag", qetag);
	s3_buf_puts(&r->out, "</CopyObjectResult>");
	s3_ok_xml(r);
}
