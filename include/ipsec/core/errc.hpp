// SPDX-License-Identifier: Apache-2.0
// Error codes of the whole library. Each value has a stable snake_case name
// (to_string) that hosts may log, match on or export; values are never reused.
#pragma once

#include <cstdint>
#include <string_view>

namespace ipsec {

enum class Errc : uint16_t {
  ok = 0,

  // Bytes and parsing (bytes/, wire/).
  truncated = 1,         // input ended before a field it announced
  trailing_data = 2,     // bytes left over after a complete structure
  invalid_length = 3,    // a length field contradicts the data or the format
  invalid_value = 4,     // a field holds a value the format forbids
  buffer_too_small = 5,  // caller storage cannot hold the output
  no_headroom = 6,       // packet buffer cannot grow at the front
  no_tailroom = 7,       // packet buffer cannot grow at the back
  limit_exceeded = 8,    // a configured count or size limit (core/limits.hpp)
  invalid_argument = 9,  // the caller passed a value outside the contract
  parse_error = 10,      // text (addresses, prefixes) does not parse
  unsupported_version = 11,

  // Crypto (crypto/).
  unsupported_algorithm = 100,
  invalid_key_length = 101,
  invalid_iv_length = 102,
  invalid_icv_length = 103,
  integrity_check_failed = 104,  // AEAD tag or ICV mismatch
  invalid_public_value = 105,    // RFC 6989 checks on a peer's KE value
  invalid_block_length = 106,    // CBC input not a multiple of the block
  crypto_backend_failure = 107,  // the backend library reported an error
  out_of_memory = 108,
  invalid_key = 109,  // a private/public key does not parse
  bad_signature = 110,
  invalid_certificate = 111,  // does not parse as X.509
  certificate_expired = 112,
  certificate_not_yet_valid = 113,
  untrusted_certificate = 114,  // no path to a trust anchor, or path invalid
  key_type_mismatch = 115,      // scheme does not fit the key

  // ESP and AH datapath (esp/).
  replayed = 200,             // duplicate or left of the anti-replay window
  bad_padding = 201,          // ESP padding is not 1, 2, 3, ... (RFC 4303 2.4)
  sequence_overflow = 202,    // the outbound counter would wrap: rekey
  lifetime_expired = 203,     // a hard byte or packet limit was reached
  dummy_packet = 204,         // next header 59 (RFC 4303 2.6): drop silently
  spi_mismatch = 205,         // the packet is not for this SA
  unexpected_protocol = 206,  // not ESP/AH, or a tunnel payload that is not IP
  ecn_mismatch = 207,         // outer CE on a not-ECT inner packet (RFC 6040 4.2)
  unsupported_header = 208,   // a header this path does not handle (fragments, ...)

  // IKEv2 messages (wire/ike_*).
  unsupported_critical_payload = 300,  // unknown payload with the critical bit (RFC 7296 2.5)
  payload_not_allowed = 301,           // a payload where the format forbids it (SK not last, ...)

  // Security databases and the datapath facade (sa/).
  no_policy = 400,            // no SPD entry matches: discarded (RFC 4301 5.1, 5.2 default)
  policy_discard = 401,       // the matching SPD entry says DISCARD
  unknown_spi = 402,          // no SA for the SPI (RFC 4303 3.4.2: an auditable event)
  selector_mismatch = 403,    // decrypted, but not traffic of that SA (RFC 4301 5.2)
  unprotected_traffic = 404,  // arrived in the clear where policy requires IPsec
};

// to_string: the stable name of a code, "unknown" for values not listed.
[[nodiscard]] constexpr std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::ok: return "ok";
    case Errc::truncated: return "truncated";
    case Errc::trailing_data: return "trailing_data";
    case Errc::invalid_length: return "invalid_length";
    case Errc::invalid_value: return "invalid_value";
    case Errc::buffer_too_small: return "buffer_too_small";
    case Errc::no_headroom: return "no_headroom";
    case Errc::no_tailroom: return "no_tailroom";
    case Errc::limit_exceeded: return "limit_exceeded";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::parse_error: return "parse_error";
    case Errc::unsupported_version: return "unsupported_version";
    case Errc::unsupported_algorithm: return "unsupported_algorithm";
    case Errc::invalid_key_length: return "invalid_key_length";
    case Errc::invalid_iv_length: return "invalid_iv_length";
    case Errc::invalid_icv_length: return "invalid_icv_length";
    case Errc::integrity_check_failed: return "integrity_check_failed";
    case Errc::invalid_public_value: return "invalid_public_value";
    case Errc::invalid_block_length: return "invalid_block_length";
    case Errc::crypto_backend_failure: return "crypto_backend_failure";
    case Errc::out_of_memory: return "out_of_memory";
    case Errc::invalid_key: return "invalid_key";
    case Errc::bad_signature: return "bad_signature";
    case Errc::invalid_certificate: return "invalid_certificate";
    case Errc::certificate_expired: return "certificate_expired";
    case Errc::certificate_not_yet_valid: return "certificate_not_yet_valid";
    case Errc::untrusted_certificate: return "untrusted_certificate";
    case Errc::key_type_mismatch: return "key_type_mismatch";
    case Errc::replayed: return "replayed";
    case Errc::bad_padding: return "bad_padding";
    case Errc::sequence_overflow: return "sequence_overflow";
    case Errc::lifetime_expired: return "lifetime_expired";
    case Errc::dummy_packet: return "dummy_packet";
    case Errc::spi_mismatch: return "spi_mismatch";
    case Errc::unexpected_protocol: return "unexpected_protocol";
    case Errc::ecn_mismatch: return "ecn_mismatch";
    case Errc::unsupported_header: return "unsupported_header";
    case Errc::unsupported_critical_payload: return "unsupported_critical_payload";
    case Errc::payload_not_allowed: return "payload_not_allowed";
    case Errc::no_policy: return "no_policy";
    case Errc::policy_discard: return "policy_discard";
    case Errc::unknown_spi: return "unknown_spi";
    case Errc::selector_mismatch: return "selector_mismatch";
    case Errc::unprotected_traffic: return "unprotected_traffic";
  }
  return "unknown";
}

}  // namespace ipsec
