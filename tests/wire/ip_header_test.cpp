// SPDX-License-Identifier: Apache-2.0
#include "ipsec/wire/ip_header.hpp"

#include <doctest/doctest.h>

#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::IpAddress;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using namespace ipsec::wire;

namespace {

// An ICMP echo request 10.1.2.1 -> 10.1.1.1 with 8 bytes of data, checksum
// computed by hand (RFC 1071).
const Bytes kIpv4Icmp = from_hex(
    "45000024 1c46 4000 40 01 0000 0a010201 0a010101"
    "0800 0000 1234 0001 6162636465666768");

Bytes with_checksum(Bytes p) {
  const uint16_t c = internet_checksum(ByteView(p).first(20));
  p[10] = static_cast<uint8_t>(c >> 8);
  p[11] = static_cast<uint8_t>(c);
  return p;
}

}  // namespace

TEST_CASE("internet checksum of RFC 1071 section 3 example") {
  // RFC 1071 3: the sum of 0001 f203 f4f5 f6f7 is ddf2 (before complement).
  CHECK(internet_checksum(from_hex("0001f203f4f5f6f7")) == static_cast<uint16_t>(~0xddf2));
  CHECK(internet_checksum(from_hex("01")) == static_cast<uint16_t>(~0x0100));
  CHECK(internet_checksum({}) == 0xffff);
}

TEST_CASE("IPv4 header parse") {
  const Bytes pkt = with_checksum(kIpv4Icmp);
  auto h = Ipv4Header::parse(pkt);
  REQUIRE(h);
  CHECK(h->header_length == 20);
  CHECK(h->total_length == 36);
  CHECK(h->dont_fragment);
  CHECK_FALSE(h->is_fragment());
  CHECK(h->ttl == 64);
  CHECK(h->protocol == IpProtocol::icmp);
  CHECK(h->source.to_text().view() == "10.1.2.1");
  CHECK(h->destination.to_text().view() == "10.1.1.1");
  CHECK(h->payload.size() == 16);
  CHECK(h->options.empty());
  CHECK(h->checksum_valid());
  Bytes bad = pkt;
  bad[8] = 63;  // TTL changed without fixing the checksum
  CHECK_FALSE(Ipv4Header::parse(bad)->checksum_valid());

  // Link-layer padding after total_length is not part of the payload.
  Bytes padded = pkt;
  padded.insert(padded.end(), {0, 0, 0, 0});
  CHECK(Ipv4Header::parse(padded)->payload.size() == 16);
}

TEST_CASE("IPv4 header with options and fragments") {
  Bytes p = from_hex("46000020 0001 2005 40 11 0000 c0000201 c0000202 01010100 0035003500080000");
  auto h = Ipv4Header::parse(p);
  REQUIRE(h);
  CHECK(h->header_length == 24);
  CHECK(h->options.size() == 4);
  CHECK(h->more_fragments);
  CHECK(h->fragment_offset == 5);
  CHECK(h->is_fragment());
  CHECK(h->payload.size() == 8);
}

TEST_CASE("malformed IPv4 headers are rejected with the reason") {
  const Bytes pkt = with_checksum(kIpv4Icmp);
  // Every truncation fails (the payload is bounded by total_length).
  for (size_t n = 0; n < pkt.size(); ++n) {
    CHECK(Ipv4Header::parse(ByteView(pkt).first(n)).error() == Errc::truncated);
  }
  Bytes v6 = pkt;
  v6[0] = 0x65;
  CHECK(Ipv4Header::parse(v6).error() == Errc::unsupported_version);
  Bytes short_ihl = pkt;
  short_ihl[0] = 0x44;
  CHECK(Ipv4Header::parse(short_ihl).error() == Errc::invalid_length);
  Bytes long_ihl = pkt;
  long_ihl[0] = 0x4f;  // 60-byte header in a 36-byte packet
  CHECK(Ipv4Header::parse(long_ihl).error() == Errc::invalid_length);
  Bytes short_total = pkt;
  short_total[3] = 19;
  CHECK(Ipv4Header::parse(short_total).error() == Errc::invalid_length);
  Bytes long_total = pkt;
  long_total[3] = 37;
  auto st = Ipv4Header::parse(long_total);
  CHECK(st.error() == Errc::truncated);
  CHECK(st.status().offset() == 20);
}

namespace {
// IPv6 UDP packet 2001:db8::1 -> 2001:db8::2 with hop-by-hop, routing,
// fragment and destination options headers before UDP.
const Bytes kIpv6Ext = from_hex(
    "60000000 0030 00 40"
    "20010db8000000000000000000000001"
    "20010db8000000000000000000000002"
    "2b 00 0104 00000000"                     // hop-by-hop -> routing, 8 bytes (PadN)
    "2c 00 00 00 00000000"                    // routing -> fragment, 8 bytes (type 0, segments left 0)
    "3c 00 0000 12345678"                     // fragment -> destination options, 8 bytes
    "11 00 0104 00000000"                     // destination options -> UDP, 8 bytes
    "1234 5678 0010 0000 6162636465666768");  // UDP
}  // namespace

TEST_CASE("IPv6 header and extension header walk") {
  auto h = Ipv6Header::parse(kIpv6Ext);
  REQUIRE(h);
  CHECK(h->payload_length == 48);
  CHECK(h->next_header == IpProtocol::hop_by_hop);
  CHECK(h->hop_limit == 64);
  CHECK(h->source.to_text().view() == "2001:db8::1");
  Ipv6ExtensionWalker w(h->next_header, h->payload);
  Ipv6ExtensionHeader e;
  const IpProtocol expected[] = {IpProtocol::hop_by_hop, IpProtocol::routing, IpProtocol::fragment,
                                 IpProtocol::destination_options};
  size_t i = 0;
  while (w.next(&e)) {
    REQUIRE(i < 4);
    CHECK(e.type == expected[i]);
    CHECK(e.offset == 8 * i);
    CHECK(e.length == 8);
    ++i;
  }
  CHECK(i == 4);
  CHECK(w.status().ok());
  CHECK(w.upper_layer() == IpProtocol::udp);
  CHECK(w.upper_layer_offset() == 32);
}

TEST_CASE("IPv6 extension walk stops at ESP and handles AH lengths") {
  // AH (RFC 4302: length in 4-octet units minus 2) then ESP.
  const Bytes payload = from_hex("32 04 0000 00001000 00000001 000000000000000000000000 00001000");
  Ipv6ExtensionWalker w(IpProtocol::ah, payload);
  Ipv6ExtensionHeader e;
  REQUIRE(w.next(&e));
  CHECK(e.length == 24);
  CHECK_FALSE(w.next(&e));
  CHECK(w.status().ok());
  CHECK(w.upper_layer() == IpProtocol::esp);
  CHECK(w.upper_layer_offset() == 24);
}

TEST_CASE("malformed IPv6 packets and extension chains are rejected") {
  for (size_t n = 0; n < kIpv6Ext.size(); ++n) {
    CHECK(Ipv6Header::parse(ByteView(kIpv6Ext).first(n)).error() == Errc::truncated);
  }
  Bytes v4 = kIpv6Ext;
  v4[0] = 0x40;
  CHECK(Ipv6Header::parse(v4).error() == Errc::unsupported_version);

  // An extension header that claims more than is there.
  const Bytes cut = from_hex("11 05 0000 00000000");
  Ipv6ExtensionWalker w(IpProtocol::destination_options, cut);
  Ipv6ExtensionHeader e;
  CHECK_FALSE(w.next(&e));
  CHECK(w.status() == Errc::truncated);

  // Hop-by-hop anywhere but first (RFC 8200 4.1).
  const Bytes late_hbh = from_hex("00 00 0104 00000000 11 00 0104 00000000");
  Ipv6ExtensionWalker w2(IpProtocol::destination_options, late_hbh);
  REQUIRE(w2.next(&e));
  CHECK_FALSE(w2.next(&e));
  CHECK(w2.status() == Errc::invalid_value);

  // A chain longer than the limit (destination options pointing to itself).
  Bytes loop;
  for (size_t k = 0; k < ipsec::limits::kMaxIpv6ExtensionHeaders + 2; ++k) {
    for (uint8_t b : from_hex("3c 00 0104 00000000")) loop.push_back(b);
  }
  Ipv6ExtensionWalker w3(IpProtocol::destination_options, loop);
  size_t n = 0;
  while (w3.next(&e)) ++n;
  CHECK(n == ipsec::limits::kMaxIpv6ExtensionHeaders);
  CHECK(w3.status() == Errc::limit_exceeded);
}

TEST_CASE("final destination of IPv6 routing headers (RFC 8200 8.1)") {
  IpAddress dst = *IpAddress::parse("2001:db8::ff");
  // Type 0 with two addresses, segments left 2: the last address is final.
  const Bytes type0 =
      from_hex("11 04 00 02 00000000 20010db8000000000000000000000001 20010db8000000000000000000000002");
  REQUIRE(routing_final_destination(type0, &dst).ok());
  CHECK(dst.to_text().view() == "2001:db8::2");
  // Segments left 0: the destination address already is final.
  IpAddress unchanged = *IpAddress::parse("2001:db8::ff");
  const Bytes done =
      from_hex("11 04 00 00 00000000 20010db8000000000000000000000001 20010db8000000000000000000000002");
  REQUIRE(routing_final_destination(done, &unchanged).ok());
  CHECK(unchanged.to_text().view() == "2001:db8::ff");
  // Type 2 (RFC 6275 6.4): the home address.
  const Bytes type2 = from_hex("11 02 02 01 00000000 20010db8000000000000000000000abc");
  REQUIRE(routing_final_destination(type2, &dst).ok());
  CHECK(dst.to_text().view() == "2001:db8::abc");
  // Type 4 (RFC 8754 2): Segment List[0] comes first and is final.
  const Bytes srh =
      from_hex("11 04 04 01 01 00 0000 20010db80000000000000000000000aa 20010db80000000000000000000000bb");
  REQUIRE(routing_final_destination(srh, &dst).ok());
  CHECK(dst.to_text().view() == "2001:db8::aa");
  // Another type with segments left: unknown final address.
  const Bytes rpl = from_hex("11 02 03 01 00000000 20010db8000000000000000000000001");
  CHECK(routing_final_destination(rpl, &dst) == Errc::unsupported_header);
  for (size_t n = 0; n < type0.size(); ++n) {
    CHECK_FALSE(routing_final_destination(ByteView(type0).first(n), &dst).ok());
  }
}
