// SPDX-License-Identifier: Apache-2.0
// Traffic selectors and the SPD (RFC 4301 4.4.1): selector matching, packet
// selector extraction, first-match order with overlapping entries, and the
// tuple-space index against a plain ordered scan on random policies.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "esp/esp_test_util.hpp"
#include "ipsec/sa/selector.hpp"
#include "ipsec/sa/spd.hpp"
#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::IpAddress;
using ipsec::IpFamily;
using ipsec::IpPrefix;
using ipsec::test::Bytes;
using namespace ipsec::sa;

namespace {

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }
AddressRange net(const char* prefix) { return AddressRange::of(IpPrefix::parse(prefix).value()); }

Selector sel(const char* local, const char* remote, uint8_t protocol = kAnyProtocol, PortRange lport = {},
             PortRange rport = {}) {
  Selector s;
  s.local = net(local);
  s.remote = net(remote);
  s.protocol = protocol;
  s.local_port = lport;
  s.remote_port = rport;
  return s;
}

Selector from_range(const char* first, const char* last) {
  Selector s;
  s.local = AddressRange{ip(first), ip(last)};
  return s;
}

PacketSelectors pkt(const char* src, const char* dst, uint8_t protocol = 17, uint16_t sport = 1000,
                    uint16_t dport = 2000) {
  PacketSelectors p;
  p.source = ip(src);
  p.destination = ip(dst);
  p.protocol = protocol;
  p.source_port = sport;
  p.destination_port = dport;
  return p;
}

Policy policy(uint32_t id, Selector s, PolicyAction a, uint32_t reqid = 0) {
  Policy p;
  p.id = id;
  p.selector = s;
  p.action = a;
  p.reqid = reqid;
  return p;
}

uint32_t lookup_id(const Spd& spd, const PacketSelectors& p, Direction d = Direction::outbound) {
  const Policy* found = spd.lookup(p, d);
  return found == nullptr ? 0 : found->id;
}

}  // namespace

TEST_CASE("selectors: addresses, protocol, ports, ICMP type/code, OPAQUE (RFC 4301 4.4.1.1)") {
  const Selector s = sel("10.1.0.0/16", "10.2.0.0/16", 17, PortRange::any(), PortRange::single(53));
  CHECK(s.matches(pkt("10.1.2.3", "10.2.0.9", 17, 4000, 53), Direction::outbound));
  CHECK_FALSE(s.matches(pkt("10.1.2.3", "10.2.0.9", 17, 4000, 54), Direction::outbound));
  CHECK_FALSE(s.matches(pkt("10.1.2.3", "10.2.0.9", 6, 4000, 53), Direction::outbound));
  CHECK_FALSE(s.matches(pkt("10.3.2.3", "10.2.0.9", 17, 4000, 53), Direction::outbound));
  // Inbound, the packet's destination is the local side.
  CHECK(s.matches(pkt("10.2.0.9", "10.1.2.3", 17, 53, 4000), Direction::inbound));
  CHECK_FALSE(s.matches(pkt("10.2.0.9", "10.1.2.3", 17, 4000, 53), Direction::inbound));
  // A family mismatch never matches.
  CHECK_FALSE(s.matches(pkt("2001:db8::1", "2001:db8::2", 17, 4000, 53), Direction::outbound));

  // Non-initial fragments: ports are OPAQUE. ANY matches them, a port range
  // does not, an OPAQUE selector matches only them.
  PacketSelectors frag = pkt("10.1.2.3", "10.2.0.9", 17);
  frag.ports_opaque = true;
  CHECK_FALSE(s.matches(frag, Direction::outbound));
  CHECK(sel("10.1.0.0/16", "10.2.0.0/16", 17).matches(frag, Direction::outbound));
  CHECK(sel("10.1.0.0/16", "10.2.0.0/16", 17, PortRange::opaque_only(), PortRange::opaque_only())
            .matches(frag, Direction::outbound));
  CHECK_FALSE(sel("10.1.0.0/16", "10.2.0.0/16", 17, PortRange::opaque_only(), PortRange::opaque_only())
                  .matches(pkt("10.1.2.3", "10.2.0.9", 17), Direction::outbound));

  // ICMP echo request (type 8, code 0) only.
  Selector icmp = sel("0.0.0.0/0", "0.0.0.0/0", 1);
  icmp.icmp = PortRange::single(8 << 8);
  PacketSelectors echo = pkt("10.1.2.3", "10.2.0.9", 1);
  echo.icmp_type_code = 8 << 8;
  CHECK(icmp.matches(echo, Direction::outbound));
  echo.icmp_type_code = 0;  // echo reply
  CHECK_FALSE(icmp.matches(echo, Direction::outbound));

  // contains: narrowing a request inside what policy allows.
  CHECK(sel("10.0.0.0/8", "0.0.0.0/0").contains(s));
  CHECK_FALSE(s.contains(sel("10.0.0.0/8", "0.0.0.0/0")));
  CHECK(sel("10.1.0.0/16", "10.2.0.0/16", 17).contains(s));
  CHECK_FALSE(sel("10.1.0.0/16", "10.2.0.0/16", 6).contains(s));
}

TEST_CASE("extract_selectors: IPv4, IPv6 with extension headers, fragments, ICMP") {
  const Bytes v4 = ipsec::test::ipv4_udp("10.1.1.1", "10.2.2.2", 10);
  auto s = extract_selectors(v4);
  REQUIRE(s.ok());
  CHECK(s->source == ip("10.1.1.1"));
  CHECK(s->destination == ip("10.2.2.2"));
  CHECK(s->protocol == 17);
  CHECK(s->source_port == 12345);
  CHECK(s->destination_port == 53);
  CHECK_FALSE(s->ports_opaque);

  // A non-initial IPv4 fragment: ports are opaque.
  Bytes frag = v4;
  frag[7] = 0x10;  // fragment offset 16 (x8 octets)
  s = extract_selectors(frag);
  REQUIRE(s.ok());
  CHECK(s->ports_opaque);

  // IPv6 with a hop-by-hop and a destination options header before UDP.
  const Bytes hbh = {60, 0, 1, 4, 0, 0, 0, 0};  // next: destination options
  const Bytes dst = {17, 0, 1, 4, 0, 0, 0, 0};  // next: UDP
  Bytes ext = hbh;
  ext.insert(ext.end(), dst.begin(), dst.end());
  const Bytes v6 = ipsec::test::ipv6_udp("2001:db8::1", "2001:db8::2", 10, 0, ext, 0);
  s = extract_selectors(v6);
  REQUIRE(s.ok());
  CHECK(s->protocol == 17);
  CHECK(s->source_port == 12345);
  CHECK(s->destination_port == 53);

  // A non-initial IPv6 fragment.
  const Bytes fragment_header = {17, 0, 0x00, 0x10, 0, 0, 0, 1};  // offset 2, more fragments off
  const Bytes v6f = ipsec::test::ipv6_udp("2001:db8::1", "2001:db8::2", 10, 0, fragment_header, 44);
  s = extract_selectors(v6f);
  REQUIRE(s.ok());
  CHECK(s->ports_opaque);

  // ICMP: type and code.
  Bytes icmp = v4;
  icmp[9] = 1;
  icmp[20] = 8;
  icmp[21] = 3;
  s = extract_selectors(icmp);
  REQUIRE(s.ok());
  CHECK(s->icmp_type_code == (8 << 8 | 3));

  // Too short for the ports: opaque, not an error.
  Bytes cut = v4;
  cut.resize(22);
  cut[2] = 0;
  cut[3] = 22;
  s = extract_selectors(cut);
  REQUIRE(s.ok());
  CHECK(s->ports_opaque);

  CHECK_FALSE(extract_selectors(Bytes{}).ok());
  CHECK(extract_selectors(Bytes{0x45, 0}).status() == Errc::truncated);
}

TEST_CASE("SPD: first match wins with overlapping entries (RFC 4301 4.4.1)") {
  const std::vector<Policy> ordered = {
      policy(1, sel("10.1.0.0/16", "10.2.0.0/16", 17, PortRange::any(), PortRange::single(500)),
             PolicyAction::bypass),
      policy(2, sel("10.1.1.0/24", "10.2.0.0/16"), PolicyAction::discard),
      policy(3, sel("10.1.0.0/16", "10.2.0.0/16"), PolicyAction::protect, 7),
      policy(4, sel("0.0.0.0/0", "0.0.0.0/0"), PolicyAction::bypass),
      policy(5, sel("2001:db8:1::/48", "2001:db8:2::/48"), PolicyAction::protect, 8),
      policy(6, sel("::/0", "::/0"), PolicyAction::discard),
  };
  auto built = Spd::build(ordered);
  REQUIRE(built.ok());
  const Spd& spd = **built;
  CHECK(lookup_id(spd, pkt("10.1.1.5", "10.2.3.4", 17, 4000, 500)) == 1);  // before the discard
  CHECK(lookup_id(spd, pkt("10.1.1.5", "10.2.3.4", 17, 4000, 501)) == 2);
  CHECK(lookup_id(spd, pkt("10.1.9.5", "10.2.3.4", 6)) == 3);
  CHECK(spd.lookup(pkt("10.1.9.5", "10.2.3.4", 6), Direction::outbound)->reqid == 7);
  CHECK(lookup_id(spd, pkt("10.9.9.5", "10.2.3.4", 6)) == 4);
  CHECK(lookup_id(spd, pkt("2001:db8:1::5", "2001:db8:2::9")) == 5);
  CHECK(lookup_id(spd, pkt("2001:db8:1::5", "2001:db8:3::9")) == 6);
  // Inbound: the same selectors seen from the other side.
  CHECK(lookup_id(spd, pkt("10.2.3.4", "10.1.9.5", 6), Direction::inbound) == 3);
  // The order is what was given, even when a later entry is more specific.
  auto reversed = Spd::build(std::vector<Policy>(ordered.rbegin(), ordered.rend()));
  REQUIRE(reversed.ok());
  CHECK(lookup_id(**reversed, pkt("10.1.1.5", "10.2.3.4", 17, 4000, 500)) == 4);

  // Without a match: nullptr (the caller discards, RFC 4301 5.1).
  auto v4only = Spd::build(std::vector<Policy>(ordered.begin(), ordered.begin() + 3));
  CHECK((*v4only)->lookup(pkt("192.0.2.1", "10.2.3.4"), Direction::outbound) == nullptr);
  CHECK((*v4only)->lookup(pkt("2001:db8:1::5", "2001:db8:2::9"), Direction::outbound) == nullptr);
}

TEST_CASE("SPD: build errors") {
  Policy a = policy(1, sel("10.0.0.0/8", "10.0.0.0/8"), PolicyAction::bypass);
  Policy b = a;
  CHECK(Spd::build(std::vector<Policy>{a, b}).status() == Errc::invalid_argument);  // duplicate id
  b.id = 2;
  b.selector.remote = net("2001:db8::/32");  // two families
  CHECK(Spd::build(std::vector<Policy>{a, b}).status() == Errc::invalid_argument);
  b.selector.remote = AddressRange{ip("10.0.0.9"), ip("10.0.0.1")};  // first > last
  CHECK(Spd::build(std::vector<Policy>{a, b}).status() == Errc::invalid_argument);
  CHECK(Spd::build(std::vector<Policy>{}).ok());
}

TEST_CASE("SPD: ranges that are not prefixes; the index agrees with an ordered scan") {
  // 10.0.0.1 - 10.0.0.254 splits into 14 prefixes: scanned, still in order.
  std::vector<Policy> ordered = {
      policy(1, from_range("10.0.0.1", "10.0.0.254"), PolicyAction::discard),
      policy(2, from_range("10.0.0.0", "10.0.0.127"), PolicyAction::bypass),
      policy(3, from_range("10.0.0.128", "10.0.1.3"), PolicyAction::bypass),
  };
  auto spd = Spd::build(ordered);
  REQUIRE(spd.ok());
  CHECK((*spd)->scan_count() == 1);
  CHECK(lookup_id(**spd, pkt("10.0.0.0", "1.1.1.1")) == 2);
  CHECK(lookup_id(**spd, pkt("10.0.0.1", "1.1.1.1")) == 1);
  CHECK(lookup_id(**spd, pkt("10.0.0.255", "1.1.1.1")) == 3);
  CHECK(lookup_id(**spd, pkt("10.0.1.3", "1.1.1.1")) == 3);
  CHECK(lookup_id(**spd, pkt("10.0.1.4", "1.1.1.1")) == 0);
}

TEST_CASE("SPD: random policies and packets, tuple-space index == first match by scan") {
  std::mt19937_64 rng(20261130);
  auto random_address = [&](IpFamily f, uint32_t pool) {
    // A small address pool so that ranges overlap and packets hit them.
    std::array<uint8_t, 16> b{};
    if (f == IpFamily::v4) {
      const uint32_t v = 0x0a000000u | static_cast<uint32_t>(rng() % pool);
      return IpAddress::v4({static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                            static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
    }
    b[0] = 0x20;
    b[1] = 0x01;
    const uint32_t v = static_cast<uint32_t>(rng() % pool);
    b[13] = static_cast<uint8_t>(v >> 16);
    b[14] = static_cast<uint8_t>(v >> 8);
    b[15] = static_cast<uint8_t>(v);
    return IpAddress::v6(b);
  };
  auto random_range = [&](IpFamily f) {
    const unsigned bits = f == IpFamily::v4 ? 32 : 128;
    switch (rng() % 4) {
      case 0: {  // a prefix
        const unsigned len = bits - static_cast<unsigned>(rng() % 14);
        const IpAddress a = random_address(f, 1u << 14).masked(len);
        return AddressRange{a, a.with_host_bits_set(len)};
      }
      case 1: return AddressRange::any(f);
      case 2: return AddressRange::single(random_address(f, 1u << 14));
      default: {  // an arbitrary range
        IpAddress a = random_address(f, 1u << 14), b = random_address(f, 1u << 14);
        if (b < a) std::swap(a, b);
        return AddressRange{a, b};
      }
    }
  };
  auto random_ports = [&]() {
    switch (rng() % 4) {
      case 0: return PortRange::single(static_cast<uint16_t>(rng() % 8));
      case 1: {
        const auto lo = static_cast<uint16_t>(rng() % 8);
        return PortRange{lo, static_cast<uint16_t>(lo + rng() % 4), false};
      }
      case 2: return PortRange::opaque_only();
      default: return PortRange::any();
    }
  };
  for (int round = 0; round < 4; ++round) {
    std::vector<Policy> ordered;
    for (uint32_t i = 0; i < 400; ++i) {
      const IpFamily f = rng() % 3 == 0 ? IpFamily::v6 : IpFamily::v4;
      Selector s;
      s.local = random_range(f);
      s.remote = random_range(f);
      const uint8_t protocols[] = {0, 6, 17, 1, 58, 50};
      s.protocol = protocols[rng() % 6];
      s.local_port = random_ports();
      s.remote_port = random_ports();
      s.icmp = random_ports();
      ordered.push_back(
          policy(i + 1, s, static_cast<PolicyAction>(rng() % 3), static_cast<uint32_t>(i % 50 + 1)));
    }
    auto spd = Spd::build(ordered);
    REQUIRE(spd.ok());
    INFO("tuples " << (*spd)->tuple_count() << " scanned " << (*spd)->scan_count());
    for (int n = 0; n < 20000; ++n) {
      const IpFamily f = rng() % 3 == 0 ? IpFamily::v6 : IpFamily::v4;
      PacketSelectors p;
      p.source = random_address(f, 1u << 14);
      p.destination = random_address(f, 1u << 14);
      const uint8_t protocols[] = {6, 17, 1, 58, 50, 47};
      p.protocol = protocols[rng() % 6];
      p.source_port = static_cast<uint16_t>(rng() % 10);
      p.destination_port = static_cast<uint16_t>(rng() % 10);
      p.icmp_type_code = static_cast<uint16_t>(rng() % 10);
      p.ports_opaque = rng() % 10 == 0;
      const Direction d = rng() % 2 == 0 ? Direction::outbound : Direction::inbound;
      uint32_t expected = 0;
      for (const Policy& pol : ordered) {
        if (pol.selector.matches(p, d)) {
          expected = pol.id;
          break;
        }
      }
      REQUIRE(lookup_id(**spd, p, d) == expected);
    }
  }
}
