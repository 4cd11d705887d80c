#pragma once
// Text sixteen bytes at a time (SSE2), for scans that find the first byte of a kind in one step:
// the JSON index's strings, HTTP header names and values.

#if defined(__SSE2__)

#include <emmintrin.h>

#include <cstddef>
#include <cstring>

namespace costgate::text {

// The 16 bytes at `at`, or, when fewer remain before `end`, those followed by `fill`: a scan that
// stops at `fill` never reads past `end`.
inline __m128i loadBlock(const char* at, const char* end, char fill) {
  if (end - at >= 16) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
  char tail[16];
  std::memset(tail, fill, sizeof(tail));
  std::memcpy(tail, at, static_cast<std::size_t>(end - at));
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(tail));
}

}  // namespace costgate::text

#endif
