// SPDX-License-Identifier: GPL-2.0
/*
 * size_class.c - the small size classes.
 *
 * 16-byte steps up to 128 bytes (where most requests are), then four
 * classes per power of two, so that a block wastes at most 25% of its size.
 * Every class is a multiple of 16, which gives malloc's 16-byte alignment
 * for free; power-of-two classes are also aligned to their own size (pages
 * start on 64 KiB boundaries), which aligned_alloc exploits.
 */
#include "mlalloc_types.h"

#define C4(b)                                                         \
	(1u << (b)) + (1u << ((b)-2)), (1u << (b)) + (2u << ((b)-2)), \
		(1u << (b)) + (3u << ((b)-2)), (1u << ((b) + 1))

const uint32_t ml_class_size[MLALLOC_NSMALL] = {
	16,    32,    48,     64,     80,     96,     112,    128,    C4(7),
	C4(8), C4(9), C4(10), C4(11), C4(12), C4(13), C4(14), C4(15), C4(16),
};

_Static_assert(sizeof(ml_class_size) / sizeof(ml_class_size[0]) == MLALLOC_NSMALL,
	       "class table size");

/*
 * A page spans enough slices for at least 8 blocks, at most 8 slices
 * (512 KiB): small pages keep a thread's partially used memory small, and
 * the 8-block minimum keeps page turnover (the slow path) rare.
 */
unsigned ml_class_slices(unsigned cls)
{
	size_t want = (size_t)ml_class_size[cls] * 8;
	size_t s = (want + ML_SLICE_SIZE - 1) / ML_SLICE_SIZE;
	return s > ML_PAGE_MAX_SLICES ? ML_PAGE_MAX_SLICES : (unsigned)s;
}
