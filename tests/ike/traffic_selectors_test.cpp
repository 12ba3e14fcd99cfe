// SPDX-License-Identifier: Apache-2.0
// Traffic selectors (RFC 7296 2.9, 3.13): wire conversion, intersection,
// narrowing and the SAD/SPD selectors of a child SA. The narrowing of real
// strongSwan IKE_AUTH requests is checked in tests/wire/ike_strongswan_test.cpp.
#include "ipsec/ike/traffic_selectors.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "test_util.hpp"

using ipsec::Errc;
using ipsec::IpAddress;
using ipsec::IpPrefix;
using namespace ipsec::ike;
namespace sa = ipsec::sa;
namespace wire = ipsec::wire;

namespace {

TsRange range(const char* prefix, uint8_t protocol = 0, uint16_t lo = 0, uint16_t hi = 65535) {
  return TsRange{sa::AddressRange::of(IpPrefix::parse(prefix).value()), protocol, lo, hi};
}

}  // namespace

TEST_CASE("TS substructures as ranges and back (RFC 7296 3.13.1)") {
  const TsRange r = range("2001:db8::/32", 17, 500, 4500);
  const wire::TrafficSelector ts = to_wire(r);
  CHECK(ts.type == wire::TsType::ipv6_addr_range);
  CHECK(ts.ip_protocol == 17);
  CHECK(ts.start_address.size() == 16);
  auto back = from_wire(ts);
  REQUIRE(back.ok());
  CHECK(*back == r);
  wire::TrafficSelector label;
  label.type = wire::TsType::security_label;
  CHECK(from_wire(label).status() == Errc::unsupported_algorithm);
  wire::TrafficSelector reversed = to_wire(range("10.0.0.0/8"));
  const IpAddress hi = IpAddress::parse("10.255.255.255").value(), lo = IpAddress::parse("10.0.0.0").value();
  reversed.start_address = hi.bytes();
  reversed.end_address = lo.bytes();
  CHECK(from_wire(reversed).status() == Errc::invalid_value);
}

TEST_CASE("intersection and narrowing (RFC 7296 2.9)") {
  CHECK(intersect(range("10.0.0.0/8"), range("10.1.0.0/16")) == range("10.1.0.0/16"));
  CHECK_FALSE(intersect(range("10.0.0.0/16"), range("10.1.0.0/16")));
  CHECK_FALSE(intersect(range("10.0.0.0/8"), range("2001:db8::/32")));
  // Protocol: any narrows to the specific one; two different ones never meet.
  CHECK(intersect(range("10.0.0.0/8"), range("10.0.0.0/8", 6, 80, 80)) == range("10.0.0.0/8", 6, 80, 80));
  CHECK_FALSE(intersect(range("10.0.0.0/8", 17), range("10.0.0.0/8", 6)));
  // Ports overlap; OPAQUE meets only OPAQUE or the full range.
  CHECK(intersect(range("10.0.0.0/8", 6, 1, 1000), range("10.0.0.0/8", 6, 500, 2000)) ==
        range("10.0.0.0/8", 6, 500, 1000));
  CHECK_FALSE(intersect(range("10.0.0.0/8", 6, 1, 100), range("10.0.0.0/8", 6, 200, 300)));
  const TsRange opaque = range("10.0.0.0/8", 17, 65535, 0);
  CHECK(opaque.opaque());
  CHECK(intersect(opaque, range("10.0.0.0/8")) == opaque);
  CHECK_FALSE(intersect(opaque, range("10.0.0.0/8", 17, 53, 53)));

  // The initiator asks for everything; we allow two subnets: both, in order.
  const TsRange proposed[] = {range("0.0.0.0/0"), range("10.1.0.0/16")};
  const TsRange allowed[] = {range("10.1.0.0/16"), range("192.168.1.0/24")};
  const std::vector<TsRange> expected = {range("10.1.0.0/16"), range("192.168.1.0/24")};
  CHECK(narrow(proposed, allowed) == expected);
  const TsRange v6[] = {range("2001:db8::/32")};
  CHECK(narrow(v6, allowed).empty());
}

TEST_CASE("a child SA's selectors: every compatible pair of its two sides") {
  const TsRange local[] = {range("10.1.0.0/16"), range("2001:db8:1::/48")};
  const TsRange remote[] = {range("10.2.0.0/16", 6, 443, 443), range("2001:db8:2::/48"),
                            range("10.3.0.0/16", 17)};
  const auto s = selectors(local, remote);
  REQUIRE(s.size() == 3);  // the IPv4 side with the two IPv4 ranges, IPv6 with IPv6
  CHECK(s[0].protocol == 6);
  CHECK(s[0].remote_port == sa::PortRange::single(443));
  CHECK(s[0].local_port.is_any());
  sa::PacketSelectors p;
  p.source = IpAddress::parse("10.1.2.3").value();
  p.destination = IpAddress::parse("10.2.0.1").value();
  p.protocol = 6;
  p.source_port = 40000;
  p.destination_port = 443;
  CHECK(s[0].matches(p, sa::Direction::outbound));
  CHECK(s[1].protocol == 17);
  CHECK(s[2].family() == ipsec::IpFamily::v6);
  // ICMP type/code come from the side that names them.
  const TsRange echo[] = {range("10.2.0.0/16", 1, 8 << 8, 8 << 8)};
  const auto icmp = selectors(std::span<const TsRange>(local).first(1), echo);
  REQUIRE(icmp.size() == 1);
  CHECK(icmp[0].icmp == sa::PortRange::single(8 << 8));
  // Different protocols on the two sides: no selector.
  const TsRange udp[] = {range("10.1.0.0/16", 17)};
  CHECK(selectors(udp, std::span<const TsRange>(remote).first(1)).empty());
}
