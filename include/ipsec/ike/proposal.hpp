// SPDX-License-Identifier: Apache-2.0
// IKEv2 proposals: configured in the notation strongSwan users know
// ("aes256gcm16-prfsha256-x25519", "aes128-sha256-modp3072-esn"), offered
// as SA payload proposals, and selected by a responder (RFC 7296 2.7, 3.3):
// our proposals in our order of preference, the first one the peer's offer
// satisfies, and within it our most preferred transform of each type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ipsec/core/result.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/wire/ike_enums.hpp"
#include "ipsec/wire/ike_payloads.hpp"

namespace ipsec::ike {

// ProposalConfig: one configured proposal: per transform type, the IDs we
// accept, most preferred first (the order they were written in).
struct ProposalConfig {
  wire::ProtocolId protocol = wire::ProtocolId::ike;
  std::vector<wire::Transform> transforms;

  // of_type: the configured transforms of one type, in preference order.
  [[nodiscard]] std::vector<wire::Transform> of_type(wire::TransformType t) const {
    std::vector<wire::Transform> out;
    for (const wire::Transform& x : transforms) {
      if (x.type == t) out.push_back(x);
    }
    return out;
  }
};

namespace detail {

struct Keyword {
  std::string_view name;
  wire::TransformType type;
  uint16_t id;
  uint16_t key_bits;  // 0: no Key Length attribute
};

// The algorithms this library implements (crypto/suites.hpp), by the names
// strongSwan's proposal syntax gives them.
inline constexpr Keyword kKeywords[] = {
    {"aes128", wire::TransformType::encr, 12, 128},
    {"aes192", wire::TransformType::encr, 12, 192},
    {"aes256", wire::TransformType::encr, 12, 256},
    {"aes128ctr", wire::TransformType::encr, 13, 128},
    {"aes192ctr", wire::TransformType::encr, 13, 192},
    {"aes256ctr", wire::TransformType::encr, 13, 256},
    {"aes128gcm8", wire::TransformType::encr, 18, 128},
    {"aes192gcm8", wire::TransformType::encr, 18, 192},
    {"aes256gcm8", wire::TransformType::encr, 18, 256},
    {"aes128gcm12", wire::TransformType::encr, 19, 128},
    {"aes192gcm12", wire::TransformType::encr, 19, 192},
    {"aes256gcm12", wire::TransformType::encr, 19, 256},
    {"aes128gcm16", wire::TransformType::encr, 20, 128},
    {"aes192gcm16", wire::TransformType::encr, 20, 192},
    {"aes256gcm16", wire::TransformType::encr, 20, 256},
    {"aes128ccm8", wire::TransformType::encr, 14, 128},
    {"aes256ccm8", wire::TransformType::encr, 14, 256},
    {"aes128ccm16", wire::TransformType::encr, 16, 128},
    {"aes256ccm16", wire::TransformType::encr, 16, 256},
    {"chacha20poly1305", wire::TransformType::encr, 28, 0},
    {"aes128gmac", wire::TransformType::encr, 21, 128},  // ESP/AH only: authentication without encryption
    {"aes256gmac", wire::TransformType::encr, 21, 256},
    {"null", wire::TransformType::encr, 11, 0},  // ESP only (RFC 2410)
    {"sha1", wire::TransformType::integ, 2, 0},
    {"sha256", wire::TransformType::integ, 12, 0},
    {"sha384", wire::TransformType::integ, 13, 0},
    {"sha512", wire::TransformType::integ, 14, 0},
    {"aesxcbc", wire::TransformType::integ, 5, 0},
    {"aescmac", wire::TransformType::integ, 8, 0},
    {"prfsha1", wire::TransformType::prf, 2, 0},
    {"prfsha256", wire::TransformType::prf, 5, 0},
    {"prfsha384", wire::TransformType::prf, 6, 0},
    {"prfsha512", wire::TransformType::prf, 7, 0},
    {"prfaesxcbc", wire::TransformType::prf, 4, 0},
    {"prfaescmac", wire::TransformType::prf, 8, 0},
    {"modp2048", wire::TransformType::ke, 14, 0},
    {"modp3072", wire::TransformType::ke, 15, 0},
    {"modp4096", wire::TransformType::ke, 16, 0},
    {"ecp256", wire::TransformType::ke, 19, 0},
    {"ecp384", wire::TransformType::ke, 20, 0},
    {"ecp521", wire::TransformType::ke, 21, 0},
    {"ecp256bp", wire::TransformType::ke, 28, 0},
    {"x25519", wire::TransformType::ke, 31, 0},
    {"curve25519", wire::TransformType::ke, 31, 0},
    {"x448", wire::TransformType::ke, 32, 0},
};

[[nodiscard]] inline bool is_aead(uint16_t encr) noexcept {
  const auto info = crypto::encr_info(static_cast<crypto::EncrId>(encr));
  return info && info->aead;
}

// prf_for_integ: strongSwan's rule for IKE proposals without a PRF: the PRF
// of the integrity algorithm's hash.
[[nodiscard]] inline std::optional<uint16_t> prf_for_integ(uint16_t integ) noexcept {
  switch (static_cast<crypto::IntegId>(integ)) {
    case crypto::IntegId::hmac_sha1_96: return static_cast<uint16_t>(crypto::PrfId::hmac_sha1);
    case crypto::IntegId::hmac_sha2_256_128: return static_cast<uint16_t>(crypto::PrfId::hmac_sha2_256);
    case crypto::IntegId::hmac_sha2_384_192: return static_cast<uint16_t>(crypto::PrfId::hmac_sha2_384);
    case crypto::IntegId::hmac_sha2_512_256: return static_cast<uint16_t>(crypto::PrfId::hmac_sha2_512);
    case crypto::IntegId::aes_xcbc_96: return static_cast<uint16_t>(crypto::PrfId::aes128_xcbc);
    case crypto::IntegId::aes_cmac_96: return static_cast<uint16_t>(crypto::PrfId::aes128_cmac);
    default: return std::nullopt;
  }
}

}  // namespace detail

// parse_proposal: one proposal, keywords joined by '-'. IKE proposals need
// an encryption algorithm and a key exchange method, and a PRF (given, or
// derived from the integrity algorithm as strongSwan does); ESP/AH ones
// get ESN "noesn" unless "esn"/"noesn" is written, and a key exchange
// method only for PFS. Combined-mode (AEAD) and plain ciphers cannot share
// a proposal (RFC 7296 3.3: AEAD proposals carry no integrity algorithm).
// Errors (offset = the keyword's first character): parse_error (unknown
// keyword, empty keyword), invalid_value ("ike.proposal": ENCR_NULL or GMAC
// in an IKE proposal, AEAD mixed with plain ciphers, integrity with AEAD only,
// a plain cipher without integrity, no encryption, IKE without key exchange
// or PRF).
[[nodiscard]] inline Result<ProposalConfig> parse_proposal(std::string_view text, wire::ProtocolId protocol) {
  ProposalConfig p;
  p.protocol = protocol;
  const bool ike = protocol == wire::ProtocolId::ike;
  size_t at = 0;
  bool esn_given = false;
  while (true) {
    const size_t dash = text.find('-', at);
    const std::string_view word =
        text.substr(at, dash == std::string_view::npos ? std::string_view::npos : dash - at);
    const auto offset = static_cast<uint32_t>(at);
    if (word.empty()) return Status(Errc::parse_error, offset, "proposal keyword");
    if (word == "esn" || word == "noesn") {
      if (ike) return Status(Errc::parse_error, offset, "proposal keyword");
      p.transforms.push_back(
          {wire::TransformType::esn, static_cast<uint16_t>(word == "esn" ? 1 : 0), {}, {}, 0});
      esn_given = true;
    } else {
      const detail::Keyword* k = nullptr;
      for (const detail::Keyword& candidate : detail::kKeywords) {
        if (candidate.name == word) k = &candidate;
      }
      if (k == nullptr) return Status(Errc::parse_error, offset, "proposal keyword");
      if (ike && (k->type == wire::TransformType::encr) && (k->id == 11 || k->id == 21)) {
        return Status(Errc::invalid_value, offset, "ike.proposal");
      }
      if (!ike && k->type == wire::TransformType::prf)
        return Status(Errc::parse_error, offset, "proposal keyword");
      wire::Transform t{k->type, k->id, std::nullopt, {}, 0};
      if (k->key_bits != 0) t.key_length = k->key_bits;
      p.transforms.push_back(t);
    }
    if (dash == std::string_view::npos) break;
    at = dash + 1;
  }
  const auto encr = p.of_type(wire::TransformType::encr);
  const auto integ = p.of_type(wire::TransformType::integ);
  size_t aead = 0;
  for (const wire::Transform& t : encr) aead += detail::is_aead(t.id) ? size_t{1} : size_t{0};
  if (protocol == wire::ProtocolId::ah) {
    // AH only authenticates (RFC 4302): integrity, no encryption.
    if (!encr.empty() || integ.empty()) return Status(Errc::invalid_value, 0, "ike.proposal");
  } else {
    if (encr.empty() || (aead != 0 && aead != encr.size()))
      return Status(Errc::invalid_value, 0, "ike.proposal");
    if (aead != 0 && !integ.empty()) return Status(Errc::invalid_value, 0, "ike.proposal");
    if (aead == 0 && integ.empty()) return Status(Errc::invalid_value, 0, "ike.proposal");
  }
  if (ike) {
    if (p.of_type(wire::TransformType::ke).empty()) return Status(Errc::invalid_value, 0, "ike.proposal");
    if (p.of_type(wire::TransformType::prf).empty()) {
      for (const wire::Transform& t : integ) {
        if (auto prf = detail::prf_for_integ(t.id)) {
          p.transforms.push_back({wire::TransformType::prf, *prf, std::nullopt, {}, 0});
        }
      }
      if (p.of_type(wire::TransformType::prf).empty()) return Status(Errc::invalid_value, 0, "ike.proposal");
    }
  } else if (!esn_given) {
    p.transforms.push_back({wire::TransformType::esn, 0, std::nullopt, {}, 0});
  }
  return p;
}

// parse_proposals: several proposals separated by ','; errors as
// parse_proposal, offsets into the whole text.
[[nodiscard]] inline Result<std::vector<ProposalConfig>> parse_proposals(std::string_view text,
                                                                         wire::ProtocolId protocol) {
  std::vector<ProposalConfig> out;
  size_t at = 0;
  while (true) {
    const size_t comma = text.find(',', at);
    const std::string_view one =
        text.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    auto p = parse_proposal(one, protocol);
    if (!p) {
      const Status s = p.status();
      return Status(s.code(), static_cast<uint32_t>(at + (s.has_offset() ? s.offset() : 0)), s.field());
    }
    out.push_back(std::move(*p));
    if (comma == std::string_view::npos) return out;
    at = comma + 1;
  }
}

// Selected: the outcome of a negotiation: the peer's proposal number and
// SPI, and exactly one transform of each type the proposal had.
struct Selected {
  uint8_t number = 0;
  wire::ProtocolId protocol = wire::ProtocolId::ike;
  ByteView spi;  // the peer's SPI from its proposal (a view into its message)
  std::vector<wire::Transform> transforms;

  [[nodiscard]] std::optional<wire::Transform> get(wire::TransformType t) const noexcept {
    for (const wire::Transform& x : transforms) {
      if (x.type == t) return x;
    }
    return std::nullopt;
  }
  // as_proposal: the SA payload proposal that answers it (RFC 7296 2.7: the
  // accepted proposal's number, one transform of each type), with our SPI.
  [[nodiscard]] wire::Proposal as_proposal(ByteView our_spi) const noexcept {
    return wire::Proposal{number, protocol, our_spi, transforms};
  }
};

namespace detail {
[[nodiscard]] inline bool known_type(wire::TransformType t) noexcept {
  switch (t) {
    case wire::TransformType::encr:
    case wire::TransformType::prf:
    case wire::TransformType::integ:
    case wire::TransformType::ke:
    case wire::TransformType::esn: return true;
    default: return false;
  }
}
[[nodiscard]] inline bool same(const wire::Transform& a, const wire::Transform& b) noexcept {
  return a.type == b.type && a.id == b.id && a.key_length == b.key_length;
}
}  // namespace detail

// select_proposal: as a responder, the first of `ours` (our order of
// preference) that one of the peer's proposals satisfies (the peer's order
// breaks ties between its proposals), and within it our most preferred
// transform of each type the peer offered. A peer proposal is skipped when
// its protocol differs, when it has a transform type this library does not
// know (RFC 7296 3.3.6 rejects the proposal), or when one of its types has
// nothing we accept; transforms with attributes we do not understand are
// skipped (3.3.6). A type we configure but the peer leaves out must not be
// required: only INTEG (with AEAD) and KE (child SAs without PFS) may be
// absent, and a NONE (ID 0) the peer offers for them is taken when we
// configured none. Errors: invalid_value with field "sa.no_proposal_chosen"
// (the caller answers NO_PROPOSAL_CHOSEN).
[[nodiscard]] inline Result<Selected> select_proposal(std::span<const ProposalConfig> ours,
                                                      const wire::SaPayload& theirs) {
  for (const ProposalConfig& mine : ours) {
    for (const wire::ProposalView& p : theirs.proposals) {
      if (p.protocol != mine.protocol) continue;
      bool usable = true;
      std::vector<wire::TransformType> types;
      for (const wire::Transform& t : p.transforms) {
        if (!detail::known_type(t.type)) usable = false;
        bool seen = false;
        for (wire::TransformType x : types) seen = seen || x == t.type;
        if (!seen) types.push_back(t.type);
      }
      if (!usable) continue;
      Selected s;
      s.number = p.number;
      s.protocol = p.protocol;
      s.spi = p.spi;
      for (wire::TransformType type : types) {
        std::optional<wire::Transform> pick;
        for (const wire::Transform& want : mine.transforms) {
          if (want.type != type) continue;
          for (const wire::Transform& offered : p.transforms) {
            if (offered.unknown_attributes == 0 && detail::same(want, offered)) {
              pick = offered;
              break;
            }
          }
          if (pick) break;
        }
        if (!pick && (type == wire::TransformType::integ || type == wire::TransformType::ke)) {
          // The peer may offer NONE (ID 0) for integrity with a combined-mode
          // cipher, or for the key exchange of a child SA without PFS: we
          // take it when we configured nothing of that type.
          for (const wire::Transform& offered : p.transforms) {
            if (offered.type == type && offered.id == 0 && mine.of_type(type).empty()) pick = offered;
          }
        }
        if (!pick) {
          usable = false;
          break;
        }
        s.transforms.push_back(*pick);
      }
      if (!usable) continue;
      // Types we require that the peer left out.
      for (const wire::Transform& want : mine.transforms) {
        if (s.get(want.type)) continue;
        const bool optional =
            (want.type == wire::TransformType::integ) ||
            (want.type == wire::TransformType::ke && mine.protocol != wire::ProtocolId::ike);
        if (!optional) usable = false;
      }
      // Combined-mode ciphers take no integrity algorithm; others need one.
      const auto encr = s.get(wire::TransformType::encr);
      const auto integ = s.get(wire::TransformType::integ);
      const bool integrity = integ && integ->id != 0;
      if (mine.protocol == wire::ProtocolId::ah) {
        if (encr || !integrity) usable = false;
      } else if (!encr || detail::is_aead(encr->id) == integrity) {
        usable = false;
      }
      if (usable) return s;
    }
  }
  return Status(Errc::invalid_value, Status::kNoOffset, "sa.no_proposal_chosen");
}

}  // namespace ipsec::ike
