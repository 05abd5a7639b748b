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
		/* A journal that stays names a state that is gone: recovery
		 * ignores it (undo_open_for) and a new session replaces it. */
		worm_discard(store_aux_unlink(u->s, u->id, OBJ_UNDO_SUFFIX));
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

/* Open the journal of r's committed state (its header names that id, gen
 * and size): -ENOENT if there is none or it belongs to another state. The
 * journal is read record by record, never whole: a session may have
 * saved as much as the object (up to OBJ_MAX_SIZE). */
static int undo_open_for(store *s, const struct obj_ref *r, int *fd)
{
	uint8_t hdr[U_HDR];
	int rc = store_aux_open(s, r->id, OBJ_UNDO_SUFFIX, O_RDONLY, fd);
	ssize_t got;

	if (rc)
		return rc;
	/* A read error is not "no journal": a rollback must not skip it
	 * (and then remove it). */
	got = obj_pread_full(*fd, hdr, U_HDR, 0);
	if (got < 0) {
		close(*fd);
		*fd = -1;
		return (int)got;
	}
	if (got != U_HDR || memcmp(hdr, undo_magic, 8) ||
	    memcmp(hdr + 8, r->id, 16) || get_le64(hdr + 24) != r->gen ||
	    get_le64(hdr + 32) != r->size) {
		close(*fd);
		*fd = -1;
		return -ENOENT;
	}
	return 0;
}

/* The record at *at: block *b, *len bytes (read into slot if not NULL),
 * *at moved past it, *found = 1; *found = 0 at the end or at a record cut
 * short by a kill (its block was not touched). */
static int undo_next(int fd, uint64_t *at, uint64_t *b, uint8_t *slot, size_t *len, int *found)
{
	uint8_t h[U_REC];
	ssize_t got = obj_pread_full(fd, h, U_REC, *at);
	uint64_t l;
	struct stat st;

	*found = 0;
	if (got < 0)
		return (int)got;
	if (got < U_REC)
		return 0;
	l = get_le64(h + 8);
	if (l > SLOT)
		return 0;
	if (slot) {
		got = obj_pread_full(fd, slot, (size_t)l, *at + U_REC);
		if (got < 0)
			return (int)got;
		if ((uint64_t)got < l)
			return 0;
	} else if (fstat(fd, &st) < 0) {
		return -errno;
	} else if ((uint64_t)st.st_size < *at + U_REC + l) {
		return 0;
	}
	*b = get_le64(h);
	*len = (size_t)l;
	*at += U_REC + l;
	*found = 1;
	return 0;
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
	uint8_t *buf = NULL;
	uint64_t want = obj_file_length(r->size), at = U_HDR;
	struct obj_ref v = *r;
	wcrypto_aead *key = NULL;
	obj_map *map = NULL;
	struct stat st;
	int fd, jfd = -1, rc;

	*changed = 0;
	*rejected = 0;
	rc = store_obj_open(s, r->id, O_RDWR, &fd);
	if (rc) {
		/* No content file to roll back: its journal is of no use. Any
		 * other failure (the daemon out of descriptors, EIO) keeps it:
		 * it holds the only copy of the committed blocks the session
		 * overwrote, for the next try. */
		if (rc == -ENOENT)
			worm_discard(store_aux_unlink(s, r->id, OBJ_UNDO_SUFFIX));
		return rc;
	}
	rc = undo_open_for(s, r, &jfd);
	if (rc == -ENOENT) {
		rc = 0;   /* none, or one of another state */
	} else if (!rc) {
		/* The journal is not trusted (root may plant or edit one):
		 * a record is written back only if it opens as its block of
		 * the committed state, and only over a block that no longer
		 * does. So a recovery never changes an intact object. */
		uint64_t n = nblocks_of(r->size), b;
		size_t l;
		uint8_t *rec, *cur;

		rc = obj_key_from_wrapped(k, r, 1, now_ns, &key);
		v.key = key;
		/* Blocks open against the committed state's map (from disk). */
		if (!rc)
			rc = obj_map_load(s, fd, &v, &map);
		v.map = map;
		if (!rc && !(buf = malloc(3 * SLOT + BS)))
			rc = -ENOMEM;
		rec = buf ? buf + SLOT + BS : NULL;   /* NULL: rc says why */
		cur = buf ? rec + SLOT : NULL;
		int found = 1;
		while (!rc && !(rc = undo_next(jfd, &at, &b, rec, &l, &found)) && found) {
			ssize_t got;

			if (b >= n || l != slot_len(r->size, b)) {
				(*rejected)++;
				continue;
			}
			got = obj_pread_full(fd, cur, l, slot_off(b));
			if (got < 0) {
				rc = (int)got;
				break;
			}
			if (undo_block_ok(&v, b, cur, (size_t)got, 1, buf)) {
				/* Intact. A kill between saving and overwriting
				 * leaves the same bytes; other ones were planted. */
				if ((size_t)got != l || memcmp(cur, rec, l))
					(*rejected)++;
				continue;
			}
			if (!undo_block_ok(&v, b, rec, l, 0, buf)) {
				(*rejected)++;
				continue;
			}
			rc = obj_pwrite_full(fd, rec, l, slot_off(b));
			*changed = 1;
		}
		close(jfd);
		free(buf);
		obj_map_free(map);
		wcrypto_aead_free(key);
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
		/* Rolled back: a journal that stays is tried again next
		 * time, and a recovery never changes an intact object. */
		worm_discard(store_aux_unlink(s, r->id, OBJ_UNDO_SUFFIX));
	return rc;
}

void obj_undo_drop(obj_undo *u)
{
	if (u)
		undo_reset(u, 1);
}

/* Where one object's journal keeps each block: built while obj_verify_ex
 * checks that object, extended when a block is not found (a session in
 * flight appends records). */
struct obj_undo_scan {
	int fd;
	uint64_t at;              /* records before this offset are indexed */
	struct undo_loc { uint64_t b, off; size_t len; } *v;
	size_t n, cap, sorted;
};

static int loc_cmp(const void *a, const void *b)
{
	const struct undo_loc *x = a, *y = b;
	if (x->b != y->b)
		return x->b < y->b ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;   /* the first saved wins */
}

static const struct undo_loc *scan_find(obj_undo_scan *sc, uint64_t b)
{
	size_t lo = 0, hi = sc->n;

	if (sc->sorted != sc->n) {
		qsort(sc->v, sc->n, sizeof(*sc->v), loc_cmp);
		sc->sorted = sc->n;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sc->v[mid].b < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sc->n && sc->v[lo].b == b ? &sc->v[lo] : NULL;
}

/* Index the records added since the last call. */
static int scan_more(obj_undo_scan *sc)
{
	uint64_t b, at;
	size_t l;
	int rc, found;

	for (;;) {
		at = sc->at;
		rc = undo_next(sc->fd, &sc->at, &b, NULL, &l, &found);
		if (rc || !found)
			return rc;
		if (sc->n == sc->cap) {
			size_t cap = sc->cap ? 2 * sc->cap : 64;
			struct undo_loc *v = realloc(sc->v, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			sc->v = v;
			sc->cap = cap;
		}
		sc->v[sc->n++] = (struct undo_loc){ b, at + U_REC, l };
	}
}

void obj_undo_scan_free(obj_undo_scan *sc)
{
	if (!sc)
		return;
	if (sc->fd >= 0)
		close(sc->fd);
	free(sc->v);
	free(sc);
}

/* Block b failed from the file: check the committed copy a session saved
 * in the journal, read after the file so that any overwrite seen was
 * journaled first. slot: room for SLOT bytes. */
int obj_undo_verify_block(store *s, const struct obj_ref *v, obj_undo_scan **scp, uint64_t b,
			  uint8_t *slot, uint8_t *plain, enum why *why)
{
	obj_undo_scan *sc = *scp;
	const struct undo_loc *loc;
	int alt, rc;

	if (!sc) {
		if (!(sc = calloc(1, sizeof(*sc))))
			return -ENOMEM;
		sc->at = U_HDR;
		if (undo_open_for(s, v, &sc->fd)) {
			sc->fd = -1;   /* none now: a later block does not look again */
		}
		*scp = sc;
	}
	if (sc->fd < 0)
		return -EIO;
	loc = scan_find(sc, b);
	if (!loc) {
		rc = scan_more(sc);
		if (rc < 0)
			return rc;
		loc = scan_find(sc, b);
	}
	if (!loc || obj_pread_full(sc->fd, slot, loc->len, loc->off) != (ssize_t)loc->len)
		return -EIO;
	return obj_open_block(v, v->size, b, slot, loc->len, plain, why, &alt);
}
