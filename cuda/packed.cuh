// The packed index layout of src/format/packing.ts, decoded on the device. Every row is cut into
// groups of 32 weights (a row's last group padded with index 0); a group is read as whole 32-bit
// words and index j is taken out with constant shifts once the j loop is unrolled:
//   4 bits, 16 bytes: byte j (0..15) = w[j] | w[j + 16] << 4
//   3 bits, 12 bytes: bytes 0..7: byte p = lo(w[p]) | lo(w[p+8]) << 2 | lo(w[p+16]) << 4 | lo(w[p+24]) << 6
//                     bytes 8..11 (word 2): bit j = bit 2 of w[j]
//   8 bits, 32 bytes: byte j = w[j]
// Words are little-endian, as the bytes of the file. Must match packedIndexAt() in packing.ts.
#pragma once
#include "common.cuh"

namespace sqz {

constexpr int GROUP = 32;

template <int BITS>
struct Packed {
  static constexpr int BYTES = GROUP * BITS / 8;  // bytes per group
  static constexpr int WORDS = BYTES / 4;

  /** Bytes one packed row of `cols` weights takes (whole groups): rowBytes() in packing.ts. */
  __host__ __device__ static constexpr long row_bytes(int cols) { return (long)((cols + GROUP - 1) / GROUP) * BYTES; }

  /** The group's words (a row starts on a 4-byte boundary: BYTES is a multiple of 4 and the buffer is aligned). */
  __device__ __forceinline__ static void load(const uint8_t* group, uint32_t (&w)[WORDS]) {
    const uint32_t* p = reinterpret_cast<const uint32_t*>(group);
#pragma unroll
    for (int i = 0; i < WORDS; i++) w[i] = __ldg(p + i);
  }

  /** Index j (0..31) of a loaded group (host too: cuda/check/packed_decode.cu tests it without a GPU). */
  __host__ __device__ __forceinline__ static uint32_t index(const uint32_t (&w)[WORDS], int j) {
    if constexpr (BITS == 4) {
      const int b = j & 15;
      return (w[b >> 2] >> (8 * (b & 3) + (j >> 4) * 4)) & 15u;
    } else if constexpr (BITS == 3) {
      const int p = j & 7, q = j >> 3;
      const uint32_t lo = (w[p >> 2] >> (8 * (p & 3) + 2 * q)) & 3u;
      const uint32_t hi = (w[2] >> j) & 1u;
      return lo | hi << 2;
    } else {
      return (w[j >> 2] >> (8 * (j & 3))) & 255u;
    }
  }
};

}  // namespace sqz
