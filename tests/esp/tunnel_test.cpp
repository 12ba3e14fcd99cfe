// SPDX-License-Identifier: Apache-2.0
// esp/tunnel.hpp: the header readers of the packet path agree with the full
// parsers of wire/ip_header.hpp, on well-formed and on damaged headers.
#include "ipsec/esp/tunnel.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "esp/esp_test_util.hpp"

using namespace ipsec;
using namespace ipsec::test;

namespace {

// A small deterministic generator (xorshift64*).
struct Random {
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  uint64_t next() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dULL;
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

// damaged: a copy of `packet` with a few octets of the first `span` changed
// and perhaps cut short.
Bytes damaged(const Bytes& packet, size_t span, Random& rng) {
  Bytes p = packet;
  const size_t changes = rng.below(3);
  for (size_t k = 0; k < changes; ++k)
    p[rng.below(std::min(span, p.size()))] = static_cast<uint8_t>(rng.next());
  if (rng.below(4) == 0) p.resize(rng.below(p.size() + 1));
  return p;
}

// ipv6_packet: an IPv6 header (2001:db8::1 -> 2001:db8::2, UDP) and
// `payload` octets (built here rather than with ipv6_udp, whose extension
// header insert draws a false -Warray-bounds from GCC 12 at -O2).
Bytes ipv6_packet(size_t payload, uint8_t traffic_class) {
  Bytes p(40 + payload, 0x5a);
  std::fill_n(p.begin(), 40, uint8_t{0});
  p[0] = static_cast<uint8_t>(0x60 | (traffic_class >> 4));
  p[1] = static_cast<uint8_t>(traffic_class << 4);
  p[4] = static_cast<uint8_t>(payload >> 8);
  p[5] = static_cast<uint8_t>(payload);
  p[6] = 17;
  p[7] = 64;
  p[8] = 0x20;
  p[9] = 0x01;
  p[10] = 0x0d;
  p[11] = 0xb8;
  std::copy_n(p.begin() + 8, 16, p.begin() + 24);
  p[23] = 1;
  p[39] = 2;
  return p;
}

std::string describe(const Status& s) {
  return std::string(s.name()) + "@" + std::to_string(s.offset()) + ":" + s.field();
}

}  // namespace

TEST_CASE("ipv4_fields accepts and refuses what Ipv4Header::parse does, with the same fields and errors") {
  Random rng;
  const std::vector<Bytes> packets = {ipv4_udp("10.1.1.1", "10.2.2.2", 0),
                                      ipv4_udp("10.1.1.1", "10.2.2.2", 100, 0xb9),
                                      ipv4_udp("192.0.2.1", "198.51.100.2", 1372, 0x03, false)};
  size_t accepted = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    const Bytes p = damaged(packets[rng.below(packets.size())], 20, rng);
    auto quick = esp::detail::ipv4_fields(p);
    auto full = wire::Ipv4Header::parse(p);
    REQUIRE(quick.ok() == full.ok());
    if (full.ok()) {
      ++accepted;
      CHECK(quick->header_length == full->header_length);
      CHECK(quick->tos == full->tos);
      CHECK(quick->protocol == static_cast<uint8_t>(full->protocol));
      CHECK(quick->total_length == full->total_length);
      CHECK(quick->is_fragment() == full->is_fragment());
    } else {
      ++refused;
      CHECK(describe(quick.status()) == describe(full.status()));
    }
  }
  CHECK(accepted > 1000);
  CHECK(refused > 1000);
}

TEST_CASE("ipv6_fields accepts and refuses what Ipv6Header::parse does, with the same fields and errors") {
  Random rng;
  const std::vector<Bytes> packets = {ipv6_packet(8, 0), ipv6_packet(108, 0xb9), ipv6_packet(1360, 0x03)};
  size_t accepted = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    const Bytes p = damaged(packets[rng.below(packets.size())], 8, rng);
    auto quick = esp::detail::ipv6_fields(p);
    auto full = wire::Ipv6Header::parse(p);
    REQUIRE(quick.ok() == full.ok());
    if (full.ok()) {
      ++accepted;
      CHECK(quick->traffic_class == full->traffic_class);
      CHECK(quick->next_header == full->next_header);
      CHECK(quick->payload_length == full->payload_length);
      CHECK(quick->payload.data() == full->payload.data());
      CHECK(quick->payload.size() == full->payload.size());
    } else {
      ++refused;
      CHECK(describe(quick.status()) == describe(full.status()));
    }
  }
  CHECK(accepted > 1000);
  CHECK(refused > 1000);
}
