// SPDX-License-Identifier: Apache-2.0
// Real peer bytes: complete IKEv2 exchanges between two strongSwan 5.9.8
// instances (tests/data/ike/strongswan, made by capture.sh there), with the
// keys charon logged. Every message must parse; the unencrypted ones must
// rebuild byte for byte; SK and SKF payloads must verify and decrypt with
// our code (RFC 7296 3.14, RFC 5282, RFC 7383), their inner chains must
// parse and rebuild to the decrypted bytes, and our one-line summaries must
// equal the ones charon logged for the same messages.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ike_test_util.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/x509.hpp"
#include "ipsec/ike/auth.hpp"
#include "ipsec/ike/proposal.hpp"
#include "ipsec/ike/traffic_selectors.hpp"
#include "ipsec/wire/ike_fragment.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/ike_sk.hpp"
#include "ipsec/wire/ike_summary.hpp"
#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using namespace ipsec::wire;
namespace crypto = ipsec::crypto;

namespace {

std::string data_path(const std::string& name) {
  return std::string(IPSEC_TEST_DATA_DIR) + "/ike/strongswan/" + name;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::map<std::string, std::string> read_keys(const std::string& scenario) {
  std::map<std::string, std::string> keys;
  for (const std::string& line : lines_of(data_path(scenario + "/keys.txt"))) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) keys[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return keys;
}

struct Suite {
  crypto::EncrId encr{};
  uint16_t key_bits = 0;
  crypto::IntegId integ = crypto::IntegId::none;
};

// suite_of: charon's proposal notation, e.g. AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519.
Suite suite_of(const std::string& proposal) {
  Suite s;
  if (proposal.rfind("AES_GCM_16_", 0) == 0) {
    s.encr = crypto::EncrId::aes_gcm_16;
    s.key_bits = static_cast<uint16_t>(std::stoi(proposal.substr(11, 3)));
  } else if (proposal.rfind("AES_CBC_", 0) == 0) {
    s.encr = crypto::EncrId::aes_cbc;
    s.key_bits = static_cast<uint16_t>(std::stoi(proposal.substr(8, 3)));
  } else {
    FAIL("unexpected proposal " << proposal);
  }
  if (proposal.find("/HMAC_SHA2_256_128/") != std::string::npos) s.integ = crypto::IntegId::hmac_sha2_256_128;
  return s;
}

struct KeySet {
  uint64_t spi_i = 0, spi_r = 0;
  std::string prefix;
};

// sk_for: the SK transform that protects a message of `header` (the key set
// whose SPIs match; SK_e?i/SK_a?i for messages from the IKE SA's original
// initiator, ?r for the other side, RFC 7296 2.14).
SkTransform sk_for(const std::map<std::string, std::string>& keys, const IkeHeader& header) {
  static crypto::DefaultProvider provider;
  for (const std::string prefix : {"", "rekey1."}) {
    auto spi = keys.find(prefix + "SPI_i");
    if (spi == keys.end() || std::stoull(spi->second, nullptr, 16) != header.spi_i) continue;
    const char side = header.initiator() ? 'i' : 'r';
    const Suite s = suite_of(keys.at(prefix + "ike_proposal"));
    const Bytes e = from_hex(keys.at(prefix + "SK_e" + side));
    const Bytes a = from_hex(keys.at(prefix + "SK_a" + side));
    auto t = SkTransform::make(provider, s.encr, s.key_bits, s.integ, e, a);
    REQUIRE(t.ok());
    return std::move(*t);
  }
  FAIL("no keys for SPI " << header.spi_i);
  __builtin_trap();
}

// charon_summaries: the "generating ..." and "parsed ..." lines charon logged.
std::vector<std::string> charon_summaries(const std::string& scenario) {
  std::vector<std::string> out;
  for (const std::string& line : lines_of(data_path(scenario + "/charon-initiator.txt"))) {
    for (const std::string prefix : {"generating ", "parsed "}) {
      if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct ScenarioResult {
  size_t messages = 0, protected_messages = 0, fragments = 0, reassembled = 0, child_proposals = 0, auths = 0;
};

// AuthCheck: the AUTH payloads charon sent, recomputed (PSK) or verified
// (RFC 7427 ECDSA signatures, with the key of the CERT sent beside them)
// over the signed octets of RFC 7296 2.15, built with ike/auth.hpp from the
// captured IKE_SA_INIT messages, their nonces, SK_pi/SK_pr and the ID.
struct AuthCheck {
  std::map<std::string, std::string> keys;
  std::string psk;  // from the responder's swanctl.conf; empty with certificates
  Bytes request, response, nonce_i, nonce_r;

  void on_init(const ParsedMessage& m, const Bytes& bytes) {
    const PayloadView* nonce = m.find(PayloadType::nonce);
    REQUIRE(nonce != nullptr);
    (m.header.response() ? response : request) = bytes;
    (m.header.response() ? nonce_r : nonce_i).assign(nonce->body.begin(), nonce->body.end());
  }
  void on(const ParsedMessage& m, ScenarioResult& result) {
    const PayloadView* auth = m.find(PayloadType::auth);
    if (m.header.exchange != ExchangeType::ike_auth || auth == nullptr) return;
    static crypto::DefaultProvider provider;
    const bool initiator = !m.header.response();
    const PayloadView* id = m.find(initiator ? PayloadType::id_i : PayloadType::id_r);
    REQUIRE(id != nullptr);
    const Bytes sk_p = from_hex(keys.at(initiator ? "SK_pi" : "SK_pr"));
    REQUIRE(keys.at("ike_proposal").find("PRF_HMAC_SHA2_256") != std::string::npos);
    auto octets =
        ipsec::ike::signed_octets(provider, crypto::PrfId::hmac_sha2_256, initiator ? request : response,
                                  initiator ? nonce_r : nonce_i, sk_p, id->body);
    REQUIRE(octets.ok());
    const auto a = decode_auth(*auth);
    REQUIRE(a.ok());
    Bytes tampered = *octets;
    tampered[tampered.size() / 2] ^= 1;
    if (a->method == AuthMethod::shared_key_mic) {
      CHECK(ipsec::ike::verify_psk_auth(provider, crypto::PrfId::hmac_sha2_256, ipsec::as_bytes(psk), *octets,
                                        a->data)
                .ok());
      CHECK(ipsec::ike::verify_psk_auth(provider, crypto::PrfId::hmac_sha2_256, ipsec::as_bytes(psk),
                                        tampered, a->data)
                .code() == Errc::integrity_check_failed);
      CHECK(ipsec::ike::verify_psk_auth(provider, crypto::PrfId::hmac_sha2_256, ipsec::as_bytes(psk + "x"),
                                        *octets, a->data)
                .code() == Errc::integrity_check_failed);
    } else {
      REQUIRE(a->method == AuthMethod::digital_signature);
      const PayloadView* cert = m.find(PayloadType::cert);
      REQUIRE(cert != nullptr);
      auto certificate = crypto::Certificate::parse_der(decode_cert(*cert)->data);
      REQUIRE(certificate.ok());
      auto key = certificate->public_key();
      REQUIRE(key.ok());
      CHECK(ipsec::ike::verify_signature_auth(*key, *a, *octets).ok());
      CHECK(ipsec::ike::verify_signature_auth(*key, *a, tampered).code() == Errc::bad_signature);
      auto sig = decode_signature_auth(a->data);
      CHECK(ipsec::ike::scheme_of(*sig).value() == crypto::SignatureScheme::ecdsa_sha256);
      CHECK(ipsec::equal_bytes(*ipsec::ike::algorithm_identifier(crypto::SignatureScheme::ecdsa_sha256),
                               sig->algorithm_identifier));
    }
    ++result.auths;
  }
};

// psk_of: the secret in the responder's swanctl.conf (test-only PSK).
std::string psk_of(const std::string& scenario) {
  for (const std::string& line : lines_of(data_path(scenario + "/swanctl.conf.B-responder"))) {
    const auto at = line.find("secret = \"");
    if (at != std::string::npos) {
      const auto start = at + 10;
      return line.substr(start, line.find('"', start) - start);
    }
  }
  return {};
}

// ChildProposalCheck: the ESP proposal charon offered in IKE_AUTH, selected
// with the configuration charon's responder had (ike/proposal.hpp), must
// give the SA payload charon answered with (its SPI aside, which is ours to
// choose: taken from charon's answer).
struct ChildProposalCheck {
  std::string esp_proposals;
  Bytes offered;  // the request's SA payload body

  std::vector<ipsec::ike::TsRange> tsi, tsr;  // the request's

  static std::vector<ipsec::ike::TsRange> ranges(const PayloadView* p) {
    std::vector<ipsec::ike::TsRange> out;
    REQUIRE(p != nullptr);
    const auto ts_payload = decode_ts(*p);  // named: the range lives in it
    REQUIRE(ts_payload.ok());
    for (const TrafficSelector& ts : ts_payload->selectors) out.push_back(*ipsec::ike::from_wire(ts));
    return out;
  }
  static Bytes ts_body(const std::vector<ipsec::ike::TsRange>& rs) {
    std::vector<TrafficSelector> wire;
    for (const auto& r : rs) wire.push_back(ipsec::ike::to_wire(r));
    Bytes body(256);
    ipsec::ByteWriter w(body);
    write_ts_body(w, wire);
    body.resize(w.size());
    return body;
  }

  void on(const ParsedMessage& m, ScenarioResult& result) {
    if (m.header.exchange != ExchangeType::ike_auth) return;
    const PayloadView* sa = m.find(PayloadType::sa);
    if (sa == nullptr) return;
    if (!m.header.response()) {
      offered.assign(sa->body.begin(), sa->body.end());
      tsi = ranges(m.find(PayloadType::ts_i));
      tsr = ranges(m.find(PayloadType::ts_r));
      return;
    }
    // Traffic selectors (RFC 7296 2.9): narrowing the request to the
    // responder's configuration (remote_ts 10.1.1.0/24, local_ts
    // 10.1.2.0/24) gives charon's answer byte for byte; a wider
    // configuration keeps what the initiator asked for.
    using ipsec::ike::TsRange;
    const auto range = [](const char* prefix) {
      return TsRange{ipsec::sa::AddressRange::of(ipsec::IpPrefix::parse(prefix).value()), 0, 0, 65535};
    };
    const TsRange remote[] = {range("10.1.1.0/24")}, local[] = {range("10.1.2.0/24")};
    const auto narrowed_i = ipsec::ike::narrow(tsi, remote), narrowed_r = ipsec::ike::narrow(tsr, local);
    CHECK(ipsec::test::to_hex(ts_body(narrowed_i)) == ipsec::test::to_hex(m.find(PayloadType::ts_i)->body));
    CHECK(ipsec::test::to_hex(ts_body(narrowed_r)) == ipsec::test::to_hex(m.find(PayloadType::ts_r)->body));
    const TsRange wide[] = {range("10.0.0.0/8")};
    CHECK(ipsec::ike::narrow(tsi, wide) == tsi);
    const TsRange elsewhere[] = {range("192.168.0.0/16")};
    CHECK(ipsec::ike::narrow(tsi, elsewhere).empty());  // TS_UNACCEPTABLE
    PayloadView request;
    request.type = PayloadType::sa;
    request.body = offered;
    auto theirs = decode_sa(request);
    REQUIRE(theirs.ok());
    auto ours = ipsec::ike::parse_proposals(esp_proposals, ProtocolId::esp);
    REQUIRE(ours.ok());
    auto selected = ipsec::ike::select_proposal(*ours, *theirs);
    REQUIRE(selected.ok());
    const ProposalView answered = *decode_sa(*sa)->proposals.begin();
    const Proposal answer[] = {selected->as_proposal(answered.spi)};
    Bytes body(256);
    ipsec::ByteWriter w(body);
    write_sa_body(w, answer);
    body.resize(w.size());
    CHECK(ipsec::test::to_hex(body) == ipsec::test::to_hex(sa->body));
    ++result.child_proposals;
  }
};

ScenarioResult check_scenario(const std::string& scenario, const std::string& esp_proposals) {
  ScenarioResult result;
  const auto keys = read_keys(scenario);
  ChildProposalCheck child{esp_proposals, {}, {}, {}};
  AuthCheck auth{keys, psk_of(scenario), {}, {}, {}, {}};
  std::vector<std::string> ours;
  FragmentReassembler reassembler;
  for (const std::string& line : lines_of(data_path(scenario + "/manifest.txt"))) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string file, src, dst;
    unsigned exchange = 0, mid = 0, i_flag = 0, r_flag = 0;
    fields >> file >> src >> dst >> exchange >> mid >> i_flag >> r_flag;
    INFO(scenario << "/" << file);
    Bytes msg = ipsec::test::read_data_file("ike/strongswan/" + scenario + "/" + file);
    REQUIRE_FALSE(msg.empty());
    ++result.messages;

    ParsedMessage pm;
    const auto s = parse_message(msg, &pm);
    INFO(s.name() << " at " << s.offset() << " " << s.field());
    REQUIRE(s.ok());
    CHECK(static_cast<unsigned>(pm.header.exchange) == exchange);
    CHECK(pm.header.message_id == mid);
    CHECK(pm.header.initiator() == (i_flag == 1));
    CHECK(pm.header.response() == (r_flag == 1));

    const PayloadView* protected_payload = pm.protected_payload();
    if (protected_payload == nullptr) {
      // Unencrypted (IKE_SA_INIT): our builder reproduces charon's bytes.
      CHECK(ipsec::test::rebuild_message(pm) == msg);
      auth.on_init(pm, msg);
      ours.emplace_back(summarize(pm).view());
      continue;
    }
    SkTransform sk = sk_for(keys, pm.header);
    if (protected_payload->type == PayloadType::sk) {
      ++result.protected_messages;
      const auto opened = open_protected_message(sk, msg, pm);
      INFO(opened.name() << " at " << opened.offset() << " " << opened.field());
      REQUIRE(opened.ok());
      // The decrypted chain, rebuilt from our models, is the plaintext.
      std::vector<PayloadView> inner;
      for (const PayloadView& p : pm.payloads()) {
        if (p.encrypted) inner.push_back(p);
      }
      if (!inner.empty()) {
        const size_t begin = inner.front().offset;
        const size_t end = inner.back().offset + 4 + inner.back().body.size();
        CHECK(ipsec::test::rebuild_chain(inner) == Bytes(msg.begin() + static_cast<std::ptrdiff_t>(begin),
                                                         msg.begin() + static_cast<std::ptrdiff_t>(end)));
      }
      ours.emplace_back(summarize(pm).view());
      child.on(pm, result);
      auth.on(pm, result);
      continue;
    }
    // SKF: each fragment verified on its own, then reassembled (RFC 7383).
    ++result.fragments;
    ours.emplace_back(summarize(pm).view());
    auto fragment = open_fragment(sk, msg, pm);
    INFO(fragment.status().name() << " at " << fragment.status().offset());
    REQUIRE(fragment.ok());
    auto done = reassembler.add(pm.header, *fragment);
    REQUIRE(done.ok());
    if (!done->has_value()) continue;
    ++result.reassembled;
    ReassembledMessage& whole = **done;
    ParsedMessage inner;
    inner.header = pm.header;
    REQUIRE(parse_payload_chain(whole.first, whole.chain.view(), 0, true, &inner).ok());
    CHECK(ipsec::test::rebuild_chain(inner.payloads()) ==
          Bytes(whole.chain.view().begin(), whole.chain.view().end()));
    ours.emplace_back(summarize(inner).view());
    child.on(inner, result);
    auth.on(inner, result);
  }
  CHECK(reassembler.pending() == 0);
  std::sort(ours.begin(), ours.end());
  const std::vector<std::string> theirs = charon_summaries(scenario);
  CHECK(ours == theirs);
  if (ours != theirs) {
    for (const std::string& o : ours) MESSAGE("ours:   " << o);
    for (const std::string& t : theirs) MESSAGE("charon: " << t);
  }
  return result;
}

}  // namespace

TEST_CASE("strongSwan AES-GCM exchange: IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL") {
  const ScenarioResult r = check_scenario("gcm", "aes256gcm16");
  CHECK(r.messages == 16);
  CHECK(r.protected_messages == 14);
  CHECK(r.child_proposals == 1);
  CHECK(r.auths == 2);
}

TEST_CASE("strongSwan AES-CBC + HMAC-SHA2-256 exchange, with an IKE SA rekey") {
  const ScenarioResult r = check_scenario("cbc", "aes128-sha256");
  CHECK(r.messages == 14);
  CHECK(r.protected_messages == 12);
  CHECK(r.child_proposals == 1);
  CHECK(r.auths == 2);
}

TEST_CASE("strongSwan IKE_AUTH with certificates in RFC 7383 fragments") {
  const ScenarioResult r = check_scenario("frag", "aes128gcm16");
  CHECK(r.fragments == 7);
  CHECK(r.reassembled == 2);
  CHECK(r.child_proposals == 1);
  CHECK(r.auths == 2);
}

TEST_CASE("every byte of a captured protected message is covered by its ICV") {
  for (const char* scenario_file : {"gcm/002-ike_auth-request-1.bin", "cbc/003-ike_auth-response-1.bin",
                                    "frag/003-ike_auth-request-1-f2_of_4.bin"}) {
    const std::string scenario = std::string(scenario_file).substr(0, std::string(scenario_file).find('/'));
    const auto keys = read_keys(scenario);
    const Bytes original = ipsec::test::read_data_file(std::string("ike/strongswan/") + scenario_file);
    REQUIRE_FALSE(original.empty());
    size_t refused = 0;
    for (size_t i = 0; i < original.size(); ++i) {
      Bytes m = original;
      m[i] ^= 0x01;
      ParsedMessage pm;
      if (!parse_message(m, &pm).ok() || pm.protected_payload() == nullptr) {
        ++refused;
        continue;
      }
      auto parsed_spi = pm.header.spi_i;
      if (parsed_spi != std::stoull(keys.at("SPI_i"), nullptr, 16)) {
        ++refused;  // the SPI was hit: no keys for that SA
        continue;
      }
      SkTransform sk = sk_for(keys, pm.header);
      const bool ok = pm.protected_payload()->type == PayloadType::sk ? open_protected_message(sk, m, pm).ok()
                                                                      : open_fragment(sk, m, pm).ok();
      // Flipping the I flag only picks the other direction's keys.
      if (!ok) ++refused;
    }
    INFO(scenario_file);
    CHECK(refused == original.size());
  }
}
