// SPDX-License-Identifier: Apache-2.0
// NAT detection (RFC 7296 2.23) and NAT-keepalive timing (RFC 3948 4).
#include "ipsec/ike/nat_detection.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string_view>
#include <vector>

#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::Duration;
using ipsec::Errc;
using ipsec::IpAddress;
using ipsec::Timestamp;
using ipsec::test::Bytes;
using ipsec::test::to_hex;
using namespace ipsec::ike;
using namespace std::chrono_literals;

namespace {

Endpoint ep(std::string_view address, uint16_t port) {
  return Endpoint{IpAddress::parse(address).value(), port};
}

NatDetectionHash nat_d(uint64_t spi_i, uint64_t spi_r, const Endpoint& e) {
  auto h = nat_detection_hash(spi_i, spi_r, e);
  REQUIRE(h);
  return *h;
}

constexpr uint64_t kSpiI = 0x0123456789abcdef;
constexpr uint64_t kSpiR = 0;  // IKE_SA_INIT request: SPIr is still zero

// The scene: the initiator sits at 10.0.0.1:500 behind a NAT that maps it
// to 203.0.113.5:61234; the responder is 198.51.100.2:500 (or, behind a NAT
// of its own, 192.168.1.2:500 forwarded from 198.51.100.2:500).
struct Notifications {
  std::vector<NatDetectionHash> sources;
  NatDetectionHash destination{};
  [[nodiscard]] std::vector<ByteView> source_views() const {
    std::vector<ByteView> v;
    for (const auto& h : sources) v.emplace_back(h);
    return v;
  }
};

// What the peer sends: hashes of the address it sends from and the one it sends to.
Notifications peer_sends(const Endpoint& from, const Endpoint& to) {
  return Notifications{{nat_d(kSpiI, kSpiR, from)}, nat_d(kSpiI, kSpiR, to)};
}

NatDetection evaluate(const Notifications& n, const Endpoint& received_from, const Endpoint& received_on,
                      Duration interval = kDefaultKeepaliveInterval) {
  const auto sources = n.source_views();
  auto r = evaluate_nat_detection(kSpiI, kSpiR, sources, n.destination, received_from, received_on, interval);
  REQUIRE_MESSAGE(r.ok(), r.status().name());
  return *r;
}

}  // namespace

TEST_CASE("nat_detection_hash: SHA-1(SPIi | SPIr | IP | port)") {
  // Expected values computed independently with Python's hashlib:
  //   hashlib.sha1(struct.pack('>QQ', spi_i, spi_r)
  //                + ipaddress.ip_address(ip).packed
  //                + struct.pack('>H', port)).hexdigest()
  struct Case {
    uint64_t spi_i, spi_r;
    std::string_view ip;
    uint16_t port;
    std::string_view hex;
  };
  const Case cases[] = {
      {0x0123456789abcdef, 0, "192.0.2.1", 500, "9426429034924268452f8e3ff79fb69e2a8d71eb"},
      {0x0123456789abcdef, 0xfedcba9876543210, "198.51.100.2", 4500,
       "5435c325e98adc4b2d963227566e9ade0766e4ca"},
      {0x1122334455667788, 0x99aabbccddeeff00, "2001:db8::1", 500,
       "e6636f2ec10936923f720265815e37f3ee1cc66d"},
      {0x1122334455667788, 0, "2001:db8::1", 4500, "aeeab207ef09a9839358bb9e806ea2dbb3fbf04e"},
      {0x0123456789abcdef, 0, "10.0.0.1", 500, "ab987cc8855099656e5b4fba8915232cfd27bcc3"},
      {0x0123456789abcdef, 0, "203.0.113.5", 500, "717e7bb433e457522b45e2b12f753224b3e6e073"},
      {0x0123456789abcdef, 0, "203.0.113.5", 61234, "cc456f94e750ffda95bcc2acd1a969744357dd2e"},
  };
  for (const Case& c : cases) {
    INFO(c.ip << " port " << c.port << " spi_r " << c.spi_r);
    CHECK(to_hex(nat_d(c.spi_i, c.spi_r, ep(c.ip, c.port))) == c.hex);
  }
  CHECK(kNatDetectionHashSize == 20);
}

TEST_CASE("evaluate_nat_detection: no NAT") {
  const Endpoint initiator = ep("192.0.2.1", 500), responder = ep("198.51.100.2", 500);
  const NatDetection r = evaluate(peer_sends(initiator, responder), initiator, responder);
  CHECK(r.supported);
  CHECK_FALSE(r.peer_behind_nat);
  CHECK_FALSE(r.local_behind_nat);
  CHECK_FALSE(r.nat_detected());
  CHECK_FALSE(r.use_port_4500());
  CHECK_FALSE(r.udp_encapsulation());
  CHECK_FALSE(r.send_keepalives());
  CHECK(r.keepalive_interval == kDefaultKeepaliveInterval);
}

TEST_CASE("evaluate_nat_detection: the peer is behind a NAT") {
  // The responder sees the initiator's datagram from the NAT's mapping.
  const Notifications n = peer_sends(ep("10.0.0.1", 500), ep("198.51.100.2", 500));
  const NatDetection r = evaluate(n, ep("203.0.113.5", 61234), ep("198.51.100.2", 500));
  CHECK(r.supported);
  CHECK(r.peer_behind_nat);
  CHECK_FALSE(r.local_behind_nat);
  CHECK(r.nat_detected());
  CHECK(r.use_port_4500());
  CHECK(r.udp_encapsulation());
  CHECK_FALSE(r.send_keepalives());  // the peer keeps its own mapping open

  // A NAT that keeps the address and changes only the port is a NAT too.
  const NatDetection port_only = evaluate(peer_sends(ep("192.0.2.1", 500), ep("198.51.100.2", 500)),
                                          ep("192.0.2.1", 1024), ep("198.51.100.2", 500));
  CHECK(port_only.peer_behind_nat);
  CHECK_FALSE(port_only.local_behind_nat);
}

TEST_CASE("evaluate_nat_detection: we are behind a NAT") {
  // The initiator sends to the responder's public address; a NAT forwards
  // it to the responder's private one.
  const Notifications n = peer_sends(ep("192.0.2.1", 500), ep("198.51.100.2", 500));
  const NatDetection r = evaluate(n, ep("192.0.2.1", 500), ep("192.168.1.2", 500));
  CHECK(r.supported);
  CHECK_FALSE(r.peer_behind_nat);
  CHECK(r.local_behind_nat);
  CHECK(r.nat_detected());
  CHECK(r.use_port_4500());
  CHECK(r.udp_encapsulation());
  CHECK(r.send_keepalives());
}

TEST_CASE("evaluate_nat_detection: both behind NATs, over IPv4 and IPv6") {
  const Notifications n = peer_sends(ep("10.0.0.1", 500), ep("198.51.100.2", 500));
  const NatDetection r = evaluate(n, ep("203.0.113.5", 61234), ep("192.168.1.2", 500));
  CHECK(r.peer_behind_nat);
  CHECK(r.local_behind_nat);
  CHECK(r.use_port_4500());
  CHECK(r.send_keepalives());

  const Notifications n6 = peer_sends(ep("fd00::1", 500), ep("2001:db8::2", 500));
  const NatDetection r6 = evaluate(n6, ep("2001:db8:1::1", 4500), ep("fd00:2::2", 4500));
  CHECK(r6.peer_behind_nat);
  CHECK(r6.local_behind_nat);
  const NatDetection none6 = evaluate(n6, ep("fd00::1", 500), ep("2001:db8::2", 500));
  CHECK_FALSE(none6.nat_detected());
}

TEST_CASE("evaluate_nat_detection: one of several source hashes matching is enough") {
  const Endpoint responder = ep("198.51.100.2", 500);
  Notifications n;
  n.destination = nat_d(kSpiI, kSpiR, responder);
  // A multihomed initiator announces every address it may send from.
  for (std::string_view a : {"10.0.0.1", "192.0.2.7", "2001:db8::7", "192.0.2.1"}) {
    n.sources.push_back(nat_d(kSpiI, kSpiR, ep(a, 500)));
  }
  for (std::string_view from : {"10.0.0.1", "192.0.2.7", "192.0.2.1"}) {
    INFO(from);
    const NatDetection r = evaluate(n, ep(from, 500), responder);
    CHECK_FALSE(r.peer_behind_nat);
    CHECK_FALSE(r.nat_detected());
  }
  CHECK(evaluate(n, ep("203.0.113.5", 500), responder).peer_behind_nat);
  CHECK(evaluate(n, ep("192.0.2.1", 501), responder).peer_behind_nat);
}

TEST_CASE("evaluate_nat_detection: the hashes depend on both SPIs") {
  // In the IKE_SA_INIT response SPIr is known; a hash computed with SPIr = 0
  // does not match it.
  const Endpoint i = ep("192.0.2.1", 500), rsp = ep("198.51.100.2", 500);
  const uint64_t spi_r = 0xfedcba9876543210;
  const NatDetectionHash src = nat_d(kSpiI, spi_r, i), dst = nat_d(kSpiI, spi_r, rsp);
  const ByteView sources[] = {src};
  auto same = evaluate_nat_detection(kSpiI, spi_r, sources, dst, i, rsp);
  REQUIRE(same);
  CHECK_FALSE(same->nat_detected());
  auto other = evaluate_nat_detection(kSpiI, 0, sources, dst, i, rsp);
  REQUIRE(other);
  CHECK(other->peer_behind_nat);
  CHECK(other->local_behind_nat);
}

TEST_CASE("evaluate_nat_detection: without both notifications the peer does not support NAT-T") {
  const Endpoint i = ep("10.0.0.1", 500), rsp = ep("198.51.100.2", 500), seen = ep("203.0.113.5", 61234);
  const Notifications n = peer_sends(i, rsp);
  const auto sources = n.source_views();
  auto no_sources = evaluate_nat_detection(kSpiI, kSpiR, {}, n.destination, seen, rsp, 7s);
  auto no_destination = evaluate_nat_detection(kSpiI, kSpiR, sources, {}, seen, rsp, 7s);
  auto neither = evaluate_nat_detection(kSpiI, kSpiR, {}, {}, seen, rsp, 7s);
  for (const auto* r : {&no_sources, &no_destination, &neither}) {
    REQUIRE(r->ok());
    CHECK_FALSE((*r)->supported);
    CHECK_FALSE((*r)->nat_detected());
    CHECK_FALSE((*r)->use_port_4500());
    CHECK_FALSE((*r)->udp_encapsulation());
    CHECK_FALSE((*r)->send_keepalives());
    CHECK((*r)->keepalive_interval == 7s);
  }
}

TEST_CASE("evaluate_nat_detection: notification data that is not 20 octets") {
  const Endpoint i = ep("10.0.0.1", 500), rsp = ep("198.51.100.2", 500);
  const Notifications n = peer_sends(i, rsp);
  const NatDetectionHash good = n.sources[0];
  const Bytes short_hash(19, 1), long_hash(21, 1), sha256_size(32, 1);
  for (const Bytes* bad : {&short_hash, &long_hash, &sha256_size}) {
    INFO("size " << bad->size());
    const ByteView good_sources[] = {good};
    auto d = evaluate_nat_detection(kSpiI, kSpiR, good_sources, *bad, i, rsp);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error() == Errc::invalid_length);
    CHECK(std::string_view(d.status().field()) == "NAT_DETECTION_DESTINATION_IP");
    // One bad source hash among good ones spoils the lot.
    const ByteView mixed[] = {good, *bad, good};
    auto s = evaluate_nat_detection(kSpiI, kSpiR, mixed, n.destination, i, rsp);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error() == Errc::invalid_length);
    CHECK(std::string_view(s.status().field()) == "NAT_DETECTION_SOURCE_IP");
  }
}

TEST_CASE("evaluate_nat_detection: the keepalive interval is passed through") {
  const Endpoint i = ep("10.0.0.1", 500), rsp = ep("198.51.100.2", 500);
  const NatDetection r = evaluate(peer_sends(i, rsp), i, ep("192.168.1.2", 500), 9s);
  CHECK(r.send_keepalives());
  CHECK(r.keepalive_interval == 9s);
}

TEST_CASE("NAT-keepalive timing") {
  CHECK(kDefaultKeepaliveInterval == 20s);  // RFC 3948 4
  const Timestamp last = Timestamp(100s);

  // Not yet: due one interval after the last packet.
  CHECK_FALSE(keepalive_due(last, last));
  CHECK_FALSE(keepalive_due(last, last + 20s - 1ns));
  CHECK(next_keepalive(last, last) == last + 20s);
  CHECK(next_keepalive(last, last + 20s - 1ns) == last + 20s);

  // Exactly one interval: due now.
  CHECK(keepalive_due(last, last + 20s));
  CHECK(next_keepalive(last, last + 20s) == last + 20s);

  // Overdue: due now, not in the past.
  CHECK(keepalive_due(last, last + 20s + 1ns));
  CHECK(keepalive_due(last, last + 1h));
  CHECK(next_keepalive(last, last + 20s + 1ns) == last + 20s + 1ns);
  CHECK(next_keepalive(last, last + 1h) == last + 1h);

  // A custom interval.
  CHECK_FALSE(keepalive_due(last, last + 4999ms, 5s));
  CHECK(keepalive_due(last, last + 5s, 5s));
  CHECK(next_keepalive(last, last + 1s, 5s) == last + 5s);
  CHECK(next_keepalive(last, last + 5s, 5s) == last + 5s);
  CHECK(next_keepalive(last, last + 6s, 5s) == last + 6s);

  // A "now" before the last packet (the host's clocks disagree) is not due.
  CHECK_FALSE(keepalive_due(last, last - 1s));
  CHECK(next_keepalive(last, last - 1s) == last + 20s);

  // Usable in constant expressions.
  static_assert(keepalive_due(Timestamp(0s), Timestamp(20s)));
  static_assert(next_keepalive(Timestamp(0s), Timestamp(1s)) == Timestamp(20s));
}
