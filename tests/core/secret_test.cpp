// SPDX-License-Identifier: Apache-2.0
#include "ipsec/core/secret.hpp"

#include <doctest/doctest.h>

#include <array>

#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::ct_equal;
using ipsec::FixedSecret;
using ipsec::SecretBytes;
using ipsec::test::from_hex;

TEST_CASE("ct_equal compares contents and lengths") {
  const auto a = from_hex("00112233445566778899aabbccddeeff");
  auto b = a;
  CHECK(ct_equal(a, b));
  for (size_t i = 0; i < b.size(); ++i) {
    b[i] ^= 0x01;
    CHECK_FALSE(ct_equal(a, b));
    b[i] ^= 0x01;
  }
  CHECK_FALSE(ct_equal(ByteView(a).first(15), b));
  CHECK(ct_equal(ByteView(), ByteView()));
}

TEST_CASE("secure_zero clears memory") {
  std::array<uint8_t, 32> key{};
  key.fill(0xa5);
  ipsec::secure_zero(key);
  for (uint8_t b : key) CHECK(b == 0);
}

TEST_CASE("SecretBytes owns, copies explicitly and empties on move") {
  const auto key = from_hex("000102030405060708090a0b0c0d0e0f");
  auto s = SecretBytes::copy_of(key);
  REQUIRE(s);
  CHECK(s->size() == 16);
  CHECK(ct_equal(s->view(), key));

  auto c = s->clone();
  REQUIRE(c);
  CHECK(ct_equal(c->view(), key));

  SecretBytes moved = std::move(*s);
  CHECK(moved.size() == 16);
  CHECK(s->empty());  // NOLINT(bugprone-use-after-move): moved-from is defined empty

  auto zeros = SecretBytes::allocate(8);
  REQUIRE(zeros);
  for (uint8_t b : zeros->view()) CHECK(b == 0);
  CHECK(SecretBytes::allocate(0)->empty());
}

TEST_CASE("FixedSecret keeps up to its capacity inline") {
  FixedSecret<16> f;
  CHECK(f.size() == 0);
  const auto k = from_hex("0102030405");
  CHECK(f.assign(k).ok());
  CHECK(f.size() == 5);
  CHECK(ct_equal(f.view(), k));
  const auto too_long = from_hex("000102030405060708090a0b0c0d0e0f10");
  CHECK(f.assign(too_long) == ipsec::Errc::invalid_length);
  CHECK(f.size() == 5);  // unchanged on failure
  CHECK(f.resize(16).ok());
  CHECK(f.resize(17) == ipsec::Errc::invalid_length);
  FixedSecret<16> copy = f;
  CHECK(ct_equal(copy.view(), f.view()));
}
