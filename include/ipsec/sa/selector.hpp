// SPDX-License-Identifier: Apache-2.0
// Traffic selectors (RFC 4301 4.4.1.1): the addresses, next-layer protocol
// and ports that decide which policy and which SA a packet belongs to, and
// their extraction from an IP packet.
//
// Selectors are written from this host's point of view: `local` is our side
// (an outbound packet's source, an inbound packet's destination), `remote`
// the peer's side, as in an SPD entry (RFC 4301 4.4.1) and as IKEv2 traffic
// selectors are turned into policy (TSi/TSr, RFC 7296 2.9).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/wire/ip_header.hpp"

namespace ipsec::sa {

// Protocol 0 in a selector means ANY (as in IKEv2 traffic selectors,
// RFC 7296 3.13.1; hop-by-hop options are never an upper layer).
inline constexpr uint8_t kAnyProtocol = 0;

enum class Direction : uint8_t { outbound, inbound };

// AddressRange: first..last inclusive, both of one family.
struct AddressRange {
  IpAddress first;
  IpAddress last;

  [[nodiscard]] static constexpr AddressRange any(IpFamily family) noexcept {
    if (family == IpFamily::v4) return {IpAddress::v4({0, 0, 0, 0}), IpAddress::v4({255, 255, 255, 255})};
    std::array<uint8_t, 16> ones{};
    ones.fill(0xff);
    return {IpAddress::v6({}), IpAddress::v6(ones)};
  }
  [[nodiscard]] static constexpr AddressRange of(const IpPrefix& p) noexcept { return {p.first(), p.last()}; }
  [[nodiscard]] static constexpr AddressRange single(const IpAddress& a) noexcept { return {a, a}; }

  [[nodiscard]] constexpr IpFamily family() const noexcept { return first.family(); }
  [[nodiscard]] constexpr bool valid() const noexcept {
    return first.family() == last.family() && !(last < first);
  }
  [[nodiscard]] constexpr bool contains(const IpAddress& a) const noexcept {
    return a.family() == first.family() && !(a < first) && !(last < a);
  }
  [[nodiscard]] constexpr bool contains(const AddressRange& r) const noexcept {
    return contains(r.first) && contains(r.last);
  }
  friend constexpr bool operator==(const AddressRange&, const AddressRange&) noexcept = default;
};

// PortRange: low..high inclusive. ANY is 0..65535 and also matches packets
// whose ports cannot be known (non-initial fragments: RFC 4301 4.4.1.1
// calls that OPAQUE); `opaque` selects only such packets.
struct PortRange {
  uint16_t low = 0;
  uint16_t high = 65535;
  bool opaque = false;

  [[nodiscard]] static constexpr PortRange any() noexcept { return {}; }
  [[nodiscard]] static constexpr PortRange single(uint16_t p) noexcept { return {p, p, false}; }
  [[nodiscard]] static constexpr PortRange opaque_only() noexcept { return {0, 65535, true}; }
  [[nodiscard]] constexpr bool is_any() const noexcept { return low == 0 && high == 65535 && !opaque; }
  [[nodiscard]] constexpr bool matches(bool packet_opaque, uint16_t value) const noexcept {
    if (packet_opaque) return opaque || is_any();
    return !opaque && low <= value && value <= high;
  }
  [[nodiscard]] constexpr bool contains(const PortRange& r) const noexcept {
    if (is_any()) return true;
    if (opaque || r.opaque) return opaque == r.opaque && r.is_any() == is_any();
    return low <= r.low && r.high <= high;
  }
  friend constexpr bool operator==(const PortRange&, const PortRange&) noexcept = default;
};

// PacketSelectors: what a packet offers to be matched.
struct PacketSelectors {
  IpAddress source;
  IpAddress destination;
  uint8_t protocol = 0;  // the upper-layer protocol after IPv6 extension headers
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  uint16_t icmp_type_code = 0;  // type << 8 | code
  bool ports_opaque = false;    // a non-initial fragment, or too short to tell
};

[[nodiscard]] constexpr bool is_icmp(uint8_t protocol) noexcept { return protocol == 1 || protocol == 58; }
// has_ports: protocols whose first four octets are source and destination
// port: TCP, UDP, DCCP, SCTP, UDP-Lite.
[[nodiscard]] constexpr bool has_ports(uint8_t protocol) noexcept {
  return protocol == 6 || protocol == 17 || protocol == 33 || protocol == 132 || protocol == 136;
}

// UpperLayerSelector: the selector fields after the addresses (protocol,
// ports, ICMP type/code); the SPD index keeps these beside each candidate so
// that a lookup need not read the whole policy.
struct UpperLayerSelector {
  uint8_t protocol = kAnyProtocol;
  PortRange local_port;
  PortRange remote_port;
  PortRange icmp;

  [[nodiscard]] constexpr bool matches(const PacketSelectors& p, Direction direction) const noexcept {
    if (protocol == kAnyProtocol) return true;
    if (protocol != p.protocol) return false;
    if (is_icmp(protocol)) return icmp.matches(p.ports_opaque, p.icmp_type_code);
    if (!has_ports(protocol)) return true;
    const bool out = direction == Direction::outbound;
    const uint16_t local_p = out ? p.source_port : p.destination_port;
    const uint16_t remote_p = out ? p.destination_port : p.source_port;
    return local_port.matches(p.ports_opaque, local_p) && remote_port.matches(p.ports_opaque, remote_p);
  }
};

struct Selector {
  AddressRange local = AddressRange::any(IpFamily::v4);
  AddressRange remote = AddressRange::any(IpFamily::v4);
  uint8_t protocol = kAnyProtocol;
  PortRange local_port;
  PortRange remote_port;
  // ICMP and ICMPv6: the message type and code as one 16-bit value, type in
  // the high octet (RFC 4301 4.4.1.1, as IKEv2 carries it, RFC 7296 3.13.1);
  // the port ranges do not apply.
  PortRange icmp;

  [[nodiscard]] constexpr IpFamily family() const noexcept { return local.family(); }
  // valid: both ranges well-formed and of one family.
  [[nodiscard]] constexpr bool valid() const noexcept {
    return local.valid() && remote.valid() && local.family() == remote.family();
  }

  // matches: the packet, seen in `direction`, falls inside this selector.
  [[nodiscard]] constexpr UpperLayerSelector upper_layer() const noexcept {
    return UpperLayerSelector{protocol, local_port, remote_port, icmp};
  }
  [[nodiscard]] constexpr bool matches(const PacketSelectors& p, Direction direction) const noexcept {
    const bool out = direction == Direction::outbound;
    const IpAddress& local_address = out ? p.source : p.destination;
    const IpAddress& remote_address = out ? p.destination : p.source;
    return local.contains(local_address) && remote.contains(remote_address) &&
           upper_layer().matches(p, direction);
  }
  // contains: every packet `s` matches also matches this selector (a peer's
  // requested traffic inside what policy allows).
  [[nodiscard]] constexpr bool contains(const Selector& s) const noexcept {
    if (!local.contains(s.local) || !remote.contains(s.remote)) return false;
    if (protocol == kAnyProtocol) return true;
    if (protocol != s.protocol) return false;
    if (is_icmp(protocol)) return icmp.contains(s.icmp);
    return local_port.contains(s.local_port) && remote_port.contains(s.remote_port);
  }
  friend constexpr bool operator==(const Selector&, const Selector&) noexcept = default;
};

// extract_selectors: the selectors of the IP packet at the front of
// `packet`: addresses, the upper-layer protocol (after IPv6 extension
// headers) and its ports or ICMP type/code. Ports are opaque for non-initial
// fragments and for upper-layer headers too short to hold them (an initial
// fragment that cuts them off). Errors: those of the IPv4/IPv6 header
// parsers and of the extension-header walk (truncated, unsupported_version,
// invalid_length, limit_exceeded).
[[nodiscard]] inline Result<PacketSelectors> extract_selectors(ByteView packet) noexcept {
  if (packet.empty()) return Status(Errc::truncated, 0, "ip version");
  PacketSelectors s;
  ByteView upper;
  bool fragment_later = false;
  if ((packet[0] >> 4) == 4) {
    // The fields selectors need, read in place (this runs for every
    // packet): RFC 791 3.1.
    ByteReader r(packet);
    uint8_t version_ihl = 0, protocol = 0;
    uint16_t total = 0, fragment = 0;
    std::array<uint8_t, 4> source{}, destination{};
    if (!r.read_u8(&version_ihl) || !r.skip(1) || !r.read_u16(&total) || !r.skip(2) ||
        !r.read_u16(&fragment) || !r.skip(1) || !r.read_u8(&protocol) || !r.skip(2) || !r.read_into(source) ||
        !r.read_into(destination)) {
      return r.status().with_field("ipv4 header");
    }
    const size_t ihl = size_t{version_ihl & 0x0fu} * 4;
    if (ihl < wire::Ipv4Header::kMinSize) return Status(Errc::invalid_length, 0, "ipv4 ihl");
    if (total < ihl) return Status(Errc::invalid_length, 2, "ipv4 total length");
    if (total > packet.size())
      return Status(Errc::truncated, static_cast<uint32_t>(packet.size()), "ipv4 payload");
    s.source = IpAddress::v4(source);
    s.destination = IpAddress::v4(destination);
    s.protocol = protocol;
    fragment_later = (fragment & 0x1fff) != 0;
    upper = packet.subspan(ihl, total - ihl);
  } else {
    auto h = wire::Ipv6Header::parse(packet);
    if (!h) return h.status();
    s.source = h->source;
    s.destination = h->destination;
    wire::Ipv6ExtensionWalker walk(h->next_header, h->payload);
    wire::Ipv6ExtensionHeader ext;
    while (walk.next(&ext)) {
      if (ext.type == wire::IpProtocol::fragment) {
        ByteReader f(h->payload.subspan(ext.offset));
        uint8_t skip = 0;
        uint16_t offset_flags = 0;
        if (f.read_u8(&skip) && f.read_u8(&skip) && f.read_u16(&offset_flags)) {
          fragment_later = (offset_flags >> 3) != 0;
        }
      }
    }
    IPSEC_TRY(walk.status());
    s.protocol = static_cast<uint8_t>(walk.upper_layer());
    upper = h->payload.subspan(walk.upper_layer_offset());
  }
  ByteReader r(upper);
  if (fragment_later) {
    s.ports_opaque = true;
  } else if (is_icmp(s.protocol)) {
    uint8_t type = 0, code = 0;
    s.ports_opaque = !(r.read_u8(&type) && r.read_u8(&code));
    s.icmp_type_code = static_cast<uint16_t>(type << 8 | code);
  } else if (has_ports(s.protocol)) {
    s.ports_opaque = !(r.read_u16(&s.source_port) && r.read_u16(&s.destination_port));
  }
  return s;
}

}  // namespace ipsec::sa
