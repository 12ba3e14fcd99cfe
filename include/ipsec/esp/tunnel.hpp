// SPDX-License-Identifier: Apache-2.0
// Outer headers of tunnel mode and UDP encapsulation: building the outer
// IPv4/IPv6 and UDP headers on the way out, and the RFC 6040 ECN rules on
// the way in. Shared by ESP and AH.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/bytes/writer.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/wire/ip_header.hpp"

namespace ipsec::esp::detail {

inline constexpr size_t kUdpHeaderSize = 8;

// ECN codepoints (RFC 3168 section 5).
inline constexpr uint8_t kNotEct = 0, kEct1 = 1, kEct0 = 2, kCe = 3;

// decap_ecn: RFC 6040 section 4.2, the ECN of the packet leaving the tunnel
// from the inner (arriving) and outer ECN; -1 means drop (outer CE on a
// Not-ECT inner packet: the congestion signal could not be passed on).
[[nodiscard]] constexpr int decap_ecn(uint8_t inner, uint8_t outer) noexcept {
  if (outer == kCe) return inner == kNotEct ? -1 : kCe;
  if (inner == kNotEct || inner == kCe) return inner;
  // inner ECT(0) or ECT(1): an outer ECT(1) marks the result ECT(1).
  return outer == kEct1 ? kEct1 : inner;
}

// InnerInfo: what encapsulation copies from the inner packet's header.
struct InnerInfo {
  IpFamily family = IpFamily::v4;
  uint8_t tos = 0;  // DSCP << 2 | ECN
  bool df = false;  // IPv4 DF; IPv6 packets are never fragmented en route
};

// inspect_inner: version, traffic class and DF of an inner IP packet.
// Errors: truncated, unexpected_protocol (not IPv4 or IPv6).
[[nodiscard]] inline Result<InnerInfo> inspect_inner(ByteView packet) noexcept {
  ByteReader r(packet);
  uint8_t b0 = 0, b1 = 0;
  if (!r.read_u8(&b0) || !r.read_u8(&b1)) return r.status().with_field("inner header");
  InnerInfo info;
  if ((b0 >> 4) == 4) {
    uint16_t total = 0, id = 0, frag = 0;
    if (!r.read_u16(&total) || !r.read_u16(&id) || !r.read_u16(&frag))
      return r.status().with_field("inner header");
    info.tos = b1;
    info.df = (frag & 0x4000) != 0;
    return info;
  }
  if ((b0 >> 4) == 6) {
    info.family = IpFamily::v6;
    info.tos = static_cast<uint8_t>(((b0 & 0x0f) << 4) | (b1 >> 4));
    info.df = true;  // RFC 8200 section 5: only the source fragments IPv6
    return info;
  }
  return Status(Errc::unexpected_protocol, 0, "inner IP version");
}

// Ipv4Fields / Ipv6Fields: the fields of an IP header that decapsulation
// reads. ipv4_fields and ipv6_fields accept exactly what
// wire::Ipv4Header::parse / Ipv6Header::parse accept and return the same
// errors (they hand anything unusual to parse), but read a well-formed
// header in place instead of building its addresses and views: open() reads
// two headers per packet.
struct Ipv4Fields {
  uint8_t header_length = 0;  // octets (IHL * 4)
  uint8_t tos = 0;
  uint8_t protocol = 0;
  uint16_t total_length = 0;
  uint16_t flags_fragment = 0;  // flags and fragment offset
  [[nodiscard]] bool is_fragment() const noexcept { return (flags_fragment & 0x3fff) != 0; }  // MF, offset
};
[[nodiscard]] inline Result<Ipv4Fields> ipv4_fields(ByteView packet) noexcept {
  if (packet.size() >= wire::Ipv4Header::kMinSize && (packet[0] >> 4) == 4) {
    const size_t ihl = size_t{packet[0] & 0x0fu} * 4;
    const uint16_t total = load_be16(packet.subspan<2, 2>());
    if (ihl >= wire::Ipv4Header::kMinSize && total >= ihl && total <= packet.size()) {
      Ipv4Fields f;
      f.header_length = static_cast<uint8_t>(ihl);
      f.tos = packet[1];
      f.protocol = packet[9];
      f.total_length = total;
      f.flags_fragment = load_be16(packet.subspan<6, 2>());
      return f;
    }
  }
  auto h = wire::Ipv4Header::parse(packet);  // refuses it, with the precise error
  if (!h) return h.status();
  Ipv4Fields f;
  f.header_length = h->header_length;
  f.tos = h->tos;
  f.protocol = static_cast<uint8_t>(h->protocol);
  f.total_length = h->total_length;
  f.flags_fragment = static_cast<uint16_t>((h->dont_fragment ? 0x4000 : 0) |
                                           (h->more_fragments ? 0x2000 : 0) | h->fragment_offset);
  return f;
}

struct Ipv6Fields {
  uint8_t traffic_class = 0;
  wire::IpProtocol next_header = wire::IpProtocol::no_next_header;
  uint16_t payload_length = 0;
  ByteView payload;  // bounded by payload_length
};
[[nodiscard]] inline Result<Ipv6Fields> ipv6_fields(ByteView packet) noexcept {
  if (packet.size() >= wire::Ipv6Header::kSize && (packet[0] >> 4) == 6) {
    const uint16_t length = load_be16(packet.subspan<4, 2>());
    if (length <= packet.size() - wire::Ipv6Header::kSize) {
      Ipv6Fields f;
      f.traffic_class = static_cast<uint8_t>((packet[0] << 4) | (packet[1] >> 4));
      f.next_header = static_cast<wire::IpProtocol>(packet[6]);
      f.payload_length = length;
      f.payload = packet.subspan(wire::Ipv6Header::kSize, length);
      return f;
    }
  }
  auto h = wire::Ipv6Header::parse(packet);  // refuses it, with the precise error
  if (!h) return h.status();
  Ipv6Fields f;
  f.traffic_class = h->traffic_class;
  f.next_header = h->next_header;
  f.payload_length = h->payload_length;
  f.payload = h->payload;
  return f;
}

// outer_header_size: the outer IP header of a tunnel.
[[nodiscard]] inline size_t outer_header_size(const TunnelConfig& t) noexcept {
  return t.local.is_v4() ? wire::Ipv4Header::kMinSize : wire::Ipv6Header::kSize;
}

// outer_tos: DSCP per the tunnel policy, ECN copied (RFC 6040 4.1 normal mode).
[[nodiscard]] inline uint8_t outer_tos(const TunnelConfig& t, const InnerInfo& inner) noexcept {
  const uint8_t dscp = t.copy_dscp ? static_cast<uint8_t>(inner.tos & 0xfc) : 0;
  return static_cast<uint8_t>(dscp | (inner.tos & 0x03));
}

// write_ipv4_header: a 20-octet IPv4 header with its checksum.
inline void write_ipv4_header(MutableByteView out, uint8_t tos, uint16_t total_length, uint16_t id, bool df,
                              uint8_t ttl, uint8_t protocol, const IpAddress& src,
                              const IpAddress& dst) noexcept {
  // RFC 1071: the checksum is summed from the field values as they are
  // written (every 16-bit word of the header but the checksum itself), not
  // read back: this runs once per tunnel-mode packet.
  const uint16_t flags = df ? 0x4000 : 0;
  const ByteView s = src.bytes(), d = dst.bytes();
  uint32_t sum = (uint32_t{0x45} << 8 | tos) + total_length + id + flags + (uint32_t{ttl} << 8 | protocol);
  for (size_t i = 0; i + 1 < s.size(); i += 2) sum += uint32_t{s[i]} << 8 | s[i + 1];
  for (size_t i = 0; i + 1 < d.size(); i += 2) sum += uint32_t{d[i]} << 8 | d[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  ByteWriter w(out.first(wire::Ipv4Header::kMinSize));
  w.put_u8(0x45);
  w.put_u8(tos);
  w.put_u16(total_length);
  w.put_u16(id);
  w.put_u16(flags);
  w.put_u8(ttl);
  w.put_u8(protocol);
  w.put_u16(static_cast<uint16_t>(~sum & 0xffff));
  w.put_bytes(s);
  w.put_bytes(d);
}

// write_ipv6_header: a 40-octet IPv6 header (flow label 0).
inline void write_ipv6_header(MutableByteView out, uint8_t traffic_class, uint16_t payload_length,
                              uint8_t next_header, uint8_t hop_limit, const IpAddress& src,
                              const IpAddress& dst) noexcept {
  ByteWriter w(out.first(wire::Ipv6Header::kSize));
  w.put_u32((uint32_t{6} << 28) | (uint32_t{traffic_class} << 20));
  w.put_u16(payload_length);
  w.put_u8(next_header);
  w.put_u8(hop_limit);
  w.put_bytes(src.bytes());
  w.put_bytes(dst.bytes());
}

// udp_checksum_ipv6: the UDP checksum over the IPv6 pseudo-header (RFC 8200
// 8.1) and the datagram (whose checksum field is zero); 0 is sent as 0xffff.
[[nodiscard]] inline uint16_t udp_checksum_ipv6(const IpAddress& src, const IpAddress& dst,
                                                ByteView datagram) noexcept {
  uint32_t sum = 0;
  ByteReader a(src.bytes()), b(dst.bytes());
  uint16_t word = 0;
  while (a.read_u16(&word)) sum += word;
  while (b.read_u16(&word)) sum += word;
  sum += static_cast<uint32_t>(datagram.size() >> 16) + static_cast<uint32_t>(datagram.size() & 0xffff);
  sum += static_cast<uint32_t>(wire::IpProtocol::udp);
  const uint16_t c = wire::internet_checksum(datagram, sum);
  return c == 0 ? 0xffff : c;
}

// write_udp_header: RFC 768 header; the checksum is 0 over IPv4 (RFC 3948
// 3.1.1 allows it) and computed over IPv6, where 0 is not allowed
// (RFC 8200 8.1) unless the SA opted into RFC 6935/6936, once the datagram
// behind the header is complete.
inline void write_udp_header(MutableByteView udp_and_payload, const UdpEncapsulation& ports,
                             const IpAddress* ipv6_src, const IpAddress* ipv6_dst) noexcept {
  ByteWriter w(udp_and_payload.first(kUdpHeaderSize));
  w.put_u16(ports.local_port);
  w.put_u16(ports.remote_port);
  w.put_u16(static_cast<uint16_t>(udp_and_payload.size()));
  const auto checksum = w.reserve_u16();
  if (ipv6_src != nullptr && !ports.zero_checksum_ipv6) {
    w.patch(checksum, udp_checksum_ipv6(*ipv6_src, *ipv6_dst, udp_and_payload));
  }
}

// set_inner_ecn: rewrite the ECN field of an inner IPv4 or IPv6 header in
// place (fixing the IPv4 checksum).
inline void set_inner_ecn(MutableByteView packet, uint8_t ecn) noexcept {
  if (packet.size() >= wire::Ipv4Header::kMinSize && (packet[0] >> 4) == 4) {
    packet[1] = static_cast<uint8_t>((packet[1] & 0xfc) | ecn);
    const size_t ihl = size_t{packet[0] & 0x0fu} * 4;
    if (ihl < wire::Ipv4Header::kMinSize || ihl > packet.size()) return;
    packet[10] = 0;
    packet[11] = 0;
    const uint16_t c = wire::internet_checksum(ByteView(packet).first(ihl));
    packet[10] = static_cast<uint8_t>(c >> 8);
    packet[11] = static_cast<uint8_t>(c);
  } else if (packet.size() >= 2) {
    // IPv6: the traffic class spans the low nibble of octet 0 and the high of octet 1.
    packet[1] = static_cast<uint8_t>((packet[1] & 0xcf) | (ecn << 4));
  }
}

}  // namespace ipsec::esp::detail
