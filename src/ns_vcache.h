/* Private to the ns module: node records whose MAC was checked (or made)
 * before, so that the next read of the same bytes skips the keyed hash
 * (src/ns_vcache.c). */
#ifndef WORMFS_NS_VCACHE_H
#define WORMFS_NS_VCACHE_H

#include "meta.h"

struct ns_vcache;

/* NULL when out of memory: every record is then checked in full. */
struct ns_vcache *ns_vcache_new(void);
void ns_vcache_free(struct ns_vcache *vc);
/* 1 if a record with exactly these bytes was noted, 0 if not (vc NULL). */
int ns_vcache_known(struct ns_vcache *vc, const struct meta_node *nd);
/* Note a record whose MAC is right (checked, or just made). */
void ns_vcache_note(struct ns_vcache *vc, const struct meta_node *nd);

#endif
