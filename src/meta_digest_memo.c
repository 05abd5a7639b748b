/* meta_digest_memo: the state digest's H of values recently put, so that
 * the next put or delete of the same record does not hash them again
 * (part of the meta module; see meta_digest.c for H).
 *
 * Why: a put subtracts H of the value it replaces. Most replaced values
 * were put a moment ago: the parent directory's node at every create and
 * unlink, a file's node at each of an untar's SETATTRs, its inline
 * content at each write, the inode counter at every create. Hashing them
 * again was a third of the digest's keyed BLAKE2b.
 *
 * Sound by construction: an entry holds db, key and the whole value as
 * hashed, and it is used only when all three equal the bytes at hand, so
 * it gives exactly H(db, key, value), the value verify recomputes. A
 * value edited behind meta's back differs in its bytes and is hashed. An
 * entry from a transaction that aborted is as true as any (H does not
 * depend on commits). Entries are dropped when the hash function is set
 * again (another key). Write transactions only: they run one at a time,
 * so the memo needs no lock (like e->dg_seen). Direct-mapped by key: a
 * few hundred KiB at most (DG_MEMO_SLOTS values of up to DG_MEMO_VMAX). */
#include "meta_priv.h"

#include <stdlib.h>

#define DG_MEMO_SLOTS 16

struct dg_memo_slot {
	int used;
	enum meta_db db;
	size_t klen, vlen, cap;
	uint8_t *buf;                   /* key, then value */
	uint8_t h[META_DIGEST_BYTES];
};

static unsigned slot_of(enum meta_db d, const MDB_val *k)
{
	const uint8_t *p = k->mv_data;
	uint32_t x = 2166136261u ^ (uint32_t)d;   /* FNV-1a */

	for (size_t i = 0; i < k->mv_size; i++)
		x = (x ^ p[i]) * 16777619u;
	return x % DG_MEMO_SLOTS;
}

static struct dg_memo_slot *find(meta_env *e, enum meta_db d, const MDB_val *k)
{
	struct dg_memo_slot *s;

	if (!e->dg_memo)
		return NULL;
	s = &e->dg_memo[slot_of(d, k)];
	if (!s->used || s->db != d || s->klen != k->mv_size ||
	    memcmp(s->buf, k->mv_data, k->mv_size))
		return NULL;
	return s;
}

int dg_memo_get(meta_env *e, enum meta_db d, const MDB_val *k, const MDB_val *v,
		uint8_t h[META_DIGEST_BYTES])
{
	struct dg_memo_slot *s = find(e, d, k);

	if (!s || s->vlen != v->mv_size || memcmp(s->buf + s->klen, v->mv_data, v->mv_size))
		return 0;
	memcpy(h, s->h, META_DIGEST_BYTES);
	return 1;
}

void dg_memo_put(meta_env *e, enum meta_db d, const MDB_val *k, const MDB_val *v,
		 const uint8_t h[META_DIGEST_BYTES])
{
	struct dg_memo_slot *s;
	size_t need = k->mv_size + v->mv_size;

	if (v->mv_size > DG_MEMO_VMAX)
		return;   /* not kept; a stale entry for this key is harmless */
	if (!e->dg_memo && !(e->dg_memo = calloc(DG_MEMO_SLOTS, sizeof(*e->dg_memo))))
		return;   /* out of memory: hash every time */
	s = &e->dg_memo[slot_of(d, k)];
	if (s->cap < need) {
		uint8_t *b = realloc(s->buf, need);
		if (!b) {
			s->used = 0;
			return;
		}
		s->buf = b;
		s->cap = need;
	}
	s->used = 1;
	s->db = d;
	s->klen = k->mv_size;
	s->vlen = v->mv_size;
	memcpy(s->buf, k->mv_data, k->mv_size);
	if (v->mv_size)
		memcpy(s->buf + k->mv_size, v->mv_data, v->mv_size);
	memcpy(s->h, h, META_DIGEST_BYTES);
}

void dg_memo_forget(meta_env *e, enum meta_db d, const MDB_val *k)
{
	struct dg_memo_slot *s = find(e, d, k);

	if (s)
		s->used = 0;
}

void dg_memo_clear(meta_env *e)
{
	if (!e->dg_memo)
		return;
	for (int i = 0; i < DG_MEMO_SLOTS; i++)
		free(e->dg_memo[i].buf);
	free(e->dg_memo);
	e->dg_memo = NULL;
}
