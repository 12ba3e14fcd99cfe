// SPDX-License-Identifier: Apache-2.0
// examples/gateway/key_export.hpp: the rows of Wireshark's esp_sa and
// ikev2_decryption_table UATs. The names are the ones tshark 4.0 accepts
// (gateway_strongswan.sh has tshark decrypt a capture with these files).
#include "gateway/key_export.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ipsec;

namespace {
IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }
std::vector<uint8_t> octets(size_t n, uint8_t first) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(first + i);
  return v;
}
}  // namespace

TEST_CASE("esp_sa rows: AEAD, cipher + HMAC, IPv6, and transforms Wireshark lacks") {
  const auto gcm_key = octets(36, 0);  // 32-octet key || 4-octet salt (RFC 4106 8.1)
  CHECK(gateway::esp_sa_row(ip("10.0.0.1"), ip("10.0.0.2"), 0xc0ffee01, crypto::EncrId::aes_gcm_16, gcm_key,
                            crypto::IntegId::none, {}) ==
        "\"IPv4\",\"10.0.0.1\",\"10.0.0.2\",\"0xc0ffee01\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x"
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223\",\"NULL\",\"\"");

  const auto cbc_key = octets(16, 0xa0), hmac_key = octets(32, 0x10);
  CHECK(gateway::esp_sa_row(ip("fd00::2"), ip("fd00::1"), 0x00000102, crypto::EncrId::aes_cbc, cbc_key,
                            crypto::IntegId::hmac_sha2_256_128, hmac_key) ==
        "\"IPv6\",\"fd00::2\",\"fd00::1\",\"0x00000102\",\"AES-CBC [RFC3602]\",\"0x"
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\"HMAC-SHA-256-128 [RFC4868]\",\"0x"
        "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f\"");

  // ChaCha20-Poly1305 is not in tshark 4.0's ESP table: a comment, no key.
  const std::string chacha =
      gateway::esp_sa_row(ip("10.0.0.1"), ip("10.0.0.2"), 7, crypto::EncrId::chacha20_poly1305,
                          octets(36, 0x55), crypto::IntegId::none, {});
  CHECK(chacha.rfind("# 10.0.0.1 -> 10.0.0.2 SPI 0x00000007: ", 0) == 0);
  CHECK(chacha.find("5556") == std::string::npos);
}

TEST_CASE("ikev2_decryption_table rows carry the key size in the algorithm name") {
  const auto ei = octets(36, 1), er = octets(36, 2);
  ike::IkeKeys k;
  k.spi_i = 0x0102030405060708;
  k.spi_r = 0xa1a2a3a4a5a6a7a8;
  k.encr = crypto::EncrId::aes_gcm_16;
  k.encr_key_bits = 256;
  k.sk_ei = ei;
  k.sk_er = er;
  const std::string row = gateway::ikev2_row(k);
  CHECK(row.rfind("0102030405060708,a1a2a3a4a5a6a7a8,0102", 0) == 0);
  CHECK(row.find(",\"AES-GCM-256 with 16 octet ICV [RFC5282]\",,,\"NONE [RFC4306]\"") != std::string::npos);

  const auto ai = octets(32, 3), ar = octets(32, 4), cbc = octets(16, 5);
  k.encr = crypto::EncrId::aes_cbc;
  k.encr_key_bits = 128;
  k.integ = crypto::IntegId::hmac_sha2_256_128;
  k.sk_ei = k.sk_er = cbc;
  k.sk_ai = ai;
  k.sk_ar = ar;
  const std::string cbc_row = gateway::ikev2_row(k);
  CHECK(cbc_row.find(",\"AES-CBC-128 [RFC3602]\",0304") != std::string::npos);
  CHECK(cbc_row.find(",\"HMAC_SHA2_256_128 [RFC4868]\"") != std::string::npos);

  k.encr = crypto::EncrId::chacha20_poly1305;
  k.encr_key_bits = 0;
  CHECK(gateway::ikev2_row(k).rfind("# IKE SA 0102030405060708_i a1a2a3a4a5a6a7a8_r: ", 0) == 0);
}
