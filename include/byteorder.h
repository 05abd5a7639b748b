/* byteorder: fixed-width integers in a fixed byte order, for on-disk
 * formats. Each format keeps the order it was first written in:
 * little-endian for the key ring, object files, the store head and audit
 * records; big-endian for LMDB keys and values (so that cursor order is
 * numeric order). Any alignment and any host order: memcpy and <endian.h>,
 * which the compiler makes one load or store (and a byte swap). */
#ifndef WORMFS_BYTEORDER_H
#define WORMFS_BYTEORDER_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline void put_le32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_le64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_be32(void *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_be64(void *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint32_t get_le32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t get_le64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint32_t get_be32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static inline uint64_t get_be64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

#endif
