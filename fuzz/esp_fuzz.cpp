// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the ESP/AH packet path with fixed SAs. The first octet picks
// an SA configuration (ESP or AH, tunnel or transport, IPv4 or IPv6 outer,
// ESN, UDP encapsulation, transform); the rest is
//  - fed to open() as a received datagram (and to open_esp()): whatever it
//    holds, no crash, no read outside it, and nothing forged is accepted;
//  - sealed as a host packet: when seal() accepts it, open() must give the
//    same packet back.
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
  static std::array<Pair, 128> pairs;
  Pair& p = pairs[selector & 127];
  if (!p.out) {
    const esp::SaConfig c = config_for(selector & 127);
    p.out = std::move(esp::OutboundSa::create(c, provider).value());
    p.in = std::move(esp::InboundSa::create(c, provider).value());
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
  auto opened = esp::open(*p.in, pb);
  if (!opened) {
    // The inbound side may refuse what it cannot verify the same way (a
    // TFC-free tunnel payload that is not IP is refused at seal already).
    std::abort();
  }
  if (pb.size() != length) std::abort();
  // Transport mode rewrites the IPv4 header checksum (the protocol and
  // length change on the way, RFC 4303 3.1.1); a wrong one comes back right.
  const bool checksum_rewritten = p.in->config().mode == esp::Mode::transport && (input[0] >> 4) == 4;
  for (size_t i = 0; i < length; ++i) {
    if (checksum_rewritten && (i == 10 || i == 11)) continue;
    if (pb.data()[i] != input[i]) std::abort();
  }
  return 0;
}
