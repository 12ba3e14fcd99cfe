// SPDX-License-Identifier: Apache-2.0
#include "ipsec/core/ip.hpp"

#include <doctest/doctest.h>

#include <string>

#include "test_util.hpp"

using ipsec::Errc;
using ipsec::IpAddress;
using ipsec::IpPrefix;

namespace {
std::string canon(std::string_view text) {
  auto a = IpAddress::parse(text);
  REQUIRE_MESSAGE(a, text);
  return std::string(a->to_text().view());
}
}  // namespace

TEST_CASE("IPv4 dotted quads parse strictly") {
  auto a = IpAddress::parse("192.0.2.255");
  REQUIRE(a);
  CHECK(a->is_v4());
  CHECK(ipsec::test::to_hex(a->bytes()) == "c00002ff");
  CHECK(a->to_text().view() == "192.0.2.255");
  CHECK(canon("0.0.0.0") == "0.0.0.0");
  for (const char* bad : {"", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "1.2.3.4 ",
                          "1.2.3.-4", "a.b.c.d", "1.2.3.4/24", "1.2.3.1000"}) {
    CHECK_MESSAGE(IpAddress::parse(bad).error() == Errc::parse_error, bad);
  }
  CHECK(IpAddress::parse("1.2.3.x").status().offset() == 6);
}

TEST_CASE("IPv6 text forms of RFC 4291 section 2.2 parse") {
  CHECK(canon("2001:DB8:0:0:8:800:200C:417A") == "2001:db8::8:800:200c:417a");
  CHECK(canon("FF01:0:0:0:0:0:0:101") == "ff01::101");
  CHECK(canon("0:0:0:0:0:0:0:1") == "::1");
  CHECK(canon("0:0:0:0:0:0:0:0") == "::");
  CHECK(canon("::") == "::");
  CHECK(canon("1::") == "1::");
  CHECK(canon("1:2:3:4:5:6:7::") == "1:2:3:4:5:6:7:0");
  CHECK(canon("::2:3:4:5:6:7:8") == "0:2:3:4:5:6:7:8");
  CHECK(canon("0:0:0:0:0:0:13.1.68.3") == "::d01:4403");
  CHECK(canon("::FFFF:129.144.52.38") == "::ffff:129.144.52.38");
  auto a = IpAddress::parse("fe80::1");
  REQUIRE(a);
  CHECK(a->is_v6());
  CHECK(ipsec::test::to_hex(a->bytes()) == "fe800000000000000000000000000001");
}

TEST_CASE("IPv6 output follows RFC 5952 section 4") {
  CHECK(canon("2001:0db8::0001") == "2001:db8::1");                // 4.1 leading zeros
  CHECK(canon("2001:db8:0:0:0:0:2:1") == "2001:db8::2:1");         // 4.2.1 longest run
  CHECK(canon("2001:db8:0:1:1:1:1:1") == "2001:db8:0:1:1:1:1:1");  // 4.2.2 no "::" for one group
  CHECK(canon("2001:0:0:1:0:0:0:1") == "2001:0:0:1::1");           // 4.2.3 longest run wins
  CHECK(canon("2001:db8:0:0:1:0:0:1") == "2001:db8::1:0:0:1");     // 4.2.3 first on a tie
  CHECK(canon("2001:DB8::ABCD") == "2001:db8::abcd");              // 4.3 lowercase
}

TEST_CASE("malformed IPv6 text is rejected") {
  for (const char* bad : {":", ":::", "1:::2", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
                          "12345::", "g::1", ":1::", "1::2:", "1:2:3:4:5:6:7:8::", "::1.2.3",
                          "1.2.3.4::", "::1.2.3.4:5", "fe80::1%eth0", "1:2:3:4:5:6:7:1.2.3.4"}) {
    CHECK_MESSAGE(IpAddress::parse(bad).error() == Errc::parse_error, bad);
  }
}

TEST_CASE("addresses order and compare") {
  const auto a = *IpAddress::parse("10.0.0.1");
  const auto b = *IpAddress::parse("10.0.0.2");
  const auto c = *IpAddress::parse("::1");
  CHECK(a < b);
  CHECK(b < c);  // IPv4 sorts before IPv6
  CHECK(a == *IpAddress::parse("10.0.0.1"));
  CHECK(IpAddress::from_bytes(ipsec::test::from_hex("0a000001")).value() == a);
  CHECK(IpAddress::from_bytes(ipsec::test::from_hex("0a0000")).error() == Errc::invalid_length);
}

TEST_CASE("prefixes parse, clear host bits and contain addresses") {
  auto p = IpPrefix::parse("10.1.1.77/24");
  REQUIRE(p);
  CHECK(p->to_text().view() == "10.1.1.0/24");
  CHECK(p->first().to_text().view() == "10.1.1.0");
  CHECK(p->last().to_text().view() == "10.1.1.255");
  CHECK(p->contains(*IpAddress::parse("10.1.1.200")));
  CHECK_FALSE(p->contains(*IpAddress::parse("10.1.2.1")));
  CHECK_FALSE(p->contains(*IpAddress::parse("::a01:101")));

  auto v6 = IpPrefix::parse("2001:db8:abcd:12::/61");
  REQUIRE(v6);
  CHECK(v6->to_text().view() == "2001:db8:abcd:10::/61");
  CHECK(v6->last().to_text().view() == "2001:db8:abcd:17:ffff:ffff:ffff:ffff");

  CHECK(IpPrefix::parse("192.0.2.1")->length() == 32);
  CHECK(IpPrefix::parse("::1")->length() == 128);
  CHECK(IpPrefix::parse("0.0.0.0/0")->contains(*IpAddress::parse("255.255.255.255")));
  CHECK(IpPrefix::parse("10.0.0.0/7")->last().to_text().view() == "11.255.255.255");
  for (const char* bad :
       {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "::/129", "10.0.0.0/2a", "/8", "10.0.0.0/-1"}) {
    CHECK_MESSAGE(IpPrefix::parse(bad).error() == Errc::parse_error, bad);
  }
  CHECK(IpPrefix::make(*IpAddress::parse("10.0.0.0"), 33).error() == Errc::invalid_argument);
}
