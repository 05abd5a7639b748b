/* byteorder: each helper writes the bytes its format's order says, at any
 * alignment, and reads back what it wrote. Known bytes are spelled out,
 * so a helper that swapped the order (and would change every format on
 * disk) fails here. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "byteorder.h"

static const uint8_t seq8[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };

/* Each helper against the bytes 01 02 ... of seq8. */
static const struct {
	void (*put64)(void *, uint64_t);
	uint64_t (*get64)(const void *);
	uint64_t v64;
	void (*put32)(void *, uint32_t);
	uint32_t (*get32)(const void *);
	uint32_t v32;
} orders[] = {
	{ put_le64, get_le64, 0x0807060504030201ull, put_le32, get_le32, 0x04030201u },
	{ put_be64, get_be64, 0x0102030405060708ull, put_be32, get_be32, 0x01020304u },
};

Test(byteorder, known_bytes)
{
	uint8_t b[8];

	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		orders[i].put64(b, orders[i].v64);
		cr_assert_arr_eq(b, seq8, 8, "order %zu", i);
		cr_assert_eq(orders[i].get64(seq8), orders[i].v64, "order %zu", i);
		memset(b, 0, sizeof(b));
		orders[i].put32(b, orders[i].v32);
		cr_assert_arr_eq(b, seq8, 4, "order %zu", i);
		cr_assert_eq(b[4], 0);
		cr_assert_eq(orders[i].get32(seq8), orders[i].v32, "order %zu", i);
	}
}

/* Big-endian keys sort as their numbers do (LMDB cursor order). */
Test(byteorder, big_endian_sorts_numerically)
{
	static const uint64_t v[] = { 0, 1, 255, 256, 65535, 1ull << 32, UINT64_MAX - 1, UINT64_MAX };
	uint8_t a[8], b[8];

	for (size_t i = 0; i + 1 < sizeof(v) / sizeof(v[0]); i++) {
		put_be64(a, v[i]);
		put_be64(b, v[i + 1]);
		cr_assert_lt(memcmp(a, b, 8), 0, "%llu < %llu", (unsigned long long)v[i],
			     (unsigned long long)v[i + 1]);
	}
}

/* Every offset in a buffer (unaligned fields), extreme values, and no
 * byte outside the field touched. */
Test(byteorder, unaligned_round_trip)
{
	static const uint64_t v64[] = { 0, 1, 0x8000000000000000ull, UINT64_MAX, 0x0123456789abcdefull };
	static const uint32_t v32[] = { 0, 1, 0x80000000u, UINT32_MAX, 0x89abcdefu };
	uint8_t buf[24];

	for (size_t off = 0; off < 8; off++) {
		for (size_t i = 0; i < 5; i++) {
			memset(buf, 0xa5, sizeof(buf));
			put_le64(buf + off, v64[i]);
			cr_assert_eq(get_le64(buf + off), v64[i]);
			put_be64(buf + off + 8, v64[i]);
			cr_assert_eq(get_be64(buf + off + 8), v64[i]);
			for (size_t j = 0; j < off; j++)
				cr_assert_eq(buf[j], 0xa5);
			for (size_t j = off + 16; j < sizeof(buf); j++)
				cr_assert_eq(buf[j], 0xa5);
			memset(buf, 0xa5, sizeof(buf));
			put_le32(buf + off, v32[i]);
			cr_assert_eq(get_le32(buf + off), v32[i]);
			put_be32(buf + off + 4, v32[i]);
			cr_assert_eq(get_be32(buf + off + 4), v32[i]);
			cr_assert_eq(buf[off + 8], 0xa5);
			if (off)
				cr_assert_eq(buf[off - 1], 0xa5);
		}
	}
}
