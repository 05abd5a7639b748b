/* s3_keycache: see s3_keycache.h. A small array searched linearly (the
 * cap is a few dozen users in practice; a lookup is a string compare per
 * entry, far below one HMAC), one mutex held only for table work, never
 * during a signature check. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "s3_keycache.h"

struct kc_ref {                /* the shared key: freed at refs == 0 */
	sigv4_key *key;
	unsigned refs;         /* the table's (1 while listed) + hits */
};

struct kc_ent {
	struct kc_ref *ref;    /* NULL: free slot */
	uint64_t gen, used;
	struct ns_user user;
};

struct s3_keycache {
	pthread_mutex_t mu;
	unsigned cap;
	uint64_t gen;          /* newest generation seen */
	uint64_t tick;         /* LRU clock */
	struct kc_ent *e;
};

int s3_keycache_new(unsigned cap, s3_keycache **out)
{
	s3_keycache *c;

	*out = NULL;
	if (cap < 1 || cap > 4096)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->e = calloc(cap, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return -ENOMEM;
	}
	c->cap = cap;
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

/* Drop a reference; the caller holds mu. */
static void unref(struct kc_ref *r)
{
	if (--r->refs == 0) {
		sigv4_key_free(r->key);   /* wipes */
		free(r);
	}
}

static void drop(struct kc_ent *e)
{
	if (e->ref)
		unref(e->ref);
	memset(e, 0, sizeof(*e));
}

void s3_keycache_free(s3_keycache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->cap; i++)
		drop(&c->e[i]);
	free(c->e);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* A newer generation: every entry is from before a user change. */
static void advance(s3_keycache *c, uint64_t gen)
{
	if (gen <= c->gen)
		return;
	for (unsigned i = 0; i < c->cap; i++)
		drop(&c->e[i]);
	c->gen = gen;
}

/* The entry of auth's access key id and scope. An access key may have
 * entries for a few scopes at once (today's and a presigned URL's of an
 * earlier day): one entry per key, alternating scopes would make every
 * request a miss, each a KMS unseal. */
static struct kc_ent *find(s3_keycache *c, const struct sigv4_auth *auth)
{
	for (unsigned i = 0; i < c->cap; i++)
		if (c->e[i].ref && strcmp(c->e[i].user.access_key_id, auth->access_key) == 0 &&
		    sigv4_key_fits(c->e[i].ref->key, auth))
			return &c->e[i];
	return NULL;
}

int s3_keycache_get(s3_keycache *c, const struct sigv4_auth *auth, uint64_t gen,
		    struct s3_keycache_hit *hit)
{
	struct kc_ent *e;
	int found = 0;

	pthread_mutex_lock(&c->mu);
	advance(c, gen);
	e = find(c, auth);
	if (e && e->gen == gen && gen == c->gen) {
		e->ref->refs++;
		e->used = ++c->tick;
		hit->key = e->ref->key;
		hit->user = e->user;
		hit->ref = e->ref;
		found = 1;
	}
	pthread_mutex_unlock(&c->mu);
	return found;
}

void s3_keycache_release(s3_keycache *c, struct s3_keycache_hit *hit)
{
	if (!hit->ref)
		return;
	pthread_mutex_lock(&c->mu);
	unref(hit->ref);
	pthread_mutex_unlock(&c->mu);
	hit->ref = NULL;
	hit->key = NULL;
}

void s3_keycache_put(s3_keycache *c, const struct sigv4_auth *auth, uint64_t gen,
		     sigv4_key *key, const struct ns_user *u)
{
	struct kc_ref *r;
	struct kc_ent *e;

	if (!key)
		return;
	if (strcmp(u->access_key_id, auth->access_key) != 0 || !sigv4_key_fits(key, auth) ||
	    !(r = malloc(sizeof(*r)))) {
		sigv4_key_free(key);
		return;
	}
	r->key = key;
	r->refs = 1;
	pthread_mutex_lock(&c->mu);
	advance(c, gen);
	if (gen < c->gen) {
		/* looked up before a user change that another request has
		 * already seen: the user may be gone */
		unref(r);
		pthread_mutex_unlock(&c->mu);
		return;
	}
	e = find(c, auth);   /* a racing put */
	if (!e) {
		for (unsigned i = 0; i < c->cap; i++) {
			if (!c->e[i].ref) {
				e = &c->e[i];
				break;
			}
			if (!e || c->e[i].used < e->used)
				e = &c->e[i];
		}
	}
	drop(e);
	e->ref = r;
	e->gen = gen;
	e->used = ++c->tick;
	e->user = *u;
	pthread_mutex_unlock(&c->mu);
}

unsigned s3_keycache_count(s3_keycache *c)
{
	unsigned n = 0;

	pthread_mutex_lock(&c->mu);
	for (unsigned i = 0; i < c->cap; i++)
		n += c->e[i].ref != NULL;
	pthread_mutex_unlock(&c->mu);
	return n;
}
