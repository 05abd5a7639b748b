/* ns_vcache: the node records whose MAC was last found right, one per
 * slot (by inode). A request reads the same few records several times
 * (the parent, the bucket, the node itself: 12 reads and MAC checks per
 * create), and each check is a keyed BLAKE2b, most of a lookup's own CPU.
 *
 * Safe because a record's MAC is a function of the record's bytes and the
 * record key alone (ns_node_mac), and the key is fixed for the life of
 * the ns: bytes equal to bytes that verified verify again. A record
 * edited, put back or swapped in the store differs in some byte (or is
 * exactly a record that verified, which the MAC alone cannot tell
 * either; the state digest can), so it misses and is checked in full.
 * Only right MACs are noted, so a failing record is checked (and logged)
 * at every read, as before. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ns_vcache.h"

#define VC_SLOTS 1024   /* a power of two */

struct vc_slot {
	pthread_mutex_t mu;
	int used;
	struct meta_node nd;
};

struct ns_vcache {
	struct vc_slot slot[VC_SLOTS];
};

struct ns_vcache *ns_vcache_new(void)
{
	struct ns_vcache *vc = calloc(1, sizeof(*vc));

	if (vc)
		for (size_t i = 0; i < VC_SLOTS; i++)
			pthread_mutex_init(&vc->slot[i].mu, NULL);
	return vc;
}

void ns_vcache_free(struct ns_vcache *vc)
{
	if (!vc)
		return;
	for (size_t i = 0; i < VC_SLOTS; i++)
		pthread_mutex_destroy(&vc->slot[i].mu);
	free(vc);
}

static struct vc_slot *slot_of(struct ns_vcache *vc, uint64_t ino)
{
	return &vc->slot[(ino ^ (ino >> 10)) & (VC_SLOTS - 1)];
}

int ns_vcache_known(struct ns_vcache *vc, const struct meta_node *nd)
{
	struct vc_slot *s;
	int hit;

	if (!vc)
		return 0;
	s = slot_of(vc, nd->ino);
	pthread_mutex_lock(&s->mu);
	hit = s->used && memcmp(&s->nd, nd, sizeof(*nd)) == 0;
	pthread_mutex_unlock(&s->mu);
	return hit;
}

void ns_vcache_note(struct ns_vcache *vc, const struct meta_node *nd)
{
	struct vc_slot *s;

	if (!vc)
		return;
	s = slot_of(vc, nd->ino);
	pthread_mutex_lock(&s->mu);
	memcpy(&s->nd, nd, sizeof(*nd));
	s->used = 1;
	pthread_mutex_unlock(&s->mu);
}
