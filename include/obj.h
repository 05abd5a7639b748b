/* obj: the encrypted content format of one object. Stateless over a file
 * descriptor: the caller (ns) owns fds (one per open handle, never per
 * inode), serializes writers per inode and keeps size/generation in meta.
 *
 * File layout (all integers little-endian):
 *   header, OBJ_HEADER_SIZE bytes:
 *     magic "WORMOBJ1" | u32 format (1, 2 or 3) | u32 alg | objid[16] |
 *     wrapped DEK[76] (KMS, version inside) | nonce[24] | zero pad |
 *     tag[16] in the last 16 bytes = AEAD(DEK) over the empty message with
 *     every byte before the tag as associated data (format 3: the bytes
 *     before offset 256 only; 256..399 hold two commit records, each
 *     sealed on its own, see "Write tags"; the rest is zero).
 *   block slot i at OBJ_HEADER_SIZE + i * OBJ_SLOT_SIZE:
 *     u64 gen | nonce[24] | ciphertext[n] | tag[16]
 *     n = OBJ_BLOCK_SIZE, except the final block: n = size - i*BS (1..BS),
 *     so the file length is a function of the size.
 *   AD of a block: "WORMBLK1" | objid | u64 index | u8 final | u64 gen,
 *   and in format 3 | u64 write tag.
 *   AES-256-GCM uses the first 12 nonce bytes; the other 12 are stored as
 *   zeros and must read as zeros (header and blocks), so no stored bit is
 *   unauthenticated.
 *
 * Block map (format 2, every file created since; src/obj_map.c): which
 * generation each block was last written in, 0 for a hole. A read opens
 * block i only with exactly the generation the map names, so a slot
 * replaced by an older authentic version of itself, a zeroed slot, a hole
 * filled with data or a whole file replaced by an older copy fail (EIO).
 * The map of committed generation G is the side file objects/XX/<id>.m0
 * or .m1 (G's parity): "WORMMAP1" | id | u64 G | u64 nruns | nonce[24] |
 * runs (u64 first block, u64 gen) | tag[16] = AEAD(DEK) over the empty
 * message with every byte before it as AD. It is authenticated by G, which
 * the node record authenticates: a map file of another generation is
 * ignored, and none means "every block carries exactly G, no holes" (the
 * common case of an object written in one session: no side file). So
 * removing or replacing a map can only make reads fail, never accept an
 * older block. A session writes G+1's map (the other parity) before the
 * caller commits G+1, so a crash before that commit still finds G's.
 * Format 1 files (written before) keep the old rules: any generation up to
 * G+1, final block G or G+1 (README, Limitations).
 *
 * Write tags (format 3, every file created since; format 2 files keep
 * the rules above): two versions of a block of one generation (written
 * twice in one session, or by a killed session and the next one, both
 * G+1) differ by a random u64 write tag in the AD, and the map records
 * the tag of each run, so only the last version opens. A session draws a
 * fresh tag at its first write and whenever a write would seal a block
 * that already carries (G+1, current tag) again, except the old final
 * block of a write that grows the object (its new version is non-final,
 * or final and longer: unlike every earlier one under that tag); after
 * a failed write, at a truncate and at a re-seal in obj_commit. So an
 * object written once is one run, and so is a sequential write of any
 * request sizes. The map of G is described by the commit record of G's
 * parity in the header: "WORMREC3"-bound (id, gen, kind, x, y), kind 1 =
 * one run (gen x, tag y: no map file), kind 2 = the map file of G
 * ("WORMMAP3" | id | G | commit id | nruns | nonce | runs (first, gen,
 * tag) | tag) whose commit id is x (a killed session's map file of the
 * same G is not it). obj_commit writes the map file, then the record;
 * the committed generation's record (other parity) is never rewritten.
 * No record of G (an older copy of the file) or a named map file
 * missing: every block fails as stale.
 *
 * Commit binding: a session killed after obj_commit wrote its record but
 * before the caller's metadata commit leaves an authentic record of G+1
 * that names its own random tags; the next session commits G+1 with other
 * ones. So the caller keeps which record it committed: obj_commit returns
 * the record's AEAD tag (r->wcommit, OBJ_COMMIT_BYTES, unique per record:
 * each is sealed with a fresh nonce), the caller stores it, authenticated,
 * with the generation (the metadata node) and hands it back in r->commit.
 * A content file whose record of G is another one reads as if it had no
 * record of G (every block fails, EIO) and obj_verify reports "commit
 * record is not the committed one". All zero: not recorded (formats 1 and
 * 2, inline values, nodes written before it was kept), not checked.
 *
 * Crash atomicity (undo journal): a write session never overwrites a block
 * of the committed state (blocks 0 .. last of the committed size csize) in
 * place before it has copied the committed slot bytes to the object's
 * undo journal, objects/XX/<id>.u (obj_undo). A cut of the file (truncate)
 * is never done before the commit: obj_commit leaves the slots past the
 * new end and obj_settle, called after the meta commit, cuts them and
 * drops the journal. So until the commit the committed state can always
 * be rebuilt (obj_recover, at the mount after an unclean stop), and a
 * reader of the committed state (obj_verify) overlays the journal.
 *
 * Generations: meta records the committed generation G. A write session
 * writes blocks with gen G+1 and records them in the map. A crash before
 * the meta commit leaves blocks of gen G+1, which G's map rejects. A block
 * of the session (gen G+1) may carry either final flag while the session
 * is in flight (a write that failed part way); obj_commit re-seals the
 * final block then. In format 3 only a block expected final may carry
 * the non-final flag (the other way would accept the earlier final
 * version of a block that a growing write re-sealed under the same tag).
 * A slot that is entirely zero bytes on disk is a hole and reads as zeros
 * (as in gocryptfs), but only in an object recorded as sparse (r->sparse)
 * and, in format 2, only where the map says so; the final block is never
 * a hole.
 * Returns 0/-errno; a block or header that fails authentication is -EIO
 * (and counted by the caller); the caller never sees unauthenticated
 * bytes. */
#ifndef WORMFS_OBJ_H
#define WORMFS_OBJ_H

#include "wormcc.h"

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "crypto.h"
#include "kms.h"
#include "store.h"

#define OBJ_BLOCK_SIZE 16384u
#define OBJ_BLOCK_OVERHEAD 48u            /* gen 8 + nonce 24 + tag 16 */
#define OBJ_SLOT_SIZE (OBJ_BLOCK_SIZE + OBJ_BLOCK_OVERHEAD)
#define OBJ_HEADER_SIZE 512u
#define OBJ_MAX_SIZE (1ull << 40)         /* 1 TiB: larger is EFBIG */
#define OBJ_COMMIT_BYTES 16u              /* a commit record's tag */

/* One helper thread (src/obj_sealer.c): a write of many blocks seals and
 * writes part of them there, so a single writer uses two cores. Owned by
 * the daemon; NULL everywhere means one thread. start: 1 if fn(arg) is
 * handed to the helper (then obj_sealer_wait), 0 if it is busy (run fn
 * yourself). fn must tolerate running after the caller did all the work,
 * or not at all: wait takes back a job the helper has not started. */
typedef struct obj_sealer obj_sealer;
WORM_MUST_USE
int obj_sealer_new(obj_sealer **out);
void obj_sealer_free(obj_sealer *p);
WORM_MUST_USE
int obj_sealer_start(obj_sealer *p, void (*fn)(void *), void *arg);
void obj_sealer_wait(obj_sealer *p);
/* Start the writeback of fd's dirty pages (sync_file_range WRITE) on the
 * helper, on a dup of fd it closes, when no job waits: 1 if queued, 0 if
 * one is already queued or fd cannot be dup'ed (then do it yourself). */
WORM_MUST_USE
int obj_sealer_writeback(obj_sealer *p, int fd);

/* What obj needs to know about an object (from its meta node). */
struct obj_ref {
	uint8_t id[16];
	int alg;
	uint8_t wrapped[KMS_WRAPPED_BYTES];
	uint64_t gen;        /* committed generation G */
	uint64_t write_gen;  /* G+1 during a write session, else 0 */
	uint64_t size;       /* current logical size (updated by writes) */
	int sparse;          /* holes allowed: set by a write or truncate that
				leaves some, recorded (authenticated) by the
				caller; an all-zero slot elsewhere is tampering */
	const wcrypto_aead *key;   /* DEK context; see obj_key_open */
	obj_sealer *sealer;        /* optional, for obj_write */
	uint64_t csize;            /* committed size (meta) of the content file */
	struct obj_undo *undo;     /* the session's undo journal; NULL: none
				      (offline tools, tests) */
	int torn;                  /* set by a failed obj_write that could not
				      put back the blocks it was rewriting: the
				      caller must roll the session back */
	struct obj_map *map;       /* the block map of the state being read or
				      written (obj_map_load; obj_create makes
				      one); owned by the caller, updated by
				      obj_write/obj_truncate. Reads and writes
				      without one are -EINVAL. */
	uint8_t commit[OBJ_COMMIT_BYTES];  /* format 3: the tag of gen's commit
				      record as the caller recorded it (see
				      "Commit binding"); all zero: unchecked */
	uint8_t wcommit[OBJ_COMMIT_BYTES]; /* set by obj_commit: the tag of the
				      record it wrote for write_gen (zero for
				      formats 1 and 2); the caller records it
				      with write_gen and then makes it commit */
};

/* The block map of r's committed state (r->gen, r->key set), from the
 * header of the open content file fd and the map file of r->gen. -EIO if
 * the header or a map of that generation fails authentication. In memory
 * only (no fd kept): read once per inode. */
typedef struct obj_map obj_map;
WORM_MUST_USE
int obj_map_load(store *s, int fd, const struct obj_ref *r, obj_map **out);
/* The map of a content file just created (format 2, no blocks yet). */
WORM_MUST_USE
int obj_map_new(obj_map **out);
void obj_map_free(obj_map *m);
/* Number of runs in m (tests, measurements). */
size_t obj_map_runs(const obj_map *m);
/* The format (1, 2 or 3) of the content file m was loaded from (its
 * header, authenticated by obj_map_load). */
unsigned obj_map_format(const obj_map *m);
#define OBJ_MAP_SUFFIX0 ".m0"
#define OBJ_MAP_SUFFIX1 ".m1"

/* Undo journal of one object's write sessions (owned by the caller, one
 * per inode, used under its writer lock). The file is created at the
 * first committed block a session overwrites: header "WORMUND1" | id |
 * u64 committed gen | u64 committed size, then records u64 index | u64 len
 * | the slot's bytes as they were. Not fsync'ed: it protects against a
 * process kill; see README for power loss. */
typedef struct obj_undo obj_undo;
WORM_MUST_USE
int obj_undo_new(store *s, obj_undo **out);
void obj_undo_free(obj_undo *u);
#define OBJ_UNDO_SUFFIX ".u"

/* A new object's identity: a fresh random id and a DEK from
 * kms_generate_data_key (context = id); r is reset (size 0, gen 0) and
 * *key is the DEK context. No content file: see obj_file_create. */
WORM_MUST_USE
int obj_key_new(kms *k, int alg, struct obj_ref *r, wcrypto_aead **key, uint64_t now_ns);
/* Create the content file of r (r->key set) with its header and return
 * it open O_RDWR. excl: O_EXCL; else an existing file of the same id
 * (left by an interrupted move out of inline storage) is truncated. */
WORM_MUST_USE
int obj_file_create(store *s, const struct obj_ref *r, int excl, int *fd);
/* Tests only: a content file in format 1 (before block maps), to check
 * that objects written by older versions still read. */
WORM_MUST_USE
int obj_file_create_v1(store *s, const struct obj_ref *r, int *fd);
/* Tests only: a content file in format 2 (block maps without write tags). */
int obj_file_create_v2(store *s, const struct obj_ref *r, int *fd);
/* Create a new object: a fresh random id (store_objid_new), a DEK from
 * kms_generate_data_key (context = id), the content file with its header
 * (not fsync'ed: see obj.c), size 0, gen 0, r->map a new map (the caller
 * frees it). Fills r (except key) and returns the open
 * fd (O_RDWR) and the key context in *key (free with wcrypto_aead_free).
 * alg 0 means wcrypto_default_alg(). */
WORM_MUST_USE
int obj_create(store *s, kms *k, int alg, struct obj_ref *r, int *fd,
	       wcrypto_aead **key, uint64_t now_ns);
/* Unwrap r->wrapped (kms_decrypt, cached) into a key context. */
WORM_MUST_USE
int obj_key_open(kms *k, const struct obj_ref *r, wcrypto_aead **key, uint64_t now_ns);
/* Open the content file (flags O_RDONLY or O_RDWR) and check its header
 * against r (magic, format, alg, id, tag; the wrapped DEK in the header may
 * differ from r's during rewrap). -EIO on a bad header, -ENOENT missing. */
WORM_MUST_USE
int obj_open(store *s, const struct obj_ref *r, int flags, int *fd);

/* Read up to n bytes at off (short at EOF = r->size). Decrypts only the
 * blocks touched. Returns bytes read or -EIO. After a block failed, every
 * read with the same map fails (-EIO) until the map is loaded anew (a
 * remount): a read over damage never returns part of the object. */
WORM_MUST_USE
ssize_t obj_read(int fd, const struct obj_ref *r, void *buf, size_t n, uint64_t off);
/* Write n bytes at off with gen r->write_gen (must be set); read-modify-
 * write of partial blocks; extends r->size. -EFBIG past OBJ_MAX_SIZE.
 * Returns n or -errno. */
WORM_MUST_USE
ssize_t obj_write(int fd, struct obj_ref *r, const void *buf, size_t n, uint64_t off);
/* Set the size (up or down), keeping the final block authentic. Needs
 * r->write_gen. -EFBIG past OBJ_MAX_SIZE. */
WORM_MUST_USE
int obj_truncate(int fd, struct obj_ref *r, uint64_t new_size);
/* Before the caller commits gen = r->write_gen: re-seal the final block
 * if it carries the other final flag (format 1: also if it carries an
 * older gen) and write write_gen's block map (format 2; format 3: and its
 * commit record, whose tag goes to r->wcommit). Leaves slots past
 * obj_file_length(size) (the committed state may still need them): see
 * obj_settle. Does not fsync the content file; durable: fdatasyncs the map
 * file (the caller syncs the content file and the directory). */
WORM_MUST_USE
int obj_commit(store *s, int fd, struct obj_ref *r, int durable);
/* 1 once a block of r failed authentication (at a read, or the final
 * block at obj_commit), until a commit succeeds: an -EIO from obj_commit
 * is damage then, else a disk error. */
int obj_damaged(const struct obj_ref *r);
/* After the meta commit of r (size, write_gen): cut the file to
 * obj_file_length(size) and drop the undo journal. The caller then sets
 * gen = write_gen, csize = size. */
WORM_MUST_USE
int obj_settle(int fd, struct obj_ref *r);
/* Mount recovery after an unclean stop, r = the committed state from meta
 * (id, alg, wrapped, gen, commit, size, sparse): if the undo journal belongs to
 * that state, write back each record that opens (key from k) as its block
 * of that state, over a block that does not (never over an intact one);
 * cut the file to obj_file_length(size); remove the journal; fsync what
 * changed. *changed = 1 if the file was rolled back or cut; *rejected =
 * records that did not authenticate (a damaged or planted journal). -ENOENT
 * if the content file is missing. */
WORM_MUST_USE
int obj_recover(store *s, kms *k, const struct obj_ref *r, uint64_t now_ns, int *changed,
		unsigned *rejected);
/* Rewrite the header with a new wrapped DEK (rewrap). fsyncs. */
WORM_MUST_USE
int obj_set_wrapped(store *s, const struct obj_ref *r, const uint8_t wrapped[KMS_WRAPPED_BYTES]);

/* Trust on upgrade (issue 12): the tag of the commit record of r->gen
 * that r's content file holds now (format 3), for a caller whose record
 * of r names none (committed by a build that did not keep it) to bind it
 * (r->commit). Unwraps the DEK itself (uncached, like obj_verify). 0 and
 * tag; -ENOTSUP for formats 1 and 2 (no commit record); -ENOENT no
 * content file or no record of r->gen; -EIO a header or record that fails
 * authentication (nothing to trust); other -errno (KMS throttling, I/O). */
WORM_MUST_USE
int obj_commit_tag(store *s, kms *k, const struct obj_ref *r, uint64_t now_ns,
		   uint8_t tag[OBJ_COMMIT_BYTES]);

/* Full check of one object: header, block map, every block, final flag,
 * generation rules, file length. 0 if sound; -EIO with *what = static
 * reason ("bad header", "block map fails authentication", "commit record
 * is not the committed one", "block N fails
 * authentication", "length mismatch", "stale generation", "hole holds
 * data", "trailing data") and *bad_block (UINT64_MAX when
 * no block is at fault; "block fails authentication" names no N, see
 * *bad_block); -ENOENT if the file is missing. */
WORM_MUST_USE
int obj_verify(store *s, kms *k, const struct obj_ref *r, uint64_t now_ns,
	       const char **what, uint64_t *bad_block);
/* obj_verify of the committed state while writes may be in flight (a
 * mounted store, or one not yet recovered after a crash): blocks a session
 * overwrote are checked from its undo journal, and bytes past the
 * committed length (a session in flight, or a cut due after a commit) are
 * not content, so not "trailing data". */
#define OBJ_VERIFY_LIVE 1
WORM_MUST_USE
int obj_verify_ex(store *s, kms *k, const struct obj_ref *r, uint64_t now_ns, int flags,
		  const char **what, uint64_t *bad_block);

/* Inline objects. Content of at most OBJ_INLINE_MAX bytes may be kept in
 * meta (the inline database) instead of a content file, which saves a
 * file creation per small object (half an untar's daemon time). The
 * value is exactly one block slot, index 0, final, with the same AD as
 * in a file: u64 gen | nonce[24] | ciphertext[size] | tag[16]. There is
 * no header: the node (authenticated) holds id, alg and wrapped DEK. The
 * value is written in the transaction that commits size and generation,
 * so it must carry exactly r->gen. */
#define OBJ_INLINE_MAX OBJ_BLOCK_SIZE
size_t obj_inline_len(uint64_t size);
/* Seal n bytes (<= OBJ_INLINE_MAX) with gen r->write_gen into slot, which
 * has room for obj_inline_len(n) bytes. */
WORM_MUST_USE
int obj_inline_seal(const struct obj_ref *r, const void *plain, size_t n, uint8_t *slot);
/* Open a stored value of len bytes into plain (r->size bytes): -EIO if it
 * does not authenticate, has another length or generation. */
WORM_MUST_USE
int obj_inline_open(const struct obj_ref *r, const uint8_t *slot, size_t len, void *plain);
/* obj_verify for an inline value (unwraps the DEK itself). */
WORM_MUST_USE
int obj_inline_verify(kms *k, const struct obj_ref *r, const uint8_t *slot, size_t len,
		      uint64_t now_ns, const char **what);

/* File length implied by a size (for checks and tests). */
uint64_t obj_file_length(uint64_t size);

#endif
