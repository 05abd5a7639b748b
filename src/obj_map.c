/* obj_map: the block map of an object (format 2, see include/obj.h): the
 * generation each block was last written in, as runs, kept in memory per
 * inode and stored at each commit as a side file sealed with the object's
 * DEK and bound to the generation it describes.
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

static const char *map_suffix(uint64_t gen)
{
	return gen & 1 ? OBJ_MAP_SUFFIX1 : OBJ_MAP_SUFFIX0;
}

static int map_alloc(unsigned fmt, uint64_t gen, obj_map **out)
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
	*out = m;
	return 0;
}

int obj_map_new(obj_map **out)
{
	return map_alloc(OBJ_FORMAT_V2, 0, out);
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

uint64_t obj_map_gen(const obj_map *m, uint64_t b)
{
	return m->v[run_of(m, b)].gen;
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

void obj_map_set(obj_map *m, uint64_t first, uint64_t last, uint64_t gen)
{
	uint64_t after = obj_map_gen(m, last + 1);
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
	m->v[i + 1].first = last + 1;
	m->v[i + 1].gen = after;
	/* Merge neighbours of one generation. */
	for (size_t r = 0; r < m->n; r++)
		if (!k || m->v[k - 1].gen != m->v[r].gen)
			m->v[k++] = m->v[r];
	m->n = k;
}

int obj_map_save(store *s, const struct obj_ref *r, int durable)
{
	const obj_map *m = r->map;
	uint64_t nblocks = r->size ? (r->size - 1) / BS + 1 : 0;
	size_t nruns = 0, len;
	uint8_t *buf, dummy = 0;
	int fd = -1, rc;

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
	unsigned fmt;
	obj_map *m = NULL;
	int rc;

	if (!r->key)
		return -EINVAL;
	rc = obj_header_read(fd, r, &fmt);
	if (!rc)
		rc = map_alloc(fmt, r->gen, &m);
	if (rc)
		return rc;
	if (fmt >= OBJ_FORMAT_V2) {
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
	if (rc) {
		obj_map_free(m);
		return rc;
	}
	*out = m;
	return 0;
}
