// SPDX-License-Identifier: Apache-2.0
// Big-endian (network order) load/store on fixed-size spans. The extent is
// part of the type, so a caller cannot read past what it sliced; slicing
// untrusted input is the job of ByteReader (bytes/reader.hpp).
#pragma once

#include <cstdint>
#include <span>

namespace ipsec {

[[nodiscard]] constexpr uint16_t load_be16(std::span<const uint8_t, 2> b) noexcept {
  return static_cast<uint16_t>((b[0] << 8) | b[1]);
}
[[nodiscard]] constexpr uint32_t load_be32(std::span<const uint8_t, 4> b) noexcept {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}
[[nodiscard]] constexpr uint64_t load_be64(std::span<const uint8_t, 8> b) noexcept {
  return (uint64_t{load_be32(b.first<4>())} << 32) | load_be32(b.last<4>());
}

constexpr void store_be16(std::span<uint8_t, 2> b, uint16_t v) noexcept {
  b[0] = static_cast<uint8_t>(v >> 8);
  b[1] = static_cast<uint8_t>(v);
}
constexpr void store_be32(std::span<uint8_t, 4> b, uint32_t v) noexcept {
  b[0] = static_cast<uint8_t>(v >> 24);
  b[1] = static_cast<uint8_t>(v >> 16);
  b[2] = static_cast<uint8_t>(v >> 8);
  b[3] = static_cast<uint8_t>(v);
}
constexpr void store_be64(std::span<uint8_t, 8> b, uint64_t v) noexcept {
  store_be32(b.first<4>(), static_cast<uint32_t>(v >> 32));
  store_be32(b.last<4>(), static_cast<uint32_t>(v));
}

}  // namespace ipsec
