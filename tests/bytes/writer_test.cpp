// SPDX-License-Identifier: Apache-2.0
#include "ipsec/bytes/writer.hpp"

#include <doctest/doctest.h>

#include <array>

#include "ipsec/bytes/reader.hpp"
#include "test_util.hpp"

using ipsec::ByteWriter;
using ipsec::Errc;
using ipsec::test::from_hex;
using ipsec::test::to_hex;

TEST_CASE("ByteWriter writes big-endian fields") {
  std::array<uint8_t, 32> buf{};
  ByteWriter w(buf);
  w.put_u8(0x01);
  w.put_u16(0x0203);
  w.put_u32(0x04050607);
  w.put_u64(0x08090a0b0c0d0e0fULL);
  w.put_bytes(from_hex("aabb"));
  w.put_zeros(2);
  REQUIRE(w.ok());
  CHECK(w.size() == 19);
  CHECK(to_hex(w.written()) == "0102030405060708090a0b0c0d0e0faabb0000");
}

TEST_CASE("overflow is sticky, writes nothing past capacity and reports the size needed") {
  std::array<uint8_t, 8> buf{};
  buf.fill(0xee);
  ByteWriter w(std::span<uint8_t>(buf).first(6));
  w.put_u32(0x11223344);
  w.put_u32(0x55667788);  // does not fit: skipped
  w.put_u8(0x99);         // would fit, but the writer has failed
  CHECK_FALSE(w.ok());
  CHECK(w.status() == Errc::buffer_too_small);
  CHECK(w.needed() == 9);
  CHECK(buf[4] == 0xee);  // nothing written after the failure
  CHECK(buf[6] == 0xee);  // nor beyond the span

  // Retrying with the size it asked for succeeds.
  std::array<uint8_t, 9> big{};
  ByteWriter w2(big);
  w2.put_u32(0x11223344);
  w2.put_u32(0x55667788);
  w2.put_u8(0x99);
  CHECK(w2.ok());
  CHECK(w2.size() == 9);
}

TEST_CASE("length fields are back-patched") {
  std::array<uint8_t, 16> buf{};
  ByteWriter w(buf);
  const size_t start = w.size();
  w.put_u8(0x21);  // a payload header: type, length(2), body
  const auto len = w.reserve_u16();
  w.put_bytes(from_hex("deadbeef"));
  w.patch_length_since(len, start);
  const auto len32 = w.reserve_u32();
  w.patch(len32, 0x01020304);
  REQUIRE(w.ok());
  CHECK(to_hex(w.written()) == "210007deadbeef01020304");

  // Round trip through the reader.
  ipsec::ByteReader r(w.written());
  uint8_t type = 0;
  uint16_t n = 0;
  REQUIRE(r.read_u8(&type));
  REQUIRE(r.read_u16(&n));
  CHECK(n == 7);
}

TEST_CASE("a value too wide for its slot fails the writer") {
  std::array<uint8_t, 4> buf{};
  ByteWriter w(buf);
  const auto slot = w.reserve_u16();
  w.patch(slot, 0x10000);
  CHECK(w.status() == Errc::invalid_length);
  CHECK(buf[0] == 0);
  CHECK(buf[1] == 0);
}

TEST_CASE("put_span hands out storage or nothing") {
  std::array<uint8_t, 4> buf{};
  ByteWriter w(buf);
  auto s = w.put_span(3);
  REQUIRE(s.size() == 3);
  s[0] = 7;
  CHECK(w.put_span(2).empty());
  CHECK_FALSE(w.ok());
  CHECK(buf[0] == 7);
}
