// SPDX-License-Identifier: Apache-2.0
// IKEv2 proposals (RFC 7296 2.7, 3.3): strongSwan-style proposal strings,
// and responder selection in our order of preference, checked against the
// SA payloads two strongSwan instances exchanged.
#include "ipsec/ike/proposal.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ipsec/wire/ike_message.hpp"
#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::test::Bytes;
using namespace ipsec::ike;
namespace wire = ipsec::wire;
using wire::ProtocolId;
using wire::TransformType;

namespace {

std::string describe(const std::vector<wire::Transform>& ts) {
  std::string s;
  for (const wire::Transform& t : ts) {
    if (!s.empty()) s += " ";
    s += std::string(wire::to_string(t.type)) + ":" + std::string(wire::transform_id_name(t.type, t.id));
    if (t.key_length) s += "/" + std::to_string(*t.key_length);
  }
  return s;
}

std::string parsed(const char* text, ProtocolId protocol) {
  auto p = parse_proposal(text, protocol);
  REQUIRE_MESSAGE(p.ok(), text, " ", p.status().name());
  return describe(p->transforms);
}

// sa_of: the SA payload of a message (fixture file or built bytes).
struct SaOf {
  Bytes message;
  wire::ParsedMessage parsed;
  wire::SaPayload sa;
};
void load_sa(SaOf& out, const std::string& fixture) {
  out.message = ipsec::test::read_data_file("ike/strongswan/" + fixture);
  REQUIRE_FALSE(out.message.empty());
  REQUIRE(wire::parse_message(out.message, &out.parsed).ok());
  out.sa = *wire::decode_sa(*out.parsed.find(wire::PayloadType::sa));
}

// offer: an SA payload body from proposal configs, numbered 1..n.
Bytes offer(const std::vector<ProposalConfig>& proposals, ByteView spi = {}) {
  std::vector<wire::Proposal> ps;
  uint8_t n = 1;
  for (const ProposalConfig& p : proposals) ps.push_back({n++, p.protocol, spi, p.transforms});
  Bytes out(4096);
  ipsec::ByteWriter w(out);
  wire::write_sa_body(w, ps);
  out.resize(w.size());
  return out;
}

wire::SaPayload sa_payload(const Bytes& body, wire::PayloadView& view) {
  view.type = wire::PayloadType::sa;
  view.body = body;
  auto sa = wire::decode_sa(view);
  REQUIRE(sa.ok());
  return *sa;
}

}  // namespace

TEST_CASE("proposal strings in strongSwan's notation") {
  CHECK(parsed("aes256gcm16-prfsha256-x25519", ProtocolId::ike) ==
        "ENCR:ENCR_AES_GCM_16/256 PRF:PRF_HMAC_SHA2_256 KE:CURVE_25519");
  // Without a PRF, IKE derives it from the integrity algorithm.
  CHECK(parsed("aes128-sha256-modp3072", ProtocolId::ike) ==
        "ENCR:ENCR_AES_CBC/128 INTEG:AUTH_HMAC_SHA2_256_128 KE:MODP_3072 PRF:PRF_HMAC_SHA2_256");
  CHECK(parsed("aes128-aes256-sha256-sha1-ecp256-modp2048", ProtocolId::ike) ==
        "ENCR:ENCR_AES_CBC/128 ENCR:ENCR_AES_CBC/256 INTEG:AUTH_HMAC_SHA2_256_128 INTEG:AUTH_HMAC_SHA1_96 "
        "KE:ECP_256 KE:MODP_2048 PRF:PRF_HMAC_SHA2_256 PRF:PRF_HMAC_SHA1");
  // ESP: ESN off unless asked; a key exchange only for PFS.
  CHECK(parsed("aes256gcm16", ProtocolId::esp) == "ENCR:ENCR_AES_GCM_16/256 ESN:NO_ESN");
  CHECK(parsed("chacha20poly1305-esn-x25519", ProtocolId::esp) ==
        "ENCR:ENCR_CHACHA20_POLY1305 ESN:ESN KE:CURVE_25519");
  CHECK(parsed("aes128-sha256-esn-noesn", ProtocolId::esp) ==
        "ENCR:ENCR_AES_CBC/128 INTEG:AUTH_HMAC_SHA2_256_128 ESN:ESN ESN:NO_ESN");
  CHECK(parsed("null-sha256", ProtocolId::esp) == "ENCR:ENCR_NULL INTEG:AUTH_HMAC_SHA2_256_128 ESN:NO_ESN");
  CHECK(parsed("aes256gmac", ProtocolId::esp) == "ENCR:ENCR_NULL_AUTH_AES_GMAC/256 ESN:NO_ESN");
  CHECK(parsed("sha256", ProtocolId::ah) == "INTEG:AUTH_HMAC_SHA2_256_128 ESN:NO_ESN");

  auto error = [](const char* text, ProtocolId protocol) { return parse_proposal(text, protocol).status(); };
  CHECK(error("aes256gcm16-sha256-prfsha256-x25519", ProtocolId::ike) ==
        Errc::invalid_value);  // AEAD + integrity
  CHECK(error("aes256gcm16-aes128-sha256-x25519", ProtocolId::ike) ==
        Errc::invalid_value);                                                       // AEAD mixed with CBC
  CHECK(error("aes128-prfsha256-x25519", ProtocolId::ike) == Errc::invalid_value);  // CBC without integrity
  CHECK(error("aes128-sha256", ProtocolId::ike) == Errc::invalid_value);       // IKE without key exchange
  CHECK(error("aes256gcm16-x25519", ProtocolId::ike) == Errc::invalid_value);  // AEAD IKE without PRF
  CHECK(error("null-sha256-modp2048", ProtocolId::ike).offset() == 0);         // not for IKE
  CHECK(error("null-sha256-modp2048", ProtocolId::ike) == Errc::invalid_value);
  CHECK(error("aes128-sha256-esn-modp2048", ProtocolId::ike) == Errc::parse_error);
  CHECK(error("aes128-sha256-prfsha256", ProtocolId::esp) == Errc::parse_error);
  CHECK(error("aes128-sha256", ProtocolId::ah) == Errc::invalid_value);
  const auto unknown = error("aes128-sha256-blowfish-modp2048", ProtocolId::ike);
  CHECK(unknown.code() == Errc::parse_error);
  CHECK(unknown.offset() == 14);
  const auto empty = error("aes128--sha256", ProtocolId::ike);
  CHECK(empty.code() == Errc::parse_error);
  CHECK(empty.offset() == 7);

  auto many = parse_proposals("aes256gcm16-prfsha256-x25519,aes128-sha256-modp3072", ProtocolId::ike);
  REQUIRE(many.ok());
  CHECK(many->size() == 2);
  const auto bad = parse_proposals("aes256gcm16-prfsha256-x25519,aes128-sha256-bogus", ProtocolId::ike);
  CHECK(bad.status().code() == Errc::parse_error);
  CHECK(bad.status().offset() == 29 + 14);
}

TEST_CASE("selection answers strongSwan's IKE_SA_INIT exactly as strongSwan did") {
  for (const auto& [scenario, ours] :
       {std::pair<std::string, std::string>{"gcm", "aes128-sha256-modp2048,aes256gcm16-prfsha256-x25519"},
        std::pair<std::string, std::string>{"cbc", "aes256gcm16-prfsha256-x25519,aes128-sha256-modp2048"},
        std::pair<std::string, std::string>{"frag", "aes128gcm16-prfsha256-ecp256"}}) {
    INFO(scenario);
    SaOf request, response;
    load_sa(request, scenario + "/000-ike_sa_init-request-0.bin");
    load_sa(response, scenario + "/001-ike_sa_init-response-0.bin");
    auto configs = parse_proposals(ours, ProtocolId::ike);
    REQUIRE(configs.ok());
    auto selected = select_proposal(*configs, request.sa);
    REQUIRE(selected.ok());
    // Our answer's SA payload is byte for byte the one charon sent.
    const wire::Proposal answer[] = {selected->as_proposal({})};
    Bytes body(512);
    ipsec::ByteWriter w(body);
    wire::write_sa_body(w, answer);
    body.resize(w.size());
    const wire::PayloadView* theirs = response.parsed.find(wire::PayloadType::sa);
    CHECK(ipsec::test::to_hex(body) == ipsec::test::to_hex(theirs->body));
  }
}

TEST_CASE("selection: our preference first, then theirs; what disqualifies a proposal") {
  const auto initiator = parse_proposals(
      "aes128-sha256-modp2048,aes256gcm16-prfsha256-x25519-ecp256,aes256-sha512-prfsha512-modp4096",
      ProtocolId::ike);
  REQUIRE(initiator.ok());
  const Bytes body = offer(*initiator);
  wire::PayloadView view;
  const wire::SaPayload sa = sa_payload(body, view);

  // Our first choice wins even though the peer listed it second.
  auto ours = parse_proposals("aes256gcm16-prfsha256-ecp256-x25519,aes128-sha256-modp2048", ProtocolId::ike);
  auto s = select_proposal(*ours, sa);
  REQUIRE(s.ok());
  CHECK(s->number == 2);
  CHECK(s->get(TransformType::ke)->id == 19);  // our preferred group among the peer's two
  CHECK_FALSE(s->get(TransformType::integ));
  // Nothing in common.
  auto none = parse_proposals("aes192-sha384-modp3072", ProtocolId::ike);
  CHECK(select_proposal(*none, sa).status().field() == std::string("sa.no_proposal_chosen"));
  // Key length matters (RFC 7296 3.3.5).
  auto other_length = parse_proposals("aes192-sha256-modp2048", ProtocolId::ike);
  CHECK_FALSE(select_proposal(*other_length, sa).ok());
  // Protocol matters.
  auto esp = parse_proposals("aes128-sha256", ProtocolId::esp);
  CHECK_FALSE(select_proposal(*esp, sa).ok());

  // A transform type we do not know disqualifies the proposal (3.3.6); a
  // transform with attributes we do not understand is skipped, not the
  // proposal.
  ProposalConfig strange = (*initiator)[0];
  strange.transforms.push_back({static_cast<TransformType>(99), 1, std::nullopt, {}, 0});
  ProposalConfig with_attribute = (*initiator)[0];
  const Bytes attributes = {0x80, 0x0e, 0x00, 0x80, 0x00,
                            0x31, 0x00, 0x01, 0x00};  // Key Length + unknown TLV
  with_attribute.transforms[0].attributes = attributes;
  with_attribute.transforms.insert(with_attribute.transforms.begin() + 1,
                                   {TransformType::encr, 12, 128, {}, 0});  // a clean AES-128-CBC too
  const Bytes body2 = offer({strange, with_attribute});
  wire::PayloadView view2;
  const wire::SaPayload sa2 = sa_payload(body2, view2);
  auto cbc = parse_proposals("aes128-sha256-modp2048", ProtocolId::ike);
  auto s2 = select_proposal(*cbc, sa2);
  REQUIRE(s2.ok());
  CHECK(s2->number == 2);
  CHECK(s2->get(TransformType::encr)->unknown_attributes == 0);
}

TEST_CASE("selection for child SAs: ESN, PFS, AEAD with INTEG NONE, SPI") {
  const Bytes spi = {0xc0, 0xff, 0xee, 0x01};
  auto initiator = parse_proposals("aes256gcm16-esn-noesn,aes128-sha256-modp2048", ProtocolId::esp);
  REQUIRE(initiator.ok());
  // An AEAD proposal may carry INTEG NONE explicitly (RFC 7296 3.3).
  (*initiator)[0].transforms.push_back({TransformType::integ, 0, std::nullopt, {}, 0});
  const Bytes body = offer(*initiator, spi);
  wire::PayloadView view;
  const wire::SaPayload sa = sa_payload(body, view);

  auto ours = parse_proposals("aes256gcm16", ProtocolId::esp);  // ESN off, no PFS
  auto s = select_proposal(*ours, sa);
  REQUIRE(s.ok());
  CHECK(s->number == 1);
  CHECK(s->get(TransformType::esn)->id == 0);
  CHECK(ipsec::equal_bytes(s->spi, spi));
  // Our configuration asks for ESN only: the peer offered both.
  auto esn = parse_proposals("aes256gcm16-esn", ProtocolId::esp);
  CHECK(select_proposal(*esn, sa)->get(TransformType::esn)->id == 1);
  // PFS: the peer's KE must be matched when it offers one; we may not
  // require one it does not offer.
  auto pfs = parse_proposals("aes128-sha256-modp2048", ProtocolId::esp);
  auto s2 = select_proposal(*pfs, sa);
  REQUIRE(s2.ok());
  CHECK(s2->number == 2);
  CHECK(s2->get(TransformType::ke)->id == 14);
  auto no_pfs = parse_proposals("aes128-sha256", ProtocolId::esp);
  CHECK_FALSE(select_proposal(*no_pfs, sa).ok());
  auto gcm_pfs = parse_proposals("aes256gcm16-x25519", ProtocolId::esp);
  auto s3 = select_proposal(*gcm_pfs, sa);
  REQUIRE(s3.ok());  // the peer's proposal 1 has no KE: we do not force PFS on it
  CHECK_FALSE(s3->get(TransformType::ke));
  // The answer: our SPI, the accepted number, one transform of each type.
  const Bytes our_spi = {1, 2, 3, 4};
  const wire::Proposal answer = s->as_proposal(our_spi);
  CHECK(answer.number == 1);
  CHECK(answer.transforms.size() == 3);  // ENCR, ESN, INTEG NONE
}
