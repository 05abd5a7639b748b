/* s3_keycache: hits, generations (a user change drops every key made
 * before it), scopes, the bound and references that outlive an entry. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "crypto.h"
#include "../../src/s3_keycache.h"

static void setup(void)
{
	cr_assert_eq(wcrypto_init(), 0);
}
TestSuite(s3_keycache, .init = setup);

static const uint8_t SECRET[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

static void auth(struct sigv4_auth *a, const char *ak, const char *date)
{
	memset(a, 0, sizeof(*a));
	a->kind = SIGV4_HEADER;
	snprintf(a->access_key, sizeof(a->access_key), "%s", ak);
	snprintf(a->scope_date, sizeof(a->scope_date), "%s", date);
	strcpy(a->region, "us-east-1");
	strcpy(a->service, "s3");
}

static sigv4_key *key(const struct sigv4_auth *a)
{
	sigv4_key *k = NULL;
	cr_assert_eq(sigv4_key_new(SECRET, sizeof(SECRET) - 1, a, &k), 0);
	return k;
}

static void user(struct ns_user *u, const char *ak, uint32_t uid)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "u%u", uid);
	snprintf(u->access_key_id, sizeof(u->access_key_id), "%s", ak);
	u->uid = u->gid = uid;
	u->ngroups = 1;
	u->groups[0] = 4242;
}

Test(s3_keycache, hit_and_identity)
{
	s3_keycache *c;
	struct sigv4_auth a;
	struct ns_user u;
	struct s3_keycache_hit h;

	cr_assert_eq(s3_keycache_new(8, &c), 0);
	auth(&a, "AKIAONE", "20261207");
	user(&u, "AKIAONE", 1001);
	cr_expect_eq(s3_keycache_get(c, &a, 0, &h), 0);
	s3_keycache_put(c, &a, 0, key(&a), &u);
	cr_assert_eq(s3_keycache_get(c, &a, 0, &h), 1);
	cr_expect_eq(sigv4_key_fits(h.key, &a), 1);
	cr_expect_eq(h.user.uid, 1001);
	cr_expect_eq(h.user.ngroups, 1);
	cr_expect_eq(h.user.groups[0], 4242);
	s3_keycache_release(c, &h);
	cr_expect_null(h.ref);
	/* another access key id: a miss */
	auth(&a, "AKIATWO", "20261207");
	cr_expect_eq(s3_keycache_get(c, &a, 0, &h), 0);
	s3_keycache_free(c);
	s3_keycache_free(NULL);
}

Test(s3_keycache, generation_drops_everything_before_it)
{
	s3_keycache *c;
	struct sigv4_auth a, b;
	struct ns_user u, v;
	struct s3_keycache_hit h;

	cr_assert_eq(s3_keycache_new(8, &c), 0);
	auth(&a, "AKIAONE", "20261207");
	auth(&b, "AKIATWO", "20261207");
	user(&u, "AKIAONE", 1001);
	user(&v, "AKIATWO", 1002);
	s3_keycache_put(c, &a, 5, key(&a), &u);
	s3_keycache_put(c, &b, 5, key(&b), &v);
	cr_expect_eq(s3_keycache_count(c), 2);
	/* a user was removed (or added): generation 6 */
	cr_expect_eq(s3_keycache_get(c, &b, 6, &h), 0);
	cr_expect_eq(s3_keycache_count(c), 0);
	cr_expect_eq(s3_keycache_get(c, &a, 6, &h), 0);
	/* a request that read generation 5 before the change, and finished
	 * its lookup after another request saw 6: not kept */
	s3_keycache_put(c, &a, 5, key(&a), &u);
	cr_expect_eq(s3_keycache_count(c), 0);
	cr_expect_eq(s3_keycache_get(c, &a, 5, &h), 0);
	/* a request of the old generation never hits a new entry either */
	s3_keycache_put(c, &a, 6, key(&a), &u);
	cr_expect_eq(s3_keycache_get(c, &a, 5, &h), 0);
	cr_expect_eq(s3_keycache_get(c, &a, 6, &h), 1);
	s3_keycache_release(c, &h);
	s3_keycache_free(c);
}

Test(s3_keycache, scopes_side_by_side)
{
	s3_keycache *c;
	struct sigv4_auth a, d2, d3;
	struct ns_user u;
	struct s3_keycache_hit h;

	cr_assert_eq(s3_keycache_new(8, &c), 0);
	auth(&a, "AKIAONE", "20261207");
	auth(&d2, "AKIAONE", "20261208");
	auth(&d3, "AKIAONE", "20261209");
	user(&u, "AKIAONE", 1001);
	s3_keycache_put(c, &a, 0, key(&a), &u);
	/* the next day: the old key does not fit */
	cr_expect_eq(s3_keycache_get(c, &d2, 0, &h), 0);
	s3_keycache_put(c, &d2, 0, key(&d2), &u);
	/* both scopes are kept (a presigned URL of yesterday and today's
	 * requests alternating: no miss, no KMS unseal, each time) */
	cr_expect_eq(s3_keycache_count(c), 2);
	cr_assert_eq(s3_keycache_get(c, &a, 0, &h), 1);
	s3_keycache_release(c, &h);
	cr_assert_eq(s3_keycache_get(c, &d2, 0, &h), 1);
	s3_keycache_release(c, &h);
	/* the same scope again replaces its entry */
	s3_keycache_put(c, &d2, 0, key(&d2), &u);
	cr_expect_eq(s3_keycache_count(c), 2);
	/* a key that does not fit the request, or a user of another key id,
	 * is not kept */
	s3_keycache_put(c, &d3, 0, key(&d2), &u);
	cr_expect_eq(s3_keycache_get(c, &d3, 0, &h), 0);
	struct ns_user other;
	user(&other, "AKIAOTHER", 7);
	s3_keycache_put(c, &d3, 0, key(&d3), &other);
	cr_expect_eq(s3_keycache_get(c, &d3, 0, &h), 0);
	cr_expect_eq(s3_keycache_count(c), 2);
	s3_keycache_free(c);
}

Test(s3_keycache, bounded_lru)
{
	s3_keycache *c;
	struct sigv4_auth a[10];
	struct ns_user u;
	struct s3_keycache_hit h;
	char ak[32];

	cr_expect_eq(s3_keycache_new(0, &c), -EINVAL);
	cr_expect_eq(s3_keycache_new(4097, &c), -EINVAL);
	cr_assert_eq(s3_keycache_new(4, &c), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(ak, sizeof(ak), "AKIA%02d", i);
		auth(&a[i], ak, "20261207");
		user(&u, ak, 1000 + (uint32_t)i);
		s3_keycache_put(c, &a[i], 0, key(&a[i]), &u);
		if (i >= 1) {   /* keep AKIA00 the most recently used */
			cr_assert_eq(s3_keycache_get(c, &a[0], 0, &h), 1, "i=%d", i);
			s3_keycache_release(c, &h);
		}
		cr_expect_leq(s3_keycache_count(c), 4);
	}
	cr_expect_eq(s3_keycache_count(c), 4);
	cr_expect_eq(s3_keycache_get(c, &a[1], 0, &h), 0);   /* went first */
	cr_assert_eq(s3_keycache_get(c, &a[9], 0, &h), 1);
	cr_expect_eq(h.user.uid, 1009);
	s3_keycache_release(c, &h);
	s3_keycache_free(c);
}

Test(s3_keycache, hit_outlives_dropped_entry)
{
	s3_keycache *c;
	struct sigv4_auth a;
	struct ns_user u;
	struct s3_keycache_hit h, h2;

	cr_assert_eq(s3_keycache_new(2, &c), 0);
	auth(&a, "AKIAONE", "20261207");
	user(&u, "AKIAONE", 1001);
	s3_keycache_put(c, &a, 0, key(&a), &u);
	cr_assert_eq(s3_keycache_get(c, &a, 0, &h), 1);
	cr_assert_eq(s3_keycache_get(c, &a, 0, &h2), 1);
	/* a user change drops the entry while two requests use its key */
	cr_expect_eq(s3_keycache_get(c, &a, 1, &h2 /* untouched on a miss */), 0);
	cr_expect_eq(s3_keycache_count(c), 0);
	cr_expect_eq(sigv4_key_fits(h.key, &a), 1);   /* still valid memory */
	s3_keycache_release(c, &h);
	cr_expect_eq(sigv4_key_fits(h2.key, &a), 1);
	s3_keycache_release(c, &h2);
	s3_keycache_free(c);
}
