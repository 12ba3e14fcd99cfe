// SPDX-License-Identifier: Apache-2.0
#include "ipsec/bytes/reader.hpp"

#include <doctest/doctest.h>

#include "test_util.hpp"

using ipsec::ByteReader;
using ipsec::ByteView;
using ipsec::Errc;
using ipsec::test::from_hex;

TEST_CASE("ByteReader reads big-endian integers in order") {
  const auto data = from_hex("01 0203 04050607 08090a0b0c0d0e0f");
  ByteReader r(data);
  uint8_t a = 0;
  uint16_t b = 0;
  uint32_t c = 0;
  uint64_t d = 0;
  REQUIRE(r.read_u8(&a));
  REQUIRE(r.read_u16(&b));
  REQUIRE(r.read_u32(&c));
  REQUIRE(r.read_u64(&d));
  CHECK(a == 0x01);
  CHECK(b == 0x0203);
  CHECK(c == 0x04050607u);
  CHECK(d == 0x08090a0b0c0d0e0fULL);
  CHECK(r.empty());
  CHECK(r.expect_end().ok());
}

TEST_CASE("a failed read leaves the reader in place and is sticky") {
  const auto data = from_hex("aabbcc");
  ByteReader r(data, 100);
  uint16_t v = 0x1111;
  REQUIRE(r.read_u16(&v));
  CHECK(r.offset() == 102);
  uint32_t w = 0x22222222;
  CHECK_FALSE(r.read_u32(&w));
  CHECK(w == 0x22222222u);   // output untouched
  CHECK(r.position() == 2);  // nothing consumed
  CHECK(r.status() == Errc::truncated);
  CHECK(r.status().offset() == 102);  // absolute offset of the failing read
  uint8_t x = 0;
  CHECK_FALSE(r.read_u8(&x));         // sticky: even a read that would fit fails
  CHECK(r.status().offset() == 102);  // and the first failure is what is reported
  CHECK(r.expect_end() == Errc::truncated);
}

TEST_CASE("slices, prefixed slices and sub-readers") {
  const auto data = from_hex("03 616263 0002 6465 ffff 05 0102");
  ByteReader r(data, 10);
  ByteView s;
  REQUIRE(r.read_u8_prefixed(&s));
  CHECK(s.size() == 3);
  CHECK(s[0] == 'a');
  REQUIRE(r.read_u16_prefixed(&s));
  CHECK(s.size() == 2);
  ByteReader sub;
  REQUIRE(r.read_sub(2, &sub));
  CHECK(sub.offset() == 10 + 8);
  uint16_t v = 0;
  REQUIRE(sub.read_u16(&v));
  CHECK(v == 0xffff);
  CHECK(sub.expect_end().ok());
  // A prefix longer than what is left fails without consuming the length.
  const size_t before = r.position();
  CHECK_FALSE(r.read_u8_prefixed(&s));
  CHECK(r.position() == before);
  CHECK(r.status() == Errc::truncated);
  CHECK(r.status().offset() == 10 + 11);  // where the announced 5 bytes should have been
}

TEST_CASE("sub-reader errors carry absolute offsets; trailing bytes are an error") {
  const auto data = from_hex("0000 0000 01020304 05");
  ByteReader r(data, 1000);
  REQUIRE(r.skip(4));
  ByteReader sub;
  REQUIRE(r.read_sub(5, &sub));
  uint32_t x = 0;
  REQUIRE(sub.read_u32(&x));
  const auto st = sub.expect_end("transform");
  CHECK(st == Errc::trailing_data);
  CHECK(st.offset() == 1008);
  CHECK(std::string(st.field()) == "transform");
}

TEST_CASE("fail records semantic errors; read_into copies; peek does not consume") {
  const auto data = from_hex("0102030405");
  ByteReader r(data);
  uint8_t p = 0;
  REQUIRE(r.peek_u8(&p));
  CHECK(p == 1);
  CHECK(r.position() == 0);
  std::array<uint8_t, 3> out{};
  REQUIRE(r.read_into(out));
  CHECK(out[2] == 3);
  const uint32_t field_at = r.offset();
  ByteView rest;
  REQUIRE(r.read_rest(&rest));
  CHECK(rest.size() == 2);
  const auto st = r.fail_at(Errc::invalid_value, field_at, "version");
  CHECK(st == Errc::invalid_value);
  CHECK(st.offset() == 3);
  CHECK(r.failed());
  CHECK(r.fail(Errc::limit_exceeded) == Errc::invalid_value);  // the first failure stays
}

TEST_CASE("no read ever goes past the end, whatever the sizes") {
  // Truncation sweep: a fixed read sequence over every prefix of a buffer
  // either succeeds entirely or fails with truncated at a valid offset.
  const auto data = from_hex("02 0004 aabbccdd 0001 ee ff");
  for (size_t n = 0; n <= data.size(); ++n) {
    ByteReader r(ByteView(data).first(n));
    uint8_t kind = 0;
    ByteView body, tail;
    uint8_t last = 0;
    const bool ok =
        r.read_u8(&kind) && r.read_u16_prefixed(&body) && r.read_u16_prefixed(&tail) && r.read_u8(&last);
    if (n == data.size()) {
      CHECK(ok);
      CHECK(last == 0xff);
    } else {
      CHECK_FALSE(ok);
      CHECK(r.status() == Errc::truncated);
      CHECK(r.status().offset() <= n);
    }
  }
  ByteReader huge(data);
  ByteView v;
  CHECK_FALSE(huge.read_bytes(static_cast<size_t>(-1), &v));
  CHECK(huge.position() == 0);
}
