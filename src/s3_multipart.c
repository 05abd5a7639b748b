/* s3_multipart: multipart uploads as a whole: CreateMultipartUpload,
 * CompleteMultipartUpload, AbortMultipartUpload, ListMultipartUploads
 * (the parts themselves: s3_parts.c).
 *
 * WHERE UPLOADS LIVE. In the bucket, through ns like every object, so
 * parts are encrypted and authenticated as everything is:
 *   BUCKET/.s3-multipart/               root, 0700 (no local user enters)
 *   BUCKET/.s3-multipart/UPLOADID/      the initiator's, 0700; xattrs
 *       user.s3.upload (key, initiator's access key, initiation time) and
 *       user.s3.meta (the object's headers from Create)
 *   BUCKET/.s3-multipart/UPLOADID/p00042   part 42 (its ETag in user.s3.meta)
 * All three are ns staging nodes (ns.h): a bucket's default retention,
 * autocommit or append-only never lands on them, so Abort can always
 * remove them (a locked part would be an undeletable leak), and they can
 * never be locked nor renamed out of there, so no unlocked bytes get a
 * real name in a bucket with a default. The name .s3-multipart is
 * reserved: keys under it are refused and listings skip it.
 *
 * UPLOAD IDS are 32 hex digits: the initiation time (ns, so they sort as
 * AWS lists uploads of one key) and 64 random bits.
 *
 * COMPLETE copies the listed parts, in order, through a bounded buffer
 * into a new hidden object beside the key and commits it as PutObject
 * does (rename over the key: readers see the old object or the whole new
 * one; the bucket's default applies then). Only then is the upload
 * removed. A locked current object refuses the rename (403) and leaves
 * the upload as it was. Complete and Abort of one upload are serialized
 * by an in-memory busy set: a second one at the same time gets 409
 * OperationAborted (the first then removes the upload: 404 after). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "crypto.h"
#include "log.h"
#include "s3_priv.h"

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define UPLOAD_XATTR "user.s3.upload"
#define ID_LEN 32
#define MIN_PART (5u << 20)        /* AWS: every part but the last */
#define REMOVE_ROUNDS 64           /* Abort against parts still arriving */
#define LIST_MAX 1000

const struct ns_caller s3_mpu_root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };

/* ---- the busy set ------------------------------------------------------ */

struct s3_mpu_busy {
	pthread_mutex_t mu;
	char (*ids)[ID_LEN + 1];
	size_t n, cap;
};

struct s3_mpu_busy *s3_mpu_busy_new(void)
{
	struct s3_mpu_busy *b = calloc(1, sizeof(*b));
	if (b && pthread_mutex_init(&b->mu, NULL)) {
		free(b);
		return NULL;
	}
	return b;
}

void s3_mpu_busy_free(struct s3_mpu_busy *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->mu);
	free(b->ids);
	free(b);
}

/* 0 claimed, -EBUSY another request holds it, -ENOMEM. */
static int busy_claim(struct s3_mpu_busy *b, const char *id)
{
	int rc = 0;
	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->ids[i], id) == 0)
			rc = -EBUSY;
	if (!rc && b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 8;
		void *p = realloc(b->ids, nc * sizeof(*b->ids));
		if (p) {
			b->ids = p;
			b->cap = nc;
		} else {
			rc = -ENOMEM;
		}
	}
	if (!rc)
		snprintf(b->ids[b->n++], ID_LEN + 1, "%s", id);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

static void busy_release(struct s3_mpu_busy *b, const char *id)
{
	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->ids[i], id) == 0) {
			memcpy(b->ids[i], b->ids[--b->n], sizeof(b->ids[i]));
			break;
		}
	pthread_mutex_unlock(&b->mu);
}

/* ---- names --------------------------------------------------------------- */

static int id_valid(const char *id)
{
	if (!id || strlen(id) != ID_LEN)
		return 0;
	return strspn(id, "0123456789abcdef") == ID_LEN;
}

void s3_mpu_part_name(unsigned n, char *buf, size_t len)
{
	snprintf(buf, len, "p%05u", n);
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The reserved directory of bucket b: 0 and *out; create: make it when
 * missing. -ENOENT none (and !create). A node of that name that is not
 * the staging directory (a plain directory or file made through the
 * mount before the engine reserved the name, ns_tree) holds no upload
 * of ours and is never read: -ENOENT, or with create -EEXIST. */
static int mpu_dir(struct s3_request *r, const struct ns_attr *b, int create, struct ns_attr *out)
{
	int rc = ns_lookup(r->n, b->ino, S3_MPU_DIR, out);
	if (rc == -ENOENT && create) {
		rc = ns_mkdir_staging(r->n, &s3_mpu_root, b->ino, S3_MPU_DIR, 0700, out);
		if (rc == -EEXIST)
			rc = ns_lookup(r->n, b->ino, S3_MPU_DIR, out);
	}
	if (!rc && (!S_ISDIR(out->mode) || !out->staging))
		rc = create ? -EEXIST : -ENOENT;
	return rc;
}

/* An upload's user.s3.upload record, parsed. */
struct upload_info {
	char key[S3_KEY_MAX + 1];
	char initiator[129];
	int64_t initiated_ns;
};

static int upload_info(struct s3_request *r, uint64_t ino, struct upload_info *u)
{
	char buf[S3_KEY_MAX + 512];
	ssize_t l = ns_getxattr(r->n, &s3_mpu_root, ino, UPLOAD_XATTR, buf, sizeof(buf) - 1);
	if (l < 0)
		return (int)l;
	buf[l] = '\0';
	const char *k = s3_meta_get(buf, (size_t)l, "key");
	const char *i = s3_meta_get(buf, (size_t)l, "initiator");
	const char *t = s3_meta_get(buf, (size_t)l, "initiated");
	if (!k || !i || !t || strlen(k) > S3_KEY_MAX || strlen(i) > 128)
		return -EBADMSG;
	snprintf(u->key, sizeof(u->key), "%s", k);
	snprintf(u->initiator, sizeof(u->initiator), "%s", i);
	u->initiated_ns = strtoll(t, NULL, 10);
	return 0;
}

int s3_mpu_resolve(struct s3_request *r, struct ns_attr *bucket, struct ns_attr *updir)
{
	struct ns_attr b, md;
	struct upload_info u;
	const char *id = s3_req_arg(r, "uploadId");
	int rc;

	if ((rc = s3_ns_bucket(r, &b))) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return -1;
	}
	if (bucket)
		*bucket = b;
	if (!id_valid(id)) {
		s3_fail_code(r, S3E_NO_SUCH_UPLOAD, NULL);
		return -1;
	}
	rc = mpu_dir(r, &b, 0, &md);
	if (!rc)
		rc = ns_lookup(r->n, md.ino, id, updir);
	if (!rc && (!S_ISDIR(updir->mode) || !updir->staging))
		rc = -ENOENT;
	if (!rc)
		rc = upload_info(r, updir->ino, &u);
	if (rc == -ENOENT || rc == -ENODATA || rc == -EBADMSG ||
	    (!rc && strcmp(u.key, r->route.key) != 0)) {
		s3_fail_code(r, S3E_NO_SUCH_UPLOAD, NULL);
		return -1;
	}
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_UPLOAD);
		return -1;
	}
	/* --admin is for access points (design §11), not other users' uploads */
	if (updir->uid != r->pr.caller.uid && r->pr.caller.uid != 0) {
		s3_fail_code(r, S3E_ACCESS_DENIED, "only the initiator of an upload may use it");
		return -1;
	}
	return 0;
}

/* ---- CreateMultipartUpload ------------------------------------------------ */

void s3_op_create_mpu(struct s3_request *r)
{
	struct ns_attr md, ud;
	char id[ID_LEN + 1], num[32];
	struct s3_buf info;
	uint64_t rnd;
	int rc;

	/* PutObject's checks on the key (bucket, name, directories, write
	 * permission, lock headers) and its metadata headers into r->put */
	if (s3_put_begin(r))
		return;
	rc = mpu_dir(r, &r->put->bucket, 1, &md);
	if (rc == -EEXIST) {
		static const struct s3_error taken = { 409, "ReservedNameInUse",
			"This bucket has a " S3_MPU_DIR " that the S3 endpoint did not make (made "
			"through the mount): rename or remove it through the mount to use multipart "
			"uploads here" };
		char q[300];
		wlog(WLOG_WARN, "s3: bucket %s has a plain %s (made through the mount, not the "
		     "multipart staging directory): multipart uploads there are refused until "
		     "it is renamed or removed", wlog_quote(r->route.bucket, q, sizeof(q)),
		     S3_MPU_DIR);
		s3_fail(r, &taken, NULL);
		s3_put_free(r);
		return;
	}
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		s3_put_free(r);
		return;
	}
	wcrypto_random(&rnd, sizeof(rnd));
	snprintf(id, sizeof(id), "%016" PRIx64 "%016" PRIx64, (uint64_t)wall_ns(), rnd);
	rc = ns_mkdir_staging(r->n, &r->pr.caller, md.ino, id, 0700, &ud);
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		s3_put_free(r);
		return;
	}
	s3_buf_init(&info, 0);
	s3_meta_add(&info, "key", r->route.key);
	s3_meta_add(&info, "initiator", r->pr.access_key);
	snprintf(num, sizeof(num), "%" PRId64, wall_ns());
	s3_meta_add(&info, "initiated", num);
	rc = info.failed || r->put->meta.failed ? -ENOMEM : 0;
	if (!rc)
		rc = ns_setxattr(r->n, &s3_mpu_root, ud.ino, UPLOAD_XATTR, info.p, info.len, 0);
	if (!rc && r->put->meta.len)
		rc = ns_setxattr(r->n, &s3_mpu_root, ud.ino, S3_META_XATTR, r->put->meta.p,
				 r->put->meta.len, 0);
	s3_buf_free(&info);
	s3_put_free(r);
	if (rc) {
		worm_discard(ns_rmdir(r->n, &s3_mpu_root, md.ino, id));
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return;
	}
	s3_xml_start(&r->out);
	s3_buf_puts(&r->out, "<InitiateMultipartUploadResult xmlns=\"" S3_XMLNS "\">");
	s3_xml_elem(&r->out, "Bucket", r->route.bucket);
	s3_xml_elem(&r->out, "Key", r->route.key);
	s3_xml_elem(&r->out, "UploadId", id);
	s3_buf_puts(&r->out, "</InitiateMultipartUploadResult>");
	s3_ok_xml(r);
}

/* ---- removing an upload ------------------------------------------------ */

struct names {
	char (*v)[256];
	size_t n, cap;
	uint64_t next;
};

static int names_cb(void *arg, const char *name, const struct ns_attr *a, uint64_t next_off)
{
	struct names *l = arg;
	(void)a;
	if (l->n == l->cap)
		return 1;
	if (strcmp(name, ".") && strcmp(name, ".."))
		snprintf(l->v[l->n++], 256, "%s", name);
	l->next = next_off;
	return 0;
}

/* Unlink everything in the upload directory and remove it; a part still
 * arriving (UploadPart racing) is caught by the next round. */
static int upload_remove(struct s3_request *r, uint64_t mdino, const char *id, uint64_t udino)
{
	struct names l = { .cap = 256 };
	int rc = -ENOTEMPTY;

	l.v = malloc(l.cap * sizeof(*l.v));
	if (!l.v)
		return -ENOMEM;
	for (int round = 0; round < REMOVE_ROUNDS && rc == -ENOTEMPTY; round++) {
		l.next = 0;
		do {
			l.n = 0;
			rc = ns_readdir(r->n, udino, l.next, names_cb, &l);
			if (rc)
				break;
			for (size_t i = 0; i < l.n; i++) {
				int u = ns_unlink(r->n, &s3_mpu_root, udino, l.v[i]);
				if (u && u != -ENOENT && u != -EISDIR)
					rc = u;
			}
		} while (!rc && l.n == l.cap);
		if (rc == -ENOENT)
			rc = 0;    /* gone meanwhile */
		else if (!rc)
			rc = ns_rmdir(r->n, &s3_mpu_root, mdino, id);
		if (rc == -ENOENT)
			rc = 0;
	}
	free(l.v);
	return rc;
}

void s3_op_abort_mpu(struct s3_request *r)
{
	struct ns_attr b, md, ud;
	const char *id = s3_req_arg(r, "uploadId");
	int rc;

	if (s3_mpu_resolve(r, &b, &ud))
		return;
	rc = busy_claim(r->mpu_busy, id);
	if (rc) {
		s3_fail_code(r, rc == -EBUSY ? S3E_OPERATION_ABORTED : S3E_INTERNAL, NULL);
		return;
	}
	rc = mpu_dir(r, &b, 0, &md);
	if (!rc)
		rc = ns_lookup(r->n, md.ino, id, &ud);   /* completed meanwhile? */
	if (rc == -ENOENT) {
		s3_fail_code(r, S3E_NO_SUCH_UPLOAD, NULL);
	} else if (rc || (rc = upload_remove(r, md.ino, id, ud.ino))) {
		wlog(WLOG_WARN, "s3: AbortMultipartUpload %s in bucket %s: %s", id,
		     r->route.bucket, strerror(-rc));
		s3_fail_errno(r, rc == -ENOTEMPTY ? -EAGAIN : rc, S3E_NO_SUCH_UPLOAD);
	} else {
		r->status = 204;
		r->responded = 1;
	}
	busy_release(r->mpu_busy, id);
}

/* ---- DeleteBucket's uploads ------------------------------------------------ */

struct others {
	int found;
};

static int others_cb(void *arg, const char *name, const struct ns_attr *a, uint64_t next_off)
{
	struct others *o = arg;
	(void)next_off;
	if (!strcmp(name, ".") || !strcmp(name, "..") ||
	    (!strcmp(name, S3_MPU_DIR) && S_ISDIR(a->mode) && a->staging))
		return 0;
	o->found = 1;
	return 1;
}

/* 1 if another request holds id (a Complete or Abort in progress). */
static int busy_has(struct s3_mpu_busy *b, const char *id)
{
	int has = 0;
	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < b->n && !has; i++)
		has = strcmp(b->ids[i], id) == 0;
	pthread_mutex_unlock(&b->mu);
	return has;
}

/* 0 when every entry of the staging directory md is an upload directory
 * that no Complete or Abort holds now, else -ENOTEMPTY (something else
 * there, or one vanished: decide again), -EBUSY or -errno. Checked
 * before anything is removed, so a bucket that cannot go keeps its
 * uploads; memory stays one batch of names whatever their number. */
static int only_idle_uploads(struct s3_request *r, uint64_t mdino)
{
	struct names l = { .cap = 256 };
	int rc = 0;

	l.v = malloc(l.cap * sizeof(*l.v));
	if (!l.v)
		return -ENOMEM;
	do {
		l.n = 0;
		rc = ns_readdir(r->n, mdino, l.next, names_cb, &l);
		for (size_t i = 0; !rc && i < l.n; i++) {
			struct ns_attr ua;
			if (!id_valid(l.v[i]) || ns_lookup(r->n, mdino, l.v[i], &ua) ||
			    !S_ISDIR(ua.mode) || !ua.staging)
				rc = -ENOTEMPTY;
			else if (busy_has(r->mpu_busy, l.v[i]))
				rc = -EBUSY;
		}
	} while (!rc && l.n == l.cap);
	free(l.v);
	return rc;
}

/* AWS deletes a bucket whose only content is uploads in progress, and
 * them with it (only its owner may delete it there). So when the caller
 * owns the bucket (or is root), may delete it, and nothing but the
 * staging directory is in it, its uploads are removed first (staging
 * nodes are never locked, so this always can be done). Before any is
 * removed, every entry there must be an upload no Complete or Abort
 * holds, and the bucket is checked again for anything else; then each
 * upload is claimed in the busy set while it is removed (a Complete or
 * Abort of it then: 409 OperationAborted; one that took it first stops
 * the removal). Anything else in the staging directory or the bucket,
 * one upload busy, or another caller (whom the mode bits of the store
 * root may let remove an empty bucket, not other users' uploads):
 * nothing is removed and s3_op_delete_bucket answers (409 while there
 * are any). Only a request landing between those checks and the
 * bucket's rmdir (a PUT, a Create, a Complete) leaves the bucket (409)
 * with uploads gone. */
void s3_op_delete_bucket_uploads(struct s3_request *r)
{
	struct ns_attr root, b, md;
	struct names l = { .cap = 256 };
	struct others o = { 0 };
	int rc;

	if (s3_ns_bucket(r, &b) || (r->pr.caller.uid != 0 && r->pr.caller.uid != b.uid) ||
	    ns_getattr(r->n, NS_INO_ROOT, &root) ||
	    !s3_perm_may_delete(&r->pr.caller, &root, &b) || mpu_dir(r, &b, 0, &md) ||
	    ns_readdir(r->n, b.ino, 0, others_cb, &o) || o.found ||
	    only_idle_uploads(r, md.ino) ||
	    ns_readdir(r->n, b.ino, 0, others_cb, &o) || o.found)
		goto done;    /* s3_op_delete_bucket answers (and decides again) */
	l.v = malloc(l.cap * sizeof(*l.v));
	if (!l.v)
		goto done;
	/* one batch of names at a time; a removed one is not listed again */
	for (int more = 1; more;) {
		l.n = 0;
		l.next = 0;
		rc = ns_readdir(r->n, md.ino, 0, names_cb, &l);
		more = !rc && l.n == l.cap;
		size_t removed = 0;
		for (size_t i = 0; !rc && i < l.n; i++) {
			struct ns_attr ua;
			if (!id_valid(l.v[i]) || ns_lookup(r->n, md.ino, l.v[i], &ua) ||
			    !S_ISDIR(ua.mode) || !ua.staging)
				continue;     /* not an upload (made meanwhile), or gone */
			if (busy_claim(r->mpu_busy, l.v[i])) {
				rc = -EBUSY;  /* a Complete took it meanwhile: stop */
				break;
			}
			int u = upload_remove(r, md.ino, l.v[i], ua.ino);
			busy_release(r->mpu_busy, l.v[i]);
			if (u) {
				wlog(WLOG_WARN, "s3: DeleteBucket %s: upload %s not removed: %s",
				     r->route.bucket, l.v[i], strerror(-u));
				continue;
			}
			removed++;
		}
		more = more && !rc && removed > 0;
	}
	free(l.v);
done:
	s3_op_delete_bucket(r);
}

/* ---- CompleteMultipartUpload ----------------------------------------------- */

struct src_part {
	uint64_t ino, size;
};

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Check the listed parts against the stored ones: their inodes and sizes
 * into v, the binary MD5s into md5. 0, or -1 with an error response. */
static int check_parts(struct s3_request *r, uint64_t udino, const struct s3_complete_req *c,
		       struct src_part *v, wcrypto_digest *md5)
{
	char meta[8192 + 512], name[16], etag[48];
	/* the list's order first, as a whole, before any part is looked at */
	for (size_t i = 1; i < c->nparts; i++)
		if (c->parts[i].number <= c->parts[i - 1].number) {
			s3_fail_code(r, S3E_INVALID_PART_ORDER, NULL);
			return -1;
		}
	for (size_t i = 0; i < c->nparts; i++) {
		struct ns_attr a;
		s3_mpu_part_name(c->parts[i].number, name, sizeof(name));
		int rc = ns_lookup(r->n, udino, name, &a);
		if (rc == -ENOENT || (!rc && !S_ISREG(a.mode))) {
			s3_fail_code(r, S3E_INVALID_PART, NULL);
			return -1;
		}
		if (rc) {
			s3_fail_errno(r, rc, S3E_NO_SUCH_UPLOAD);
			return -1;
		}
		ssize_t ml = ns_getxattr(r->n, &s3_mpu_root, a.ino, S3_META_XATTR, meta,
					 sizeof(meta) - 1);
		if (ml < 0)
			ml = 0;
		meta[ml] = '\0';
		/* the stored MD5 while it still describes the part's bytes */
		s3_meta_etag(r->n, &a, ml ? meta : NULL, (size_t)ml, etag, sizeof(etag));
		if (strlen(etag) != 34 || memcmp(etag + 1, c->parts[i].etag, 32) != 0) {
			s3_fail_code(r, S3E_INVALID_PART, NULL);
			return -1;
		}
		if (i + 1 < c->nparts && a.size < MIN_PART) {
			s3_fail_code(r, S3E_ENTITY_TOO_SMALL, NULL);
			return -1;
		}
		uint8_t bin[16];
		for (int k = 0; k < 16; k++)
			bin[k] = (uint8_t)(hexval(etag[1 + 2 * k]) << 4 | hexval(etag[2 + 2 * k]));
		if (wcrypto_digest_update(md5, bin, sizeof(bin))) {
			s3_fail_code(r, S3E_INTERNAL, NULL);
			return -1;
		}
		v[i].ino = a.ino;
		v[i].size = a.size;
	}
	return 0;
}

static void complete(struct s3_request *r, const char *id, struct s3_complete_req *c)
{
	struct ns_attr b, md, ud;
	struct src_part *v = NULL;
	wcrypto_digest *md5 = NULL;
	uint8_t dg[16];
	char etag[48], qetag[56], meta[8192 + 512];
	uint64_t off = 0;
	int rc;

	rc = s3_ns_bucket(r, &b);
	if (!rc)
		rc = mpu_dir(r, &b, 0, &md);
	if (!rc)
		rc = ns_lookup(r->n, md.ino, id, &ud);   /* completed meanwhile? */
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_UPLOAD);
		return;
	}
	v = calloc(c->nparts, sizeof(*v));
	if (!v || wcrypto_digest_new(WCRYPTO_DIGEST_MD5, &md5)) {
		s3_fail_code(r, S3E_INTERNAL, "out of memory");
		goto out;
	}
	if (check_parts(r, ud.ino, c, v, md5))
		goto out;
	if (wcrypto_digest_final(md5, dg, sizeof(dg))) {
		s3_fail_code(r, S3E_INTERNAL, NULL);
		goto out;
	}
	wcrypto_hex(etag, dg, sizeof(dg));
	snprintf(etag + 32, sizeof(etag) - 32, "-%zu", c->nparts);
	/* the target, as a PutObject of the key (a locked object: 403 now) */
	if (s3_put_begin(r))
		goto out;
	ssize_t ml = ns_getxattr(r->n, &s3_mpu_root, ud.ino, S3_META_XATTR, meta, sizeof(meta) - 1);
	if (ml > 0) {
		s3_buf_put(&r->put->meta, meta, (size_t)ml);
	}
	for (size_t i = 0; i < c->nparts && !rc; i++) {
		rc = s3_copy_range(r, v[i].ino, 0, v[i].size, r->put->h, off, NULL);
		off += v[i].size;
	}
	if (rc) {
		/* a part replaced or removed meanwhile (-ENOENT, -EIO) */
		if (rc == -ENOENT || rc == -EIO)
			s3_fail_code(r, S3E_INVALID_PART, NULL);
		else
			s3_fail_errno(r, rc, S3E_NO_SUCH_UPLOAD);
		s3_put_abort(r);
		goto out;
	}
	if (s3_put_commit(r, etag))
		goto out;      /* the upload stays: Complete or Abort again */
	s3_put_free(r);
	rc = upload_remove(r, md.ino, id, ud.ino);
	if (rc)
		wlog(WLOG_WARN, "s3: upload %s completed, but its parts could not all be removed: %s",
		     id, strerror(-rc));
	snprintf(qetag, sizeof(qetag), "\"%s\"", etag);
	const char *host = s3_req_header(r, "Host");
	s3_xml_start(&r->out);
	s3_buf_puts(&r->out, "<CompleteMultipartUploadResult xmlns=\"" S3_XMLNS "\">");
	s3_buf_puts(&r->out, "<Location>");
	s3_buf_puts(&r->out, r->params->tls_cert[0] ? "https://" : "http://");
	s3_xml_text(&r->out, host ? host : "localhost", strlen(host ? host : "localhost"));
	s3_buf_puts(&r->out, "/");
	s3_url_encode(&r->out, r->route.bucket, strlen(r->route.bucket));
	s3_buf_puts(&r->out, "/");
	s3_url_encode(&r->out, r->route.key, strlen(r->route.key));
	s3_buf_puts(&r->out, "</Location>");
	s3_xml_elem(&r->out, "Bucket", r->route.bucket);
	s3_xml_elem(&r->out, "Key", r->route.key);
	s3_xml_elem(&r->out, "ETag", qetag);
	s3_buf_puts(&r->out, "</CompleteMultipartUploadResult>");
	s3_ok_xml(r);
out:
	wcrypto_digest_free(md5);
	free(v);
}

void s3_op_complete_mpu(struct s3_request *r)
{
	struct s3_complete_req c;
	struct ns_attr ud;
	const char *id = s3_req_arg(r, "uploadId");
	int rc;

	if (r->sb && s3_body_finish(r))
		return;
	if (s3_mpu_resolve(r, NULL, &ud))
		return;
	rc = s3_xml_parse_complete(r->body.p ? r->body.p : "", r->body.len, &c);
	if (rc) {
		s3_fail_code(r, rc == -ENOMEM ? S3E_INTERNAL : S3E_MALFORMED_XML, NULL);
		return;
	}
	rc = busy_claim(r->mpu_busy, id);
	if (rc) {
		s3_fail_code(r, rc == -EBUSY ? S3E_OPERATION_ABORTED : S3E_INTERNAL, NULL);
	} else {
		complete(r, id, &c);
		busy_release(r->mpu_busy, id);
	}
	s3_complete_req_free(&c);
}

/* ---- ListMultipartUploads -------------------------------------------------- */

struct up_item {
	char *key;               /* a key, or a common prefix */
	char id[ID_LEN + 1];     /* "" for a common prefix */
	char initiator[129];
	uint32_t uid;
	int64_t initiated_ns;
};

static int item_cmp(const struct up_item *a, const struct up_item *b)
{
	int c = strcmp(a->key, b->key);
	return c ? c : strcmp(a->id, b->id);
}

/* Keep the first cap items in order (a bounded insertion: memory is
 * max-uploads + 1 items whatever the number of uploads). */
struct up_list {
	struct up_item *v;
	size_t n, cap;
	int oom;
};

static void list_add(struct up_list *l, struct up_item *it)
{
	size_t i = l->n;
	while (i > 0 && item_cmp(&l->v[i - 1], it) > 0)
		i--;
	if (i > 0 && !it->id[0] && !l->v[i - 1].id[0] && strcmp(l->v[i - 1].key, it->key) == 0) {
		free(it->key);
		return;    /* the same common prefix */
	}
	if (i == l->cap) {
		free(it->key);
		return;
	}
	if (l->n == l->cap) {
		free(l->v[l->n - 1].key);
		l->n--;
	}
	memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(*l->v));
	l->v[i] = *it;
	l->n++;
}

static int parse_max(const char *s, unsigned long *out)
{
	char *e;
	if (!s)
		return 0;
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
		return -1;
	*out = strtoul(s, &e, 10);
	if (*out > LIST_MAX)
		*out = LIST_MAX;
	return 0;
}

static void emit_key(struct s3_buf *o, const char *name, const char *v, int url)
{
	s3_buf_printf(o, "<%s>", name);
	if (url)
		s3_url_encode(o, v, strlen(v));
	else
		s3_xml_text(o, v, strlen(v));
	s3_buf_printf(o, "</%s>", name);
}

void s3_op_list_mpus(struct s3_request *r)
{
	struct ns_attr b, md;
	struct up_list l = { 0 };
	struct names nl = { .cap = 128 };
	const char *prefix = s3_req_arg(r, "prefix");
	const char *delim = s3_req_arg(r, "delimiter");
	const char *km = s3_req_arg(r, "key-marker");
	const char *um = s3_req_arg(r, "upload-id-marker");
	const char *enc = s3_req_arg(r, "encoding-type");
	unsigned long max = LIST_MAX;
	int url = 0, see_all, rc;

	prefix = prefix ? prefix : "";
	if (delim && !*delim)
		delim = NULL;
	if (enc) {
		if (strcmp(enc, "url")) {
			s3_fail_code(r, S3E_INVALID_ARGUMENT, "Invalid Encoding Method specified in Request");
			return;
		}
		url = 1;
	}
	if (parse_max(s3_req_arg(r, "max-uploads"), &max)) {
		s3_fail_code(r, S3E_INVALID_ARGUMENT, "max-uploads must be an integer >= 0");
		return;
	}
	if ((rc = s3_ns_bucket(r, &b))) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return;
	}
	if (!s3_perm_ok(&r->pr.caller, &b, S3_PERM_R | S3_PERM_X)) {
		s3_fail_code(r, S3E_ACCESS_DENIED, NULL);
		return;
	}
	see_all = !r->pr.anonymous && (r->pr.caller.uid == 0 || r->pr.caller.uid == b.uid);
	l.cap = max + 1;
	l.v = calloc(l.cap, sizeof(*l.v));
	nl.v = malloc(nl.cap * sizeof(*nl.v));
	if (!l.v || !nl.v) {
		s3_fail_code(r, S3E_INTERNAL, "out of memory");
		goto out;
	}
	rc = mpu_dir(r, &b, 0, &md);
	nl.next = 0;
	while (!rc) {
		nl.n = 0;
		rc = ns_readdir(r->n, md.ino, nl.next, names_cb, &nl);
		for (size_t i = 0; !rc && i < nl.n; i++) {
			struct ns_attr ua;
			struct upload_info u;
			struct up_item it;
			if (!id_valid(nl.v[i]) || ns_lookup(r->n, md.ino, nl.v[i], &ua) ||
			    upload_info(r, ua.ino, &u))
				continue;    /* gone meanwhile, or not an upload */
			/* Another user's upload (its key and access key id) only
			 * to the bucket's owner and root, as AWS lists them only
			 * to holders of s3:ListBucketMultipartUploads (by
			 * default the owner). --admin is not enough (design
			 * 11: it is for access points). */
			if (!see_all && ua.uid != r->pr.caller.uid)
				continue;
			/* one uid may have several access keys: only its own */
			if (!see_all && strcmp(u.initiator, r->pr.access_key) != 0)
				u.initiator[0] = '\0';
			if (strncmp(u.key, prefix, strlen(prefix)) != 0)
				continue;
			memset(&it, 0, sizeof(it));
			const char *cut = delim ? strstr(u.key + strlen(prefix), delim) : NULL;
			if (cut) {
				it.key = strndup(u.key, (size_t)(cut - u.key) + strlen(delim));
			} else {
				it.key = strdup(u.key);
				snprintf(it.id, sizeof(it.id), "%s", nl.v[i]);
				snprintf(it.initiator, sizeof(it.initiator), "%s", u.initiator);
				it.uid = ua.uid;
				it.initiated_ns = u.initiated_ns;
			}
			if (!it.key) {
				l.oom = 1;
				continue;
			}
			/* after the markers only */
			if (km && *km) {
				int c = strcmp(it.key, km);
				if (c < 0 || (c == 0 && (!it.id[0] || !um || !*um || strcmp(it.id, um) <= 0))) {
					free(it.key);
					continue;
				}
			}
			list_add(&l, &it);
		}
		if (rc || nl.n < nl.cap)
			break;
	}
	if (rc == -ENOENT)
		rc = 0;      /* no upload was ever made here */
	if (rc || l.oom) {
		s3_fail_errno(r, rc ? rc : -ENOMEM, S3E_NO_SUCH_BUCKET);
		goto out;
	}
	int truncated = l.n > max;
	size_t shown = truncated ? max : l.n;
	struct s3_buf *o = &r->out;
	s3_xml_start(o);
	s3_buf_puts(o, "<ListMultipartUploadsResult xmlns=\"" S3_XMLNS "\">");
	s3_xml_elem(o, "Bucket", r->route.bucket);
	emit_key(o, "KeyMarker", km ? km : "", url);
	s3_xml_elem(o, "UploadIdMarker", um ? um : "");
	if (truncated && shown) {
		emit_key(o, "NextKeyMarker", l.v[shown - 1].key, url);
		s3_xml_elem(o, "NextUploadIdMarker", l.v[shown - 1].id);
	}
	emit_key(o, "Prefix", prefix, url);
	if (delim)
		emit_key(o, "Delimiter", delim, url);
	if (url)
		s3_xml_elem(o, "EncodingType", "url");
	s3_buf_printf(o, "<MaxUploads>%lu</MaxUploads>", max);
	s3_xml_elem(o, "IsTruncated", truncated ? "true" : "false");
	for (size_t i = 0; i < shown; i++) {
		struct up_item *it = &l.v[i];
		char uid[16], date[64];
		if (!it->id[0])
			continue;
		snprintf(uid, sizeof(uid), "%u", it->uid);
		s3_iso_date(it->initiated_ns, date, sizeof(date));
		s3_buf_puts(o, "<Upload>");
		emit_key(o, "Key", it->key, url);
		s3_xml_elem(o, "UploadId", it->id);
		s3_buf_puts(o, "<Initiator>");
		s3_xml_elem(o, "ID", uid);
		s3_xml_elem(o, "DisplayName", it->initiator[0] ? it->initiator : uid);
		s3_buf_puts(o, "</Initiator><Owner>");
		s3_xml_elem(o, "ID", uid);
		s3_xml_elem(o, "DisplayName", it->initiator[0] ? it->initiator : uid);
		s3_buf_puts(o, "</Owner><StorageClass>STANDARD</StorageClass>");
		s3_xml_elem(o, "Initiated", date);
		s3_buf_puts(o, "</Upload>");
	}
	for (size_t i = 0; i < shown; i++) {
		if (l.v[i].id[0])
			continue;
		s3_buf_puts(o, "<CommonPrefixes>");
		emit_key(o, "Prefix", l.v[i].key, url);
		s3_buf_puts(o, "</CommonPrefixes>");
	}
	s3_buf_puts(o, "</ListMultipartUploadsResult>");
	s3_ok_xml(r);
out:
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].key);
	free(l.v);
	free(nl.v);
}
