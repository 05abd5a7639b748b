/* kms_dek_cache: the cache of unwrapped data keys of the local KMS (see
 * kms_priv.h). A hash table of cap slots keyed by ctx + wrapped bytes
 * (keyed short hash, so no caller picks the collisions), an LRU list
 * through the same slots, and a free list; the DEKs live apart in one
 * secure block, wiped as each entry goes. A hit costs one mutex and
 * no KMS request (kms.c counts and gates the misses). */
#include "kms_priv.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000ull

struct cache_meta {
	uint8_t ctx[KMS_CTX_BYTES];
	uint8_t wrapped[KMS_WRAPPED_BYTES];
	uint64_t inserted_ns;
	int32_t hnext;        /* bucket chain, or free list */
	int32_t prev, next;   /* LRU list, most recent at head */
	uint8_t used;
};

struct kms_dek_cache {
	pthread_mutex_t mu;
	uint32_t cap;
	uint32_t nbuckets;    /* power of two */
	int32_t *buckets;
	struct cache_meta *e;
	uint8_t *dek;         /* cap x 32, sodium_malloc'd */
	int32_t lru_head, lru_tail, free_head;
	uint64_t ttl_ns;
	uint8_t hkey[WCRYPTO_SHORTHASH_KEYBYTES];
};

void kms_dek_cache_free(struct kms_dek_cache *c)
{
	if (!c)
		return;
	free(c->buckets);
	free(c->e);
	wcrypto_secure_free(c->dek);   /* wipes every cached DEK */
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* A cache of entries slots (none if 0); c is zeroed. */
static int cache_init(struct kms_dek_cache *c, uint64_t entries, uint64_t ttl_s)
{
	c->lru_head = c->lru_tail = c->free_head = -1;
	c->ttl_ns = ttl_s > UINT64_MAX / NS_PER_S ? UINT64_MAX : ttl_s * NS_PER_S;
	if (entries == 0)
		return 0;
	c->cap = (uint32_t)entries;
	c->nbuckets = 16;
	while (c->nbuckets < 2 * c->cap)
		c->nbuckets *= 2;
	c->buckets = malloc(c->nbuckets * sizeof(*c->buckets));
	c->e = calloc(c->cap, sizeof(*c->e));
	c->dek = wcrypto_secure_alloc((size_t)c->cap * KMS_DEK_BYTES);
	if (!c->buckets || !c->e || !c->dek)
		return -ENOMEM;
	memset(c->buckets, 0xff, c->nbuckets * sizeof(*c->buckets));   /* -1 */
	for (uint32_t i = 0; i < c->cap; i++)
		c->e[i].hnext = i + 1 < c->cap ? (int32_t)i + 1 : -1;
	c->free_head = 0;
	wcrypto_random(c->hkey, sizeof(c->hkey));
	return 0;
}

int kms_dek_cache_new(uint64_t entries, uint64_t ttl_s, struct kms_dek_cache **out)
{
	struct kms_dek_cache *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		return -ENOMEM;
	}
	rc = cache_init(c, entries, ttl_s);
	if (rc) {
		kms_dek_cache_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

uint32_t kms_dek_cache_capacity(const struct kms_dek_cache *c)
{
	return c->cap;
}

static uint32_t cache_bucket(const struct kms_dek_cache *c, const uint8_t ctx[KMS_CTX_BYTES],
			     const struct kms_wrapped *w)
{
	uint8_t key[KMS_CTX_BYTES + KMS_WRAPPED_BYTES];

	memcpy(key, ctx, KMS_CTX_BYTES);
	memcpy(key + KMS_CTX_BYTES, w->b, KMS_WRAPPED_BYTES);
	return (uint32_t)wcrypto_shorthash(c->hkey, key, sizeof(key)) & (c->nbuckets - 1);
}

static int32_t cache_find(const struct kms_dek_cache *c, uint32_t b,
			  const uint8_t ctx[KMS_CTX_BYTES], const struct kms_wrapped *w)
{
	for (int32_t i = c->buckets[b]; i >= 0; i = c->e[i].hnext)
		if (memcmp(c->e[i].ctx, ctx, KMS_CTX_BYTES) == 0 &&
		    memcmp(c->e[i].wrapped, w->b, KMS_WRAPPED_BYTES) == 0)
			return i;
	return -1;
}

static void lru_unlink(struct kms_dek_cache *c, int32_t i)
{
	struct cache_meta *e = &c->e[i];

	if (e->prev >= 0)
		c->e[e->prev].next = e->next;
	else
		c->lru_head = e->next;
	if (e->next >= 0)
		c->e[e->next].prev = e->prev;
	else
		c->lru_tail = e->prev;
}

static void lru_push_head(struct kms_dek_cache *c, int32_t i)
{
	c->e[i].prev = -1;
	c->e[i].next = c->lru_head;
	if (c->lru_head >= 0)
		c->e[c->lru_head].prev = i;
	c->lru_head = i;
	if (c->lru_tail < 0)
		c->lru_tail = i;
}

/* Drop entry i: unchain, wipe its DEK, return it to the free list. */
static void cache_drop(struct kms_dek_cache *c, int32_t i)
{
	struct cache_meta *e = &c->e[i];
	uint32_t b = cache_bucket(c, e->ctx, (const struct kms_wrapped *)e->wrapped);
	int32_t *pp = &c->buckets[b];

	while (*pp != i)
		pp = &c->e[*pp].hnext;
	*pp = e->hnext;
	lru_unlink(c, i);
	wcrypto_wipe(c->dek + (size_t)i * KMS_DEK_BYTES, KMS_DEK_BYTES);
	memset(e, 0, sizeof(*e));
	e->hnext = c->free_head;
	c->free_head = i;
}

static int cache_expired(const struct kms_dek_cache *c, const struct cache_meta *e, uint64_t now)
{
	return now > e->inserted_ns && now - e->inserted_ns >= c->ttl_ns;
}

int kms_dek_cache_get(struct kms_dek_cache *c, const uint8_t ctx[KMS_CTX_BYTES],
		     const struct kms_wrapped *w, uint8_t dek[KMS_DEK_BYTES], uint64_t now)
{
	uint32_t b = cache_bucket(c, ctx, w);
	int32_t i;
	int hit = 0;

	pthread_mutex_lock(&c->mu);
	i = cache_find(c, b, ctx, w);
	if (i >= 0 && cache_expired(c, &c->e[i], now)) {
		cache_drop(c, i);
	} else if (i >= 0) {
		memcpy(dek, c->dek + (size_t)i * KMS_DEK_BYTES, KMS_DEK_BYTES);
		lru_unlink(c, i);
		lru_push_head(c, i);
		hit = 1;
	}
	pthread_mutex_unlock(&c->mu);
	return hit;
}

void kms_dek_cache_put(struct kms_dek_cache *c, const uint8_t ctx[KMS_CTX_BYTES],
		      const struct kms_wrapped *w, const uint8_t dek[KMS_DEK_BYTES],
		      uint64_t now)
{
	uint32_t b = cache_bucket(c, ctx, w);
	int32_t i;

	pthread_mutex_lock(&c->mu);
	i = cache_find(c, b, ctx, w);
	if (i >= 0) {            /* another thread missed at the same time */
		lru_unlink(c, i);
	} else {
		if (c->free_head < 0)
			cache_drop(c, c->lru_tail);   /* full: evict least recent */
		i = c->free_head;
		c->free_head = c->e[i].hnext;
		memcpy(c->e[i].ctx, ctx, KMS_CTX_BYTES);
		memcpy(c->e[i].wrapped, w->b, KMS_WRAPPED_BYTES);
		c->e[i].used = 1;
		c->e[i].hnext = c->buckets[b];
		c->buckets[b] = i;
	}
	memcpy(c->dek + (size_t)i * KMS_DEK_BYTES, dek, KMS_DEK_BYTES);
	c->e[i].inserted_ns = now;
	lru_push_head(c, i);
	pthread_mutex_unlock(&c->mu);
}

void kms_dek_cache_purge(struct kms_dek_cache *c, uint32_t version)
{
	pthread_mutex_lock(&c->mu);
	for (uint32_t i = 0; i < c->cap; i++)
		if (c->e[i].used &&
		    (version == 0 ||
		     kms_wrapped_version((const struct kms_wrapped *)c->e[i].wrapped) == version))
			cache_drop(c, (int32_t)i);
	pthread_mutex_unlock(&c->mu);
}
