// SPDX-License-Identifier: Apache-2.0
#include "ipsec/bytes/endian.hpp"

#include <doctest/doctest.h>

#include <array>

TEST_CASE("big-endian load and store round-trip") {
  std::array<uint8_t, 8> b{};
  ipsec::store_be64(b, 0x0102030405060708ULL);
  CHECK(b[0] == 1);
  CHECK(b[7] == 8);
  CHECK(ipsec::load_be64(b) == 0x0102030405060708ULL);
  ipsec::store_be32(std::span<uint8_t, 8>(b).first<4>(), 0xdeadbeef);
  CHECK(ipsec::load_be32(std::span<const uint8_t, 8>(b).first<4>()) == 0xdeadbeefu);
  ipsec::store_be16(std::span<uint8_t, 8>(b).last<2>(), 0xcafe);
  CHECK(b[6] == 0xca);
  CHECK(ipsec::load_be16(std::span<const uint8_t, 8>(b).last<2>()) == 0xcafe);
  static_assert(ipsec::load_be16(std::array<uint8_t, 2>{0x12, 0x34}) == 0x1234);
}
