/* inoset: see include/inoset.h. */
#include <errno.h>
#include <stdlib.h>
#include "inoset.h"

static size_t slot_of(uint64_t ino, size_t cap)
{
	return (size_t)(ino * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

/* Kept at most half full, so probes stay short and always end. */
static int grow(struct inoset *s)
{
	size_t cap = s->cap ? 2 * s->cap : 256;
	uint64_t *nv = calloc(cap, sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		uint64_t v = s->v[i];
		if (!v)
			continue;
		size_t j = slot_of(v, cap);
		while (nv[j])
			j = (j + 1) & (cap - 1);
		nv[j] = v;
	}
	free(s->v);
	s->v = nv;
	s->cap = cap;
	return 0;
}

int inoset_add(struct inoset *s, uint64_t ino)
{
	if (!ino)
		return -EINVAL;
	if (2 * (s->n + 1) > s->cap) {
		int rc = grow(s);
		if (rc)
			return rc;
	}
	size_t j = slot_of(ino, s->cap);
	while (s->v[j]) {
		if (s->v[j] == ino)
			return 0;
		j = (j + 1) & (s->cap - 1);
	}
	s->v[j] = ino;
	s->n++;
	return 1;
}

void inoset_free(struct inoset *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
