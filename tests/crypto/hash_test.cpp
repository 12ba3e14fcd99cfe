// SPDX-License-Identifier: Apache-2.0
// Plain hashes (crypto/hash.hpp): known answers, multi-part input, errors.
#include "ipsec/crypto/hash.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "test_util.hpp"

using ipsec::as_bytes;
using ipsec::ByteView;
using ipsec::Errc;
using ipsec::crypto::hash;
using ipsec::crypto::hash_size;
using ipsec::crypto::HashId;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using ipsec::test::to_hex;

namespace {

Bytes digest(HashId id, std::vector<ByteView> parts) {
  Bytes out(hash_size(id));
  const auto st = hash(id, parts, out);
  REQUIRE_MESSAGE(st.ok(), st.name());
  return out;
}
Bytes digest(HashId id, std::string_view message) { return digest(id, {as_bytes(message)}); }

// FIPS 180-4 example messages (NIST CSRC "Examples with Intermediate
// Values"; the same vectors as RFC 3174 section 7.3 TEST1/TEST2 and RFC 6234
// section 8.5 TEST1, TEST2_1, TEST2_2).
constexpr std::string_view kAbc = "abc";
constexpr std::string_view k448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr std::string_view k896 =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrst"
    "nopqrstu";

}  // namespace

TEST_CASE("hash sizes") {
  CHECK(hash_size(HashId::sha1) == 20);
  CHECK(hash_size(HashId::sha2_256) == 32);
  CHECK(hash_size(HashId::sha2_384) == 48);
  CHECK(hash_size(HashId::sha2_512) == 64);
  CHECK(hash_size(HashId::identity) == 0);
  CHECK(hash_size(static_cast<HashId>(99)) == 0);
}

TEST_CASE("SHA-1 known answers (FIPS 180-4 examples, RFC 3174 7.3)") {
  CHECK(to_hex(digest(HashId::sha1, kAbc)) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(to_hex(digest(HashId::sha1, k448)) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  // RFC 3174 TEST3: one million 'a'.
  const std::string million(1000000, 'a');
  CHECK(to_hex(digest(HashId::sha1, million)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST_CASE("SHA-256 known answers (FIPS 180-4 examples, RFC 6234 8.5)") {
  CHECK(to_hex(digest(HashId::sha2_256, kAbc)) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(to_hex(digest(HashId::sha2_256, k448)) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  CHECK(to_hex(digest(HashId::sha2_256, million)) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-384 known answers (FIPS 180-4 examples, RFC 6234 8.5)") {
  CHECK(to_hex(digest(HashId::sha2_384, kAbc)) ==
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
  CHECK(to_hex(digest(HashId::sha2_384, k896)) ==
        "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039");
}

TEST_CASE("SHA-512 known answers (FIPS 180-4 examples, RFC 6234 8.5)") {
  CHECK(to_hex(digest(HashId::sha2_512, kAbc)) ==
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  CHECK(to_hex(digest(HashId::sha2_512, k896)) ==
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
        "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
}

TEST_CASE("the empty message, with no parts or only empty ones") {
  // The digests of the empty message, as computed by Python's hashlib
  // (hashlib.sha1(b"").hexdigest(), hashlib.sha256(b"").hexdigest()).
  CHECK(to_hex(digest(HashId::sha1, std::vector<ByteView>{})) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(to_hex(digest(HashId::sha1, std::vector<ByteView>{ByteView(), ByteView()})) ==
        "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(to_hex(digest(HashId::sha2_256, std::vector<ByteView>{})) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("several parts hash as their concatenation") {
  const ByteView all = as_bytes(k896);
  for (HashId id : {HashId::sha1, HashId::sha2_256, HashId::sha2_384, HashId::sha2_512}) {
    INFO(ipsec::crypto::to_string(id));
    const Bytes one = digest(id, {all});
    // Split at every point, and into many uneven parts (with empty ones).
    for (size_t cut = 0; cut <= all.size(); cut += 7) {
      CHECK(digest(id, {all.first(cut), all.subspan(cut)}) == one);
    }
    std::vector<ByteView> parts;
    for (size_t at = 0, n = 0; at < all.size(); at += n, ++n) {
      parts.push_back(all.subspan(at, std::min(n, all.size() - at)));
    }
    CHECK(parts.size() > 5);
    CHECK(digest(id, parts) == one);
  }
}

TEST_CASE("hash refuses a wrong output size and identity") {
  const ByteView parts[] = {as_bytes(kAbc)};
  for (HashId id : {HashId::sha1, HashId::sha2_256, HashId::sha2_384, HashId::sha2_512}) {
    INFO(ipsec::crypto::to_string(id));
    for (size_t size : {size_t{0}, hash_size(id) - 1, hash_size(id) + 1, size_t{128}}) {
      Bytes out(size, 0xaa);
      CHECK(hash(id, parts, out) == Errc::invalid_length);
      CHECK(out == Bytes(size, 0xaa));  // untouched
    }
  }
  std::array<uint8_t, 64> out{};
  CHECK(hash(HashId::identity, parts, out) == Errc::unsupported_algorithm);
  CHECK(hash(HashId::identity, parts, {}) == Errc::unsupported_algorithm);
  CHECK(hash(static_cast<HashId>(99), parts, out) == Errc::unsupported_algorithm);
}
