// SPDX-License-Identifier: Apache-2.0
#include "ipsec/sa/pad.hpp"

#include <doctest/doctest.h>

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "test_util.hpp"

using ipsec::as_bytes;
using ipsec::ByteView;
using ipsec::Errc;
using ipsec::IpAddress;
using ipsec::IpPrefix;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using ipsec::wire::AuthMethod;
using ipsec::wire::IdType;
using namespace ipsec::sa;

namespace {

AddressRange range(std::string_view prefix) {
  auto p = IpPrefix::parse(prefix);
  REQUIRE(p);
  return AddressRange::of(*p);
}

IpAddress addr(std::string_view text) {
  auto a = IpAddress::parse(text);
  REQUIRE(a);
  return *a;
}

IdPattern pattern(std::string_view text) {
  auto p = IdPattern::parse(text);
  REQUIRE_MESSAGE(p, std::string(text), " ", p.status().name(), " ", p.status().field());
  return std::move(*p);
}

// A DER Name (RFC 5280 4.1.2.4) of single-attribute RDNs; each attribute is
// id-at-<last arc> (2.5.4.x) with a string of the given DER tag.
struct Rdn {
  uint8_t arc;
  uint8_t string_tag;
  std::string value;
};
Bytes der(uint8_t tag, const Bytes& value) {
  REQUIRE(value.size() < 128);
  Bytes out{tag, static_cast<uint8_t>(value.size())};
  out.insert(out.end(), value.begin(), value.end());
  return out;
}
Bytes dn(const std::vector<Rdn>& rdns) {
  Bytes seq;
  for (const Rdn& r : rdns) {
    Bytes atv = der(0x06, {0x55, 0x04, r.arc});
    const Bytes str = der(r.string_tag, Bytes(r.value.begin(), r.value.end()));
    atv.insert(atv.end(), str.begin(), str.end());
    const Bytes set = der(0x31, der(0x30, atv));
    seq.insert(seq.end(), set.begin(), set.end());
  }
  return der(0x30, seq);
}
constexpr uint8_t kC = 6, kO = 10, kCn = 3;
constexpr uint8_t kPrintable = 0x13, kUtf8 = 0x0c;

bool matches(const IdPattern& p, IdType type, std::string_view data) {
  return p.matches(type, as_bytes(data));
}

PadEntry entry(uint32_t id, std::string_view id_pattern, PadEntryConfig config = {}) {
  config.id = id;
  if (config.auth.empty()) config.auth.allow(AuthMethod::digital_signature);
  auto e = PadEntry::make(pattern(id_pattern), config);
  REQUIRE_MESSAGE(e, e.status().name(), " ", e.status().field());
  return std::move(*e);
}

Selector selector(std::string_view local, std::string_view remote, uint8_t protocol = kAnyProtocol) {
  Selector s;
  s.local = range(local);
  s.remote = range(remote);
  s.protocol = protocol;
  return s;
}

}  // namespace

TEST_CASE("IdPattern::parse: every kind of RFC 4301 4.4.3.1") {
  CHECK(pattern("any").kind() == IdPattern::Kind::any);
  CHECK(pattern("null").kind() == IdPattern::Kind::null_id);
  CHECK(pattern("fqdn:gw.example.com").domain_match() == IdPattern::DomainMatch::exact);
  CHECK(pattern("fqdn:*.example.com").domain_match() == IdPattern::DomainMatch::one_label);
  CHECK(pattern("fqdn:.example.com").domain_match() == IdPattern::DomainMatch::subtree);
  CHECK(pattern("email:@example.com").kind() == IdPattern::Kind::rfc822);
  CHECK(pattern("ip:10.0.0.0/8").range() == range("10.0.0.0/8"));
  CHECK(pattern("ip:2001:db8::/32").type() == IdType::ipv6_addr);
  CHECK(pattern("ip:192.0.2.7").range() == AddressRange::single(addr("192.0.2.7")));
  CHECK(pattern("ip:10.0.0.1-10.0.0.9").range() == AddressRange{addr("10.0.0.1"), addr("10.0.0.9")});
  CHECK(pattern("keyid:0a1B2c").type() == IdType::key_id);
  const std::string name = ipsec::test::to_hex(dn({{kC, kPrintable, "US"}}));
  CHECK(pattern("dn:" + name).kind() == IdPattern::Kind::exact);
  CHECK(pattern("dn-subtree:" + name).kind() == IdPattern::Kind::dn_subtree);
}

TEST_CASE("IdPattern: a default pattern matches nothing, any matches all but ID_NULL") {
  const IdPattern none;
  CHECK(none.kind() == IdPattern::Kind::none);
  CHECK_FALSE(matches(none, IdType::fqdn, "gw.example.com"));
  CHECK_FALSE(none.matches(IdType::null_id, {}));

  const IdPattern any = IdPattern::any();
  CHECK(matches(any, IdType::fqdn, "gw.example.com"));
  CHECK(matches(any, IdType::key_id, "\x01\x02"));
  CHECK(any.matches(IdType::ipv4_addr, from_hex("c0000201")));
  CHECK(any.matches(IdType::der_asn1_dn, dn({{kC, kPrintable, "US"}})));
  // RFC 7619: an unauthenticated peer only reaches an ID_NULL entry.
  CHECK_FALSE(any.matches(IdType::null_id, {}));
  const IdPattern null = IdPattern::null_id();
  CHECK(null.matches(IdType::null_id, {}));
  CHECK_FALSE(matches(null, IdType::fqdn, "gw.example.com"));
}

TEST_CASE("IdPattern fqdn: exact names compare case-insensitively (RFC 4343)") {
  const IdPattern p = pattern("fqdn:GW.Example.com");
  CHECK(matches(p, IdType::fqdn, "gw.example.com"));
  CHECK(matches(p, IdType::fqdn, "GW.EXAMPLE.COM"));
  CHECK_FALSE(matches(p, IdType::fqdn, "gw.example.co"));
  CHECK_FALSE(matches(p, IdType::fqdn, "xgw.example.com"));
  CHECK_FALSE(matches(p, IdType::fqdn, "gw.example.com."));  // no trailing-dot normalisation
  CHECK_FALSE(matches(p, IdType::rfc822_addr, "gw.example.com"));
  CHECK_FALSE(matches(p, IdType::key_id, "gw.example.com"));
  // Only ASCII letters fold: 0xc7 and 0xe7 (Latin-1 C-cedilla) stay distinct.
  const IdPattern exact = *IdPattern::exact(IdType::fqdn, from_hex("e7"));
  CHECK_FALSE(exact.matches(IdType::fqdn, from_hex("c7")));
}

TEST_CASE("IdPattern fqdn: *.example.com stands for exactly one label") {
  const IdPattern p = pattern("fqdn:*.example.com");
  CHECK(matches(p, IdType::fqdn, "gw.example.com"));
  CHECK(matches(p, IdType::fqdn, "GW.Example.COM"));
  CHECK(matches(p, IdType::fqdn, "vpn-2_a.example.com"));
  CHECK_FALSE(matches(p, IdType::fqdn, "example.com"));
  CHECK_FALSE(matches(p, IdType::fqdn, ".example.com"));
  CHECK_FALSE(matches(p, IdType::fqdn, "a.b.example.com"));
  CHECK_FALSE(matches(p, IdType::fqdn, "gwexample.com"));
  CHECK_FALSE(matches(p, IdType::fqdn, "gw.example.com."));
  CHECK_FALSE(matches(p, IdType::fqdn, "g w.example.com"));
  CHECK_FALSE(p.matches(IdType::fqdn, from_hex("6700 2e6578616d706c652e636f6d")));  // "g\0.example.com"
  CHECK_FALSE(matches(p, IdType::fqdn, std::string(64, 'a') + ".example.com"));     // label over 63
  CHECK(matches(p, IdType::fqdn, std::string(63, 'a') + ".example.com"));
}

TEST_CASE("IdPattern fqdn: .example.com is the RFC 4301 sub-tree, any depth") {
  const IdPattern p = pattern("fqdn:.example.com");
  CHECK(matches(p, IdType::fqdn, "gw.example.com"));
  CHECK(matches(p, IdType::fqdn, "a.b.c.Example.Com"));
  CHECK_FALSE(matches(p, IdType::fqdn, "example.com"));
  CHECK_FALSE(matches(p, IdType::fqdn, "a..example.com"));
  CHECK_FALSE(matches(p, IdType::fqdn, ".a.example.com"));
  CHECK_FALSE(matches(p, IdType::fqdn, "notexample.com"));
  CHECK_FALSE(matches(p, IdType::fqdn, "a.example.org"));
}

TEST_CASE("IdPattern email: whole addresses and domains") {
  const IdPattern domain = pattern("email:@Example.com");
  CHECK(matches(domain, IdType::rfc822_addr, "alice@example.com"));
  CHECK(matches(domain, IdType::rfc822_addr, "Bob.Smith@EXAMPLE.COM"));
  CHECK_FALSE(matches(domain, IdType::rfc822_addr, "@example.com"));  // no user
  CHECK_FALSE(matches(domain, IdType::rfc822_addr, "alice@mail.example.com"));
  CHECK_FALSE(matches(domain, IdType::rfc822_addr, "alice@example.org"));
  CHECK_FALSE(matches(domain, IdType::rfc822_addr, "alice.example.com"));
  CHECK_FALSE(matches(domain, IdType::fqdn, "alice@example.com"));

  const IdPattern sub = pattern("email:@.example.com");
  CHECK(matches(sub, IdType::rfc822_addr, "alice@mail.example.com"));
  CHECK(matches(sub, IdType::rfc822_addr, "alice@a.b.example.com"));
  CHECK_FALSE(matches(sub, IdType::rfc822_addr, "alice@example.com"));
  const IdPattern one = pattern("email:@*.example.com");
  CHECK(matches(one, IdType::rfc822_addr, "alice@mail.example.com"));
  CHECK_FALSE(matches(one, IdType::rfc822_addr, "alice@a.b.example.com"));

  // RFC 5321 2.4: the local part may be case-sensitive, so it is exact.
  const IdPattern user = pattern("email:alice@example.com");
  CHECK(matches(user, IdType::rfc822_addr, "alice@example.com"));
  CHECK(matches(user, IdType::rfc822_addr, "alice@EXAMPLE.com"));
  CHECK_FALSE(matches(user, IdType::rfc822_addr, "Alice@example.com"));
  CHECK_FALSE(matches(user, IdType::rfc822_addr, "bob@example.com"));
  CHECK_FALSE(matches(user, IdType::rfc822_addr, "xalice@example.com"));
  // The split is at the last '@', as in the pattern.
  CHECK_FALSE(matches(user, IdType::rfc822_addr, "alice@example.com@evil.org"));
}

TEST_CASE("IdPattern ip: ranges of one family, IDs of the matching type") {
  const IdPattern v4 = pattern("ip:10.0.0.0/8");
  CHECK(v4.matches(IdType::ipv4_addr, from_hex("0a010203")));
  CHECK(v4.matches(IdType::ipv4_addr, from_hex("0affffff")));
  CHECK_FALSE(v4.matches(IdType::ipv4_addr, from_hex("0b000001")));
  CHECK_FALSE(v4.matches(IdType::ipv4_addr, from_hex("0a0102")));        // wrong length
  CHECK_FALSE(v4.matches(IdType::key_id, from_hex("0a010203")));         // wrong type
  const Bytes mapped = from_hex("00000000 00000000 0000ffff 0a010203");  // ::ffff:10.1.2.3
  CHECK_FALSE(v4.matches(IdType::ipv6_addr, mapped));
  CHECK_FALSE(v4.matches(IdType::ipv4_addr, mapped));

  const IdPattern v6 = pattern("ip:2001:db8::/32");
  CHECK(v6.matches(IdType::ipv6_addr, from_hex("20010db8 00000000 00000000 00000001")));
  CHECK_FALSE(v6.matches(IdType::ipv6_addr, from_hex("20010db9 00000000 00000000 00000001")));
  CHECK_FALSE(v6.matches(IdType::ipv4_addr, from_hex("20010db8")));

  const IdPattern span = pattern("ip:10.0.0.1-10.0.0.9");
  CHECK(span.matches(IdType::ipv4_addr, from_hex("0a000001")));
  CHECK(span.matches(IdType::ipv4_addr, from_hex("0a000009")));
  CHECK_FALSE(span.matches(IdType::ipv4_addr, from_hex("0a000000")));
  CHECK_FALSE(span.matches(IdType::ipv4_addr, from_hex("0a00000a")));

  CHECK(IdPattern::address(AddressRange{addr("10.0.0.9"), addr("10.0.0.1")}).error() ==
        Errc::invalid_argument);
}

TEST_CASE("IdPattern keyid: exact match only") {
  const IdPattern p = pattern("keyid:0a0B0c");
  CHECK(p.matches(IdType::key_id, from_hex("0a0b0c")));
  CHECK_FALSE(p.matches(IdType::key_id, from_hex("0a0b")));
  CHECK_FALSE(p.matches(IdType::key_id, from_hex("0a0b0c0d")));
  CHECK_FALSE(p.matches(IdType::fqdn, from_hex("0a0b0c")));
  CHECK(IdPattern::key_id({}).error() == Errc::invalid_argument);
  CHECK(IdPattern::exact(IdType::null_id, from_hex("00")).error() == Errc::invalid_argument);
}

TEST_CASE("IdPattern dn: DER octets, exact or leading RDNs") {
  const Bytes gw = dn({{kC, kPrintable, "US"}, {kO, kUtf8, "Example"}, {kCn, kUtf8, "gw"}});
  const Bytes org = dn({{kC, kPrintable, "US"}, {kO, kUtf8, "Example"}});

  const IdPattern exact = pattern("dn:" + ipsec::test::to_hex(gw));
  CHECK(exact.matches(IdType::der_asn1_dn, gw));
  CHECK_FALSE(exact.matches(IdType::der_asn1_dn, org));
  CHECK_FALSE(exact.matches(IdType::der_asn1_gn, gw));
  // The same text in another string type is another DN to a byte compare.
  CHECK_FALSE(exact.matches(IdType::der_asn1_dn,
                            dn({{kC, kPrintable, "US"}, {kO, kPrintable, "Example"}, {kCn, kUtf8, "gw"}})));

  const IdPattern subtree = pattern("dn-subtree:" + ipsec::test::to_hex(org));
  CHECK(subtree.matches(IdType::der_asn1_dn, gw));
  CHECK(subtree.matches(IdType::der_asn1_dn, org));
  CHECK(subtree.matches(
      IdType::der_asn1_dn,
      dn({{kC, kPrintable, "US"}, {kO, kUtf8, "Example"}, {kO, kUtf8, "Unit"}, {kCn, kUtf8, "x"}})));
  CHECK_FALSE(subtree.matches(IdType::der_asn1_dn, dn({{kC, kPrintable, "US"}})));
  CHECK_FALSE(subtree.matches(IdType::der_asn1_dn, dn({{kC, kPrintable, "US"}, {kO, kUtf8, "Other"}})));
  CHECK_FALSE(subtree.matches(IdType::der_asn1_dn, dn({{kO, kUtf8, "Example"}, {kC, kPrintable, "US"}})));
  CHECK_FALSE(subtree.matches(IdType::der_asn1_dn, dn({{kC, kPrintable, "FR"}, {kO, kUtf8, "Example"}})));
  CHECK_FALSE(subtree.matches(IdType::fqdn, gw));
  // Malformed peer DNs never match: truncated, trailing bytes, non-SET tail.
  CHECK_FALSE(subtree.matches(IdType::der_asn1_dn, ByteView(gw).first(gw.size() - 1)));
  Bytes trailing = gw;
  trailing.push_back(0);
  CHECK_FALSE(subtree.matches(IdType::der_asn1_dn, trailing));
  Bytes bad_tail = org;
  bad_tail[1] = static_cast<uint8_t>(bad_tail[1] + 3);
  bad_tail.insert(bad_tail.end(), {0x02, 0x01, 0x00});  // an INTEGER, not an RDN
  CHECK_FALSE(subtree.matches(IdType::der_asn1_dn, bad_tail));

  CHECK(IdPattern::dn_subtree(from_hex("3000")).error() == Errc::invalid_argument);
  CHECK(IdPattern::dn(from_hex("3000")));  // the empty Name is a DN; exact match only
}

TEST_CASE("IdPattern::parse errors name the character") {
  struct Case {
    const char* text;
    Errc code;
    uint32_t offset;
    std::string_view field;
  };
  const std::string long_label = "fqdn:" + std::string(64, 'a') + ".com";
  const std::string long_name = "fqdn:" + std::string(254, 'a');
  const Case cases[] = {
      {"", Errc::parse_error, 0, "id pattern"},
      {"foo:bar", Errc::parse_error, 0, "id pattern kind"},
      {"fqdn", Errc::parse_error, 0, "id pattern kind"},
      {"FQDN:gw.example.com", Errc::parse_error, 0, "id pattern kind"},
      {"any:x", Errc::parse_error, 3, "id pattern"},
      {"null:", Errc::parse_error, 4, "id pattern"},
      {"fqdn:", Errc::parse_error, 5, "fqdn label"},
      {"fqdn:gw..example.com", Errc::parse_error, 8, "fqdn label"},
      {"fqdn:gw.example.com.", Errc::parse_error, 20, "fqdn label"},
      {"fqdn:*", Errc::parse_error, 5, "fqdn"},
      {"fqdn:*.", Errc::parse_error, 7, "fqdn label"},
      {"fqdn:a.*.com", Errc::parse_error, 7, "fqdn"},
      {"fqdn:**.example.com", Errc::parse_error, 5, "fqdn"},
      {"fqdn:..example.com", Errc::parse_error, 6, "fqdn label"},
      {"fqdn:gw example.com", Errc::parse_error, 7, "fqdn"},
      {long_label.c_str(), Errc::parse_error, 5 + 63, "fqdn label"},
      {long_name.c_str(), Errc::parse_error, 5 + 253, "fqdn length"},
      {"email:example.com", Errc::parse_error, 17, "email @"},
      {"email:al ice@example.com", Errc::parse_error, 8, "email local"},
      {"email:@exa$mple.com", Errc::parse_error, 10, "fqdn"},
      {"email:alice@", Errc::parse_error, 12, "fqdn label"},
      {"ip:10.0.0.0/33", Errc::parse_error, 12, "prefix length"},
      {"ip:10.0.0.9-10.0.0.1", Errc::parse_error, 11, "ip range"},
      {"ip:10.0.0.1-::1", Errc::parse_error, 12, "ip range family"},
      {"keyid:", Errc::parse_error, 6, "hex empty"},
      {"keyid:0a0", Errc::parse_error, 9, "hex length"},
      {"keyid:0g", Errc::parse_error, 7, "hex digit"},
      {"dn:3003020100", Errc::invalid_value, 7, "dn rdn"},  // an INTEGER where an RDN SET belongs
      {"dn:300231", Errc::truncated, 3 + 2 * 2, "dn"},
      {"dn:30003000", Errc::trailing_data, 3 + 2 * 2, "dn"},
      {"dn:3100", Errc::invalid_value, 3, "dn"},
      {"dn-subtree:3000", Errc::invalid_argument, 11, "dn subtree empty"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto p = IdPattern::parse(c.text);
    REQUIRE_FALSE(p);
    CHECK(p.status().name() == ipsec::to_string(c.code));
    CHECK(p.status().offset() == c.offset);
    CHECK(std::string_view(p.status().field()) == c.field);
  }
  // The IP parsers' own errors are moved to the position in the whole text.
  auto bad_quad = IdPattern::parse("ip:10.0.0.256");
  auto alone = IpAddress::parse("10.0.0.256");
  REQUIRE_FALSE(bad_quad);
  REQUIRE_FALSE(alone);
  CHECK(bad_quad.error() == Errc::parse_error);
  CHECK(bad_quad.status().offset() == 3 + alone.status().offset());

  // Limits: a key ID over kMaxIdPatternSize octets.
  CHECK(IdPattern::parse("keyid:" + std::string(2 * ipsec::limits::kMaxIdPatternSize, 'a')));
  CHECK(IdPattern::parse("keyid:" + std::string(2 * ipsec::limits::kMaxIdPatternSize + 2, 'a')).error() ==
        Errc::limit_exceeded);
  CHECK(IdPattern::parse("email:" + std::string(65, 'a') + "@example.com").status().offset() == 6 + 64);
}

TEST_CASE("IdPattern::clone is independent") {
  auto original = IdPattern::parse("email:alice@Example.com");
  REQUIRE(original);
  auto copy = original->clone();
  REQUIRE(copy);
  original = IdPattern::any();
  CHECK(matches(*copy, IdType::rfc822_addr, "alice@example.com"));
  CHECK_FALSE(matches(*copy, IdType::rfc822_addr, "bob@example.com"));
}

TEST_CASE("AuthMethodSet: allow and deny every method value") {
  AuthMethodSet set;
  CHECK(set.empty());
  set.allow(AuthMethod::digital_signature).allow(AuthMethod::shared_key_mic);
  CHECK_FALSE(set.empty());
  CHECK(set.allows(AuthMethod::digital_signature));
  CHECK(set.allows(AuthMethod::shared_key_mic));
  CHECK_FALSE(set.allows(AuthMethod::rsa_signature));
  CHECK_FALSE(set.allows(AuthMethod::null_auth));
  CHECK_FALSE(set.allows(static_cast<AuthMethod>(0)));
  set.allow(static_cast<AuthMethod>(201));  // private use
  CHECK(set.allows(static_cast<AuthMethod>(201)));
  CHECK_FALSE(set.allows(static_cast<AuthMethod>(200)));
  CHECK_FALSE(set.allows(static_cast<AuthMethod>(255)));
}

TEST_CASE("PadEntry::make validates the configuration") {
  PadEntryConfig ok;
  ok.auth.allow(AuthMethod::digital_signature);
  CHECK(PadEntry::make(IdPattern::any(), ok));

  CHECK(PadEntry::make(IdPattern(), ok).error() == Errc::invalid_argument);                     // no pattern
  CHECK(PadEntry::make(IdPattern::any(), PadEntryConfig{}).error() == Errc::invalid_argument);  // no auth

  PadEntryConfig psk_missing;
  psk_missing.auth.allow(AuthMethod::shared_key_mic);
  auto e = PadEntry::make(IdPattern::any(), psk_missing);
  CHECK(e.error() == Errc::invalid_argument);
  CHECK(std::string_view(e.status().field()) == "pad psk");

  const Bytes big_psk(ipsec::limits::kMaxPskSize + 1, 0x42);
  PadEntryConfig psk_big = psk_missing;
  psk_big.psk = big_psk;
  CHECK(PadEntry::make(IdPattern::any(), psk_big).error() == Errc::limit_exceeded);

  PadEntryConfig gateway = ok;
  gateway.gateway = AddressRange{addr("10.0.0.9"), addr("10.0.0.1")};
  CHECK(PadEntry::make(IdPattern::any(), gateway).error() == Errc::invalid_argument);
  gateway.gateway = AddressRange{addr("10.0.0.1"), addr("::1")};
  CHECK(PadEntry::make(IdPattern::any(), gateway).error() == Errc::invalid_argument);

  std::vector<Selector> children(2, selector("10.0.0.0/8", "10.0.0.0/8"));
  children[1].remote = range("2001:db8::/32");  // mixed families: invalid
  PadEntryConfig child = ok;
  child.children = children;
  auto bad_child = PadEntry::make(IdPattern::any(), child);
  CHECK(bad_child.error() == Errc::invalid_argument);
  CHECK(bad_child.status().offset() == 1);

  const std::vector<Selector> many(ipsec::limits::kMaxPadChildSelectors + 1, Selector{});
  child.children = many;
  CHECK(PadEntry::make(IdPattern::any(), child).error() == Errc::limit_exceeded);
  child.children = std::span<const Selector>(many).first(ipsec::limits::kMaxPadChildSelectors);
  CHECK(PadEntry::make(IdPattern::any(), child));

  const std::vector<uint32_t> anchors(ipsec::limits::kMaxPadTrustAnchors + 1, 7);
  PadEntryConfig ta = ok;
  ta.trust_anchors = anchors;
  CHECK(PadEntry::make(IdPattern::any(), ta).error() == Errc::limit_exceeded);
  ta.trust_anchors = std::span<const uint32_t>(anchors).first(ipsec::limits::kMaxPadTrustAnchors);
  CHECK(PadEntry::make(IdPattern::any(), ta));
}

TEST_CASE("PadEntry keeps its own copies; the PSK lives in SecretBytes") {
  Bytes psk = from_hex("7365637265742d6b6579");
  std::vector<uint32_t> anchors{3, 9};
  std::vector<Selector> children{selector("10.1.0.0/16", "10.2.0.0/16")};
  PadEntryConfig c;
  c.id = 42;
  c.auth.allow(AuthMethod::shared_key_mic).allow(AuthMethod::digital_signature);
  c.psk = psk;
  c.trust_anchors = anchors;
  c.id_must_match_certificate = true;
  c.gateway = range("192.0.2.0/24");
  c.children = children;
  auto e = PadEntry::make(pattern("fqdn:gw.example.com"), c);
  REQUIRE(e);
  // The configuration's buffers may go away once make() returns.
  const Bytes expected = psk;
  std::fill(psk.begin(), psk.end(), uint8_t{0});
  anchors.assign({0, 0});
  children.clear();

  const ipsec::SecretBytes& held = e->psk();
  CHECK(ipsec::ct_equal(held.view(), expected));
  CHECK(e->id() == 42);
  REQUIRE(e->trust_anchors().size() == 2);
  CHECK(e->trust_anchors()[0] == 3);
  CHECK(e->trust_anchors()[1] == 9);
  CHECK(e->id_must_match_certificate());
  CHECK(e->gateway() == range("192.0.2.0/24"));
  REQUIRE(e->children().size() == 1);
  CHECK(e->children()[0] == selector("10.1.0.0/16", "10.2.0.0/16"));

  // Moving the entry moves the key; the moved-from entry holds none.
  PadEntry moved = std::move(*e);
  CHECK(ipsec::ct_equal(moved.psk().view(), expected));
  CHECK(e->psk().empty());  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("Pad::match: first match wins among overlapping patterns (RFC 4301 4.4.3.1)") {
  const IpAddress from = addr("198.51.100.7");
  Pad pad;
  REQUIRE(pad.add(entry(1, "fqdn:gw.example.com")).ok());
  REQUIRE(pad.add(entry(2, "fqdn:*.example.com")).ok());
  REQUIRE(pad.add(entry(3, "fqdn:.example.com")).ok());
  REQUIRE(pad.add(entry(4, "any")).ok());
  REQUIRE(pad.add(entry(5, "fqdn:vpn.example.com")).ok());  // shadowed by 2
  CHECK(pad.size() == 5);

  auto id_of = [&](IdType type, std::string_view data) -> int {
    const PadEntry* e = pad.match(type, as_bytes(data), from);
    return e == nullptr ? -1 : static_cast<int>(e->id());
  };
  CHECK(id_of(IdType::fqdn, "gw.example.com") == 1);
  CHECK(id_of(IdType::fqdn, "GW.example.com") == 1);
  CHECK(id_of(IdType::fqdn, "vpn.example.com") == 2);
  CHECK(id_of(IdType::fqdn, "a.vpn.example.com") == 3);
  CHECK(id_of(IdType::fqdn, "example.com") == 4);
  CHECK(id_of(IdType::rfc822_addr, "alice@example.com") == 4);
  CHECK(id_of(IdType::null_id, "") == -1);  // refused: no entry for ID_NULL

  // The same entries in the other order: the catch-all takes everything.
  Pad reversed;
  REQUIRE(reversed.add(entry(4, "any")).ok());
  REQUIRE(reversed.add(entry(1, "fqdn:gw.example.com")).ok());
  CHECK(reversed.match(IdType::fqdn, as_bytes("gw.example.com"), from)->id() == 4);

  // The IdPayload overload reads the same fields.
  const ipsec::wire::IdPayload id{IdType::fqdn, as_bytes("vpn.example.com")};
  CHECK(pad.match(id, from)->id() == 2);

  CHECK(pad.find(3) == &pad[2]);
  CHECK(pad.find(99) == nullptr);
  CHECK(Pad().match(IdType::fqdn, as_bytes("gw.example.com"), from) == nullptr);
}

TEST_CASE("Pad::match: the gateway constraint narrows, it does not identify") {
  PadEntryConfig constrained;
  constrained.gateway = range("192.0.2.0/24");
  Pad pad;
  REQUIRE(pad.add(entry(1, "fqdn:gw.example.com", constrained)).ok());
  REQUIRE(pad.add(entry(2, "fqdn:*.example.com")).ok());
  const ByteView gw = as_bytes("gw.example.com");
  CHECK(pad.match(IdType::fqdn, gw, addr("192.0.2.1"))->id() == 1);
  CHECK(pad.match(IdType::fqdn, gw, addr("192.0.2.255"))->id() == 1);
  // Elsewhere the constrained entry is passed over; the next one applies.
  CHECK(pad.match(IdType::fqdn, gw, addr("192.0.3.1"))->id() == 2);
  CHECK(pad.match(IdType::fqdn, gw, addr("2001:db8::1"))->id() == 2);

  Pad only;
  REQUIRE(only.add(entry(1, "fqdn:gw.example.com", constrained)).ok());
  CHECK(only.match(IdType::fqdn, gw, addr("192.0.2.9")) != nullptr);
  CHECK(only.match(IdType::fqdn, gw, addr("203.0.113.9")) == nullptr);
  // An IPv6 gateway range never admits an IPv4 address.
  PadEntryConfig v6;
  v6.gateway = range("2001:db8::/32");
  Pad six;
  REQUIRE(six.add(entry(1, "any", v6)).ok());
  CHECK(six.match(IdType::fqdn, gw, addr("2001:db8::7")) != nullptr);
  CHECK(six.match(IdType::fqdn, gw, addr("32.1.13.184")) == nullptr);
}

TEST_CASE("Pad::add: duplicate ids, the entry limit, stable entry addresses") {
  Pad pad;
  REQUIRE(pad.add(entry(7, "fqdn:a.example.com")).ok());
  const PadEntry* first = pad.match(IdType::fqdn, as_bytes("a.example.com"), addr("192.0.2.1"));
  REQUIRE(first != nullptr);
  const ipsec::Status dup = pad.add(entry(7, "fqdn:b.example.com"));
  CHECK(dup == Errc::invalid_argument);
  CHECK(dup.offset() == 0);
  CHECK(pad.size() == 1);

  for (uint32_t i = 1; i < ipsec::limits::kMaxPadEntries; ++i) {
    REQUIRE(pad.add(entry(1000 + i, "keyid:" + ipsec::test::to_hex(as_bytes(std::to_string(i))))).ok());
  }
  CHECK(pad.size() == ipsec::limits::kMaxPadEntries);
  CHECK(pad.add(entry(5, "any")) == Errc::limit_exceeded);
  CHECK(pad.size() == ipsec::limits::kMaxPadEntries);
  // Growth moved the table, never the entries.
  CHECK(pad.match(IdType::fqdn, as_bytes("a.example.com"), addr("192.0.2.1")) == first);
  CHECK(pad.match(IdType::key_id, as_bytes("1023"), addr("192.0.2.1"))->id() == 2023);
}

TEST_CASE("Pad::authorize_auth: the entry, not the peer, chooses the method (RFC 4301 4.4.3.2)") {
  const Bytes psk = from_hex("00112233445566778899aabbccddeeff");
  PadEntryConfig c;
  c.auth.allow(AuthMethod::shared_key_mic);
  c.psk = psk;
  const PadEntry psk_only = entry(1, "keyid:01", c);
  CHECK(Pad::authorize_auth(psk_only, AuthMethod::shared_key_mic));
  CHECK_FALSE(Pad::authorize_auth(psk_only, AuthMethod::digital_signature));
  CHECK_FALSE(Pad::authorize_auth(psk_only, AuthMethod::rsa_signature));
  CHECK_FALSE(Pad::authorize_auth(psk_only, AuthMethod::null_auth));

  PadEntryConfig certs;
  certs.auth.allow(AuthMethod::digital_signature).allow(AuthMethod::ecdsa_sha256_p256);
  const PadEntry cert_entry = entry(2, "any", certs);
  CHECK(Pad::authorize_auth(cert_entry, AuthMethod::digital_signature));
  CHECK(Pad::authorize_auth(cert_entry, AuthMethod::ecdsa_sha256_p256));
  CHECK_FALSE(Pad::authorize_auth(cert_entry, AuthMethod::shared_key_mic));
  CHECK_FALSE(Pad::authorize_auth(cert_entry, AuthMethod::ecdsa_sha384_p384));
}

TEST_CASE("Pad::authorize_child: the requested traffic lies inside one allowed selector") {
  Selector https = selector("10.1.0.0/16", "10.2.0.0/16", 6);
  https.local_port = PortRange::single(443);
  const std::array<Selector, 3> allowed{
      selector("10.1.0.0/16", "10.2.0.0/16"),
      selector("2001:db8:1::/48", "2001:db8:2::/48", 17),
      https,
  };
  PadEntryConfig c;
  c.children = allowed;
  const PadEntry e = entry(1, "any", c);

  // Inside: narrower addresses, any protocol, a single host pair.
  CHECK(Pad::authorize_child(e, selector("10.1.1.0/24", "10.2.3.4/32")));
  CHECK(Pad::authorize_child(e, selector("10.1.0.0/16", "10.2.0.0/16")));
  CHECK(Pad::authorize_child(e, selector("10.1.0.0/16", "10.2.0.0/16", 17)));
  // Partly outside: a wider remote, a local range crossing the edge.
  CHECK_FALSE(Pad::authorize_child(e, selector("10.1.0.0/16", "10.2.0.0/15")));
  CHECK_FALSE(Pad::authorize_child(e, selector("10.0.0.0/8", "10.2.0.0/16")));
  Selector crossing = selector("10.1.0.0/16", "10.2.0.0/16");
  crossing.local = AddressRange{addr("10.1.255.0"), addr("10.2.0.5")};
  CHECK_FALSE(Pad::authorize_child(e, crossing));
  // Swapped sides: our side and the peer's are not interchangeable.
  CHECK_FALSE(Pad::authorize_child(e, selector("10.2.0.0/16", "10.1.0.0/16")));

  // Protocol and port narrowing in the IPv6 UDP selector.
  Selector dns = selector("2001:db8:1::53/128", "2001:db8:2::/64", 17);
  dns.local_port = PortRange::single(53);
  CHECK(Pad::authorize_child(e, dns));
  dns.protocol = 6;
  CHECK_FALSE(Pad::authorize_child(e, dns));  // TCP where only UDP is allowed
  CHECK_FALSE(
      Pad::authorize_child(e, selector("2001:db8:1::/48", "2001:db8:2::/48")));  // any protocol: wider

  // A port-constrained selector admits only narrower ports.
  CHECK(Pad::authorize_child(e, https));
  Selector ports = https;
  ports.local = range("10.3.0.0/16");  // outside the first selector, so only `https` could hold it
  CHECK_FALSE(Pad::authorize_child(e, ports));

  // Family mismatch, and a request of no single family.
  CHECK_FALSE(Pad::authorize_child(e, selector("::/0", "::/0")));
  CHECK_FALSE(Pad::authorize_child(e, selector("2001:db8:1::/48", "10.2.0.0/16")));
  Selector mixed = selector("10.1.1.0/24", "10.2.0.0/16");
  mixed.remote = range("2001:db8:2::/48");
  CHECK_FALSE(Pad::authorize_child(e, mixed));

  // Covered by two selectors together but not by one: refused.
  const std::array<Selector, 2> halves{selector("10.1.0.0/17", "10.2.0.0/16"),
                                       selector("10.1.128.0/17", "10.2.0.0/16")};
  PadEntryConfig split;
  split.children = halves;
  const PadEntry halves_entry = entry(2, "any", split);
  CHECK(Pad::authorize_child(halves_entry, selector("10.1.0.0/17", "10.2.0.0/16")));
  CHECK_FALSE(Pad::authorize_child(halves_entry, selector("10.1.0.0/16", "10.2.0.0/16")));

  // No child selectors: no child SA at all.
  const PadEntry none = entry(3, "any");
  CHECK_FALSE(Pad::authorize_child(none, selector("10.1.1.0/24", "10.2.3.4/32")));
}
