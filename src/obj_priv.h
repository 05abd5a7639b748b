/* obj_priv.h: what src/obj.c (the content format) and src/obj_undo.c (the
 * undo journal and recovery) share: one module, one concept per file (see
 * include/obj.h). Only these two files include it. */
#ifndef WORMFS_OBJ_PRIV_H
#define WORMFS_OBJ_PRIV_H

#include <stdint.h>
#include <sys/types.h>
#include "obj.h"

#define BS ((uint64_t)OBJ_BLOCK_SIZE)
#define SLOT ((uint64_t)OBJ_SLOT_SIZE)
#define S_GEN 0                   /* slot field: u64 generation */

/* Why a block failed, for obj_verify's message. */
enum why { WHY_NONE = 0, WHY_AUTH, WHY_STALE, WHY_SHORT };

static inline void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t slot_off(uint64_t idx)
{
	return OBJ_HEADER_SIZE + idx * SLOT;
}

/* Raw I/O: all n bytes (pread: fewer only at EOF; returns the count). */
ssize_t obj_pread_full(int fd, void *buf, size_t n, uint64_t off);
int obj_pwrite_full(int fd, const void *buf, size_t n, uint64_t off);
int obj_ftruncate(int fd, uint64_t len);
/* Open block idx of an object of the given size from avail slot bytes
 * (obj.c has the rules); may clobber slot. */
int obj_open_block(const struct obj_ref *r, uint64_t size, uint64_t idx, uint8_t *slot,
		   size_t avail, uint8_t *dst, enum why *why, int *alt);
int obj_key_from_wrapped(kms *k, const struct obj_ref *r, int nocache, uint64_t now_ns,
			 wcrypto_aead **key);

/* Undo journal (obj_undo.c). Before a session overwrites committed blocks
 * [first, last] in place: save them (no-op without r->undo). */
int obj_undo_save(int fd, const struct obj_ref *r, uint64_t first, uint64_t last);
/* After the commit: forget the session's journal and remove its file. */
void obj_undo_drop(obj_undo *u);
/* Block b of the committed state v failed from the file: open it from the
 * journal's saved copy instead (a session in flight). *scp: the journal's
 * index for this object, made at the first call (NULL before), freed with
 * obj_undo_scan_free. slot: room for SLOT bytes. */
typedef struct obj_undo_scan obj_undo_scan;
int obj_undo_verify_block(store *s, const struct obj_ref *v, obj_undo_scan **scp, uint64_t b,
			  uint8_t *slot, uint8_t *plain, enum why *why);
void obj_undo_scan_free(obj_undo_scan *sc);

#endif
