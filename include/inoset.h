/* inoset: a growing set of inode numbers (open addressing), for the walks
 * that must enter each directory once whatever the records say (a record
 * edited into a loop). Not shared between threads. */
#ifndef WORMFS_INOSET_H
#define WORMFS_INOSET_H

#include <stddef.h>
#include <stdint.h>

struct inoset {
	uint64_t *v;              /* 0 marks a free slot */
	size_t n, cap;            /* cap: 0 or a power of two */
};

/* Add ino (not 0): 1 if it was new, 0 if already there; -EINVAL for 0,
 * -ENOMEM (the set unchanged). A zeroed struct is an empty set. */
int inoset_add(struct inoset *s, uint64_t ino);
void inoset_free(struct inoset *s);

#endif
