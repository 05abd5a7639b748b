/* meta_auth_memo: record MACs last found right, so that the same bytes
 * are not checked again (part of the meta module). An unlink checked its
 * directory entry's MAC four times (the kernel's LOOKUP, the wait for
 * writers, the unlink's read and its delete), a keyed BLAKE2b each.
 *
 * Safe for the reason ns_vcache.c is: a MAC is a function of the message
 * (tag | key | plain value) and the record key, which is fixed until
 * meta_set_auth installs another (that clears the memo). An entry holds
 * the whole message and MAC, and a hit needs both to be equal byte for
 * byte, so it answers exactly what the check would. Only right MACs are
 * noted (a failing record is checked, and refused, at every read), and
 * MACs meta made itself (a record being written), which are right by
 * construction whether or not their transaction commits. Read
 * transactions run in parallel: a mutex per slot. */
#include "meta_priv.h"

#include <stdlib.h>

#define AM_SLOTS 64   /* a power of two */

struct auth_memo_slot {
	pthread_mutex_t mu;
	int used;
	size_t len;
	uint8_t msg[AUTH_MEMO_MSG_MAX];
	uint8_t mac[META_MAC_BYTES];
};

struct auth_memo {
	struct auth_memo_slot slot[AM_SLOTS];
};

struct auth_memo *auth_memo_new(void)
{
	struct auth_memo *m = calloc(1, sizeof(*m));

	if (m)
		for (int i = 0; i < AM_SLOTS; i++)
			pthread_mutex_init(&m->slot[i].mu, NULL);
	return m;
}

void auth_memo_free(struct auth_memo *m)
{
	if (!m)
		return;
	for (int i = 0; i < AM_SLOTS; i++)
		pthread_mutex_destroy(&m->slot[i].mu);
	free(m);
}

void auth_memo_clear(struct auth_memo *m)
{
	if (!m)
		return;
	for (int i = 0; i < AM_SLOTS; i++) {
		pthread_mutex_lock(&m->slot[i].mu);
		m->slot[i].used = 0;
		pthread_mutex_unlock(&m->slot[i].mu);
	}
}

static struct auth_memo_slot *slot_of(struct auth_memo *m, const uint8_t *msg, size_t len)
{
	uint32_t x = 2166136261u;   /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		x = (x ^ msg[i]) * 16777619u;
	return &m->slot[x & (AM_SLOTS - 1)];
}

int auth_memo_known(struct auth_memo *m, const uint8_t *msg, size_t len,
		    const uint8_t mac[META_MAC_BYTES])
{
	struct auth_memo_slot *s;
	int hit;

	if (!m || len > AUTH_MEMO_MSG_MAX)
		return 0;
	s = slot_of(m, msg, len);
	pthread_mutex_lock(&s->mu);
	hit = s->used && s->len == len && !memcmp(s->msg, msg, len) &&
	      !memcmp(s->mac, mac, META_MAC_BYTES);
	pthread_mutex_unlock(&s->mu);
	return hit;
}

void auth_memo_note(struct auth_memo *m, const uint8_t *msg, size_t len,
		    const uint8_t mac[META_MAC_BYTES])
{
	struct auth_memo_slot *s;

	if (!m || len > AUTH_MEMO_MSG_MAX)
		return;
	s = slot_of(m, msg, len);
	pthread_mutex_lock(&s->mu);
	s->used = 1;
	s->len = len;
	memcpy(s->msg, msg, len);
	memcpy(s->mac, mac, META_MAC_BYTES);
	pthread_mutex_unlock(&s->mu);
}
