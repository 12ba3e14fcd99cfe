// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the ESP/AH packet path with fixed SAs. The first octet picks
// an SA configuration (ESP or AH, tunnel or transport, IPv4 or IPv6 outer,
// ESN, UDP encapsulation, transform); the rest is
//  - fed to open() as a received datagram (and to open_esp()): whatever it
//    holds, no crash, no read outside it, and nothing forged is accepted;
//  - sealed as a host packet: when seal() accepts it, open() must give the
//    same packet back.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "ipsec/esp/esp.hpp"

using namespace ipsec;

namespace {

struct Pair {
  std::unique_ptr<esp::OutboundSa> out;
  std::unique_ptr<esp::InboundSa> in;
};

esp::SaConfig config_for(uint8_t selector) {
  static const std::array<uint8_t, 64> key = [] {
    std::array<uint8_t, 64> k{};
    for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i * 11 + 5);
    return k;
  }();
  esp::SaConfig c;
  c.spi = 0x1000 + selector;
  c.protocol = (selector & 1) ? esp::SecurityProtocol::ah : esp::SecurityProtocol::esp;
  c.mode = (selector & 2) ? esp::Mode::transport : esp::Mode::tunnel;
  c.esn = (selector & 4) != 0;
  const bool v6 = (selector & 8) != 0;
  if (c.mode == esp::Mode::tunnel) {
    c.tunnel = esp::TunnelConfig{};
    c.tunnel->local = *IpAddress::parse(v6 ? "2001:db8::1" : "192.0.2.1");
    c.tunnel->remote = *IpAddress::parse(v6 ? "2001:db8::2" : "192.0.2.2");
  }
  if (c.protocol == esp::SecurityProtocol::esp && (selector & 16)) c.udp = esp::UdpEncapsulation{};
  if (c.udp && c.mode == esp::Mode::transport && (selector & 128)) {
    // NAT-T transport mode with the peer's pre-NAT addresses: open fixes
    // the TCP/UDP checksum (RFC 3948 3.1.2).
    c.nat_original_source = *IpAddress::parse(v6 ? "2001:db8:1::5" : "198.51.100.5");
    c.nat_original_destination = *IpAddress::parse(v6 ? "2001:db8:1::6" : "198.51.100.6");
  }
  c.replay_window = 32;
  c.esn_resync_threshold = 2;  // reach the A3 path quickly
  if (c.protocol == esp::SecurityProtocol::ah) {
    c.integ = (selector & 32) ? crypto::IntegId::hmac_sha2_256_128 : crypto::IntegId::aes_xcbc_96;
    c.integ_key = ByteView(key).first(crypto::integ_info(c.integ)->key_size);
  } else if (selector & 32) {
    c.encr = crypto::EncrId::aes_cbc;
    c.encr_key_bits = 128;
    c.encr_keymat = ByteView(key).first(16);
    c.integ = crypto::IntegId::hmac_sha1_96;
    c.integ_key = ByteView(key).first(20);
  } else {
    c.encr = (selector & 64) ? crypto::EncrId::null_auth_aes_gmac : crypto::EncrId::aes_gcm_16;
    c.encr_key_bits = 128;
    c.encr_keymat = ByteView(key).first(20);
  }
  return c;
}

Pair& pair_for(uint8_t selector) {
  static crypto::MbedtlsProvider provider;
  static std::array<Pair, 256> pairs;
  Pair& p = pairs[selector];
  if (!p.out) {
    const esp::SaConfig c = config_for(selector);
    p.out = esp::OutboundSa::create(c, provider).value();
    p.in = esp::InboundSa::create(c, provider).value();
  }
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Pair& p = pair_for(data[0]);
  const ByteView input(data + 1, size - 1);
  constexpr size_t kHead = limits::kEspMaxHeadroom, kTail = limits::kEspMaxTailroom;
  std::vector<uint8_t> storage(kHead + input.size() + kTail);
  if (!input.empty()) std::memcpy(storage.data() + kHead, input.data(), input.size());

  // 1. As a received datagram: random bytes never authenticate.
  auto pb = PacketBuffer::over(storage, kHead, input.size()).value();
  if (esp::open(*p.in, pb).ok()) std::abort();
  if (!input.empty()) std::memcpy(storage.data() + kHead, input.data(), input.size());
  pb = PacketBuffer::over(storage, kHead, input.size()).value();
  if (p.in->config().protocol == esp::SecurityProtocol::esp && p.in->config().mode == esp::Mode::tunnel &&
      esp::open_esp(*p.in, pb).ok()) {
    std::abort();
  }

  // 2. As a host packet: what seal accepts, open gives back.
  if (!input.empty()) std::memcpy(storage.data() + kHead, input.data(), input.size());
  pb = PacketBuffer::over(storage, kHead, input.size()).value();
  auto sealed = esp::seal(*p.out, pb);
  if (!sealed) return 0;
  // seal protects the packet its own length field delimits (RFC 4303 2.3).
  const size_t length =
      (input[0] >> 4) == 4 ? size_t{input[2]} << 8 | input[3] : 40 + (size_t{input[4]} << 8 | input[5]);
  esp::OpenResult result;
  esp::open_burst(*p.in, std::span<PacketBuffer>(&pb, 1), std::span<esp::OpenResult>(&result, 1));
  if (!result.status.ok()) {
    // The inbound side may refuse what it cannot verify the same way (a
    // TFC-free tunnel payload that is not IP is refused at seal already).
    std::abort();
  }
  if (pb.size() != length) std::abort();
  // Transport mode rewrites the IPv4 header checksum (the protocol and
  // length change on the way, RFC 4303 3.1.1); a wrong one comes back right.
  const bool checksum_rewritten = p.in->config().mode == esp::Mode::transport && (input[0] >> 4) == 4;
  // With the peer's pre-NAT addresses, the TCP/UDP checksum is adjusted to
  // the addresses on the wire (RFC 3948 3.1.2): skipped in the comparison
  // (the whole transport part behind IPv6 extension headers).
  size_t l4_checksum = SIZE_MAX;
  size_t compared = length;
  if (p.in->config().nat_original_source) {
    const bool v4 = (input[0] >> 4) == 4;
    const size_t ip_header = v4 ? size_t{input[0] & 15u} * 4 : 40;
    const uint8_t protocol = v4 ? input[9] : input[6];
    if (protocol == 6) l4_checksum = ip_header + 16;
    if (protocol == 17) l4_checksum = ip_header + 6;
    if (!v4 && protocol != 6 && protocol != 17) compared = std::min(length, ip_header);
  }
  for (size_t i = 0; i < compared; ++i) {
    if (checksum_rewritten && (i == 10 || i == 11)) continue;
    if (i == l4_checksum || i == l4_checksum + 1) continue;
    if (pb.data()[i] != input[i]) std::abort();
  }

  // 3. Sealed again and its last octet (ICV or protected payload, covered
  // by the ICV in ESP and AH alike) flipped: never accepted.
  if (!input.empty()) std::memcpy(storage.data() + kHead, input.data(), input.size());
  pb = PacketBuffer::over(storage, kHead, input.size()).value();
  if (!esp::seal(*p.out, pb)) return 0;
  pb.data()[pb.size() - 1] ^= 0x01;
  if (esp::open(*p.in, pb).ok()) std::abort();
  return 0;
}
