/* obj_map: the block map of an object (formats 2 and 3, see
 * include/obj.h): the generation each block was last written in and, in
 * format 3, the write tag it was sealed with, as runs, kept in memory per
 * inode and stored at each commit as a side file sealed with the object's
 * DEK and bound to the generation it describes (format 3: and to the
 * commit record in the content file's header).
 *
 * Runs, not a table: an object written in one session is one run (and no
 * side file at all); a rewrite of a range adds at most two. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obj.h"
#include "obj_priv.h"

#define M_MAGIC 0
#define M_ID 8
#define M_GEN 24
#define M_NRUNS 32
#define M_NONCE 40
#define M_RUNS (M_NONCE + WCRYPTO_NONCEBYTES)
#define M_RUN 16
/* One run per block at most, plus the run past the end. */
#define M_MAX_RUNS (OBJ_MAX_SIZE / OBJ_BLOCK_SIZE + 1)

static const char map_magic[8] = { 'W', 'O', 'R', 'M', 'M', 'A', 'P', '1' };

/* Format 3 map file: "WORMMAP3" | id | u64 gen | u64 commit id | u64 nruns
 * | nonce | runs (u64 first, u64 gen, u64 tag) | tag[16]. */
#define M3_COMMIT 32
#define M3_NRUNS 40
#define M3_NONCE 48
#define M3_RUNS (M3_NONCE + WCRYPTO_NONCEBYTES)
#define M3_RUN 24
static const char map3_magic[8] = { 'W', 'O', 'R', 'M', 'M', 'A', 'P', '3' };
static const char rec_magic[8] = { 'W', 'O', 'R', 'M', 'R', 'E', 'C', '3' };
/* Commit record fields (obj_priv.h). */
#define R_GEN 0
#define R_KIND 8
#define R_X 16
#define R_Y 24
#define R_NONCE 32
#define R_TAG (R_NONCE + WCRYPTO_NONCEBYTES)
_Static_assert(WCRYPTO_TAGBYTES == OBJ_COMMIT_BYTES, "a record's tag is its commit name");

static const char *map_suffix(uint64_t gen)
{
	return gen & 1 ? OBJ_MAP_SUFFIX1 : OBJ_MAP_SUFFIX0;
}

static int map_alloc(unsigned fmt, uint64_t gen, uint64_t tag, obj_map **out)
{
	obj_map *m = calloc(1, sizeof(*m));

	if (!m || !(m->v = malloc(4 * sizeof(*m->v)))) {
		free(m);
		return -ENOMEM;
	}
	m->fmt = fmt;
	m->cap = 4;
	m->n = 1;
	m->v[0].first = 0;
	m->v[0].gen = gen;
	m->v[0].tag = tag;
	*out = m;
	return 0;
}

int obj_map_new(obj_map **out)
{
	return map_alloc(OBJ_FORMAT_V3, 0, 0, out);
}

size_t obj_map_runs(const obj_map *m)
{
	return m->n;
}

unsigned obj_map_format(const obj_map *m)
{
	return m->fmt;
}

void obj_map_free(obj_map *m)
{
	if (!m)
		return;
	free(m->v);
	free(m);
}

/* Index of the run holding block b. */
static size_t run_of(const obj_map *m, uint64_t b)
{
	size_t lo = 0, hi = m->n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].first <= b)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

uint64_t obj_map_gen(const obj_map *m, uint64_t b, uint64_t *tag)
{
	const struct obj_run *x = &m->v[run_of(m, b)];

	if (tag)
		*tag = x->tag;
	return x->gen;
}

/* A fresh write tag: random (a killed session's tags are nowhere on
 * record, so a counter could repeat them), never 0 (no tag). */
static uint64_t tag_fresh(void)
{
	uint8_t b[8];
	uint64_t t;

	do {
		wcrypto_random(b, sizeof(b));
		t = get_le64(b);
	} while (!t);
	return t;
}

uint64_t obj_map_write_tag(obj_map *m, uint64_t write_gen, uint64_t first, uint64_t last,
			   uint64_t skip)
{
	int again = 0;

	if (m->fmt < OBJ_FORMAT_V3)
		return 0;
	if (m->sess_gen == write_gen && m->tag) {
		/* Runs meeting [first, last] sealed under the current tag. */
		for (size_t i = run_of(m, first); i < m->n && m->v[i].first <= last && !again; i++) {
			uint64_t lo = m->v[i].first > first ? m->v[i].first : first;
			uint64_t hi = i + 1 < m->n && m->v[i + 1].first - 1 < last ?
				      m->v[i + 1].first - 1 : last;
			if (m->v[i].gen == write_gen && m->v[i].tag == m->tag &&
			    !(lo == skip && hi == skip))
				again = 1;
		}
	}
	if (m->sess_gen != write_gen || !m->tag || again) {
		m->sess_gen = write_gen;
		m->tag = tag_fresh();
	}
	return m->tag;
}

void obj_map_retag(obj_map *m)
{
	m->tag = 0;
}

int obj_map_reserve(obj_map *m)
{
	if (m->n + 2 <= m->cap)
		return 0;
	size_t cap = 2 * m->cap + 2;
	struct obj_run *v = realloc(m->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->v = v;
	m->cap = cap;
	return 0;
}

void obj_map_set(obj_map *m, uint64_t first, uint64_t last, uint64_t gen, uint64_t tag)
{
	uint64_t atag, after = obj_map_gen(m, last + 1, &atag);
	size_t i = 0, j, k = 0;

	/* Runs starting in [first, last + 1] go; {first, gen} and
	 * {last + 1, after} come in their place. */
	while (i < m->n && m->v[i].first < first)
		i++;
	j = i;
	while (j < m->n && m->v[j].first <= last + 1)
		j++;
	memmove(m->v + i + 2, m->v + j, (m->n - j) * sizeof(*m->v));
	m->n = m->n - (j - i) + 2;
	m->v[i].first = first;
	m->v[i].gen = gen;
	m->v[i].tag = tag;
	m->v[i + 1].first = last + 1;
	m->v[i + 1].gen = after;
	m->v[i + 1].tag = atag;
	/* Merge neighbours of one generation and tag. */
	for (size_t r = 0; r < m->n; r++)
		if (!k || m->v[k - 1].gen != m->v[r].gen || m->v[k - 1].tag != m->v[r].tag)
			m->v[k++] = m->v[r];
	m->n = k;
}

static int map_save3(store *s, int fd, const struct obj_ref *r, int durable,
		     uint8_t commit[OBJ_COMMIT_BYTES]);

int obj_map_save(store *s, int fd, const struct obj_ref *r, int durable,
		 uint8_t commit[OBJ_COMMIT_BYTES])
{
	const obj_map *m = r->map;
	uint64_t nblocks = r->size ? (r->size - 1) / BS + 1 : 0;
	size_t nruns = 0, len;
	uint8_t *buf, dummy = 0;
	int rc;

	memset(commit, 0, OBJ_COMMIT_BYTES);
	if (m->fmt >= OBJ_FORMAT_V3)
		return map_save3(s, fd, r, durable, commit);
	fd = -1;
	while (nruns < m->n && m->v[nruns].first < nblocks)
		nruns++;
	if (nruns == 0 || (nruns == 1 && m->v[0].gen == r->write_gen)) {
		/* Implied: every block carries write_gen. A map file of that
		 * parity is another generation's (or an interrupted session's
		 * of the same one): it must not be found. */
		rc = store_aux_unlink(s, r->id, map_suffix(r->write_gen));
		return rc == -ENOENT ? 0 : rc;
	}
	len = M_RUNS + nruns * M_RUN + WCRYPTO_TAGBYTES;
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf + M_MAGIC, map_magic, 8);
	memcpy(buf + M_ID, r->id, 16);
	put_le64(buf + M_GEN, r->write_gen);
	put_le64(buf + M_NRUNS, nruns);
	for (size_t i = 0; i < nruns; i++) {
		put_le64(buf + M_RUNS + i * M_RUN, m->v[i].first);
		put_le64(buf + M_RUNS + i * M_RUN + 8, m->v[i].gen);
	}
	obj_nonce_fresh(r->key, buf + M_NONCE);
	rc = wcrypto_aead_seal(r->key, &dummy, buf + len - WCRYPTO_TAGBYTES, &dummy, 0, buf,
			       len - WCRYPTO_TAGBYTES, buf + M_NONCE);
	if (!rc)
		rc = store_aux_open(s, r->id, map_suffix(r->write_gen),
				    O_WRONLY | O_CREAT | O_TRUNC, &fd);
	if (!rc)
		rc = obj_pwrite_full(fd, buf, len, 0);
	if (!rc && durable && fdatasync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* ---- format 3: commit records and map files ------------------------------- */

static void rec_ad(uint8_t ad[8 + 16 + R_NONCE], const uint8_t id[16], const uint8_t *rec)
{
	memcpy(ad, rec_magic, 8);
	memcpy(ad + 8, id, 16);
	memcpy(ad + 24, rec, R_NONCE);
}

static uint64_t rec_off(uint64_t gen)
{
	return H_REC + (gen & 1) * H_REC_LEN;
}

/* Write the commit record of r->write_gen into the header of fd (its
 * parity's slot: the committed generation's record stays as it is); its
 * tag, which names this record among every one of that generation (a
 * fresh nonce each), into commit. */
static int rec_write(int fd, const struct obj_ref *r, uint64_t kind, uint64_t x, uint64_t y,
		     uint8_t commit[OBJ_COMMIT_BYTES])
{
	uint8_t rec[H_REC_LEN], ad[8 + 16 + R_NONCE], dummy = 0;
	int rc;

	memset(rec, 0, sizeof(rec));
	put_le64(rec + R_GEN, r->write_gen);
	put_le64(rec + R_KIND, kind);
	put_le64(rec + R_X, x);
	put_le64(rec + R_Y, y);
	obj_nonce_fresh(r->key, rec + R_NONCE);
	rec_ad(ad, r->id, rec);
	rc = wcrypto_aead_seal(r->key, &dummy, rec + R_TAG, &dummy, 0, ad, sizeof(ad),
			       rec + R_NONCE);
	if (!rc)
		rc = obj_pwrite_full(fd, rec, sizeof(rec), rec_off(r->write_gen));
	if (!rc)
		memcpy(commit, rec + R_TAG, OBJ_COMMIT_BYTES);
	return rc;
}

/* The record in slot parity of the header: 0 if it authenticates (for
 * this object, any generation), -ENOENT if the slot was never written,
 * -EIO if it fails. */
static int rec_open(const uint8_t hdr[OBJ_HEADER_SIZE], const struct obj_ref *r,
		    uint64_t parity)
{
	const uint8_t *rec = hdr + rec_off(parity);
	uint8_t ad[8 + 16 + R_NONCE], dummy = 0;

	for (size_t i = 0; i < H_REC_LEN && rec[i] == 0; i++)
		if (i == H_REC_LEN - 1)
			return -ENOENT;   /* never written */
	if (!obj_nonce_ok(r->key, rec + R_NONCE))
		return -EIO;
	rec_ad(ad, r->id, rec);
	if (wcrypto_aead_open(r->key, &dummy, &dummy, 0, rec + R_TAG, ad, sizeof(ad),
			      rec + R_NONCE))
		return -EIO;
	return 0;
}

/* The commit record of r->gen from the header bytes: 0 and kind, x, y;
 * -ENOENT if the slot holds another generation's (or none: an older copy
 * of the file); -EIO if it fails authentication. */
static int rec_read(const uint8_t hdr[OBJ_HEADER_SIZE], const struct obj_ref *r,
		    uint64_t *kind, uint64_t *x, uint64_t *y)
{
	const uint8_t *rec = hdr + rec_off(r->gen);
	int rc = rec_open(hdr, r, r->gen);

	if (rc)
		return rc;
	if (get_le64(rec + R_GEN) != r->gen)
		return -ENOENT;
	*kind = get_le64(rec + R_KIND);
	*x = get_le64(rec + R_X);
	*y = get_le64(rec + R_Y);
	return 0;
}

/* 1 if the caller recorded which commit record it committed. */
static int commit_named(const struct obj_ref *r)
{
	static const uint8_t none[OBJ_COMMIT_BYTES];

	return memcmp(r->commit, none, sizeof(none)) != 0;
}

/* 1 if the (authentic) record of r->gen in hdr is the one the caller
 * committed, or the caller recorded none. The tag names the record: a
 * forged one would not authenticate. */
static int rec_bound(const uint8_t hdr[OBJ_HEADER_SIZE], const struct obj_ref *r)
{
	return !commit_named(r) ||
	       !memcmp(hdr + rec_off(r->gen) + R_TAG, r->commit, OBJ_COMMIT_BYTES);
}

/* Legacy binding (obj_commit_tag): the tag of r->gen's record in hdr, if
 * it authenticates. */
int obj_map_commit_tag(const uint8_t hdr[OBJ_HEADER_SIZE], const struct obj_ref *r,
		       uint8_t tag[OBJ_COMMIT_BYTES])
{
	uint64_t kind, x, y;
	int rc = rec_read(hdr, r, &kind, &x, &y);

	if (!rc)
		memcpy(tag, hdr + rec_off(r->gen) + R_TAG, OBJ_COMMIT_BYTES);
	return rc;
}

static int map_save3(store *s, int fd, const struct obj_ref *r, int durable,
		     uint8_t commit[OBJ_COMMIT_BYTES])
{
	const obj_map *m = r->map;
	uint64_t nblocks = r->size ? (r->size - 1) / BS + 1 : 0, cid;
	size_t nruns = 0, len;
	uint8_t *buf, dummy = 0;
	int mfd = -1, rc;

	while (nruns < m->n && m->v[nruns].first < nblocks)
		nruns++;
	if (nruns <= 1) {
		/* One run: the record says it all. A map file of this
		 * parity is another generation's or an interrupted
		 * session's: the record names none, remove it anyway. */
		rc = store_aux_unlink(s, r->id, map_suffix(r->write_gen));
		if (rc && rc != -ENOENT)
			return rc;
		return rec_write(fd, r, REC_SINGLE, m->v[0].gen, m->v[0].tag, commit);
	}
	/* The commit id binds the record to this map file, not to one that
	 * a killed session of the same generation wrote. */
	cid = 0;
	wcrypto_random(&cid, sizeof(cid));
	len = M3_RUNS + nruns * M3_RUN + WCRYPTO_TAGBYTES;
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf + M_MAGIC, map3_magic, 8);
	memcpy(buf + M_ID, r->id, 16);
	put_le64(buf + M_GEN, r->write_gen);
	put_le64(buf + M3_COMMIT, cid);
	put_le64(buf + M3_NRUNS, nruns);
	for (size_t i = 0; i < nruns; i++) {
		put_le64(buf + M3_RUNS + i * M3_RUN, m->v[i].first);
		put_le64(buf + M3_RUNS + i * M3_RUN + 8, m->v[i].gen);
		put_le64(buf + M3_RUNS + i * M3_RUN + 16, m->v[i].tag);
	}
	obj_nonce_fresh(r->key, buf + M3_NONCE);
	rc = wcrypto_aead_seal(r->key, &dummy, buf + len - WCRYPTO_TAGBYTES, &dummy, 0, buf,
			       len - WCRYPTO_TAGBYTES, buf + M3_NONCE);
	if (!rc)
		rc = store_aux_open(s, r->id, map_suffix(r->write_gen),
				    O_WRONLY | O_CREAT | O_TRUNC, &mfd);
	if (!rc)
		rc = obj_pwrite_full(mfd, buf, len, 0);
	if (!rc && durable && fdatasync(mfd) < 0)
		rc = -errno;
	if (mfd >= 0)
		close(mfd);
	free(buf);
	/* The record last: until it is written the map file is nobody's. */
	return rc ? rc : rec_write(fd, r, REC_MAPFILE, cid, 0, commit);
}

/* The runs of r->gen's map file with commit id commit into m; -ENOENT
 * when there is none of that generation and commit, -EIO when it fails
 * authentication or does not make sense. */
static int map_read3(store *s, const struct obj_ref *r, uint64_t commit, obj_map *m)
{
	uint8_t head[M3_RUNS], *buf = NULL, dummy = 0;
	uint64_t nruns;
	size_t len;
	ssize_t got;
	int fd, rc;

	rc = store_aux_open(s, r->id, map_suffix(r->gen), O_RDONLY, &fd);
	if (rc)
		return rc;
	got = obj_pread_full(fd, head, sizeof(head), 0);
	if (got < 0) {
		rc = (int)got;
		goto out;
	}
	if ((size_t)got < sizeof(head) || memcmp(head + M_MAGIC, map3_magic, 8) ||
	    memcmp(head + M_ID, r->id, 16) || get_le64(head + M_GEN) != r->gen ||
	    get_le64(head + M3_COMMIT) != commit) {
		rc = -ENOENT;
		goto out;
	}
	rc = -EIO;
	nruns = get_le64(head + M3_NRUNS);
	if (nruns == 0 || nruns > M_MAX_RUNS)
		goto out;
	len = M3_RUNS + (size_t)nruns * M3_RUN + WCRYPTO_TAGBYTES;
	buf = malloc(len + 1);   /* + 1: a longer file is no map either */
	if (!buf || !(m->v = malloc((size_t)nruns * sizeof(*m->v)))) {
		rc = -ENOMEM;
		goto out;
	}
	m->cap = (size_t)nruns;
	if (obj_pread_full(fd, buf, len + 1, 0) != (ssize_t)len ||
	    !obj_nonce_ok(r->key, buf + M3_NONCE) ||
	    wcrypto_aead_open(r->key, &dummy, &dummy, 0, buf + len - WCRYPTO_TAGBYTES, buf,
			      len - WCRYPTO_TAGBYTES, buf + M3_NONCE))
		goto out;
	for (size_t i = 0; i < nruns; i++) {
		struct obj_run *x = &m->v[i];
		x->first = get_le64(buf + M3_RUNS + i * M3_RUN);
		x->gen = get_le64(buf + M3_RUNS + i * M3_RUN + 8);
		x->tag = get_le64(buf + M3_RUNS + i * M3_RUN + 16);
		if (x->gen > r->gen || (x->gen == 0) != (x->tag == 0) ||
		    (i == 0 ? x->first != 0 : x->first <= m->v[i - 1].first))
			goto out;
	}
	m->n = (size_t)nruns;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Format 3: the map of r->gen from its commit record (and map file) into
 * m (allocated by map_alloc with one run). No record of r->gen, a record
 * naming a map file that is not there, or a record other than the one
 * the caller committed (m->unbound: a killed session's, put back): every
 * block is unknown (a run of r->gen with tag 0), so each fails as stale,
 * never read. */
static int map_load3(store *s, const uint8_t hdr[OBJ_HEADER_SIZE], const struct obj_ref *r,
		     int strict, obj_map *m)
{
	uint64_t kind, x, y;
	struct obj_run *one = m->v;
	int rc;

	/* The other slot (the previous generation's, or one a session wrote
	 * before its commit failed or was killed) is not read, but a byte
	 * changed there is damage all the same. Not while a commit may be
	 * writing it (strict 0: a live verify). */
	if (strict && rec_open(hdr, r, r->gen + 1) == -EIO)
		return -EIO;
	if (r->gen == 0) {
		/* Never committed: no blocks (a run of holes). */
		return strict && rec_open(hdr, r, 0) == -EIO ? -EIO : 0;
	}
	rc = rec_read(hdr, r, &kind, &x, &y);
	if (!rc && !rec_bound(hdr, r)) {
		m->unbound = 1;
		rc = -ENOENT;
	}
	if (rc == -ENOENT) {
		m->v[0].gen = r->gen;
		m->v[0].tag = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (kind == REC_SINGLE) {
		if (x > r->gen || (x == 0) != (y == 0))
			return -EIO;
		m->v[0].gen = x;
		m->v[0].tag = y;
		return 0;
	}
	if (kind != REC_MAPFILE)
		return -EIO;
	m->v = NULL;
	rc = map_read3(s, r, x, m);
	if (rc == -ENOENT) {
		free(m->v);
		m->v = one;
		m->n = 1;
		m->cap = 4;
		m->v[0].gen = r->gen;
		m->v[0].tag = 0;
		return 0;
	}
	if (rc) {
		free(m->v);
		m->v = one;
		m->n = 1;
		m->cap = 4;
		return rc;
	}
	free(one);
	return 0;
}

/* The stored map of r->gen into m; -ENOENT when there is none (of that
 * generation), -EIO when one fails authentication or does not make sense. */
static int map_read(store *s, const struct obj_ref *r, obj_map *m)
{
	uint8_t head[M_RUNS], *buf = NULL, dummy = 0;
	uint64_t nruns, gmax = r->gen;
	size_t len;
	ssize_t got;
	int fd, rc;

	rc = store_aux_open(s, r->id, map_suffix(r->gen), O_RDONLY, &fd);
	if (rc)
		return rc;
	got = obj_pread_full(fd, head, sizeof(head), 0);
	if (got < 0) {
		rc = (int)got;
		goto out;
	}
	/* Another generation's map (two commits ago) or an interrupted
	 * session's: not this state's. */
	if ((size_t)got < sizeof(head) || memcmp(head + M_MAGIC, map_magic, 8) ||
	    memcmp(head + M_ID, r->id, 16) || get_le64(head + M_GEN) != r->gen) {
		rc = -ENOENT;
		goto out;
	}
	rc = -EIO;
	nruns = get_le64(head + M_NRUNS);
	if (nruns == 0 || nruns > M_MAX_RUNS)
		goto out;
	len = M_RUNS + (size_t)nruns * M_RUN + WCRYPTO_TAGBYTES;
	buf = malloc(len + 1);   /* + 1: a longer file is no map either */
	if (!buf || !(m->v = malloc((size_t)nruns * sizeof(*m->v)))) {
		rc = -ENOMEM;
		goto out;
	}
	m->cap = (size_t)nruns;
	if (obj_pread_full(fd, buf, len + 1, 0) != (ssize_t)len ||
	    !obj_nonce_ok(r->key, buf + M_NONCE) ||
	    wcrypto_aead_open(r->key, &dummy, &dummy, 0, buf + len - WCRYPTO_TAGBYTES, buf,
			      len - WCRYPTO_TAGBYTES, buf + M_NONCE))
		goto out;
	for (size_t i = 0; i < nruns; i++) {
		m->v[i].first = get_le64(buf + M_RUNS + i * M_RUN);
		m->v[i].gen = get_le64(buf + M_RUNS + i * M_RUN + 8);
		m->v[i].tag = 0;
		if (m->v[i].gen > gmax || (i == 0 ? m->v[i].first != 0 :
					   m->v[i].first <= m->v[i - 1].first))
			goto out;
	}
	m->n = (size_t)nruns;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

int obj_map_load(store *s, int fd, const struct obj_ref *r, obj_map **out)
{
	return obj_map_load_ex(s, fd, r, 1, out);
}

int obj_map_load_ex(store *s, int fd, const struct obj_ref *r, int strict, obj_map **out)
{
	uint8_t hdr[OBJ_HEADER_SIZE];
	unsigned fmt;
	obj_map *m = NULL;
	int rc;

	if (!r->key)
		return -EINVAL;
	rc = obj_header_read(fd, r, &fmt, hdr);
	if (!rc)
		rc = map_alloc(fmt, r->gen, 0, &m);
	if (rc)
		return rc;
	if (fmt >= OBJ_FORMAT_V3) {
		rc = map_load3(s, hdr, r, strict, m);
		if (!rc)
			rc = obj_map_reserve(m);
	} else if (fmt >= OBJ_FORMAT_V2) {
		struct obj_run *one = m->v;
		m->v = NULL;
		rc = map_read(s, r, m);
		if (rc == -ENOENT) {
			/* None: every block carries exactly r->gen. */
			free(m->v);
			m->v = one;
			m->n = 1;
			m->cap = 4;
			rc = 0;
		} else {
			free(one);
		}
		if (!rc)
			rc = obj_map_reserve(m);
	}
	/* Formats 1 and 2 have no commit record: a file of one where the
	 * caller committed a record is not the file it committed. */
	if (!rc && fmt < OBJ_FORMAT_V3 && commit_named(r))
		m->unbound = 1;
	if (rc) {
		obj_map_free(m);
		return rc;
	}
	/* Reads fail at once, and no commit of a session that did not
	 * rewrite every block can succeed (format 3: unknown blocks). */
	if (m->unbound)
		atomic_store_explicit(&m->damaged, 1, memory_order_relaxed);
	*out = m;
	return 0;
}
