// SPDX-License-Identifier: Apache-2.0
// IKEv2 traffic selectors and policy (RFC 7296 2.9, 3.13): the TS payloads'
// ranges as the SPD's selectors, and the responder's narrowing of what the
// initiator proposes to what its configuration allows.
//
// A child SA carries the traffic TSi x TSr: every pair of an initiator-side
// and a responder-side selector. Each side is a list of ranges (address
// range, IP protocol, port range, RFC 7296 3.13.1); narrowing intersects the
// peer's list with ours, side by side.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/sa/selector.hpp"
#include "ipsec/wire/ike_enums.hpp"
#include "ipsec/wire/ike_payloads.hpp"

namespace ipsec::ike {

// TsRange: one side of traffic as one TS substructure says it (RFC 7296
// 3.13.1): addresses, IP protocol (0: any), ports. For ICMP the ports hold
// type << 8 | code. Start port 65535 with end port 0 is OPAQUE.
struct TsRange {
  sa::AddressRange addresses = sa::AddressRange::any(IpFamily::v4);
  uint8_t protocol = 0;
  uint16_t start_port = 0;
  uint16_t end_port = 65535;

  [[nodiscard]] bool opaque() const noexcept { return start_port == 65535 && end_port == 0; }
  friend bool operator==(const TsRange&, const TsRange&) noexcept = default;
};

// from_wire: a decoded TS substructure as a range. Errors: unsupported_algorithm
// (a TS type other than the IPv4/IPv6 address ranges: the caller skips it),
// invalid_value (start address above end address).
[[nodiscard]] inline Result<TsRange> from_wire(const wire::TrafficSelector& ts) noexcept {
  if (ts.type != wire::TsType::ipv4_addr_range && ts.type != wire::TsType::ipv6_addr_range) {
    return Errc::unsupported_algorithm;
  }
  auto first = IpAddress::from_bytes(ts.start_address);
  auto last = IpAddress::from_bytes(ts.end_address);
  if (!first || !last) return Errc::invalid_value;
  TsRange r{sa::AddressRange{*first, *last}, ts.ip_protocol, ts.start_port, ts.end_port};
  if (!r.addresses.valid()) return Errc::invalid_value;
  return r;
}

// to_wire: a range as a TS substructure (its address views point into r).
[[nodiscard]] inline wire::TrafficSelector to_wire(const TsRange& r) noexcept {
  wire::TrafficSelector ts;
  ts.type =
      r.addresses.family() == IpFamily::v4 ? wire::TsType::ipv4_addr_range : wire::TsType::ipv6_addr_range;
  ts.ip_protocol = r.protocol;
  ts.start_port = r.start_port;
  ts.end_port = r.end_port;
  ts.start_address = r.addresses.first.bytes();
  ts.end_address = r.addresses.last.bytes();
  return ts;
}

// intersect: the traffic both ranges cover, if any (same family; protocols
// equal or one of them any; ports overlapping; OPAQUE only with OPAQUE or
// the full range).
[[nodiscard]] inline std::optional<TsRange> intersect(const TsRange& a, const TsRange& b) noexcept {
  if (a.addresses.family() != b.addresses.family()) return std::nullopt;
  TsRange r;
  r.addresses.first = std::max(a.addresses.first, b.addresses.first);
  r.addresses.last = std::min(a.addresses.last, b.addresses.last);
  if (r.addresses.last < r.addresses.first) return std::nullopt;
  if (a.protocol != 0 && b.protocol != 0 && a.protocol != b.protocol) return std::nullopt;
  r.protocol = a.protocol != 0 ? a.protocol : b.protocol;
  const bool a_any = a.start_port == 0 && a.end_port == 65535,
             b_any = b.start_port == 0 && b.end_port == 65535;
  if (a.opaque() || b.opaque()) {
    if (!(a.opaque() || a_any) || !(b.opaque() || b_any)) return std::nullopt;
    r.start_port = 65535;
    r.end_port = 0;
    return r;
  }
  r.start_port = std::max(a.start_port, b.start_port);
  r.end_port = std::min(a.end_port, b.end_port);
  if (r.end_port < r.start_port) return std::nullopt;
  return r;
}

// narrow: the ranges of `proposed` (one side, as the peer sent it) that
// `allowed` (our configuration for that side) also covers, intersected
// pairwise, in the peer's order, without duplicates (RFC 7296 2.9: the
// responder may narrow to a subset). Empty: nothing acceptable (the
// caller answers TS_UNACCEPTABLE).
[[nodiscard]] inline std::vector<TsRange> narrow(std::span<const TsRange> proposed,
                                                 std::span<const TsRange> allowed) {
  std::vector<TsRange> out;
  for (const TsRange& p : proposed) {
    for (const TsRange& a : allowed) {
      auto r = intersect(p, a);
      if (r && std::find(out.begin(), out.end(), *r) == out.end()) out.push_back(*r);
    }
  }
  return out;
}

// selectors: the SAD/SPD selectors of a child SA whose local side is
// `local` and remote side `remote` (for the initiator: TSi and TSr; for
// the responder: TSr and TSi): every compatible pair (same family; one
// protocol for both, RFC 4301 4.4.1.1 has a single next-layer protocol).
[[nodiscard]] inline std::vector<sa::Selector> selectors(std::span<const TsRange> local,
                                                         std::span<const TsRange> remote) {
  std::vector<sa::Selector> out;
  auto ports = [](const TsRange& r) {
    return r.opaque() ? sa::PortRange::opaque_only() : sa::PortRange{r.start_port, r.end_port, false};
  };
  for (const TsRange& l : local) {
    for (const TsRange& r : remote) {
      if (l.addresses.family() != r.addresses.family()) continue;
      if (l.protocol != 0 && r.protocol != 0 && l.protocol != r.protocol) continue;
      sa::Selector s;
      s.local = l.addresses;
      s.remote = r.addresses;
      s.protocol = l.protocol != 0 ? l.protocol : r.protocol;
      if (sa::is_icmp(s.protocol)) {
        // RFC 7296 3.13.1: ICMP type/code ride in the ports of the side
        // that names them; a side with the full range leaves it open.
        const TsRange& named = (l.start_port == 0 && l.end_port == 65535) ? r : l;
        s.icmp = ports(named);
      } else {
        s.local_port = ports(l);
        s.remote_port = ports(r);
      }
      out.push_back(s);
    }
  }
  return out;
}

}  // namespace ipsec::ike
