// SPDX-License-Identifier: Apache-2.0
// Tests for crypto/keymat.hpp: prf+ (RFC 7296 section 2.13) and SKEYSEED
// (RFC 7296 section 2.14). RFC 7296 publishes no test vectors for either;
// both are checked against the definitions built by hand from the PRF,
// whose known answers are in prf_test.cpp.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto_test_util.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/crypto/keymat.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"
#include "test_util.hpp"

namespace {

using ipsec::test::concat;
using ipsec::test::err;
using ipsec::test::is_sodium;
using ipsec::test::NamedProvider;
using ipsec::test::providers;

using ipsec::ByteView;
using ipsec::Status;
using ipsec::crypto::DefaultProvider;
using ipsec::crypto::MbedtlsProvider;
using ipsec::crypto::Prf;
using ipsec::crypto::PrfId;
using ipsec::crypto::Provider;
using ipsec::crypto::SodiumProvider;
using ipsec::test::Bytes;
using ipsec::test::to_hex;

Bytes pattern(size_t n, uint8_t seed) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed * 3 + 5 * i + (i >> 8));
  return out;
}

const PrfId kPrfs[] = {PrfId::hmac_sha1,     PrfId::hmac_sha2_256, PrfId::hmac_sha2_384,
                       PrfId::hmac_sha2_512, PrfId::aes128_xcbc,   PrfId::aes128_cmac};

std::string prf_name(PrfId id) { return std::string(ipsec::crypto::to_string(id)); }

// hand_prf_plus: RFC 7296 section 2.13 written out,
//   prf+ (K,S) = T1 | T2 | T3 | ...
//   T1 = prf (K, S | 0x01), T2 = prf (K, T1 | S | 0x02), ...
// using only the PRF's single-input compute.
Bytes hand_prf_plus(Prf& prf, ByteView seed, size_t length) {
  Bytes out, t;
  for (unsigned n = 1; out.size() < length; ++n) {
    REQUIRE(n <= 255);
    Bytes input = t;
    input.insert(input.end(), seed.begin(), seed.end());
    input.push_back(static_cast<uint8_t>(n));
    t.assign(prf.output_size(), 0);
    REQUIRE(err(prf.compute(input, t)) == "ok");
    out.insert(out.end(), t.begin(), t.end());
  }
  out.resize(length);
  return out;
}

Bytes run_prf_plus(Prf& prf, std::span<const ByteView> seed, size_t length, std::string* status) {
  Bytes out(length, 0xa5);
  *status = err(ipsec::crypto::prf_plus(prf, seed, out));
  return out;
}

TEST_CASE("prf+ equals T1 | T2 | ... built by hand (RFC 7296 section 2.13)") {
  MbedtlsProvider mbedtls;
  // S = Ni | Nr | SPIi | SPIr as for KEYMAT (RFC 7296 section 2.17).
  const Bytes ni = pattern(32, 1), nr = pattern(24, 2), spii = pattern(8, 3), spir = pattern(8, 4);
  const Bytes seed = concat({ni, nr, spii, spir});
  for (PrfId id : kPrfs) {
    INFO("prf: " << prf_name(id));
    auto made = mbedtls.make_prf(id, pattern(ipsec::crypto::prf_info(id)->key_size, 9));
    REQUIRE(made.ok());
    Prf& prf = **made;
    const size_t b = prf.output_size();
    for (size_t length : {size_t{0}, size_t{1}, b - 1, b, b + 1, 2 * b, 3 * b + 5, 100 * b + 7, 255 * b}) {
      INFO("length: " << length);
      const Bytes want = hand_prf_plus(prf, seed, length);
      std::string status;
      const ByteView one[] = {seed};
      const Bytes got = run_prf_plus(prf, one, length, &status);
      CHECK(status == "ok");
      CHECK(to_hex(got) == to_hex(want));
    }
  }
}

TEST_CASE("prf+ output is a prefix of every longer output") {
  MbedtlsProvider mbedtls;
  auto made = mbedtls.make_prf(PrfId::hmac_sha2_256, pattern(32, 7));
  REQUIRE(made.ok());
  const Bytes seed = pattern(40, 8);
  const ByteView one[] = {seed};
  std::string status;
  const Bytes longest = run_prf_plus(**made, one, 255 * 32, &status);
  REQUIRE(status == "ok");
  for (size_t length = 0; length <= 200; ++length) {
    const Bytes got = run_prf_plus(**made, one, length, &status);
    CHECK(status == "ok");
    CHECK(to_hex(got) == to_hex(ByteView(longest).first(length)));
  }
}

TEST_CASE("prf+ refuses more than 255 blocks with limit_exceeded") {
  MbedtlsProvider mbedtls;
  for (PrfId id : kPrfs) {
    INFO("prf: " << prf_name(id));
    auto made = mbedtls.make_prf(id, pattern(16, 1));
    REQUIRE(made.ok());
    const size_t b = (*made)->output_size();
    REQUIRE(ipsec::limits::kMaxPrfPlusBlocks == 255);
    const Bytes seed = pattern(16, 2);
    const ByteView one[] = {seed};
    for (size_t length : {255 * b + 1, 256 * b, 1000 * b}) {
      INFO("length: " << length);
      Bytes out(length);
      CHECK(err(ipsec::crypto::prf_plus(**made, one, out)) == "limit_exceeded");
    }
    Bytes max(255 * b);
    CHECK(err(ipsec::crypto::prf_plus(**made, one, max)) == "ok");
  }
}

TEST_CASE("prf+ with the seed in parts equals prf+ with the seed concatenated") {
  MbedtlsProvider mbedtls;
  const Bytes ni = pattern(32, 1), nr = pattern(16, 2), spii = pattern(8, 3), spir = pattern(8, 4);
  const Bytes whole = concat({ni, nr, spii, spir});
  for (PrfId id : kPrfs) {
    INFO("prf: " << prf_name(id));
    auto made = mbedtls.make_prf(id, pattern(20, 5));
    REQUIRE(made.ok());
    Prf& prf = **made;
    const size_t length = 5 * prf.output_size() + 3;
    const Bytes want = hand_prf_plus(prf, whole, length);
    std::string status;

    const ByteView four[] = {ni, nr, spii, spir};
    CHECK(to_hex(run_prf_plus(prf, four, length, &status)) == to_hex(want));
    CHECK(status == "ok");

    // Empty parts anywhere, and parts that split fields at odd places.
    const ByteView w(whole);
    const ByteView odd[] = {{}, w.first(3), {}, w.subspan(3, 29), w.subspan(32, 1), {}, w.subspan(33)};
    CHECK(to_hex(run_prf_plus(prf, odd, length, &status)) == to_hex(want));
    CHECK(status == "ok");

    // A seed that is all empty parts is the empty seed.
    const ByteView empties[] = {{}, {}, {}};
    CHECK(to_hex(run_prf_plus(prf, empties, length, &status)) == to_hex(hand_prf_plus(prf, {}, length)));
    CHECK(status == "ok");
    CHECK(to_hex(run_prf_plus(prf, {}, length, &status)) == to_hex(hand_prf_plus(prf, {}, length)));
    CHECK(status == "ok");
  }
}

TEST_CASE("prf+ takes at most 8 seed parts (implementation bound, invalid_argument beyond)") {
  // keymat.cpp keeps the per-block input list on the stack; RFC 7296 needs
  // at most 4 parts (Ni | Nr | SPIi | SPIr, or g^ir (new) | Ni | Nr).
  MbedtlsProvider mbedtls;
  auto made = mbedtls.make_prf(PrfId::hmac_sha1, pattern(20, 1));
  REQUIRE(made.ok());
  const Bytes seed = pattern(18, 2);
  std::vector<ByteView> parts;
  for (size_t i = 0; i < 9; ++i) parts.push_back(ByteView(seed).subspan(2 * i, 2));
  std::string status;
  const Bytes eight = run_prf_plus(**made, std::span<const ByteView>(parts).first(8), 50, &status);
  CHECK(status == "ok");
  CHECK(to_hex(eight) == to_hex(hand_prf_plus(**made, ByteView(seed).first(16), 50)));
  run_prf_plus(**made, parts, 50, &status);
  CHECK(status == "invalid_argument");
}

// ---- SKEYSEED ---------------------------------------------------------------

// direct_prf: prf(key, data) through the provider's Prf.
Bytes direct_prf(Provider& p, PrfId id, ByteView key, ByteView data) {
  auto made = p.make_prf(id, key);
  REQUIRE(made.ok());
  Bytes out((*made)->output_size());
  REQUIRE(err((*made)->compute(data, out)) == "ok");
  return out;
}

TEST_CASE("SKEYSEED = prf(Ni | Nr, g^ir) for the HMAC PRFs (RFC 7296 section 2.14)") {
  const Bytes gir = pattern(256, 0x31);
  for (const NamedProvider& np : providers()) {
    INFO("provider: " << np.name);
    for (PrfId id : {PrfId::hmac_sha1, PrfId::hmac_sha2_256, PrfId::hmac_sha2_384, PrfId::hmac_sha2_512}) {
      INFO("prf: " << prf_name(id));
      // Nonces of 16 to 256 octets (RFC 7296 section 2.10 and 3.9),
      // unequal so that the order matters.
      const std::pair<size_t, size_t> sizes[] = {{16, 16}, {32, 24}, {17, 255}, {256, 256}};
      for (const auto& [ni_len, nr_len] : sizes) {
        INFO("nonce lengths: " << ni_len << ", " << nr_len);
        const Bytes ni = pattern(ni_len, 0x41), nr = pattern(nr_len, 0x42);
        auto got = ipsec::crypto::skeyseed(*np.provider, id, ni, nr, gir);
        if (is_sodium(*np.provider)) {
          CHECK(err(got.status()) == "unsupported_algorithm");
          continue;
        }
        REQUIRE(got.ok());
        const Bytes key = concat({ni, nr});
        CHECK(to_hex(got->view()) == to_hex(direct_prf(*np.provider, id, key, gir)));
        CHECK(got->size() == ipsec::crypto::prf_info(id)->output_size);
        // Swapping the nonces changes SKEYSEED.
        auto swapped = ipsec::crypto::skeyseed(*np.provider, id, nr, ni, gir);
        REQUIRE(swapped.ok());
        if (ni != nr) CHECK(to_hex(swapped->view()) != to_hex(got->view()));
      }
    }
  }
}

TEST_CASE("SKEYSEED with AES-XCBC/CMAC PRFs keys with the first 64 bits of each nonce (RFC 7296 2.14)") {
  const Bytes gir = pattern(32, 0x51);
  for (const NamedProvider& np : providers()) {
    INFO("provider: " << np.name);
    for (PrfId id : {PrfId::aes128_xcbc, PrfId::aes128_cmac}) {
      INFO("prf: " << prf_name(id));
      for (size_t len : {size_t{8}, size_t{16}, size_t{32}, size_t{256}}) {
        INFO("nonce length: " << len);
        const Bytes ni = pattern(len, 0x61), nr = pattern(len + (len < 256 ? size_t{3} : size_t{0}), 0x62);
        auto got = ipsec::crypto::skeyseed(*np.provider, id, ni, nr, gir);
        if (is_sodium(*np.provider)) {
          CHECK(err(got.status()) == "unsupported_algorithm");
          continue;
        }
        REQUIRE(got.ok());
        const Bytes key = concat({ByteView(ni).first(8), ByteView(nr).first(8)});
        CHECK(to_hex(got->view()) == to_hex(direct_prf(*np.provider, id, key, gir)));
        CHECK(got->size() == 16);
        // Octets past the first 8 of either nonce do not matter; the 8th does.
        Bytes ni2 = ni, nr2 = nr;
        if (ni2.size() > 8) ni2.back() ^= 0xff;
        if (nr2.size() > 8) nr2.back() ^= 0xff;
        auto same = ipsec::crypto::skeyseed(*np.provider, id, ni2, nr2, gir);
        REQUIRE(same.ok());
        CHECK(to_hex(same->view()) == to_hex(got->view()));
        ni2 = ni;
        ni2[7] ^= 0x01;
        auto other = ipsec::crypto::skeyseed(*np.provider, id, ni2, nr, gir);
        REQUIRE(other.ok());
        CHECK(to_hex(other->view()) != to_hex(got->view()));
      }
    }
  }
}

TEST_CASE("SKEYSEED errors: short nonces with fixed-key PRFs, oversized nonces, unsupported PRFs") {
  MbedtlsProvider mbedtls;
  const Bytes gir = pattern(32, 1);
  for (PrfId id : {PrfId::aes128_xcbc, PrfId::aes128_cmac}) {
    INFO("prf: " << prf_name(id));
    for (const auto& [a, b] : {std::pair{size_t{7}, size_t{8}}, std::pair{size_t{8}, size_t{7}},
                               std::pair{size_t{0}, size_t{16}}, std::pair{size_t{0}, size_t{0}}}) {
      INFO("nonce lengths: " << a << ", " << b);
      CHECK(err(ipsec::crypto::skeyseed(mbedtls, id, pattern(a, 2), pattern(b, 3), gir).status()) ==
            "invalid_length");
    }
  }
  // Ni | Nr longer than two 256-octet nonces (RFC 7296 section 3.9).
  CHECK(err(ipsec::crypto::skeyseed(mbedtls, PrfId::hmac_sha2_256, pattern(257, 2), pattern(256, 3), gir)
                .status()) == "invalid_length");
  for (PrfId id : {PrfId::hmac_md5, PrfId::hmac_tiger, static_cast<PrfId>(0), static_cast<PrfId>(999)}) {
    INFO("prf id: " << static_cast<int>(id));
    CHECK(err(ipsec::crypto::skeyseed(mbedtls, id, pattern(16, 2), pattern(16, 3), gir).status()) ==
          "unsupported_algorithm");
  }
  // An empty g^ir is still a PRF input like any other.
  auto empty = ipsec::crypto::skeyseed(mbedtls, PrfId::hmac_sha2_256, pattern(16, 2), pattern(16, 3), {});
  REQUIRE(empty.ok());
  CHECK(to_hex(empty->view()) ==
        to_hex(direct_prf(mbedtls, PrfId::hmac_sha2_256, concat({pattern(16, 2), pattern(16, 3)}), {})));
}

}  // namespace
