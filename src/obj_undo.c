/* obj_undo: the undo journal of an object's write sessions and the
 * recovery that writes it back (see include/obj.h, "Crash atomicity").
 * Part of the obj module: shares the slot format through obj_priv.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "obj.h"
#include "obj_priv.h"

#define U_HDR 48        /* magic 8 | id 16 | gen 8 | size 8 | zero 8 */
#define U_REC 16        /* u64 index | u64 len, then len bytes */

struct obj_undo {
	store *s;
	int exists;             /* the journal file was created (no fd is kept
				   between calls: none is held per inode) */
	uint8_t id[16];         /* object, committed gen and size it restores */
	uint64_t gen, size;
	uint64_t end;           /* append offset */
	uint8_t *saved;         /* one bit per committed block */
	uint64_t nblocks;
};

static const char undo_magic[8] = { 'W', 'O', 'R', 'M', 'U', 'N', 'D', '1' };

int obj_undo_new(store *s, obj_undo **out)
{
	obj_undo *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->s = s;
	*out = u;
	return 0;
}

static void undo_reset(obj_undo *u, int remove)
{
	if (u->exists && remove)
		(void)store_aux_unlink(u->s, u->id, OBJ_UNDO_SUFFIX);
	u->exists = 0;
	free(u->saved);
	u->saved = NULL;
	u->nblocks = 0;
	u->end = 0;
}

void obj_undo_free(obj_undo *u)
{
	if (!u)
		return;
	undo_reset(u, 0);   /* an uncommitted session's journal stays for recovery */
	free(u);
}

static uint64_t nblocks_of(uint64_t size)
{
	return size ? (size - 1) / BS + 1 : 0;
}

/* Bytes of slot idx in a file of the given size. */
static size_t slot_len(uint64_t size, uint64_t idx)
{
	uint64_t fin = (size - 1) / BS;
	return idx == fin ? (size_t)(OBJ_BLOCK_OVERHEAD + size - idx * BS) : (size_t)SLOT;
}

/* Create the journal for r's committed state; returns it open in *fd. */
static int undo_create(obj_undo *u, const struct obj_ref *r, int *fd)
{
	uint8_t hdr[U_HDR];
	int rc;

	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, undo_magic, 8);
	memcpy(hdr + 8, r->id, 16);
	put_le64(hdr + 24, r->gen);
	put_le64(hdr + 32, r->csize);
	u->nblocks = nblocks_of(r->csize);
	u->saved = calloc((size_t)(u->nblocks / 8 + 1), 1);
	if (!u->saved)
		return -ENOMEM;
	memcpy(u->id, r->id, 16);
	rc = store_aux_open(u->s, r->id, OBJ_UNDO_SUFFIX, O_WRONLY | O_CREAT | O_TRUNC, fd);
	if (!rc) {
		u->exists = 1;
		rc = obj_pwrite_full(*fd, hdr, sizeof(hdr), 0);
		if (rc) {
			close(*fd);
			*fd = -1;
		}
	}
	if (rc) {
		undo_reset(u, 1);
		return rc;
	}
	u->gen = r->gen;
	u->size = r->csize;
	u->end = U_HDR;
	return 0;
}

/* Copy the committed slots of blocks [first, last] that this session has
 * not saved yet to the journal, before they are overwritten in place. */
int obj_undo_save(int fd, const struct obj_ref *r, uint64_t first, uint64_t last)
{
	obj_undo *u = r->undo;
	uint8_t *buf = NULL;
	uint64_t n = nblocks_of(r->csize);
	int rc = 0, jfd = -1;

	if (!u || first >= n)
		return 0;
	if (last >= n)
		last = n - 1;
	if (u->exists && (u->gen != r->gen || u->size != r->csize ||
			  memcmp(u->id, r->id, 16) != 0))
		undo_reset(u, 1);   /* left by a session that has committed since */
	for (uint64_t b = first; b <= last && !rc; b++) {
		size_t len = slot_len(r->csize, b);
		ssize_t got;

		if (u->exists && (u->saved[b / 8] & (1u << (b % 8))))
			continue;
		if (!u->exists)
			rc = undo_create(u, r, &jfd);
		else if (jfd < 0)
			rc = store_aux_open(u->s, r->id, OBJ_UNDO_SUFFIX, O_WRONLY, &jfd);
		if (rc)
			break;
		if (!buf && !(buf = malloc(U_REC + SLOT))) {
			rc = -ENOMEM;
			break;
		}
		got = obj_pread_full(fd, buf + U_REC, len, slot_off(b));
		if (got < 0) {
			rc = (int)got;
			break;
		}
		put_le64(buf, b);
		put_le64(buf + 8, (uint64_t)got);
		rc = obj_pwrite_full(jfd, buf, U_REC + (size_t)got, u->end);
		if (!rc) {
			u->end += U_REC + (uint64_t)got;
			u->saved[b / 8] |= (uint8_t)(1u << (b % 8));
		}
	}
	if (jfd >= 0)
		close(jfd);
	free(buf);
	return rc;
}

/* The journal of r's committed state, read whole: NULL if there is none
 * (or it belongs to another state). *len = bytes. */
static uint8_t *undo_load(store *s, const struct obj_ref *r, size_t *len)
{
	uint8_t *buf = NULL;
	struct stat st;
	int fd;

	if (store_aux_open(s, r->id, OBJ_UNDO_SUFFIX, O_RDONLY, &fd))
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size >= U_HDR && st.st_size < (1ll << 40) &&
	    (buf = malloc((size_t)st.st_size))) {
		ssize_t got = obj_pread_full(fd, buf, (size_t)st.st_size, 0);
		if (got < U_HDR || memcmp(buf, undo_magic, 8) || memcmp(buf + 8, r->id, 16) ||
		    get_le64(buf + 24) != r->gen || get_le64(buf + 32) != r->size) {
			free(buf);
			buf = NULL;
		} else {
			*len = (size_t)got;
		}
	}
	close(fd);
	return buf;
}

/* The saved slot of block idx in a loaded journal (the first record;
 * a record cut short by a kill is ignored). */
static const uint8_t *undo_find(const uint8_t *j, size_t len, uint64_t idx, size_t *slen)
{
	for (size_t at = U_HDR; at + U_REC <= len;) {
		uint64_t b = get_le64(j + at), l = get_le64(j + at + 8);
		if (l > SLOT || l > len - at - U_REC)
			return NULL;
		if (b == idx) {
			*slen = (size_t)l;
			return j + at + U_REC;
		}
		at += U_REC + (size_t)l;
	}
	return NULL;
}

/* Whether slot bytes (len of them) open as block b of the committed state
 * v; with intact_only, only a block a session has not touched (a sealed
 * one of generation 1..G: every session write carries G+1, a cut leaves
 * a short slot or a hole). buf: room for SLOT + BS. */
static int undo_block_ok(const struct obj_ref *v, uint64_t b, const uint8_t *slot, size_t len,
			 int intact_only, uint8_t *buf)
{
	enum why why;
	int alt;
	uint64_t gen;

	if (len > SLOT)
		return 0;
	memcpy(buf, slot, len);
	if (obj_open_block(v, v->size, b, buf, len, buf + SLOT, &why, &alt))
		return 0;
	gen = len >= OBJ_BLOCK_OVERHEAD ? get_le64(slot + S_GEN) : 0;
	return !intact_only || (gen >= 1 && gen <= v->gen && !alt);
}

int obj_recover(store *s, kms *k, const struct obj_ref *r, uint64_t now_ns, int *changed,
		unsigned *rejected)
{
	uint8_t *j, *buf = NULL;
	size_t jlen = 0;
	uint64_t want = obj_file_length(r->size);
	struct obj_ref v = *r;
	wcrypto_aead *key = NULL;
	struct stat st;
	int fd, rc;

	*changed = 0;
	*rejected = 0;
	rc = store_obj_open(s, r->id, O_RDWR, &fd);
	if (rc) {
		(void)store_aux_unlink(s, r->id, OBJ_UNDO_SUFFIX);
		return rc;
	}
	j = undo_load(s, r, &jlen);
	if (j) {
		/* The journal is not trusted (root may plant or edit one):
		 * a record is written back only if it opens as its block of
		 * the committed state, and only over a block that no longer
		 * does. So a recovery never changes an intact object. */
		uint64_t n = nblocks_of(r->size);
		rc = obj_key_from_wrapped(k, r, 1, now_ns, &key);
		v.key = key;
		if (!rc && !(buf = malloc(2 * SLOT + BS)))
			rc = -ENOMEM;
		for (size_t at = U_HDR; !rc && at + U_REC <= jlen;) {
			uint64_t b = get_le64(j + at), l = get_le64(j + at + 8);
			ssize_t got;
			if (l > SLOT || l > jlen - at - U_REC)
				break;   /* cut by the kill: its block was not touched */
			at += U_REC + (size_t)l;
			if (b >= n || l != slot_len(r->size, b)) {
				(*rejected)++;
				continue;
			}
			got = obj_pread_full(fd, buf + SLOT + BS, (size_t)l, slot_off(b));
			if (got < 0) {
				rc = (int)got;
				break;
			}
			if (undo_block_ok(&v, b, buf + SLOT + BS, (size_t)got, 1, buf)) {
				/* Intact. A kill between saving and overwriting
				 * leaves the same bytes; other ones were planted. */
				if ((size_t)got != l || memcmp(buf + SLOT + BS, j + at - l, l))
					(*rejected)++;
				continue;
			}
			if (!undo_block_ok(&v, b, j + at - l, (size_t)l, 0, buf)) {
				(*rejected)++;
				continue;
			}
			rc = obj_pwrite_full(fd, j + at - l, (size_t)l, slot_off(b));
			*changed = 1;
		}
		free(buf);
		wcrypto_aead_free(key);
		free(j);
	}
	if (!rc && fstat(fd, &st) < 0)
		rc = -errno;
	if (!rc && (uint64_t)st.st_size > want) {
		rc = obj_ftruncate(fd, want);
		*changed = 1;
	}
	if (!rc && *changed && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	/* The journal goes only once the rollback is on disk. */
	if (!rc)
		(void)store_aux_unlink(s, r->id, OBJ_UNDO_SUFFIX);
	return rc;
}

void obj_undo_drop(obj_undo *u)
{
	if (u)
		undo_reset(u, 1);
}

/* Block b failed from the file: check the committed copy a session saved
 * in the journal, read after the file so that any overwrite seen was
 * journaled first. */
int obj_undo_verify_block(store *s, const struct obj_ref *v, uint64_t b, uint8_t *plain,
			    enum why *why)
{
	size_t jlen = 0, slen = 0;
	uint8_t *j = undo_load(s, v, &jlen), *slot = NULL;
	const uint8_t *saved;
	int rc = -EIO, alt;

	if (!j)
		return -EIO;
	saved = undo_find(j, jlen, b, &slen);
	if (saved && (slot = malloc(SLOT))) {
		memcpy(slot, saved, slen);
		rc = obj_open_block(v, v->size, b, slot, slen, plain, why, &alt);
		free(slot);
	}
	free(j);
	return rc;
}
