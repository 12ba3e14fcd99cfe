// SPDX-License-Identifier: Apache-2.0
// IPv4 and IPv6 header views over packet bytes, and the IPv6
// extension-header walk that transport-mode ESP and selector matching need.
// Views are zero-copy: they hold spans into the caller's packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"

namespace ipsec::wire {

// IANA "Assigned Internet Protocol Numbers" (open: any uint8_t may appear).
enum class IpProtocol : uint8_t {
  hop_by_hop = 0,
  icmp = 1,
  ipv4 = 4,  // IP-in-IP (tunnel mode inner IPv4)
  tcp = 6,
  udp = 17,
  ipv6 = 41,  // tunnel mode inner IPv6
  routing = 43,
  fragment = 44,
  esp = 50,
  ah = 51,
  icmpv6 = 58,
  no_next_header = 59,
  destination_options = 60,
  mobility = 135,
  hip = 139,
  shim6 = 140,
  experiment_253 = 253,
  experiment_254 = 254,
};

[[nodiscard]] constexpr std::string_view to_string(IpProtocol p) noexcept {
  switch (p) {
    case IpProtocol::hop_by_hop: return "HOPOPT";
    case IpProtocol::icmp: return "ICMP";
    case IpProtocol::ipv4: return "IPv4";
    case IpProtocol::tcp: return "TCP";
    case IpProtocol::udp: return "UDP";
    case IpProtocol::ipv6: return "IPv6";
    case IpProtocol::routing: return "IPv6-Route";
    case IpProtocol::fragment: return "IPv6-Frag";
    case IpProtocol::esp: return "ESP";
    case IpProtocol::ah: return "AH";
    case IpProtocol::icmpv6: return "IPv6-ICMP";
    case IpProtocol::no_next_header: return "IPv6-NoNxt";
    case IpProtocol::destination_options: return "IPv6-Opts";
    case IpProtocol::mobility: return "Mobility Header";
    case IpProtocol::hip: return "HIP";
    case IpProtocol::shim6: return "Shim6";
    case IpProtocol::experiment_253: return "experimental-253";
    case IpProtocol::experiment_254: return "experimental-254";
  }
  return "unknown";
}

// internet_checksum: the RFC 1071 ones'-complement sum of `data` (an odd
// trailing byte is padded with zero), complemented. Verifying a header that
// contains its own checksum yields 0.
[[nodiscard]] inline uint16_t internet_checksum(ByteView data, uint32_t initial_sum = 0) noexcept {
  uint64_t sum = initial_sum;
  ByteReader r(data);
  uint16_t word = 0;
  while (r.read_u16(&word)) sum += word;
  uint8_t last = 0;
  if (r.remaining() == 1 && ByteReader(data.last(1)).read_u8(&last)) sum += uint32_t{last} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

// IPv4 header (RFC 791 section 3.1).
struct Ipv4Header {
  static constexpr size_t kMinSize = 20;

  uint8_t header_length = 0;  // bytes (IHL * 4)
  uint8_t tos = 0;            // DSCP and ECN
  uint16_t total_length = 0;
  uint16_t identification = 0;
  bool dont_fragment = false;
  bool more_fragments = false;
  uint16_t fragment_offset = 0;  // in 8-octet units
  uint8_t ttl = 0;
  IpProtocol protocol = IpProtocol::ipv4;
  uint16_t checksum = 0;
  IpAddress source;
  IpAddress destination;
  ByteView header;  // the whole header, options included
  ByteView options;
  ByteView payload;  // bounded by total_length, not by the buffer

  [[nodiscard]] bool is_fragment() const noexcept { return more_fragments || fragment_offset != 0; }
  [[nodiscard]] bool checksum_valid() const noexcept { return internet_checksum(header) == 0; }

  // parse: the header at the front of `packet`. Errors: truncated (shorter
  // than the header or than total_length; offset = where it ended),
  // unsupported_version (not 4), invalid_length (IHL < 5, total_length
  // shorter than the header). Bytes after total_length (link-layer padding)
  // are ignored, not an error. The checksum is reported, not enforced.
  [[nodiscard]] static Result<Ipv4Header> parse(ByteView packet) noexcept {
    ByteReader r(packet);
    uint8_t version_ihl = 0, tos = 0, ttl = 0, protocol = 0;
    uint16_t total = 0, id = 0, frag = 0, checksum = 0;
    ByteView src, dst;
    if (!r.read_u8(&version_ihl) || !r.read_u8(&tos) || !r.read_u16(&total) || !r.read_u16(&id) ||
        !r.read_u16(&frag) || !r.read_u8(&ttl) || !r.read_u8(&protocol) || !r.read_u16(&checksum) ||
        !r.read_bytes(4, &src) || !r.read_bytes(4, &dst)) {
      return r.status().with_field("ipv4 header");
    }
    if ((version_ihl >> 4) != 4) return Status(Errc::unsupported_version, 0, "ipv4 version");
    const size_t ihl = size_t{version_ihl & 0x0fu} * 4;
    if (ihl < kMinSize) return Status(Errc::invalid_length, 0, "ipv4 ihl");
    if (total < ihl) return Status(Errc::invalid_length, 2, "ipv4 total length");
    Ipv4Header h;
    if (!r.read_bytes(ihl - kMinSize, &h.options)) return r.status().with_field("ipv4 options");
    if (!r.read_bytes(total - ihl, &h.payload)) return r.status().with_field("ipv4 payload");
    h.header = packet.first(ihl);
    h.header_length = static_cast<uint8_t>(ihl);
    h.tos = tos;
    h.total_length = total;
    h.identification = id;
    h.dont_fragment = (frag & 0x4000) != 0;
    h.more_fragments = (frag & 0x2000) != 0;
    h.fragment_offset = frag & 0x1fff;
    h.ttl = ttl;
    h.protocol = static_cast<IpProtocol>(protocol);
    h.checksum = checksum;
    h.source = IpAddress::from_bytes(src).value();
    h.destination = IpAddress::from_bytes(dst).value();
    return h;
  }
};

// IPv6 fixed header (RFC 8200 section 3).
struct Ipv6Header {
  static constexpr size_t kSize = 40;

  uint8_t traffic_class = 0;
  uint32_t flow_label = 0;
  uint16_t payload_length = 0;
  IpProtocol next_header = IpProtocol::no_next_header;
  uint8_t hop_limit = 0;
  IpAddress source;
  IpAddress destination;
  ByteView payload;  // everything after the fixed header, bounded by payload_length

  // parse: errors truncated (shorter than 40 bytes or than payload_length),
  // unsupported_version (not 6). Trailing link padding is ignored.
  [[nodiscard]] static Result<Ipv6Header> parse(ByteView packet) noexcept {
    ByteReader r(packet);
    uint32_t vtf = 0;
    uint16_t plen = 0;
    uint8_t next = 0, hops = 0;
    ByteView src, dst;
    if (!r.read_u32(&vtf) || !r.read_u16(&plen) || !r.read_u8(&next) || !r.read_u8(&hops) ||
        !r.read_bytes(16, &src) || !r.read_bytes(16, &dst)) {
      return r.status().with_field("ipv6 header");
    }
    if ((vtf >> 28) != 6) return Status(Errc::unsupported_version, 0, "ipv6 version");
    Ipv6Header h;
    if (!r.read_bytes(plen, &h.payload)) return r.status().with_field("ipv6 payload");
    h.traffic_class = static_cast<uint8_t>(vtf >> 20);
    h.flow_label = vtf & 0xfffff;
    h.payload_length = plen;
    h.next_header = static_cast<IpProtocol>(next);
    h.hop_limit = hops;
    h.source = IpAddress::from_bytes(src).value();
    h.destination = IpAddress::from_bytes(dst).value();
    return h;
  }
};

// is_ipv6_extension_header: the protocol numbers RFC 8200 section 4 and the
// IANA "IPv6 Extension Header Types" registry list, plus AH (RFC 4302) whose
// length field counts 4-octet units. ESP is one too, but it cannot be walked
// past: a walk stops at ESP as at an upper-layer protocol.
[[nodiscard]] constexpr bool is_ipv6_extension_header(IpProtocol p) noexcept {
  switch (p) {
    case IpProtocol::hop_by_hop:
    case IpProtocol::routing:
    case IpProtocol::fragment:
    case IpProtocol::destination_options:
    case IpProtocol::ah:
    case IpProtocol::mobility:
    case IpProtocol::hip:
    case IpProtocol::shim6:
    case IpProtocol::experiment_253:
    case IpProtocol::experiment_254: return true;
    default: return false;
  }
}

// One extension header found by the walk: its type, where it starts
// (relative to the IPv6 payload) and its length in bytes.
struct Ipv6ExtensionHeader {
  IpProtocol type = IpProtocol::hop_by_hop;
  uint32_t offset = 0;
  uint32_t length = 0;
  IpProtocol next_header = IpProtocol::no_next_header;
};

// Ipv6ExtensionWalker: steps through the extension headers at the front of
// an IPv6 payload, bounds-checked, at most limits::kMaxIpv6ExtensionHeaders.
//   Ipv6ExtensionWalker w(h.next_header, h.payload);
//   Ipv6ExtensionHeader e;
//   while (w.next(&e)) { ... }
//   if (!w.status().ok()) drop; else w.upper_layer(), w.upper_layer_offset()
class Ipv6ExtensionWalker {
 public:
  // first: the Next Header of the fixed header; payload: the IPv6 payload.
  Ipv6ExtensionWalker(IpProtocol first, ByteView payload) noexcept
      : reader_(payload, static_cast<uint32_t>(Ipv6Header::kSize)), current_(first) {}

  // next: the next extension header, or false at the upper layer (or on an
  // error; then status() says which: truncated, limit_exceeded,
  // invalid_value for a hop-by-hop header anywhere but first).
  [[nodiscard]] bool next(Ipv6ExtensionHeader* out) noexcept {
    if (!is_ipv6_extension_header(current_) || reader_.failed()) return false;
    // RFC 8200 section 4.3: Hop-by-Hop Options only directly after the fixed header.
    if (current_ == IpProtocol::hop_by_hop && count_ != 0) {
      (void)reader_.fail(Errc::invalid_value, "ipv6 hop-by-hop not first");
      return false;
    }
    if (count_ == limits::kMaxIpv6ExtensionHeaders) {
      (void)reader_.fail(Errc::limit_exceeded, "ipv6 extension headers");
      return false;
    }
    const size_t start = reader_.position();
    ByteReader probe = reader_;
    uint8_t next = 0, len = 0;
    if (!probe.read_u8(&next) || !probe.read_u8(&len)) {
      (void)reader_.fail_at(probe.status().code(), probe.status().offset(), "ipv6 extension header");
      return false;
    }
    size_t total = 0;
    if (current_ == IpProtocol::fragment) {
      total = 8;  // RFC 8200 section 4.5: fixed size, the length octet is reserved
    } else if (current_ == IpProtocol::ah) {
      total = (size_t{len} + 2) * 4;  // RFC 4302 section 2.2
    } else {
      total = (size_t{len} + 1) * 8;  // RFC 8200 section 4.3-4.6
    }
    if (!reader_.skip(total)) {
      (void)reader_.fail(Errc::truncated, "ipv6 extension header");
      return false;
    }
    out->type = current_;
    out->offset = static_cast<uint32_t>(start);
    out->length = static_cast<uint32_t>(total);
    out->next_header = static_cast<IpProtocol>(next);
    current_ = out->next_header;
    ++count_;
    return true;
  }
  [[nodiscard]] Status status() const noexcept { return reader_.status(); }
  // upper_layer: the protocol after the last extension header (valid once
  // next() returned false with an ok status).
  [[nodiscard]] IpProtocol upper_layer() const noexcept { return current_; }
  // upper_layer_offset: where that protocol's header starts, relative to the
  // IPv6 payload.
  [[nodiscard]] size_t upper_layer_offset() const noexcept { return reader_.position(); }

 private:
  ByteReader reader_;
  IpProtocol current_;
  size_t count_ = 0;
};

// routing_final_destination: the address a packet carrying this IPv6
// routing header is finally delivered to, which upper-layer checksums use in
// their pseudo-header at the source (RFC 8200 8.1). With Segments Left 0 the
// Destination Address is final and `final_destination` is left alone; else
// it is the last address of a type 0 (RFC 2460) or type 2 (RFC 6275 6.4)
// header, or Segment List[0] of a Segment Routing Header (type 4, RFC 8754
// 2). Errors: truncated, unsupported_header (another type with segments
// left: the final address is not known here).
[[nodiscard]] inline Status routing_final_destination(ByteView routing_header,
                                                      IpAddress* final_destination) noexcept {
  ByteReader r(routing_header);
  uint8_t next = 0, length = 0, type = 0, segments_left = 0;
  if (!r.read_u8(&next) || !r.read_u8(&length) || !r.read_u8(&type) || !r.read_u8(&segments_left)) {
    return r.status().with_field("ipv6 routing header");
  }
  if (segments_left == 0) return Status::success();
  ByteView address;
  if (type == 0 || type == 2) {
    // Reserved (4), then Address[1..n]: the last one is final.
    const size_t count = size_t{length} / 2;
    if (count == 0 || !r.skip(4 + (count - 1) * 16) || !r.read_bytes(16, &address)) {
      return r.status().ok() ? Status(Errc::invalid_length, 1, "ipv6 routing header") : r.status();
    }
  } else if (type == 4) {
    // Last Entry, Flags, Tag, then Segment List[0] (the final segment) first.
    if (!r.skip(4) || !r.read_bytes(16, &address))
      return r.status().with_field("ipv6 segment routing header");
  } else {
    return Status(Errc::unsupported_header, 2, "ipv6 routing type");
  }
  *final_destination = IpAddress::from_bytes(address).value();
  return Status::success();
}

}  // namespace ipsec::wire
