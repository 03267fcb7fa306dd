// Host-side check of the device decoder of the packed index layout (packed.cuh), runnable without
// a GPU: reads `bits rows cols` (three little-endian int32) and the packed bytes on stdin, writes
// the rows*cols indices Packed<BITS>::index decodes, one byte each, on stdout.
// test/backend/cuda-layout.test.ts compiles it with nvcc and compares with src/format/packing.ts.
#include <cstdio>
#include <cstring>
#include <vector>

#include "../packed.cuh"

template <int BITS>
static void decode(const std::vector<uint8_t>& packed, int rows, int cols, std::vector<uint8_t>& out) {
  using P = sqz::Packed<BITS>;
  const long stride = P::row_bytes(cols);
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) {
      uint32_t w[P::WORDS];
      std::memcpy(w, packed.data() + r * stride + (c / sqz::GROUP) * P::BYTES, sizeof w);
      out[(size_t)r * cols + c] = (uint8_t)P::index(w, c % sqz::GROUP);
    }
}

int main() {
  int32_t head[3];
  if (std::fread(head, sizeof head, 1, stdin) != 1) return 2;
  const int bits = head[0], rows = head[1], cols = head[2];
  std::vector<uint8_t> packed;
  for (int ch; (ch = std::getchar()) != EOF;) packed.push_back((uint8_t)ch);
  std::vector<uint8_t> out((size_t)rows * cols);
  const long need = (long)rows * ((cols + 31) / 32) * (32 * bits / 8);
  if ((long)packed.size() < need) return 3;
  if (bits == 3) decode<3>(packed, rows, cols, out);
  else if (bits == 4) decode<4>(packed, rows, cols, out);
  else if (bits == 8) decode<8>(packed, rows, cols, out);
  else return 4;
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
