// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the policy decisions the IKE engine takes on payloads a peer
// controls (authenticated or not), with the same library entry points the
// engine calls (src/ike/engine.cpp): proposal selection, traffic selector
// narrowing and the PAD's child authorisation, ID matching against PAD
// patterns, CERT chains and CERTREQ authorities, AUTH data, CP attributes.
//
// Input: one policy octet, then a payload chain as an SK payload carries it:
// the first payload type, then the payloads (RFC 7296 3.2). The policy
// octet picks the configuration, all fixed at start:
//   bits 0-1  our IKE proposals, bits 2-3 our ESP proposals (four sets each,
//             ike::parse_proposals; AH has one);
//   bits 4-5  our traffic selectors (four local/remote sets of TsRanges,
//             IPv4 and IPv6, protocols, ports, ICMP, OPAQUE);
//   bit 6     the peer's address for PAD lookups (10.0.0.2 or 2001:db8::2);
//   bit 7     which ID payload is the peer's (IDi: we are the responder;
//             IDr: we are the initiator).
// The chain must parse (parse_payload_chain, encrypted); then each payload:
//  - SA: select_proposal against ours for its protocol; a chosen proposal is
//    one the peer offered (number, protocol, SPI) with exactly one transform
//    of each type it had, each one it offered and one we configured (or the
//    NONE the rules allow), and AEAD xor integrity; offered back alone (as
//    the responder's answer) it is chosen again;
//  - TSi/TSr: from_wire/to_wire round trip; narrow() against our side gives
//    ranges inside both the peer's and ours, each one the intersection of a
//    pair, without duplicates; their selectors() pairs are authorised by a
//    PAD entry whose children are our configured pairs (ICMP aside);
//  - IDi/IDr: every PAD pattern's matches() is sound (a match names an ID
//    of the pattern's kind inside it, checked by a reference matcher here),
//    Pad::match returns the first entry that applies, and patterns built
//    from the ID itself (exact, fqdn, rfc822, address) match it;
//  - CERT: X.509 parse; subject/issuer/SAN views inside the DER; a chain
//    (first the leaf) verifies against the test PKI's roots at a fixed time
//    only if some anchor exists, never with none; the engine's ID-to-
//    certificate check runs on the peer's ID;
//  - CERTREQ: the authorities it names that are ours (SHA-1 of the SPKI);
//  - AUTH: RFC 7427 AlgorithmIdentifier -> scheme -> AlgorithmIdentifier
//    round trip; ECDSA r|s <-> DER round trip; verification with the leaf's
//    key fails cleanly;
//  - CP: attribute lengths, addresses as IpAddress.
// Deterministic: fixed configuration and time; no state kept across inputs
// (the configuration is built once and only read).
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 -O2 reports a -Wstringop-overflow false positive (a memset of
// SIZE_MAX octets) inside ike::ecdsa_raw_to_der's vector resize once it is
// inlined here; the library's own build does not inline it this way.
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ike_fuzz_common.hpp"
#include "ipsec/crypto/hash.hpp"
#include "ipsec/crypto/x509.hpp"
#include "ipsec/ike/auth.hpp"
#include "ipsec/ike/config.hpp"
#include "ipsec/ike/proposal.hpp"
#include "ipsec/ike/traffic_selectors.hpp"
#include "ipsec/sa/pad.hpp"

using namespace ike_fuzz;
using ipsec::ike::TsRange;

#if defined(IPSEC_FUZZ_LIBFUZZER)
#include "ike_mutator.hpp"

// Weak: an external engine without it gets ike_mutator's own byte mutator.
extern "C" __attribute__((weak)) size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  return ike_mutator::custom_mutate(ike_mutator::Framing::prefixed_inner, data, size, max_size, seed,
                                    LLVMFuzzerMutate);
}

extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1, const uint8_t* data2,
                                            size_t size2, uint8_t* out, size_t max_out_size,
                                            unsigned int seed) {
  return ike_mutator::custom_cross_over(ike_mutator::Framing::prefixed_inner, data1, size1, data2, size2, out,
                                        max_out_size, seed);
}
#endif

namespace {

// 2030-01-01: inside the validity of the test PKI's certificates.
constexpr int64_t kNow = 1893456000;

// ---------------------------------------------------------------------------
// The fixed configuration.

std::vector<ike::ProposalConfig> proposals(std::string_view text, ProtocolId protocol) {
  auto p = ike::parse_proposals(text, protocol);
  if (!p) {
    std::fprintf(stderr, "bad built-in proposal %.*s\n", static_cast<int>(text.size()), text.data());
    std::abort();
  }
  return std::move(*p);
}

TsRange range(std::string_view first, std::string_view last, uint8_t protocol = 0, uint16_t start_port = 0,
              uint16_t end_port = 65535) {
  TsRange r;
  r.addresses = sa::AddressRange{IpAddress::parse(first).value(), IpAddress::parse(last).value()};
  r.protocol = protocol;
  r.start_port = start_port;
  r.end_port = end_port;
  return r;
}

struct TsConfig {
  std::vector<TsRange> local, remote;
  std::vector<sa::Selector> children;  // selectors(local, remote): the PAD entry's
};

struct Certs {
  std::vector<crypto::Certificate> anchors;
  std::vector<std::array<uint8_t, 20>> anchor_hashes;  // SHA-1 of the SPKI (RFC 7296 3.7)
};

struct PatternCase {
  std::string text;
  sa::IdPattern pattern;
};

struct Config {
  std::array<std::vector<ike::ProposalConfig>, 4> ike, esp;
  std::vector<ike::ProposalConfig> ah;
  std::array<TsConfig, 4> ts;
  std::vector<PatternCase> patterns;
  std::array<sa::Pad, 4> pads;  // per TS set: one entry per pattern, children from the set
  Certs certs;
};

std::vector<uint8_t> read_file(const std::string& path) {
  std::vector<uint8_t> out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::abort();
  }
  uint8_t buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  (void)std::fclose(f);  // opened for reading: nothing is lost on close
  return out;
}

Certs load_certs() {
  Certs c;
  for (const char* name : {"ec-root.der", "rsa-root.der", "ed25519/ed-root.der"}) {
    const auto der = read_file(std::string(IPSEC_FUZZ_X509_DIR) + "/" + name);
    auto cert = crypto::Certificate::parse_der(der);
    if (!cert) {
      std::fprintf(stderr, "cannot parse %s\n", name);
      std::abort();
    }
    auto pk = cert->public_key();
    std::array<uint8_t, 20> h{};
    const ByteView parts[] = {pk.value().spki_der()};
    require(crypto::hash(crypto::HashId::sha1, parts, h).ok());
    c.anchor_hashes.push_back(h);
    c.anchors.push_back(std::move(*cert));
  }
  return c;
}

Config make_config() {
  Config c;
  c.ike = {proposals("aes256gcm16-prfsha256-x25519,aes128-sha256-modp2048", ProtocolId::ike),
           proposals("aes128-aes256-sha256-sha1-prfsha256-ecp256-modp3072", ProtocolId::ike),
           proposals("chacha20poly1305-prfsha512-x448-x25519", ProtocolId::ike),
           proposals("aes256ctr-aesxcbc-prfaescmac-ecp384-ecp521,aes128ccm16-prfsha384-ecp256bp",
                     ProtocolId::ike)};
  c.esp = {proposals("aes256gcm16,aes128-sha256-esn", ProtocolId::esp),
           proposals("aes128-sha1-modp2048-noesn,null-sha256", ProtocolId::esp),
           proposals("chacha20poly1305-x25519-esn-noesn", ProtocolId::esp),
           proposals("aes128gmac,aes256ctr-aescmac-sha512", ProtocolId::esp)};
  c.ah = proposals("sha256-sha1,aesxcbc-modp2048", ProtocolId::ah);
  c.ts[0] = {{range("10.1.1.0", "10.1.1.255")}, {range("10.1.2.0", "10.1.2.255")}, {}};
  c.ts[1] = {{range("0.0.0.0", "255.255.255.255", 6, 80, 443),
              range("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")},
             {range("0.0.0.0", "255.255.255.255"), range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
             {}};
  c.ts[2] = {{range("10.0.0.1", "10.0.0.1", 17, 500, 500), range("10.0.0.1", "10.0.0.1", 1, 0x0800, 0x08ff)},
             {range("192.168.0.0", "192.168.255.255", 17), range("192.168.0.0", "192.168.255.255", 1)},
             {}};
  c.ts[3] = {{range("0.0.0.0", "255.255.255.255", 0, 65535, 0), range("2001:db8::", "2001:db8::ffff", 58)},
             {range("10.0.0.0", "10.255.255.255"), range("2001:db8:1::", "2001:db8:1::ffff", 0, 65535, 0)},
             {}};
  for (TsConfig& t : c.ts) t.children = ike::selectors(t.local, t.remote);
  // The DN "CN=b" (SEQ { SET { SEQ { OID 2.5.4.3, UTF8 "b" } } }) and the
  // test PKI's "O=ipsec test" (its certificates' first RDN) as hex.
  for (const char* text :
       {"fqdn:gw.example.test", "fqdn:*.example.test", "fqdn:.example.org", "email:alice@example.test",
        "email:@example.test", "email:@.example.org", "ip:10.0.0.0/8", "ip:2001:db8::/32",
        "ip:192.0.2.1-192.0.2.9", "keyid:0a1b2c", "dn:300c310a300806035504030c0162",
        "dn-subtree:301531133011060355040a0c0a69707365632074657374", "null", "any"}) {
    auto p = sa::IdPattern::parse(text);
    if (!p) {
      std::fprintf(stderr, "bad built-in pattern %s\n", text);
      std::abort();
    }
    c.patterns.push_back({text, std::move(*p)});
  }
  static const uint32_t anchors[] = {1, 2, 3};
  for (size_t s = 0; s < c.ts.size(); ++s) {
    for (size_t i = 0; i < c.patterns.size(); ++i) {
      sa::PadEntryConfig e;
      e.id = static_cast<uint32_t>(i + 1);
      e.auth = sa::AuthMethodSet().allow(AuthMethod::digital_signature).allow(AuthMethod::null_auth);
      e.trust_anchors = anchors;
      e.children = c.ts[s].children;
      // The catch-all "any" entry only for peers from 10.0.0.0/8.
      if (c.patterns[i].text == "any")
        e.gateway = sa::AddressRange::of(IpPrefix::parse("10.0.0.0/8").value());
      auto entry = sa::PadEntry::make(c.patterns[i].pattern.clone().value(), e);
      require(entry.ok() && c.pads[s].add(std::move(*entry)).ok());
    }
  }
  c.certs = load_certs();
  return c;
}

const Config& config() {
  static const Config c = make_config();
  return c;
}

// ---------------------------------------------------------------------------
// SA: proposal selection.

bool same_transform(const Transform& a, const Transform& b) {
  return a.type == b.type && a.id == b.id && a.key_length == b.key_length;
}

// check_selected: s is inside both the peer's offer and our configuration.
void check_selected(std::span<const ike::ProposalConfig> ours, const SaPayload& theirs,
                    const ike::Selected& s) {
  // A copy: the range's iterator hands out a reference to its own item.
  std::optional<ProposalView> offered;
  for (const ProposalView& p : theirs.proposals) {
    if (p.number == s.number && p.protocol == s.protocol && p.spi.data() == s.spi.data() &&
        p.spi.size() == s.spi.size())
      offered = p;
  }
  require(offered.has_value());
  // Exactly one transform of each type the peer's proposal had.
  std::vector<TransformType> types;
  for (const Transform& t : offered->transforms) {
    bool seen = false;
    for (TransformType x : types) seen = seen || x == t.type;
    if (!seen) types.push_back(t.type);
  }
  require(types.size() == s.transforms.size());
  for (TransformType type : types) {
    size_t n = 0;
    for (const Transform& t : s.transforms) n += t.type == type ? size_t{1} : size_t{0};
    require(n == 1);
  }
  // Each one offered, and one of ours that fits.
  bool fits_one = false;
  for (const ike::ProposalConfig& mine : ours) {
    if (mine.protocol != s.protocol) continue;
    bool all = true;
    for (const Transform& t : s.transforms) {
      bool ok = false;
      for (const Transform& w : mine.transforms) ok = ok || same_transform(w, t);
      const bool none_allowed = t.id == 0 &&
                                (t.type == TransformType::integ || t.type == TransformType::ke) &&
                                mine.of_type(t.type).empty();
      all = all && (ok || none_allowed);
    }
    fits_one = fits_one || all;
  }
  require(fits_one);
  for (const Transform& t : s.transforms) {
    bool was_offered = false;
    for (const Transform& o : offered->transforms) was_offered = was_offered || same_transform(o, t);
    require(was_offered);
  }
  const auto encr = s.get(TransformType::encr);
  const auto integ = s.get(TransformType::integ);
  const bool integrity = integ && integ->id != 0;
  if (s.protocol == ProtocolId::ah) {
    require(!encr && integrity);
  } else {
    require(encr && ike::detail::is_aead(encr->id) != integrity);
  }
}

void check_sa(const PayloadView& p, const ParseLimits& lim, uint8_t policy) {
  auto sa = decode_sa(p, lim);
  require(sa.ok());
  const Config& c = config();
  for (ProtocolId protocol : {ProtocolId::ike, ProtocolId::esp, ProtocolId::ah}) {
    std::span<const ike::ProposalConfig> ours = protocol == ProtocolId::ike   ? c.ike[policy & 3]
                                                : protocol == ProtocolId::esp ? c.esp[(policy >> 2) & 3]
                                                                              : c.ah;
    auto chosen = ike::select_proposal(ours, *sa);
    if (!chosen) {
      require(chosen.status().code() == Errc::invalid_value);
      continue;
    }
    require(chosen->protocol == protocol);
    check_selected(ours, *sa, *chosen);
    // The answer (our SPI in place of theirs) offered alone is chosen again.
    static const std::array<uint8_t, 8> kSpi = {1, 2, 3, 4, 5, 6, 7, 8};
    const ByteView spi =
        ByteView(kSpi).first(protocol == ProtocolId::ike ? (chosen->spi.empty() ? 0 : 8) : 4);
    const Proposal answer[] = {chosen->as_proposal(spi)};
    ChainBuilder b(scratch());
    b.payloads().add_sa(answer);
    auto chain = b.finish();
    require(chain.ok());
    static ParsedMessage again;
    again.clear();
    require(parse_payload_chain(PayloadType::sa, *chain, 0, true, &again, lim).ok() && again.size() == 1);
    auto sa2 = decode_sa(again.payloads().front(), lim);
    require(sa2.ok());
    auto chosen2 = ike::select_proposal(ours, *sa2);
    require(chosen2.ok());
    check_selected(ours, *sa2, *chosen2);
  }
}

// ---------------------------------------------------------------------------
// TS: narrowing.

bool ports_any(const TsRange& r) { return r.start_port == 0 && r.end_port == 65535; }

// inside: every packet r covers, outer covers too.
bool inside(const TsRange& r, const TsRange& outer) {
  if (!outer.addresses.contains(r.addresses)) return false;
  if (outer.protocol != 0 && outer.protocol != r.protocol) return false;
  if (r.opaque()) return outer.opaque() || ports_any(outer);
  return !outer.opaque() && outer.start_port <= r.start_port && r.end_port <= outer.end_port &&
         r.start_port <= r.end_port;
}

std::vector<TsRange> ranges_of(const TsPayload& ts) {
  std::vector<TsRange> out;
  for (const TrafficSelector& s : ts.selectors) {
    auto r = ike::from_wire(s);
    if (!r) {
      require(r.status().code() == Errc::unsupported_algorithm || r.status().code() == Errc::invalid_value);
      continue;
    }
    require(r->addresses.valid());
    require(r->addresses.family() == (s.type == TsType::ipv4_addr_range ? IpFamily::v4 : IpFamily::v6));
    auto back = ike::from_wire(ike::to_wire(*r));
    require(back.ok() && *back == *r);
    out.push_back(*r);
  }
  return out;
}

std::vector<TsRange> check_narrow(std::span<const TsRange> proposed, std::span<const TsRange> allowed) {
  std::vector<TsRange> n = ike::narrow(proposed, allowed);
  require(n.size() <= proposed.size() * allowed.size());
  for (size_t i = 0; i < n.size(); ++i) {
    for (size_t j = 0; j < i; ++j) require(!(n[i] == n[j]));
    bool from_pair = false;
    for (const TsRange& p : proposed) {
      for (const TsRange& a : allowed) {
        auto x = ike::intersect(p, a);
        if (x && *x == n[i]) {
          require(inside(n[i], p) && inside(n[i], a));
          from_pair = true;
        }
      }
    }
    require(from_pair);
  }
  return n;
}

void check_ts(const std::optional<TsPayload>& tsi, const std::optional<TsPayload>& tsr, uint8_t policy) {
  const Config& c = config();
  const TsConfig& t = c.ts[(policy >> 4) & 3];
  std::vector<TsRange> i = tsi ? ranges_of(*tsi) : std::vector<TsRange>{};
  std::vector<TsRange> r = tsr ? ranges_of(*tsr) : std::vector<TsRange>{};
  // As the responder: TSi is the peer's side (our remote), TSr ours.
  const std::vector<TsRange> ni = check_narrow(i, t.remote);
  const std::vector<TsRange> nr = check_narrow(r, t.local);
  const sa::PadEntry& entry = c.pads[(policy >> 4) & 3][0];
  for (const sa::Selector& s : ike::selectors(nr, ni)) {
    require(s.valid());
    const bool ok = sa::Pad::authorize_child(entry, s);
    // A pair narrowed from our configured pairs lies inside one of them
    // (for ICMP the type/code side the selector takes may differ).
    if (!sa::is_icmp(s.protocol)) require(ok);
  }
}

// ---------------------------------------------------------------------------
// ID: PAD patterns.

char lower(uint8_t c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); }

bool iequal(ByteView a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(static_cast<uint8_t>(b[i]))) return false;
  }
  return true;
}

// ends_with_label: name is "<something>.<suffix>" (case-insensitive), with
// at least one label before: exactly one when one_label.
bool ends_with_label(ByteView name, std::string_view suffix, bool one_label) {
  if (name.size() < suffix.size() + 2) return false;
  const size_t cut = name.size() - suffix.size();
  if (!iequal(name.subspan(cut), suffix) || name[cut - 1] != '.') return false;
  if (!one_label) return true;
  for (size_t i = 0; i + 1 < cut; ++i) {
    if (name[i] == '.') return false;
  }
  return true;
}

// der_content: the contents of one DER SEQUENCE (short or long length).
std::optional<ByteView> der_content(ByteView d) {
  if (d.size() < 2 || d[0] != 0x30) return std::nullopt;
  size_t len = d[1], at = 2;
  if (len & 0x80) {
    const size_t n = len & 0x7f;
    if (n == 0 || n > 2 || d.size() < 2 + n) return std::nullopt;
    len = 0;
    for (size_t i = 0; i < n; ++i) len = len << 8 | d[2 + i];
    at = 2 + n;
  }
  if (d.size() - at != len) return std::nullopt;
  return d.subspan(at);
}

// sound: pattern `text` may match (type, data): the reference rules of each
// kind (sa/pad.hpp). A match outside them is a PAD bypass.
bool sound(std::string_view text, IdType type, ByteView data) {
  static const std::array<uint8_t, 14> dn = {0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06,
                                             0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, 0x62};
  auto address_in = [&](std::string_view first, std::string_view last) {
    auto a = IpAddress::from_bytes(data);
    return (type == IdType::ipv4_addr || type == IdType::ipv6_addr) && a.ok() &&
           sa::AddressRange{IpAddress::parse(first).value(), IpAddress::parse(last).value()}.contains(*a);
  };
  auto email_domain = [&](std::string_view domain, bool subdomains) {
    if (type != IdType::rfc822_addr) return false;
    size_t at = data.size();
    while (at > 0 && data[at - 1] != '@') --at;
    if (at == 0) return false;
    const ByteView d = data.subspan(at);
    return subdomains ? ends_with_label(d, domain, false) : iequal(d, domain);
  };
  if (text == "fqdn:gw.example.test") return type == IdType::fqdn && iequal(data, "gw.example.test");
  if (text == "fqdn:*.example.test")
    return type == IdType::fqdn && ends_with_label(data, "example.test", true);
  if (text == "fqdn:.example.org") return type == IdType::fqdn && ends_with_label(data, "example.org", false);
  if (text == "email:alice@example.test") {
    return type == IdType::rfc822_addr && data.size() == 18 &&
           equal_bytes(data.first(6), as_bytes("alice@")) && iequal(data.subspan(6), "example.test");
  }
  if (text == "email:@example.test") return email_domain("example.test", false);
  if (text == "email:@.example.org") return email_domain("example.org", true);
  if (text == "ip:10.0.0.0/8") return address_in("10.0.0.0", "10.255.255.255");
  if (text == "ip:2001:db8::/32") return address_in("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
  if (text == "ip:192.0.2.1-192.0.2.9") return address_in("192.0.2.1", "192.0.2.9");
  if (text == "keyid:0a1b2c") {
    static const std::array<uint8_t, 3> k = {0x0a, 0x1b, 0x2c};
    return type == IdType::key_id && equal_bytes(data, k);
  }
  if (text == "dn:300c310a300806035504030c0162") return type == IdType::der_asn1_dn && equal_bytes(data, dn);
  if (text.substr(0, 11) == "dn-subtree:") {
    // The pattern's RDNs lead the ID's: compare the SEQUENCE contents.
    std::vector<uint8_t> der;
    for (size_t i = 11; i + 1 < text.size(); i += 2)
      der.push_back(static_cast<uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
    const auto prefix = der_content(der);
    const auto inner = der_content(data);
    require(prefix.has_value());
    return type == IdType::der_asn1_dn && inner && inner->size() >= prefix->size() &&
           equal_bytes(inner->first(prefix->size()), *prefix);
  }
  if (text == "null") return type == IdType::null_id;
  if (text == "any") return type != IdType::null_id;
  return false;
}

bool printable(ByteView d) {
  for (uint8_t c : d) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return !d.empty();
}

void check_id(const IdPayload& id, uint8_t policy) {
  const Config& c = config();
  for (const PatternCase& p : c.patterns) {
    if (p.pattern.matches(id.type, id.data)) {
      if (!sound(p.text, id.type, id.data)) {
        std::fprintf(stderr, "pattern %s matched an ID of type %u outside it\n", p.text.c_str(),
                     static_cast<unsigned>(id.type));
        __builtin_trap();
      }
    }
  }
  // Pad::match: the first entry that applies.
  const IpAddress peer =
      (policy & 0x40) ? IpAddress::parse("2001:db8::2").value() : IpAddress::parse("10.0.0.2").value();
  const sa::Pad& pad = c.pads[(policy >> 4) & 3];
  const sa::PadEntry* m = pad.match(id, peer);
  const sa::PadEntry* first = nullptr;
  for (size_t i = 0; i < pad.size() && first == nullptr; ++i) {
    if (pad[i].applies(id.type, id.data, peer)) first = &pad[i];
  }
  require(m == first);
  if (m != nullptr) require(m->pattern().matches(id.type, id.data));
  // Patterns made from the ID itself name it.
  if (id.type != IdType::null_id) {
    auto exact = sa::IdPattern::exact(id.type, id.data);
    if (exact) require(exact->matches(id.type, id.data));
  }
  const std::string_view text(reinterpret_cast<const char*>(id.data.data()), id.data.size());
  // (Not for names that read as wildcard patterns: "*.x" or ".x".)
  if (id.type == IdType::fqdn && printable(id.data)) {
    auto p = sa::IdPattern::fqdn(text);
    if (p && text[0] != '*' && text[0] != '.') require(p->matches(id.type, id.data));
    auto identity = ike::Identity::parse("fqdn:" + std::string(text));
    if (identity) require(identity->type == IdType::fqdn && equal_bytes(identity->data, id.data));
  }
  if (id.type == IdType::rfc822_addr && printable(id.data)) {
    auto p = sa::IdPattern::rfc822(text);
    const size_t at = text.rfind('@');
    const bool plain = at != std::string_view::npos && at > 0 && at + 1 < text.size() &&
                       text[at + 1] != '*' && text[at + 1] != '.';
    if (p && plain) require(p->matches(id.type, id.data));
  }
  if (id.type == IdType::ipv4_addr || id.type == IdType::ipv6_addr) {
    auto a = IpAddress::from_bytes(id.data);
    require(a.ok());
    auto p = sa::IdPattern::address(sa::AddressRange::single(*a));
    require(p.ok() && p->matches(id.type, id.data));
  }
}

// ---------------------------------------------------------------------------
// CERT, CERTREQ, AUTH, CP.

// The engine's check that the peer's ID is one its certificate names
// (src/ike/engine.cpp id_matches_certificate, RFC 4301 4.4.3.2).
bool id_matches_certificate(const IdPayload& id, const crypto::Certificate& cert) {
  if (id.type == IdType::der_asn1_dn) return equal_bytes(id.data, cert.subject_der());
  for (size_t i = 0; i < cert.subject_alt_name_count(); ++i) {
    const crypto::SubjectAltName san = cert.subject_alt_name(i);
    if (id.type == IdType::fqdn && san.kind == crypto::SubjectAltName::Kind::dns &&
        sa::detail::ascii_iequal(san.value, id.data))
      return true;
    if (id.type == IdType::rfc822_addr && san.kind == crypto::SubjectAltName::Kind::email &&
        equal_bytes(san.value, id.data))
      return true;
    if ((id.type == IdType::ipv4_addr || id.type == IdType::ipv6_addr) &&
        san.kind == crypto::SubjectAltName::Kind::ip && equal_bytes(san.value, id.data))
      return true;
  }
  return false;
}

void check_cert(const crypto::Certificate& cert) {
  const ByteView der = cert.der();
  require(!der.empty());
  require(ike_fuzz::inside(cert.subject_der(), der) && ike_fuzz::inside(cert.issuer_der(), der));
  std::array<char, 512> text{};
  auto n = cert.subject_text(text);
  if (n) require(*n <= text.size());
  for (size_t i = 0; i < cert.subject_alt_name_count(); ++i) {
    const crypto::SubjectAltName san = cert.subject_alt_name(i);
    require(ike_fuzz::inside(san.value, der));
  }
  (void)cert.not_before();
  (void)cert.not_after();
  (void)cert.is_ca();
  auto key = cert.public_key();
  if (key) require(!key->spki_der().empty());
}

void check_chain_of_certs(const std::vector<crypto::Certificate>& certs,
                          const std::vector<const IdPayload*>& ids) {
  if (certs.empty()) return;
  const Config& c = config();
  const std::span<const crypto::Certificate> rest = std::span<const crypto::Certificate>(certs).subspan(1);
  const Status with = crypto::verify_chain(certs.front(), rest, c.certs.anchors, kNow);
  const Status without = crypto::verify_chain(certs.front(), rest, {}, kNow);
  require(!without.ok());
  if (with.ok()) {
    // A chain that verifies verifies with the anchors in another order too.
    std::vector<crypto::Certificate> reversed;
    for (size_t i = c.certs.anchors.size(); i-- > 0;) reversed.push_back(c.certs.anchors[i].clone().value());
    require(crypto::verify_chain(certs.front(), rest, reversed, kNow).ok());
  }
  for (const IdPayload* id : ids) (void)id_matches_certificate(*id, certs.front());
}

void check_certreq(const CertPayload& req) {
  if (req.encoding != CertEncoding::x509_signature) return;
  require(req.data.size() % 20 == 0);
  const Config& c = config();
  size_t ours = 0;
  for (size_t at = 0; at < req.data.size(); at += 20) {
    for (const auto& h : c.certs.anchor_hashes)
      ours += equal_bytes(req.data.subspan(at, 20), h) ? size_t{1} : size_t{0};
  }
  require(ours <= req.data.size() / 20);
}

void check_auth(const AuthPayload& a, const std::vector<crypto::Certificate>& certs) {
  static const std::array<uint8_t, 16> octets = {'s', 'i', 'g', 'n', 'e', 'd'};
  if (a.method == AuthMethod::digital_signature) {
    auto s = decode_signature_auth(a.data);
    require(s.ok());
    auto scheme = ike::scheme_of(*s);
    if (scheme) {
      if (auto ai = ike::algorithm_identifier(*scheme)) {
        std::vector<uint8_t> data = {static_cast<uint8_t>(ai->size())};
        data.insert(data.end(), ai->begin(), ai->end());
        data.push_back(0);
        auto s2 = decode_signature_auth(data);
        require(s2.ok());
        auto scheme2 = ike::scheme_of(*s2);
        require(scheme2.ok() && *scheme2 == *scheme);
      }
    }
  }
  if (const auto m = ike::detail::legacy(a.method);
      m && m->coordinate != 0 && a.data.size() == 2 * m->coordinate) {
    auto der = ike::ecdsa_raw_to_der(a.data);
    require(der.ok());
    auto raw = ike::ecdsa_der_to_raw(*der, m->coordinate);
    require(raw.ok() && equal_bytes(*raw, a.data));
  }
  if (certs.empty()) return;
  auto key = certs.front().public_key();
  if (!key) return;
  // No input can carry a valid signature over these octets.
  if (a.method == AuthMethod::digital_signature) {
    require(!ike::verify_signature_auth(*key, a, octets).ok());
  } else if (ike::detail::legacy(a.method)) {
    require(!ike::verify_legacy_auth(*key, a, octets).ok());
  }
}

void check_cp(const PayloadView& p, const ParseLimits& lim) {
  auto cp = decode_cp(p, lim);
  require(cp.ok());
  for (const ConfigAttribute& a : cp->attributes) {
    require(cfg_attribute_length_ok(a.type, a.value.size()));
    if ((a.type == CfgAttribute::internal_ip4_address || a.type == CfgAttribute::internal_ip4_dns) &&
        a.value.size() == 4) {
      auto addr = IpAddress::from_bytes(a.value);
      require(addr.ok() && addr->family() == IpFamily::v4);
    }
    if (a.type == CfgAttribute::internal_ip6_address && a.value.size() == 17) {
      auto addr = IpAddress::from_bytes(a.value.first(16));
      require(addr.ok() && addr->family() == IpFamily::v6);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t policy = data[0];
  const auto first = static_cast<PayloadType>(data[1]);
  const ByteView chain(data + 2, size - 2);
  const ParseLimits lim;
  static ParsedMessage msg;
  msg.clear();
  if (!parse_payload_chain(first, chain, 0, true, &msg, lim).ok()) return 0;

  const PayloadType peer_id = (policy & 0x80) ? PayloadType::id_r : PayloadType::id_i;
  std::optional<TsPayload> tsi, tsr;
  std::vector<crypto::Certificate> certs;
  std::vector<IdPayload> ids;
  std::vector<AuthPayload> auths;
  for (const PayloadView& p : msg.payloads()) {
    switch (p.type) {
      case PayloadType::sa: check_sa(p, lim, policy); break;
      case PayloadType::ts_i:
      case PayloadType::ts_r: {
        auto ts = decode_ts(p, lim);
        require(ts.ok());
        // The engine keeps the last of each (collect_auth).
        (p.type == PayloadType::ts_i ? tsi : tsr) = *ts;
        break;
      }
      case PayloadType::id_i:
      case PayloadType::id_r: {
        auto id = decode_id(p);
        require(id.ok());
        if (p.type == peer_id) ids.push_back(*id);
        check_id(*id, policy);
        break;
      }
      case PayloadType::cert: {
        auto c = decode_cert(p);
        require(c.ok());
        if (c->encoding != CertEncoding::x509_signature) break;
        auto cert = crypto::Certificate::parse_der(c->data);
        if (!cert) break;
        check_cert(*cert);
        if (certs.size() <= limits::kMaxCertificateChainLength) certs.push_back(std::move(*cert));
        break;
      }
      case PayloadType::certreq: {
        auto c = decode_certreq(p);
        require(c.ok());
        check_certreq(*c);
        break;
      }
      case PayloadType::auth: {
        auto a = decode_auth(p);
        require(a.ok());
        auths.push_back(*a);
        break;
      }
      case PayloadType::cp: check_cp(p, lim); break;
      default: break;
    }
  }
  if (tsi || tsr) check_ts(tsi, tsr, policy);
  std::vector<const IdPayload*> id_ptrs;
  id_ptrs.reserve(ids.size());
  for (const IdPayload& id : ids) id_ptrs.push_back(&id);
  check_chain_of_certs(certs, id_ptrs);
  for (const AuthPayload& a : auths) check_auth(a, certs);
  return 0;
}
