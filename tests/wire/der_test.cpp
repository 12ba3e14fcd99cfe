// SPDX-License-Identifier: Apache-2.0
#include "ipsec/wire/der.hpp"

#include <doctest/doctest.h>

#include "test_util.hpp"

using ipsec::ByteReader;
using ipsec::ByteView;
using ipsec::Errc;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using namespace ipsec::wire;

TEST_CASE("DER elements: short and long definite lengths (X.690 8.1.3)") {
  // The RFC 7427 AlgorithmIdentifier of ecdsa-with-SHA256 (RFC 7427 A.4.1).
  const Bytes alg = from_hex("300a06082a8648ce3d040302");
  DerElement seq;
  REQUIRE(read_single_der(alg, &seq));
  CHECK(seq.tag == der_tag::kSequence);
  CHECK(seq.value_offset == 2);
  ByteReader inner(seq.value, seq.value_offset);
  DerElement oid;
  REQUIRE(read_der_tagged(inner, der_tag::kOid, &oid));
  CHECK(ipsec::test::to_hex(oid.value) == "2a8648ce3d040302");
  CHECK(inner.expect_end().ok());

  Bytes long_form = from_hex("04 8180");
  long_form.resize(long_form.size() + 128, 0xab);
  DerElement os;
  REQUIRE(read_single_der(long_form, &os));
  CHECK(os.value.size() == 128);
  CHECK(os.value_offset == 3);
  Bytes two_octets = from_hex("04 820100");
  two_octets.resize(two_octets.size() + 256, 0x01);
  REQUIRE(read_single_der(two_octets, &os));
  CHECK(os.value.size() == 256);
}

TEST_CASE("DER encodings that are not DER are refused with the reason") {
  struct Case {
    const char* hex;
    Errc code;
  };
  const Case cases[] = {
      {"0480", Errc::invalid_length},            // indefinite length (BER only)
      {"048500000001ff", Errc::invalid_length},  // 5 length octets
      {"04810a", Errc::invalid_value},           // long form for a length < 128
      {"0482007f", Errc::invalid_value},         // leading zero length octet
      {"1f0100", Errc::invalid_value},           // high tag number form
      {"0403aabb", Errc::truncated},             // value shorter than its length
  };
  for (const auto& c : cases) {
    DerElement e;
    const Bytes input = from_hex(c.hex);
    ByteReader r(input);
    CHECK_FALSE(read_der(r, &e));
    CHECK_MESSAGE(r.status() == c.code, c.hex);
  }
  DerElement e;
  const Bytes trailing = from_hex("0500 00");
  CHECK_FALSE(read_single_der(trailing, &e));  // trailing byte
  const Bytes null_value = from_hex("0500");
  ByteReader r(null_value);
  CHECK_FALSE(read_der_tagged(r, der_tag::kSequence, &e));
  CHECK(r.status() == Errc::invalid_value);
  CHECK(r.status().offset() == 0);
}

TEST_CASE("every prefix of a DER structure fails cleanly") {
  const Bytes spki = from_hex(
      "302a300506032b6570032100"
      "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1");
  DerElement e;
  REQUIRE(read_single_der(spki, &e));
  for (size_t n = 0; n < spki.size(); ++n) {
    CHECK_FALSE(read_single_der(ByteView(spki).first(n), &e));
  }
}
