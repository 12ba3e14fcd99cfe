// SPDX-License-Identifier: Apache-2.0
// The transform tables (suites.hpp) agree with what the providers build, and
// every IANA ID of transform_ids.hpp has a distinct name.
#include "ipsec/crypto/suites.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "crypto/crypto_test_util.hpp"
#include "ipsec/crypto/transform_ids.hpp"

using namespace ipsec::crypto;
using ipsec::test::Bytes;

namespace {
template <typename Id>
size_t count_named(int max) {
  std::set<std::string> names;
  size_t n = 0;
  for (int v = 0; v <= max; ++v) {
    const auto name = to_string(static_cast<Id>(v));
    if (name == "unknown") continue;
    ++n;
    CHECK_MESSAGE(names.insert(std::string(name)).second, name);
  }
  return n;
}
}  // namespace

TEST_CASE("every listed IANA transform ID has a distinct name") {
  CHECK(count_named<EncrId>(1024) == 28);
  CHECK(count_named<PrfId>(1024) == 9);
  CHECK(count_named<IntegId>(1024) == 15);
  CHECK(count_named<KeGroup>(1024) == 26);
  CHECK(count_named<HashId>(1024) == 5);
  CHECK(to_string(EncrId::aes_gcm_16) == "ENCR_AES_GCM_16");
  CHECK(to_string(static_cast<EncrId>(17)) == "unknown");  // unassigned
}

TEST_CASE("EncrInfo sizes match the keyed transforms (RFC 4106 8.1, 4309 7.1, 3686 5.1, 7634 2)") {
  MbedtlsProvider provider;
  for (int v = 0; v < 64; ++v) {
    const auto id = static_cast<EncrId>(v);
    const auto info = encr_info(id);
    if (!info) continue;
    INFO(to_string(id));
    for (uint16_t bits : {uint16_t{0}, uint16_t{128}, uint16_t{192}, uint16_t{256}}) {
      if (!info->allows_key_bits(bits)) continue;
      const Bytes keymat(info->keymat_size(bits), 0x42);
      if (info->aead) {
        auto aead = provider.make_aead(id, bits, keymat);
        REQUIRE(aead);
        CHECK((*aead)->icv_size() == info->icv_size);
        CHECK((*aead)->key_size() + info->salt_size == keymat.size());
        CHECK(info->iv_size == Aead::kIvSize);
      } else {
        auto cipher = provider.make_cipher(id, bits, keymat);
        REQUIRE(cipher);
        CHECK((*cipher)->iv_size() == info->iv_size);
        CHECK((*cipher)->block_size() == info->block_size);
        CHECK((*cipher)->key_size() + info->salt_size == keymat.size());
      }
      // One octet more or less is refused.
      const Bytes longer(keymat.size() + 1, 0x42);
      CHECK((info->aead ? provider.make_aead(id, bits, longer).error()
                        : provider.make_cipher(id, bits, longer).error()) == ipsec::Errc::invalid_key_length);
    }
  }
  CHECK(encr_info(EncrId::chacha20_poly1305)->keymat_size(0) == 36);
  CHECK(encr_info(EncrId::aes_ccm_8)->keymat_size(128) == 19);
  CHECK(encr_info(EncrId::aes_ctr)->keymat_size(256) == 36);
  CHECK(encr_info(EncrId::null)->keymat_size(0) == 0);
  CHECK_FALSE(encr_info(EncrId::aes_cbc)->allows_key_bits(0));
  CHECK_FALSE(encr_info(EncrId::chacha20_poly1305)->allows_key_bits(128));
  CHECK_FALSE(encr_info(EncrId::des3));  // not implemented: deprecated by RFC 8221
}

TEST_CASE("IntegInfo and PrfInfo match the keyed transforms (RFC 4868 2.1, 3566, 4494, 4434, 4615)") {
  MbedtlsProvider provider;
  for (int v = 0; v < 64; ++v) {
    const auto id = static_cast<IntegId>(v);
    const auto info = integ_info(id);
    if (!info) continue;
    INFO(to_string(id));
    auto integ = provider.make_integrity(id, Bytes(info->key_size, 1));
    REQUIRE(integ);
    CHECK((*integ)->icv_size() == info->icv_size);
    CHECK((*integ)->key_size() == info->key_size);
  }
  for (int v = 0; v < 64; ++v) {
    const auto id = static_cast<PrfId>(v);
    const auto info = prf_info(id);
    if (!info) continue;
    INFO(to_string(id));
    auto prf = provider.make_prf(id, Bytes(info->key_size, 1));
    REQUIRE(prf);
    CHECK((*prf)->output_size() == info->output_size);
  }
}

TEST_CASE("KeGroupInfo sizes match the key exchanges (RFC 3526, 5903, 6954, 8031)") {
  DefaultProvider provider;
  SeededRng rng(7);
  for (int v = 0; v < 64; ++v) {
    const auto id = static_cast<KeGroup>(v);
    const auto info = ke_group_info(id);
    if (!info) continue;
    INFO(to_string(id));
    auto ke = provider.make_key_exchange(id, rng);
    REQUIRE(ke);
    CHECK((*ke)->public_value().size() == info->public_size);
  }
}
