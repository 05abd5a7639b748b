/* wormctl: store head (head, verify --since) and audit trail (audit,
 * audit verify). Offline and read-only: they work while mounted. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wormctl.h"
#include "clock.h"
#include "crypto.h"
#include "trail.h"

static json_object *hexobj(const uint8_t *b, size_t n)
{
	char hex[2 * 64 + 1];
	wcrypto_hex(hex, b, n);
	return json_object_new_string(hex);
}

int wctl_head(const struct wctl_opts *o)
{
	struct whead h;
	uint8_t pk[32];
	char id[HEAD_ID_MAX], ts[32], hx[129];
	ns *n = NULL;
	int rc;

	if (wctl_open_store(o, o->pos[0], NS_RDONLY, &n))
		return WCTL_FAIL;
	rc = ns_head_get(n, &h, pk);
	ns_close(n);
	if (rc == -ENOENT)
		return wctl_err("%s %s: the store has no head yet (it is made at the first "
				"mount or offline change)", o->cmd, o->pos[0]);
	if (rc)
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(-rc));
	rc = head_id(&h, id);
	if (rc)
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(-rc));
	if (clock_format_rfc3339(h.time_s, ts, sizeof(ts)))
		snprintf(ts, sizeof(ts), "-");
	if (o->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "head", json_object_new_string(id));
		json_object_object_add(j, "seq", json_object_new_uint64(h.seq));
		json_object_object_add(j, "time", json_object_new_string(ts));
		json_object_object_add(j, "digest", hexobj(h.digest, 32));
		json_object_object_add(j, "prev", hexobj(h.prev, 32));
		json_object_object_add(j, "audit_seq", json_object_new_uint64(h.audit_seq));
		json_object_object_add(j, "audit_hash", hexobj(h.audit_hash, 32));
		json_object_object_add(j, "mac", hexobj(h.mac, 32));
		json_object_object_add(j, "signature", hexobj(h.sig, 64));
		json_object_object_add(j, "public_key", hexobj(pk, 32));
		json_object_object_add(j, "algorithm", json_object_new_string("ed25519"));
		wctl_json_print(j);
		return WCTL_OK;
	}
	printf("head       %s\n", id);
	printf("seq        %" PRIu64 "\n", h.seq);
	printf("time       %s\n", ts);
	wcrypto_hex(hx, h.digest, 32);
	printf("digest     %s\n", hx);
	wcrypto_hex(hx, h.prev, 32);
	printf("prev       %s\n", hx);
	wcrypto_hex(hx, h.audit_hash, 32);
	printf("audit      %" PRIu64 " %s\n", h.audit_seq, hx);
	wcrypto_hex(hx, h.sig, 64);
	printf("signature  %s\n", hx);
	wcrypto_hex(hx, pk, 32);
	printf("public-key %s (ed25519)\n", hx);
	return WCTL_OK;
}

/* HEAD: "SEQ:HASH", or the JSON object 'wormctl head --json' prints (its
 * "head" member). */
int wctl_parse_since(const char *s, uint64_t *seq, uint8_t hash[32])
{
	const char *p = s + strspn(s, " \t\n");
	int rc = -EINVAL;

	if (*p != '{')
		return head_id_parse(s, seq, hash);
	json_object *j = json_tokener_parse(p), *id;
	if (j && json_object_object_get_ex(j, "head", &id) &&
	    json_object_is_type(id, json_type_string))
		rc = head_id_parse(json_object_get_string(id), seq, hash);
	json_object_put(j);
	return rc;
}

long wctl_verify_head(const struct wctl_opts *o, ns *n, ns_damage_cb cb, void *arg)
{
	long bad = ns_head_verify(n, cb, arg);
	uint64_t seq;
	uint8_t hash[32];
	char msg[512];

	if (bad < 0) {
		wctl_err("%s %s: store head: %s", o->cmd, o->pos[0], strerror((int)-bad));
		return -1;
	}
	long ab = ns_audit_verify(n, cb, arg);
	if (ab < 0) {
		wctl_err("%s %s: audit trail: %s", o->cmd, o->pos[0], strerror((int)-ab));
		return -1;
	}
	bad += ab;
	if (!o->since)
		return bad;
	if (wctl_parse_since(o->since, &seq, hash)) {
		wctl_err("%s: --since: not a head id (SEQ:HASH as 'wormctl head' prints it, or "
			 "its --json output)", o->cmd);
		return -1;
	}
	int rc = ns_head_since(n, seq, hash, msg, sizeof(msg));
	if (rc == -ESTALE) {
		cb(arg, "ROLLBACK", msg);
		return bad + 1;
	}
	if (rc) {
		cb(arg, "store-head", msg[0] ? msg : strerror(-rc));
		return bad + 1;
	}
	if (!o->json)
		wctl_out("%s: %s", o->pos[0], msg);
	return bad;
}

struct alist {
	json_object *arr;
};

/* Every readable record, authentic or not (audit verify names the ones
 * that fail). */
static int audit_line(void *arg, uint64_t seq, int64_t time_s, const char *text,
		      int authentic)
{
	struct alist *a = arg;
	char ts[32];

	(void)authentic;
	if (clock_format_rfc3339(time_s, ts, sizeof(ts)))
		snprintf(ts, sizeof(ts), "-");
	if (a->arr) {
		json_object *r = json_object_new_object();
		json_object_object_add(r, "seq", json_object_new_uint64(seq));
		json_object_object_add(r, "time", json_object_new_string(ts));
		wctl_json_add_path(r, "record", text);
		json_object_array_add(a->arr, r);
	} else {
		wctl_out("%" PRIu64 " %s %s", seq, ts, text);
	}
	return 0;
}

int wctl_audit(const struct wctl_opts *o)
{
	struct alist a = { NULL };
	int64_t since = INT64_MIN;
	ns *n = NULL;
	int rc;

	if (o->since && clock_parse_rfc3339(o->since, strlen(o->since), &since))
		return wctl_usage(o, "--since: bad time '%s' (RFC 3339, e.g. 2031-01-01T00:00:00Z)",
				  o->since);
	if (wctl_open_store(o, o->pos[0], NS_RDONLY, &n))
		return WCTL_FAIL;
	if (o->json)
		a.arr = json_object_new_array();
	rc = ns_audit_list(n, since, audit_line, &a);
	ns_close(n);
	if (rc) {
		json_object_put(a.arr);
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(-rc));
	}
	if (o->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "records", a.arr);
		wctl_json_print(j);
	}
	return WCTL_OK;
}

struct avctx {
	json_object *arr;
	long count;
};

static int audit_damage(void *arg, const char *where, const char *what)
{
	struct avctx *v = arg;
	v->count++;
	if (v->arr) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "where", json_object_new_string(where));
		json_object_object_add(d, "reason", json_object_new_string(what));
		json_object_array_add(v->arr, d);
	} else {
		wctl_out("DAMAGED %s: %s", where, what);
	}
	return 0;
}

int wctl_audit_verify(const struct wctl_opts *o)
{
	struct avctx v = { NULL, 0 };
	struct whead h;
	ns *n = NULL;
	long bad;

	if (wctl_open_store(o, o->pos[0], NS_RDONLY, &n))
		return WCTL_FAIL;
	if (o->json)
		v.arr = json_object_new_array();
	bad = ns_audit_verify(n, audit_damage, &v);
	if (ns_head_get(n, &h, NULL))
		memset(&h, 0, sizeof(h));
	ns_close(n);
	if (bad < 0) {
		json_object_put(v.arr);
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror((int)-bad));
	}
	if (v.count > bad)
		bad = v.count;
	if (o->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "records", json_object_new_uint64(h.audit_seq));
		json_object_object_add(j, "damaged_count", json_object_new_int64(bad));
		json_object_object_add(j, "damaged", v.arr);
		json_object_object_add(j, "ok", json_object_new_boolean(bad == 0));
		wctl_json_print(j);
	} else if (bad) {
		wctl_out("%s: audit trail of %" PRIu64 " records: %ld problem(s)", o->pos[0],
			 h.audit_seq, bad);
	} else {
		wctl_out("%s: audit trail of %" PRIu64 " records: chain intact, tip matches "
			 "head %" PRIu64, o->pos[0], h.audit_seq, h.seq);
	}
	return bad ? WCTL_FAIL : WCTL_OK;
}
