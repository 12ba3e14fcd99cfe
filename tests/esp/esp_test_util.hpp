// SPDX-License-Identifier: Apache-2.0
// Helpers for the ESP/AH tests: SA pairs with fixed keys, inner packets,
// buffers with headroom and tailroom.
#pragma once

#include <array>
#include <memory>
#include <string_view>
#include <vector>

#include "ipsec/crypto/provider.hpp"
#include "ipsec/esp/esp.hpp"
#include "ipsec/wire/ip_header.hpp"
#include "test_util.hpp"

namespace ipsec::test {

// A host buffer: headroom, packet, tailroom.
struct HostBuffer {
  std::vector<uint8_t> storage;
  PacketBuffer pb;

  explicit HostBuffer(ByteView packet, size_t headroom = limits::kEspMaxHeadroom + 32,
                      size_t tailroom = limits::kEspMaxTailroom + 64)
      : storage(headroom + packet.size() + tailroom) {
    // copy_bytes (a checked memmove) rather than std::copy: GCC 12 at -O2
    // warns (-Wstringop-overflow) about the latter's unprovable length here.
    REQUIRE(copy_bytes(MutableByteView(storage).subspan(headroom), packet));
    pb = PacketBuffer::over(storage, headroom, packet.size()).value();
  }
  HostBuffer(const HostBuffer&) = delete;  // pb points into storage
  HostBuffer& operator=(const HostBuffer&) = delete;
  [[nodiscard]] Bytes bytes() const { return Bytes(pb.data().begin(), pb.data().end()); }
};

// ipv4_packet: a UDP datagram src -> dst with `payload_size` octets,
// checksums valid (RFC 791, RFC 768 over the pseudo-header).
inline Bytes ipv4_udp(std::string_view src, std::string_view dst, size_t payload_size, uint8_t tos = 0,
                      bool df = true) {
  const auto s = IpAddress::parse(src).value(), d = IpAddress::parse(dst).value();
  Bytes p(20 + 8 + payload_size);
  const size_t total = p.size();
  p[0] = 0x45;
  p[1] = tos;
  p[2] = static_cast<uint8_t>(total >> 8);
  p[3] = static_cast<uint8_t>(total);
  p[4] = 0x12;
  p[5] = 0x34;
  p[6] = df ? 0x40 : 0;
  p[8] = 64;
  p[9] = 17;
  std::copy(s.bytes().begin(), s.bytes().end(), p.begin() + 12);
  std::copy(d.bytes().begin(), d.bytes().end(), p.begin() + 16);
  const uint16_t c = wire::internet_checksum(ByteView(p).first(20));
  p[10] = static_cast<uint8_t>(c >> 8);
  p[11] = static_cast<uint8_t>(c);
  p[20] = 0x30;  // ports 12345 -> 53
  p[21] = 0x39;
  p[23] = 53;
  p[24] = static_cast<uint8_t>((8 + payload_size) >> 8);
  p[25] = static_cast<uint8_t>(8 + payload_size);
  for (size_t i = 0; i < payload_size; ++i) p[28 + i] = static_cast<uint8_t>(i * 7 + 3);
  return p;
}

// ipv6_udp: the same over IPv6, with optional extension headers (raw
// octets, each starting with its next-header octet; `first` is the type of
// the first one, or 17 when there are none).
inline Bytes ipv6_udp(std::string_view src, std::string_view dst, size_t payload_size,
                      uint8_t traffic_class = 0, const Bytes& extensions = {}, uint8_t first = 17) {
  const auto s = IpAddress::parse(src).value(), d = IpAddress::parse(dst).value();
  const size_t plen = extensions.size() + 8 + payload_size;
  Bytes p(40 + plen);
  p[0] = static_cast<uint8_t>(0x60 | (traffic_class >> 4));
  p[1] = static_cast<uint8_t>(traffic_class << 4);
  p[4] = static_cast<uint8_t>(plen >> 8);
  p[5] = static_cast<uint8_t>(plen);
  p[6] = extensions.empty() ? 17 : first;
  p[7] = 64;
  std::copy(s.bytes().begin(), s.bytes().end(), p.begin() + 8);
  std::copy(d.bytes().begin(), d.bytes().end(), p.begin() + 24);
  // Sized once, filled through copy_bytes: growing the vector here makes
  // GCC 12 at -O2 warn (-Warray-bounds) about the copy.
  REQUIRE(copy_bytes(MutableByteView(p).subspan(40), extensions));
  const size_t udp = 40 + extensions.size();
  p[udp] = 0x30;
  p[udp + 1] = 0x39;
  p[udp + 3] = 53;
  p[udp + 4] = static_cast<uint8_t>((8 + payload_size) >> 8);
  p[udp + 5] = static_cast<uint8_t>(8 + payload_size);
  for (size_t i = 0; i < payload_size; ++i) p[udp + 8 + i] = static_cast<uint8_t>(i * 5 + 1);
  return p;
}

// A deterministic key of n octets.
inline Bytes test_key(size_t n, uint8_t seed) {
  Bytes k(n);
  for (size_t i = 0; i < n; ++i) k[i] = static_cast<uint8_t>(seed + 13 * i);
  return k;
}

// SaPair: an outbound SA and the matching inbound SA (same keys).
struct SaPair {
  std::unique_ptr<esp::OutboundSa> out;
  std::unique_ptr<esp::InboundSa> in;
};

struct Suite {
  crypto::EncrId encr = crypto::EncrId::aes_gcm_16;
  uint16_t key_bits = 256;
  crypto::IntegId integ = crypto::IntegId::none;
};

inline esp::SaConfig base_config(const Suite& suite, const Bytes& encr_key, const Bytes& integ_key) {
  esp::SaConfig c;
  c.spi = 0x01020304;
  c.encr = suite.encr;
  c.encr_key_bits = suite.key_bits;
  c.encr_keymat = encr_key;
  c.integ = suite.integ;
  c.integ_key = integ_key;
  return c;
}

// make_pair: out/in SAs for `config` (whose key views must stay valid
// during the call only).
inline SaPair make_pair(const esp::SaConfig& config, crypto::Provider& provider) {
  SaPair p;
  auto out = esp::OutboundSa::create(config, provider);
  auto in = esp::InboundSa::create(config, provider);
  REQUIRE_MESSAGE(out.ok(), out.status().name());
  REQUIRE_MESSAGE(in.ok(), in.status().name());
  p.out = std::move(*out);
  p.in = std::move(*in);
  return p;
}

inline esp::TunnelConfig tunnel4() {
  esp::TunnelConfig t;
  t.local = IpAddress::parse("192.0.2.1").value();
  t.remote = IpAddress::parse("198.51.100.2").value();
  return t;
}
inline esp::TunnelConfig tunnel6() {
  esp::TunnelConfig t;
  t.local = IpAddress::parse("2001:db8::1").value();
  t.remote = IpAddress::parse("2001:db8::2").value();
  return t;
}

}  // namespace ipsec::test
