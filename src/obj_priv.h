/* obj_priv.h: what src/obj.c (the content format), src/obj_undo.c (the
 * undo journal and recovery) and src/obj_map.c (the block map) share: one
 * module, one concept per file (see include/obj.h). Only these files
 * include it. */
#ifndef WORMFS_OBJ_PRIV_H
#define WORMFS_OBJ_PRIV_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include "byteorder.h"
#include "obj.h"

#define BS ((uint64_t)OBJ_BLOCK_SIZE)
#define SLOT ((uint64_t)OBJ_SLOT_SIZE)
#define S_GEN 0                   /* slot field: u64 generation */

/* Why a block failed, for obj_verify's message. */
enum why { WHY_NONE = 0, WHY_AUTH, WHY_STALE, WHY_SHORT, WHY_HOLE };

/* Content file formats (header field): 1 = before block maps (old rules:
 * a block may carry any generation up to G+1), 2 = every block must carry
 * exactly the generation its block map names, 3 = and exactly the write
 * tag it names (the tag is in the block's AD; commit records in the
 * header, see include/obj.h). */
#define OBJ_FORMAT_V1 1u
#define OBJ_FORMAT_V2 2u
#define OBJ_FORMAT_V3 3u

/* Format 3 header: the header's own tag covers bytes [0, H_REC); then two
 * commit records, one per parity of the generation they describe, each
 * sealed on its own so that a commit rewrites only its record (a reader
 * of the other one, or of the header, never sees a half-written byte):
 *   u64 gen | u64 kind | u64 x | u64 y | nonce[24] | tag[16]
 * kind 1: one run, every block carries generation x with write tag y;
 * kind 2: the map file of gen (its parity) holds the runs, x = its commit
 * id. AD: "WORMREC3" | object id | the 32 bytes before the nonce. The
 * bytes after the records up to the header tag are zero. */
#define H_REC 256u
#define H_REC_LEN 72u
#define H_REC_END (H_REC + 2 * H_REC_LEN)
#define REC_SINGLE 1u
#define REC_MAPFILE 2u

/* Block map (obj_map.c): runs of blocks by the generation they were last
 * written in and (format 3) the write tag they were sealed with; run i
 * covers [v[i].first, v[i+1].first), the last one runs on for ever; gen 0
 * = a hole (tag 0). Always n >= 1 and v[0].first == 0. In format 3 a data
 * run with tag 0 means "unknown" (no commit record of this generation):
 * every block of it fails. */
struct obj_run {
	uint64_t first, gen, tag;
};
struct obj_map {
	unsigned fmt;            /* of the content file it describes */
	size_t n, cap;
	struct obj_run *v;
	atomic_int damaged;      /* a block failed authentication: every read
				    fails from then on (readers set it
				    concurrently, under the caller's shared
				    lock) */
	uint64_t sess_gen, tag;  /* format 3: the write tag the session of
				    generation sess_gen seals with now (0:
				    none yet, draw one); changed under the
				    caller's writer lock */
	int unbound;             /* loaded for a generation whose commit record
				    is not the one the caller committed
				    (r->commit): every block is unknown */
};
/* obj_map_load; strict 0: the commit record slot of the other parity is
 * not checked (a commit may be writing it: a live verify). */
int obj_map_load_ex(store *s, int fd, const struct obj_ref *r, int strict, obj_map **out);
/* Expected generation of block b (0: a hole) and, if tag, its write tag. */
uint64_t obj_map_gen(const obj_map *m, uint64_t b, uint64_t *tag);
/* Room for one obj_map_set, so that the set cannot fail after the blocks
 * it records are on disk. */
int obj_map_reserve(obj_map *m);
/* Blocks [first, last] now carry gen and tag (after obj_map_reserve). */
void obj_map_set(obj_map *m, uint64_t first, uint64_t last, uint64_t gen, uint64_t tag);
/* Format 3: the write tag for sealing blocks [first, last] in the session
 * of write_gen. A fresh random one when the session has none yet or when
 * one of those blocks already carries (write_gen, current tag), except
 * block skip (the old final block of a write that grows the object: its
 * new version is non-final, or final and longer, so unlike every earlier
 * one under that tag). 0 for formats 1 and 2. */
uint64_t obj_map_write_tag(obj_map *m, uint64_t write_gen, uint64_t first, uint64_t last,
			   uint64_t skip);
/* Forget the session's tag (after a failed write, before a truncate or a
 * re-seal at commit): the next seal draws a fresh one. */
void obj_map_retag(obj_map *m);
/* Before the caller commits r->write_gen (formats 2 and 3): write the map
 * of the blocks of r->size as that generation's map file, or remove it
 * when it is implied (format 2: every block carries r->write_gen; format
 * 3: one run, described by the commit record, which format 3 writes into
 * the header of fd last; its tag into commit, else commit is zeroed).
 * durable: fdatasync the map file. */
int obj_map_save(store *s, int fd, const struct obj_ref *r, int durable,
		 uint8_t commit[OBJ_COMMIT_BYTES]);

/* The AEAD tag of the commit record of r->gen in the header bytes hdr
 * (r->key set): 0, -ENOENT if there is none of that generation, -EIO if
 * it fails authentication (obj_commit_tag). */
int obj_map_commit_tag(const uint8_t hdr[OBJ_HEADER_SIZE], const struct obj_ref *r,
		       uint8_t tag[OBJ_COMMIT_BYTES]);

/* AES-GCM uses 12 of the 24 nonce bytes; the rest is stored as zeros. */
void obj_nonce_fresh(const wcrypto_aead *key, uint8_t nonce[WCRYPTO_NONCEBYTES]);
int obj_nonce_ok(const wcrypto_aead *key, const uint8_t nonce[WCRYPTO_NONCEBYTES]);
/* Read and check the header of r's content file; *fmt: its format; hdr:
 * its bytes (for the commit records of format 3). */
int obj_header_read(int fd, const struct obj_ref *r, unsigned *fmt,
		    uint8_t hdr[OBJ_HEADER_SIZE]);

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
