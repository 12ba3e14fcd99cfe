// SPDX-License-Identifier: Apache-2.0
// The consumer: seal and open a packet with AES-256-GCM through the public
// API, and parse an address. Exit status 0 means the library works when
// linked from outside.
#include <ipsec/ipsec.hpp>

#include <array>
#include <cstdio>

int main() {
  using namespace ipsec;
  crypto::DefaultProvider provider;
  std::array<uint8_t, 36> keymat{};  // 32-octet key || 4-octet salt (RFC 4106 8.1)
  crypto::SystemRng rng;
  rng.fill(keymat);
  auto aead = provider.make_aead(crypto::EncrId::aes_gcm_16, 256, keymat);
  if (!aead) return 1;
  std::array<uint8_t, 64> packet{};
  packet[0] = 0x45;
  const std::array<uint8_t, 8> iv{0, 0, 0, 0, 0, 0, 0, 1};
  const std::array<uint8_t, 8> aad{0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1};
  std::array<uint8_t, 16> icv{};
  if (!(*aead)->seal(iv, aad, packet, icv).ok()) return 2;
  if (packet[0] == 0x45 && packet[1] == 0) return 3;  // not encrypted
  if (!(*aead)->open(iv, aad, packet, icv).ok() || packet[0] != 0x45) return 4;
  auto addr = IpAddress::parse("2001:db8::1");
  if (!addr || addr->to_text().view() != "2001:db8::1") return 5;
  std::printf("consumer ok (%s)\n", (*aead)->backend());
  return 0;
}
