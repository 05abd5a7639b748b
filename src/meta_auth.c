/* meta_auth: the keyed MAC of a metadata record (tag, key, plain value),
 * made and checked through the function ns installs with meta_set_auth.
 * Every meta file that stores an authenticated record uses these two. */
#include <errno.h>
#include <string.h>

#include "meta_priv.h"

int auth_mac(const meta_env *e, char tag, const void *a, size_t alen, const void *b,
	     size_t blen, uint8_t mac[META_MAC_BYTES])
{
	uint8_t msg[AUTH_MSG_MAX];

	if (1 + alen + blen > sizeof(msg))
		return -EINVAL;
	msg[0] = (uint8_t)tag;
	memcpy(msg + 1, a, alen);
	if (blen)
		memcpy(msg + 1 + alen, b, blen);
	return e->auth(e->auth_arg, msg, 1 + alen + blen, mac, 0);
}

static int auth_verify(const meta_env *e, char tag, const void *a, size_t alen,
		       const void *b, size_t blen, const uint8_t *mac)
{
	uint8_t msg[AUTH_MSG_MAX], m[META_MAC_BYTES];

	if (1 + alen + blen > sizeof(msg))
		return -EIO;
	msg[0] = (uint8_t)tag;
	memcpy(msg + 1, a, alen);
	if (blen)
		memcpy(msg + 1 + alen, b, blen);
	memcpy(m, mac, sizeof(m));
	return e->auth(e->auth_arg, msg, 1 + alen + blen, m, 1) ? -EIO : 0;
}

/* The MAC'd message of a record is tag | key | plain value. */
int auth_check(const meta_env *e, char tag, const void *key, size_t klen, const MDB_val *v,
	       size_t legacy_len, size_t *plain)
{
	uint8_t a[8 + 16];

	if (!e->auth || !e->strict) {
		/* No MACs yet (or none at all): legacy records only. */
		if (!e->auth || !legacy_len || v->mv_size == legacy_len) {
			*plain = v->mv_size;
			return legacy_len && v->mv_size != legacy_len ? -EBADMSG : 0;
		}
	}
	if (v->mv_size < META_MAC_BYTES || klen > 8)
		return -EIO;
	*plain = v->mv_size - META_MAC_BYTES;
	/* Fixed-size plain parts go with the key; a variable one (a name is
	 * in the key already, a link target) follows. */
	if (legacy_len && *plain != legacy_len)
		return -EIO;
	if (legacy_len && klen + *plain <= sizeof(a)) {
		memcpy(a, key, klen);
		memcpy(a + klen, v->mv_data, *plain);
		return auth_verify(e, tag, a, klen + *plain, NULL, 0,
				   (const uint8_t *)v->mv_data + *plain);
	}
	return auth_verify(e, tag, key, klen, v->mv_data, *plain,
			   (const uint8_t *)v->mv_data + *plain);
}
