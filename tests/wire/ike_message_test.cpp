// SPDX-License-Identifier: Apache-2.0
// IKEv2 message codec (RFC 7296 sections 3.1 to 3.16, RFC 7427, RFC 7383):
// round trips of every payload type, every length/count/format error with
// its status and offset, truncation sweeps, limits and summaries.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <vector>

#include "ike_test_util.hpp"
#include "ipsec/wire/ike_builder.hpp"
#include "ipsec/wire/ike_header.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/ike_summary.hpp"
#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::Status;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using namespace ipsec::wire;
namespace crypto = ipsec::crypto;

namespace {

IkeHeader sample_header(ExchangeType exchange = ExchangeType::ike_sa_init, uint32_t mid = 0) {
  IkeHeader h;
  h.spi_i = 0x0102030405060708;
  h.spi_r = exchange == ExchangeType::ike_sa_init ? 0 : 0x1112131415161718;
  h.exchange = exchange;
  h.flags = ike_flag::kInitiator;
  h.message_id = mid;
  return h;
}

Bytes pattern(size_t n, uint8_t seed = 1) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + 7 * i);
  return b;
}

// Every payload type with a model, in one message (as no exchange would
// carry them, but the codec does not care about exchange rules).
struct KitchenSink {
  Bytes spi8 = pattern(8, 0x40);
  Bytes spi4 = from_hex("c0ffee01");
  Bytes ke = pattern(32, 3);
  Bytes nonce = pattern(32, 5);
  Bytes fqdn = ipsec::test::Bytes{'g', 'w', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e'};
  Bytes ipv4 = from_hex("c0000201");
  Bytes dn = from_hex("3012311030 0e0603550403 0c07 74657374 2d6361");
  Bytes cert = from_hex("3003020101");
  Bytes hashes = pattern(40, 9);
  Bytes sig_auth = from_hex("0c 300a06082a8648ce3d040302");
  Bytes natd = pattern(20, 11);
  Bytes hash_alg = from_hex("0002000300040005");
  Bytes vid = pattern(16, 13);
  Bytes v4a = from_hex("0a010100"), v4b = from_hex("0a0101ff");
  Bytes v6a = from_hex("20010db8000000000000000000000000"),
        v6b = from_hex("20010db800000000ffffffffffffffff");
  Bytes label = from_hex("0000000573797374656d");  // an opaque TS of an unknown type
  Bytes dns = from_hex("c0000235");
  Bytes eap = from_hex("0207000a01 7573657231");  // EAP Response/Identity "user1"
  Bytes spis = from_hex("c0ffee01c0ffee02");
  std::vector<Transform> ike_transforms = {
      {TransformType::encr, static_cast<uint16_t>(crypto::EncrId::aes_gcm_16), 256, {}, 0},
      {TransformType::prf, static_cast<uint16_t>(crypto::PrfId::hmac_sha2_256), std::nullopt, {}, 0},
      {TransformType::ke, static_cast<uint16_t>(crypto::KeGroup::curve25519), std::nullopt, {}, 0},
  };
  std::vector<Transform> esp_transforms = {
      {TransformType::encr, static_cast<uint16_t>(crypto::EncrId::aes_cbc), 128, {}, 0},
      {TransformType::integ, static_cast<uint16_t>(crypto::IntegId::hmac_sha2_256_128), std::nullopt, {}, 0},
      {TransformType::esn, 0, std::nullopt, {}, 0},
      {TransformType::esn, 1, std::nullopt, {}, 0},
  };
  std::vector<Proposal> proposals;
  std::vector<TrafficSelector> selectors;
  std::vector<ConfigAttribute> attributes;

  KitchenSink() {
    sig_auth.insert(sig_auth.end(), 64, 0x5a);
    proposals = {{1, ProtocolId::ike, spi8, ike_transforms}, {2, ProtocolId::esp, spi4, esp_transforms}};
    selectors = {{TsType::ipv4_addr_range, 6, 0, 65535, v4a, v4b, {}},
                 {TsType::ipv6_addr_range, 17, 500, 4500, v6a, v6b, {}},
                 {TsType::security_label, 0, 0, 65535, {}, {}, label}};
    attributes = {{CfgAttribute::internal_ip4_address, {}},
                  {CfgAttribute::internal_ip4_dns, dns},
                  {CfgAttribute::internal_ip6_address, {}},
                  {CfgAttribute::application_version, ipsec::as_bytes("ipsec 1.0")}};
  }

  void add_all(PayloadChainWriter& w) const {
    w.add_sa(proposals);
    w.add_ke({crypto::KeGroup::curve25519, ke});
    w.add_nonce(nonce);
    w.add_id(PayloadType::id_i, {IdType::fqdn, fqdn});
    w.add_id(PayloadType::id_r, {IdType::ipv4_addr, ipv4});
    w.add_id(PayloadType::id_i, {IdType::der_asn1_dn, dn});
    w.add_id(PayloadType::id_r, {IdType::null_id, {}});
    w.add_cert({CertEncoding::x509_signature, cert});
    w.add_certreq({CertEncoding::x509_signature, hashes});
    w.add_certreq({CertEncoding::x509_signature, {}});
    w.add_auth({AuthMethod::digital_signature, sig_auth});
    w.add_auth({AuthMethod::shared_key_mic, pattern(32, 17)});
    w.add_notify(NotifyType::nat_detection_source_ip, natd);
    w.add_notify(NotifyType::ikev2_fragmentation_supported);
    w.add_notify(NotifyType::signature_hash_algorithms, hash_alg);
    w.add_notify({ProtocolId::esp, NotifyType::rekey_sa, spi4, {}});
    w.add_notify(static_cast<NotifyType>(40000), pattern(5));  // unknown status: kept
    w.add_delete({ProtocolId::esp, 4, 2, spis});
    w.add_delete({ProtocolId::ike, 0, 0, {}});
    w.add_vendor_id(vid);
    w.add_vendor_id({});
    w.add_ts(PayloadType::ts_i, selectors);
    w.add_ts(PayloadType::ts_r, std::span(selectors).first(1));
    w.add_cp(CfgType::request, attributes);
    w.add_cp(CfgType::reply, {});
    w.add_eap(eap);
    w.add_raw(static_cast<PayloadType>(200), pattern(3));  // unknown, not critical: skipped
  }
};

Bytes build(const IkeHeader& h, const KitchenSink& k) {
  Bytes out(4096);
  MessageBuilder b(out, h);
  k.add_all(b.payloads());
  auto m = b.finish();
  REQUIRE(m.ok());
  return Bytes(m->begin(), m->end());
}

// one_payload: HDR | one payload of `type` with `body` (generic header at
// offset 28, body at 32).
Bytes one_payload(PayloadType type, ByteView body, bool critical = false) {
  Bytes out(70000);
  MessageBuilder b(out, sample_header());
  b.payloads().add_raw(type, body, critical);
  auto m = b.finish();
  REQUIRE(m.ok());
  return Bytes(m->begin(), m->end());
}

Status parse(ByteView m, const ParseLimits& lim = {}) {
  ParsedMessage pm;
  return parse_message(m, &pm, lim);
}

constexpr uint32_t kBody = 32;  // offset of the first payload's body

void check_error_at(const Status& s, Errc code, uint32_t offset, int line) {
  INFO("line " << line << ": got " << s.name() << " at " << s.offset() << " (" << s.field() << ")");
  CHECK(s.code() == code);
  CHECK(s.offset() == offset);
}
#define check_error(s, code, offset) check_error_at((s), (code), (offset), __LINE__)

}  // namespace

TEST_CASE("IKE header: fields, flags and the checks RFC 7296 3.1 asks for") {
  IkeHeader h = sample_header(ExchangeType::ike_auth, 0x01020304);
  h.flags = ike_flag::kResponse | ike_flag::kVersion;
  Bytes m = one_payload(PayloadType::vendor_id, {});
  std::array<uint8_t, 28> raw{};
  ipsec::ByteWriter w(raw);
  const auto slots = write_ike_header(w, h);
  w.patch(slots.length, 28);
  auto parsed = parse_ike_header(raw);
  REQUIRE(parsed.ok());
  CHECK(parsed->spi_i == h.spi_i);
  CHECK(parsed->spi_r == h.spi_r);
  CHECK(parsed->exchange == ExchangeType::ike_auth);
  CHECK(parsed->message_id == 0x01020304);
  CHECK(parsed->response());
  CHECK_FALSE(parsed->initiator());
  CHECK(parsed->higher_version());
  CHECK(parsed->major_version == 2);
  CHECK(parsed->length == 28);
  // The version octet carries major 2, minor 0 (3.1).
  CHECK(raw[17] == 0x20);

  SUBCASE("minor versions are ignored, other majors refused") {
    raw[17] = 0x2f;
    CHECK(parse_ike_header(raw).ok());
    raw[17] = 0x10;  // IKEv1
    check_error(parse_ike_header(raw).status(), Errc::unsupported_version, 17);
    raw[17] = 0x30;  // a future major: INVALID_MAJOR_VERSION
    check_error(parse_ike_header(raw).status(), Errc::unsupported_version, 17);
  }
  SUBCASE("zero initiator SPI, short length, short input") {
    Bytes z(raw.begin(), raw.end());
    for (size_t i = 0; i < 8; ++i) z[i] = 0;
    check_error(parse_ike_header(z).status(), Errc::invalid_value, 0);
    Bytes s(raw.begin(), raw.end());
    s[27] = 27;
    check_error(parse_ike_header(s).status(), Errc::invalid_length, 24);
    CHECK(parse_ike_header(ByteView(raw).first(27)).status() == Errc::truncated);
  }
  SUBCASE("the Length must be the datagram") {
    Bytes longer = m;
    longer.push_back(0);
    check_error(parse(longer), Errc::invalid_length, 24);
    Bytes shorter(m.begin(), m.end() - 1);
    check_error(parse(shorter), Errc::invalid_length, 24);
    ParseLimits lim;
    lim.max_message_size = m.size() - 1;
    check_error(parse(m, lim), Errc::limit_exceeded, 24);
  }
}

TEST_CASE("every payload type round-trips: build, parse, decode, rebuild the same bytes") {
  const KitchenSink k;
  const Bytes m = build(sample_header(), k);
  ParsedMessage pm;
  REQUIRE(parse_message(m, &pm).ok());
  CHECK(pm.header.length == m.size());
  CHECK(pm.size() == 27);
  CHECK(pm.payloads().back().understood == false);
  CHECK(pm.count(PayloadType::notify) == 5);

  // Models come back as they went in.
  auto sa = decode_sa(*pm.find(PayloadType::sa));
  REQUIRE(sa.ok());
  REQUIRE(sa->proposals.size() == 2);
  size_t i = 0;
  for (const ProposalView& p : sa->proposals) {
    const Proposal& want = k.proposals[i++];
    CHECK(p.number == want.number);
    CHECK(p.protocol == want.protocol);
    CHECK(ipsec::equal_bytes(p.spi, want.spi));
    std::vector<Transform> got(p.transforms.begin(), p.transforms.end());
    REQUIRE(got.size() == want.transforms.size());
    for (size_t j = 0; j < got.size(); ++j) {
      CHECK(got[j].type == want.transforms[j].type);
      CHECK(got[j].id == want.transforms[j].id);
      CHECK(got[j].key_length == want.transforms[j].key_length);
      CHECK(got[j].unknown_attributes == 0);
    }
  }
  auto ke = decode_ke(*pm.find(PayloadType::ke));
  CHECK(ke->group == crypto::KeGroup::curve25519);
  CHECK(ipsec::equal_bytes(ke->data, k.ke));
  CHECK(ipsec::equal_bytes(*decode_nonce(*pm.find(PayloadType::nonce)), k.nonce));
  auto idi = decode_id(*pm.find(PayloadType::id_i));
  CHECK(idi->type == IdType::fqdn);
  CHECK(ipsec::equal_bytes(idi->data, k.fqdn));
  auto auth = decode_auth(*pm.find(PayloadType::auth));
  REQUIRE(auth.ok());
  auto sig = decode_signature_auth(auth->data);
  REQUIRE(sig.ok());
  CHECK(ipsec::test::to_hex(sig->algorithm_identifier) == "300a06082a8648ce3d040302");
  CHECK(ipsec::test::to_hex(sig->algorithm_oid) == "2a8648ce3d040302");
  CHECK(sig->parameters.empty());
  CHECK(sig->signature.size() == 64);
  auto rekey = pm.find_notify(NotifyType::rekey_sa);
  REQUIRE(rekey);
  CHECK(rekey->protocol == ProtocolId::esp);
  CHECK(ipsec::equal_bytes(rekey->spi, k.spi4));
  auto del = decode_delete(*pm.find(PayloadType::del));
  CHECK(del->spi_count == 2);
  CHECK(del->spi32(0) == 0xc0ffee01);
  CHECK(del->spi32(1) == 0xc0ffee02);
  auto ts = decode_ts(*pm.find(PayloadType::ts_i));
  REQUIRE(ts.ok());
  std::vector<TrafficSelector> selectors(ts->selectors.begin(), ts->selectors.end());
  CHECK(selectors == k.selectors);
  auto cp = decode_cp(*pm.find(PayloadType::cp));
  std::vector<ConfigAttribute> attributes(cp->attributes.begin(), cp->attributes.end());
  CHECK(cp->type == CfgType::request);
  CHECK(attributes == k.attributes);
  auto eap = decode_eap(*pm.find(PayloadType::eap));
  CHECK(eap->code == EapCode::response);
  CHECK(eap->identifier == 7);
  CHECK(eap->type == 1);

  // Building what was parsed gives the same bytes (the input was canonical).
  CHECK(ipsec::test::rebuild_message(pm) == m);

  // The one-line summary.
  CHECK(std::string(summarize(pm).view()) ==
        "IKE_SA_INIT request 0 [ SA KE No IDi IDr IDi IDr CERT CERTREQ CERTREQ AUTH AUTH N(NATD_S_IP) "
        "N(FRAG_SUP) "
        "N(HASH_ALG) N(REKEY_SA) N(40000) D D V V TSi TSr CPRQ CPRP EAP/RES/ID U(200) ]");
}

TEST_CASE("truncation sweep: every shorter chain fails, and never reads past its end") {
  const KitchenSink k;
  const Bytes m = build(sample_header(), k);
  const ByteView chain = ByteView(m).subspan(kIkeHeaderSize);
  for (size_t n = 0; n < chain.size(); ++n) {
    ParsedMessage pm;
    // A heap copy of exactly n octets, so ASan flags any read beyond it.
    const Bytes prefix(chain.begin(), chain.begin() + static_cast<std::ptrdiff_t>(n));
    const Status s = parse_payload_chain(PayloadType::sa, prefix, kIkeHeaderSize, false, &pm);
    INFO("prefix " << n);
    CHECK_FALSE(s.ok());
  }
  // And every message prefix with a consistent header Length.
  for (size_t n = 0; n < m.size(); ++n) {
    Bytes prefix(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(n));
    if (n >= kIkeHeaderSize)
      ipsec::store_be32(std::span<uint8_t, 4>(prefix.data() + 24, 4), static_cast<uint32_t>(n));
    CHECK_FALSE(parse(prefix).ok());
  }
}

TEST_CASE("maximum and empty payloads") {
  SUBCASE("nonce: 16 and 256 octets accepted, 15 and 257 refused (3.9)") {
    CHECK(parse(one_payload(PayloadType::nonce, pattern(16))).ok());
    CHECK(parse(one_payload(PayloadType::nonce, pattern(256))).ok());
    check_error(parse(one_payload(PayloadType::nonce, pattern(15))), Errc::invalid_length, 30);
    check_error(parse(one_payload(PayloadType::nonce, pattern(257))), Errc::invalid_length, 30);
  }
  SUBCASE("a 64 KiB message with a maximal vendor ID") {
    const Bytes body = pattern(65535 - kIkeHeaderSize - 4);
    const Bytes m = one_payload(PayloadType::vendor_id, body);
    CHECK(m.size() == 65535);
    CHECK(parse(m).ok());
    Bytes out(70000);
    MessageBuilder b(out, sample_header());
    b.payloads().add_vendor_id(pattern(65535 - 4 + 1));  // a payload over 65535 octets
    CHECK(b.finish().status() == Errc::invalid_length);
  }
  SUBCASE("an empty message, empty vendor ID, notify and CP") {
    Bytes out(100);
    MessageBuilder b(out, sample_header(ExchangeType::informational, 6));
    auto m = b.finish();
    REQUIRE(m.ok());
    ParsedMessage pm;
    REQUIRE(parse_message(*m, &pm).ok());
    CHECK(pm.size() == 0);
    CHECK(std::string(summarize(pm).view()) == "INFORMATIONAL request 6 [ ]");
    CHECK(parse(one_payload(PayloadType::vendor_id, {})).ok());
    CHECK(parse(one_payload(PayloadType::notify, from_hex("00004000"))).ok());
    CHECK(parse(one_payload(PayloadType::cp, from_hex("01000000"))).ok());
  }
  SUBCASE("a buffer too small reports the size needed") {
    const KitchenSink k;
    const Bytes m = build(sample_header(), k);
    Bytes small(m.size() - 1);
    MessageBuilder b(small, sample_header());
    k.add_all(b.payloads());
    CHECK(b.finish().status() == Errc::buffer_too_small);
    CHECK(b.needed() == m.size());
  }
}

TEST_CASE("payload chain errors (RFC 7296 3.2, 2.5, 3.14)") {
  SUBCASE("a Payload Length below the generic header") {
    Bytes m = one_payload(PayloadType::vendor_id, pattern(4));
    m[31] = 3;
    check_error(parse(m), Errc::invalid_length, 30);
  }
  SUBCASE("a Payload Length past the message") {
    Bytes m = one_payload(PayloadType::vendor_id, pattern(4));
    m[31] = 9;
    check_error(parse(m), Errc::truncated, 32);
  }
  SUBCASE("bytes after the last payload") {
    Bytes m = one_payload(PayloadType::vendor_id, pattern(4));
    m[31] = 6;
    check_error(parse(m), Errc::trailing_data, 34);
  }
  SUBCASE("unknown payloads: skipped, unless critical") {
    Bytes m = one_payload(static_cast<PayloadType>(99), pattern(4));
    ParsedMessage pm;
    REQUIRE(parse_message(m, &pm).ok());
    CHECK_FALSE(pm.payloads()[0].understood);
    Bytes c = one_payload(static_cast<PayloadType>(99), pattern(4), true);
    check_error(parse_message(c, &pm), Errc::unsupported_critical_payload, 28);
    CHECK(pm.unsupported_payload_type == 99);
    // Known payloads with the critical bit are simply parsed.
    CHECK(parse(one_payload(PayloadType::vendor_id, pattern(4), true)).ok());
  }
  SUBCASE("SK must be the last payload and is never nested") {
    Bytes out(200);
    MessageBuilder b(out, sample_header(ExchangeType::ike_auth, 1));
    b.payloads().add_raw(PayloadType::sk, pattern(40));
    b.payloads().add_vendor_id(pattern(4));
    auto m = b.finish();
    REQUIRE(m.ok());
    check_error(parse(*m), Errc::payload_not_allowed, 28);
    ParsedMessage pm;
    const Bytes inner = from_hex("2e000008 01020304");  // SK inside an encrypted chain
    check_error(parse_payload_chain(PayloadType::sk, inner, 0, true, &pm), Errc::payload_not_allowed, 0);
  }
  SUBCASE("more payloads than the limit") {
    Bytes out(200);
    MessageBuilder b(out, sample_header());
    for (int i = 0; i < 4; ++i) b.payloads().add_vendor_id(pattern(2));
    auto m = b.finish();
    REQUIRE(m.ok());
    ParseLimits lim;
    lim.max_payloads = 3;
    check_error(parse(*m, lim), Errc::limit_exceeded, 28 + 3 * 6);
    CHECK(parse(*m).ok());
  }
}

TEST_CASE("SA payload errors (3.3)") {
  const KitchenSink k;
  auto sa_body = [&](std::span<const Proposal> proposals) {
    Bytes out(1000);
    ipsec::ByteWriter w(out);
    write_sa_body(w, proposals);
    return Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(w.size()));
  };
  const Bytes good = sa_body(k.proposals);
  // Layout: proposal 1 at 32 (8-octet header, 8-octet SPI at 40, transforms
  // from 48: ENCR with Key Length 12 octets, PRF 8, KE 8), proposal 2 after.
  const uint32_t p1 = kBody, t1 = kBody + 16;
  const uint32_t p2 = p1 + 16 + 28;
  auto err = [&](Bytes body) { return parse(one_payload(PayloadType::sa, body)); };
  CHECK(err(good).ok());

  check_error(err({}), Errc::truncated, kBody);
  {
    Bytes b = good;
    b[p1 - kBody] = 1;
    check_error(err(b), Errc::invalid_value, p1);  // Last Substruc neither 0 nor 2
  }
  {
    Bytes b = good;
    b[p1 - kBody] = 0;
    check_error(err(b), Errc::invalid_value, p1);  // "last" but another follows
  }
  {
    Bytes b = good;
    b[p2 - kBody] = 2;
    check_error(err(b), Errc::invalid_value, p2);  // "more" but none follows
  }
  {
    Bytes b = good;
    b[p1 - kBody + 3] = 7;
    check_error(err(b), Errc::invalid_length, p1 + 2);  // Proposal Length below 8
  }
  {
    Bytes b = good;
    b[p2 - kBody + 4] = 3;
    check_error(err(b), Errc::invalid_value, p2 + 4);  // numbers 1, 3
  }
  {
    Bytes b = good;
    b[p1 - kBody + 4] = 0;
    check_error(err(b), Errc::invalid_value, p1 + 4);  // number 0
  }
  {
    Bytes b = good;
    b[p1 - kBody + 7] = 4;
    check_error(err(b), Errc::invalid_value, p1 + 7);  // Num Transforms 4, three present
  }
  {
    Bytes b = good;
    b[t1 - kBody] = 2;
    check_error(err(b), Errc::invalid_value, t1);  // transform Last Substruc 2
  }
  {
    Bytes b = good;
    b[t1 - kBody + 3] = 7;
    check_error(err(b), Errc::invalid_length, t1 + 2);
  }
  {
    Bytes b = good;
    b[t1 - kBody + 8] = 0x00;  // Key Length in TLV form
    check_error(err(b), Errc::invalid_value, t1 + 8);
  }
  {
    // An SPI size that does not fit the protocol: IKE with 4, ESP with 8.
    const Bytes spi4 = from_hex("01020304");
    const Proposal bad_ike[] = {{1, ProtocolId::ike, spi4, k.ike_transforms}};
    check_error(err(sa_body(bad_ike)), Errc::invalid_length, p1 + 6);
    const Proposal bad_esp[] = {{1, ProtocolId::esp, k.spi8, k.esp_transforms}};
    check_error(err(sa_body(bad_esp)), Errc::invalid_length, p1 + 6);
  }
  {
    // Attributes: a repeated Key Length; an unknown TLV attribute is counted,
    // not refused (the negotiation rejects the transform, 3.3.6); a TLV past
    // the transform; more attributes than kMaxTransformAttributes.
    const Bytes twice = from_hex("800e0080 800e0100");
    const Bytes unknown = from_hex("800e0080 00310002abcd");
    const Bytes past = from_hex("00310009abcd");
    Bytes many;
    for (size_t i = 0; i <= ipsec::limits::kMaxTransformAttributes; ++i) {
      const Bytes a = from_hex("80320001");
      many.insert(many.end(), a.begin(), a.end());
    }
    const uint16_t gcm = static_cast<uint16_t>(crypto::EncrId::aes_gcm_16);
    const Transform t_twice[] = {{TransformType::encr, gcm, std::nullopt, twice, 0}};
    const Transform t_unknown[] = {{TransformType::encr, gcm, std::nullopt, unknown, 0}};
    const Transform t_past[] = {{TransformType::encr, gcm, std::nullopt, past, 0}};
    const Transform t_many[] = {{TransformType::encr, gcm, std::nullopt, many, 0}};
    const Proposal p_twice[] = {{1, ProtocolId::ike, {}, t_twice}};
    const Proposal p_unknown[] = {{1, ProtocolId::ike, {}, t_unknown}};
    const Proposal p_past[] = {{1, ProtocolId::ike, {}, t_past}};
    const Proposal p_many[] = {{1, ProtocolId::ike, {}, t_many}};
    check_error(err(sa_body(p_twice)), Errc::invalid_value, p1 + 8 + 12);
    const Bytes m = one_payload(PayloadType::sa, sa_body(p_unknown));
    ParsedMessage pm;
    REQUIRE(parse_message(m, &pm).ok());
    auto sa = decode_sa(pm.payloads()[0]);
    const Transform t = *(*sa->proposals.begin()).transforms.begin();
    CHECK(t.key_length == 128);
    CHECK(t.unknown_attributes == 1);
    check_error(err(sa_body(p_past)), Errc::truncated, p1 + 8 + 8 + 4);
    check_error(err(sa_body(p_many)), Errc::limit_exceeded,
                p1 + 8 + 8 + 4 * ipsec::limits::kMaxTransformAttributes);
  }
  {
    ParseLimits lim;
    lim.max_proposals = 1;
    check_error(parse(one_payload(PayloadType::sa, good), lim), Errc::limit_exceeded, p2);
    lim = {};
    lim.max_transforms = 2;
    check_error(parse(one_payload(PayloadType::sa, good), lim), Errc::limit_exceeded, t1 + 12 + 8);
  }
}

TEST_CASE("KE, ID, CERT, CERTREQ, AUTH errors (3.4 to 3.8, RFC 7427 3)") {
  auto err = [](PayloadType t, const Bytes& body) { return parse(one_payload(t, body)); };
  check_error(err(PayloadType::ke, from_hex("001f00")), Errc::truncated, 34);
  check_error(err(PayloadType::ke, from_hex("001f0000")), Errc::invalid_length, 30);

  check_error(err(PayloadType::id_i, from_hex("010000")), Errc::truncated, 33);
  check_error(err(PayloadType::id_i, from_hex("01000000 c0000201ff")), Errc::invalid_length, 36);
  check_error(err(PayloadType::id_i, from_hex("05000000 20010db8")), Errc::invalid_length, 36);
  check_error(err(PayloadType::id_r, from_hex("0d000000 00")), Errc::invalid_length, 36);
  check_error(err(PayloadType::id_r, from_hex("02000000")), Errc::invalid_length, 36);
  check_error(err(PayloadType::id_r, from_hex("03000000")), Errc::invalid_length, 36);
  check_error(err(PayloadType::id_r, from_hex("09000000 3005")), Errc::truncated, 38);  // DER past the data
  check_error(err(PayloadType::id_r, from_hex("09000000 3100")), Errc::invalid_value,
              36);  // a SET, not a Name
  check_error(err(PayloadType::id_r, from_hex("09000000 300000")), Errc::trailing_data, 38);
  CHECK(err(PayloadType::id_r, from_hex("0d000000")).ok());
  CHECK(err(PayloadType::id_r, from_hex("0a000000 820474657374")).ok());  // GN: dNSName "test"
  CHECK(err(PayloadType::id_r, from_hex("63000000 01")).ok());            // unknown ID types are opaque

  check_error(err(PayloadType::cert, from_hex("04")), Errc::invalid_length, 33);
  check_error(err(PayloadType::cert, {}), Errc::truncated, kBody);
  check_error(err(PayloadType::certreq, Bytes(22, 4)), Errc::invalid_length, 33);
  CHECK(err(PayloadType::certreq, from_hex("04")).ok());
  CHECK(err(PayloadType::certreq, Bytes(41, 4)).ok());

  check_error(err(PayloadType::auth, from_hex("02000000")), Errc::invalid_length, 36);
  check_error(err(PayloadType::auth, from_hex("0e000000 00 300a")), Errc::invalid_length, 36);
  check_error(err(PayloadType::auth, from_hex("0e000000 0c 300a06")), Errc::truncated, 37);
  check_error(err(PayloadType::auth, from_hex("0e000000 02 3100 aa")), Errc::invalid_value, 37);
  check_error(err(PayloadType::auth, from_hex("0e000000 04 30020500 aa")), Errc::invalid_value, 39);
  check_error(err(PayloadType::auth, from_hex("0e000000 0c 300a06082a8648ce3d040302")), Errc::invalid_length,
              49);
  check_error(err(PayloadType::auth, from_hex("0e000000 03 300a06 aa")), Errc::truncated, 39);
  // RSASSA-PSS parameters ride after the OID (RFC 7427 appendix A.4.1).
  const Bytes pss = from_hex("0e000000 0f 300d06092a864886f70d01010a3000 aa");
  ParsedMessage pm;
  const Bytes m = one_payload(PayloadType::auth, pss);
  REQUIRE(parse_message(m, &pm).ok());
  auto sig = decode_signature_auth(decode_auth(pm.payloads()[0])->data);
  REQUIRE(sig.ok());
  CHECK(ipsec::test::to_hex(sig->parameters) == "3000");
  CHECK(sig->signature.size() == 1);
}

TEST_CASE("Notify and Delete errors (3.10, 3.11)") {
  auto err = [](PayloadType t, const Bytes& body) { return parse(one_payload(t, body)); };
  check_error(err(PayloadType::notify, from_hex("000040")), Errc::truncated, 34);
  check_error(err(PayloadType::notify, from_hex("03034009 010203")), Errc::invalid_length, 33);
  check_error(err(PayloadType::notify, from_hex("03044009 010203")), Errc::truncated, 36);
  Bytes natd = from_hex("00004004");
  natd.resize(4 + 19);
  check_error(err(PayloadType::notify, natd), Errc::invalid_length, 36);
  natd.resize(4 + 20);
  CHECK(err(PayloadType::notify, natd).ok());
  check_error(err(PayloadType::notify, from_hex("00004006")), Errc::invalid_length, 36);  // empty COOKIE
  Bytes cookie = from_hex("00004006");
  cookie.resize(4 + 64);
  CHECK(err(PayloadType::notify, cookie).ok());
  cookie.resize(4 + 65);
  check_error(err(PayloadType::notify, cookie), Errc::invalid_length, 36);
  check_error(err(PayloadType::notify, from_hex("00000011 001f00")), Errc::invalid_length, 36);
  CHECK(err(PayloadType::notify, from_hex("00000011 001f")).ok());
  check_error(err(PayloadType::notify, from_hex("00004001 000001")), Errc::invalid_length, 36);
  check_error(err(PayloadType::notify, from_hex("0000402f 000200")), Errc::invalid_length, 36);
  check_error(err(PayloadType::notify, from_hex("00000001 0102")), Errc::invalid_length, 36);
  check_error(err(PayloadType::notify, from_hex("03004009")), Errc::invalid_length,
              33);  // REKEY_SA without SPI
  CHECK(err(PayloadType::notify, from_hex("0304400901020304")).ok());
  CHECK(err(PayloadType::notify, from_hex("0000ffff 0102030405")).ok());  // unknown types keep their data

  check_error(err(PayloadType::del, from_hex("030400")), Errc::truncated, 34);
  check_error(err(PayloadType::del, from_hex("01040001 01020304")), Errc::invalid_length, 33);
  check_error(err(PayloadType::del, from_hex("01000001")), Errc::invalid_length, 33);
  check_error(err(PayloadType::del, from_hex("03080001 0102030405060708")), Errc::invalid_length, 33);
  check_error(err(PayloadType::del, from_hex("03040002 01020304")), Errc::invalid_length, 34);
  check_error(err(PayloadType::del, from_hex("03040001 0102030405")), Errc::invalid_length, 34);
  CHECK(err(PayloadType::del, from_hex("03040000")).ok());
  ParseLimits lim;
  lim.max_delete_spis = 1;
  check_error(parse(one_payload(PayloadType::del, from_hex("03040002 0102030405060708")), lim),
              Errc::limit_exceeded, 34);
}

TEST_CASE("traffic selector errors (3.13)") {
  auto err = [](const Bytes& body) { return parse(one_payload(PayloadType::ts_i, body)); };
  const Bytes v4 = from_hex("07000010 0000ffff 0a000000 0affffff");
  Bytes one = from_hex("01000000");
  one.insert(one.end(), v4.begin(), v4.end());
  CHECK(err(one).ok());
  check_error(err(from_hex("000000")), Errc::truncated, 33);
  check_error(err(from_hex("00000000")), Errc::invalid_value, kBody);
  {
    Bytes b = one;
    b[7] = 15;
    check_error(err(b), Errc::invalid_length, 38);  // IPv4 selector of 15 octets
  }
  {
    Bytes b = one;
    b[4] = 8;  // IPv6 type with an IPv4 length
    check_error(err(b), Errc::invalid_length, 38);
  }
  {
    Bytes b = one;
    b[0] = 2;
    check_error(err(b), Errc::truncated, 52);
  }
  {
    Bytes b = one;
    b.push_back(0);
    check_error(err(b), Errc::trailing_data, 52);
  }
  {
    Bytes b = from_hex("01000000 63000004");  // unknown type, 4-octet selector: opaque
    CHECK(err(b).ok());
    b[7] = 3;
    check_error(err(b), Errc::invalid_length, 38);
  }
  ParseLimits lim;
  lim.max_traffic_selectors = 1;
  Bytes two = one;
  two[0] = 2;
  two.insert(two.end(), v4.begin(), v4.end());
  CHECK(parse(one_payload(PayloadType::ts_r, two)).ok());
  check_error(parse(one_payload(PayloadType::ts_r, two), lim), Errc::limit_exceeded, kBody);
}

TEST_CASE("CP, EAP and SKF errors (3.15, 3.16, RFC 7383 2.5)") {
  auto err = [](PayloadType t, const Bytes& body) { return parse(one_payload(t, body)); };
  check_error(err(PayloadType::cp, from_hex("010000")), Errc::truncated, 33);
  check_error(err(PayloadType::cp, from_hex("01000000 0001 0003 0a0000")), Errc::invalid_length, 38);
  check_error(err(PayloadType::cp, from_hex("01000000 0003 0005 0a000001")), Errc::truncated, 40);
  CHECK(err(PayloadType::cp, from_hex("02000000 0001 0004 0a000001 8003 0004 0a000035"))
            .ok());  // R bit ignored
  ParseLimits lim;
  lim.max_config_attributes = 1;
  check_error(parse(one_payload(PayloadType::cp, from_hex("01000000 00010000 00030000")), lim),
              Errc::limit_exceeded, 40);

  check_error(err(PayloadType::eap, from_hex("0201000b 017573657231")), Errc::invalid_length, 34);
  check_error(err(PayloadType::eap, from_hex("07010004")), Errc::invalid_value, kBody);
  check_error(err(PayloadType::eap, from_hex("01010004")), Errc::invalid_length, 34);
  CHECK(err(PayloadType::eap, from_hex("03010004")).ok());
  // ERP (RFC 6696) over IKEv2 (RFC 6867): EAP-Initiate/Re-auth-Start.
  CHECK(err(PayloadType::eap, from_hex("05010006 0100")).ok());
  check_error(err(PayloadType::eap, from_hex("06010004")), Errc::invalid_length, 34);

  check_error(err(PayloadType::skf, from_hex("0000 0001")), Errc::invalid_value, kBody);
  check_error(err(PayloadType::skf, from_hex("0002 0001")), Errc::invalid_value, kBody);
  check_error(err(PayloadType::skf, from_hex("0001 0000")), Errc::invalid_value, 34);
  check_error(err(PayloadType::skf, from_hex("0001 0041")), Errc::limit_exceeded, 34);
  check_error(err(PayloadType::skf, from_hex("0001")), Errc::truncated, 34);
}

TEST_CASE("names and summaries") {
  CHECK(to_string(PayloadType::nonce) == "No");
  CHECK(to_string(ExchangeType::create_child_sa) == "CREATE_CHILD_SA");
  CHECK(short_name(NotifyType::nat_detection_destination_ip) == "NATD_D_IP");
  CHECK(to_string(NotifyType::nat_detection_destination_ip) == "NAT_DETECTION_DESTINATION_IP");
  IkeHeader h = sample_header(static_cast<ExchangeType>(99), 5);
  h.flags = ike_flag::kResponse;
  PayloadView skf;
  skf.type = PayloadType::skf;
  const Bytes skf_body = from_hex("0002 0003 aabbcc");
  skf.body = skf_body;
  const PayloadView list[] = {skf};
  CHECK(std::string(summarize(h, list).view()) == "EXCHANGE(99) response 5 [ EF(2/3) ]");
  // A summary that does not fit ends with "...".
  Bytes out(8192);
  MessageBuilder b(out, sample_header());
  for (int i = 0; i < 200; ++i) b.payloads().add_notify(NotifyType::nat_detection_source_ip, pattern(20));
  auto m = b.finish();
  REQUIRE(m.ok());
  ParsedMessage pm;
  ParseLimits lim;
  REQUIRE(parse_payload_chain(PayloadType::notify, ByteView(*m).subspan(28, 65 * 28), 28, false, &pm, lim)
              .code() == Errc::limit_exceeded);
  auto s = summarize(pm);
  CHECK(s.truncated());
  CHECK(s.view().size() <= MessageSummary::kCapacity);
  CHECK(s.view().substr(s.view().size() - 3) == "...");
}
