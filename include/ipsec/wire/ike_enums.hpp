// SPDX-License-Identifier: Apache-2.0
// IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" registries for the
// IKE message layer (RFC 7296 section 3 and the companion RFCs that extended
// the registries). Transform IDs live in crypto/transform_ids.hpp.
//
// Open enums: a peer may send any value of the field's width, so every value
// of the underlying type is representable and unlisted ones are named
// "unknown". Receivers decide what an unknown value means (RFC 7296 §3.2:
// unknown non-critical payloads are skipped; §3.10.1: unknown status
// notifications are ignored).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "ipsec/crypto/transform_ids.hpp"

namespace ipsec::wire {

// ---------------------------------------------------------------------------
// IKEv2 Exchange Types (RFC 7296 §3.1). 0-33 reserved, 240-255 private use.
enum class ExchangeType : uint8_t {
  ike_sa_init = 34,
  ike_auth = 35,
  create_child_sa = 36,
  informational = 37,
  ike_session_resume = 38,  // RFC 5723
  gsa_auth = 39,            // G-IKEv2 (group key management)
  gsa_registration = 40,
  gsa_rekey = 41,
  gsa_inband_rekey = 42,
  ike_intermediate = 43,  // RFC 9242
  ike_followup_ke = 44,   // RFC 9370
};

[[nodiscard]] constexpr std::string_view to_string(ExchangeType v) noexcept {
  switch (v) {
    case ExchangeType::ike_sa_init: return "IKE_SA_INIT";
    case ExchangeType::ike_auth: return "IKE_AUTH";
    case ExchangeType::create_child_sa: return "CREATE_CHILD_SA";
    case ExchangeType::informational: return "INFORMATIONAL";
    case ExchangeType::ike_session_resume: return "IKE_SESSION_RESUME";
    case ExchangeType::gsa_auth: return "GSA_AUTH";
    case ExchangeType::gsa_registration: return "GSA_REGISTRATION";
    case ExchangeType::gsa_rekey: return "GSA_REKEY";
    case ExchangeType::gsa_inband_rekey: return "GSA_INBAND_REKEY";
    case ExchangeType::ike_intermediate: return "IKE_INTERMEDIATE";
    case ExchangeType::ike_followup_ke: return "IKE_FOLLOWUP_KE";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// IKEv2 Payload Types (RFC 7296 §3.2 "Next Payload"). 1-32 reserved (IKEv1),
// 128-255 private use.
enum class PayloadType : uint8_t {
  none = 0,  // "No Next Payload": ends the chain
  sa = 33,
  ke = 34,
  id_i = 35,
  id_r = 36,
  cert = 37,
  certreq = 38,
  auth = 39,
  nonce = 40,
  notify = 41,
  del = 42,  // "delete" is a keyword
  vendor_id = 43,
  ts_i = 44,
  ts_r = 45,
  sk = 46,
  cp = 47,
  eap = 48,
  gspm = 49,  // RFC 6467
  id_g = 50,  // G-IKEv2
  gsa = 51,
  kd = 52,
  skf = 53,  // RFC 7383
  ps = 54,   // RFC 8019
};

// The registry's "Notation" column, used in one-line message summaries such
// as "IKE_AUTH request 1 [ IDi AUTH SA TSi TSr ]".
[[nodiscard]] constexpr std::string_view to_string(PayloadType v) noexcept {
  switch (v) {
    case PayloadType::none: return "NONE";
    case PayloadType::sa: return "SA";
    case PayloadType::ke: return "KE";
    case PayloadType::id_i: return "IDi";
    case PayloadType::id_r: return "IDr";
    case PayloadType::cert: return "CERT";
    case PayloadType::certreq: return "CERTREQ";
    case PayloadType::auth: return "AUTH";
    case PayloadType::nonce: return "No";
    case PayloadType::notify: return "N";
    case PayloadType::del: return "D";
    case PayloadType::vendor_id: return "V";
    case PayloadType::ts_i: return "TSi";
    case PayloadType::ts_r: return "TSr";
    case PayloadType::sk: return "SK";
    case PayloadType::cp: return "CP";
    case PayloadType::eap: return "EAP";
    case PayloadType::gspm: return "GSPM";
    case PayloadType::id_g: return "IDg";
    case PayloadType::gsa: return "GSA";
    case PayloadType::kd: return "KD";
    case PayloadType::skf: return "SKF";
    case PayloadType::ps: return "PS";
  }
  return "unknown";
}

// The registry's "Next Payload Type" column.
[[nodiscard]] constexpr std::string_view long_name(PayloadType v) noexcept {
  switch (v) {
    case PayloadType::none: return "No Next Payload";
    case PayloadType::sa: return "Security Association";
    case PayloadType::ke: return "Key Exchange";
    case PayloadType::id_i: return "Identification - Initiator";
    case PayloadType::id_r: return "Identification - Responder";
    case PayloadType::cert: return "Certificate";
    case PayloadType::certreq: return "Certificate Request";
    case PayloadType::auth: return "Authentication";
    case PayloadType::nonce: return "Nonce";
    case PayloadType::notify: return "Notify";
    case PayloadType::del: return "Delete";
    case PayloadType::vendor_id: return "Vendor ID";
    case PayloadType::ts_i: return "Traffic Selector - Initiator";
    case PayloadType::ts_r: return "Traffic Selector - Responder";
    case PayloadType::sk: return "Encrypted and Authenticated";
    case PayloadType::cp: return "Configuration";
    case PayloadType::eap: return "Extensible Authentication";
    case PayloadType::gspm: return "Generic Secure Password Method";
    case PayloadType::id_g: return "Group Identification";
    case PayloadType::gsa: return "Group Security Association";
    case PayloadType::kd: return "Key Download";
    case PayloadType::skf: return "Encrypted and Authenticated Fragment";
    case PayloadType::ps: return "Puzzle Solution";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// Transform Type Values (RFC 7296 §3.3.2). 241-255 private use.
enum class TransformType : uint8_t {
  encr = 1,
  prf = 2,
  integ = 3,
  ke = 4,      // "Diffie-Hellman Group" before RFC 9370 renamed it
  esn = 5,     // "Sequence Numbers" since G-IKEv2
  addke1 = 6,  // RFC 9370: additional key exchanges, run in order
  addke2 = 7,
  addke3 = 8,
  addke4 = 9,
  addke5 = 10,
  addke6 = 11,
  addke7 = 12,
  kwa = 13,     // G-IKEv2: Key Wrap Algorithm
  gcauth = 14,  // G-IKEv2: Group Controller Authentication Method
};

[[nodiscard]] constexpr std::string_view to_string(TransformType v) noexcept {
  switch (v) {
    case TransformType::encr: return "ENCR";
    case TransformType::prf: return "PRF";
    case TransformType::integ: return "INTEG";
    case TransformType::ke: return "KE";
    case TransformType::esn: return "ESN";
    case TransformType::addke1: return "ADDKE1";
    case TransformType::addke2: return "ADDKE2";
    case TransformType::addke3: return "ADDKE3";
    case TransformType::addke4: return "ADDKE4";
    case TransformType::addke5: return "ADDKE5";
    case TransformType::addke6: return "ADDKE6";
    case TransformType::addke7: return "ADDKE7";
    case TransformType::kwa: return "KWA";
    case TransformType::gcauth: return "GCAUTH";
  }
  return "unknown";
}

// Transform Type 5: Extended Sequence Numbers / Sequence Numbers IDs.
enum class EsnId : uint16_t {
  no_esn = 0,          // 32-bit sequence numbers
  esn = 1,             // RFC 4303 §2.2.1: 64-bit, low half transmitted
  unspecified_32 = 2,  // G-IKEv2: 32-bit numbers with no replay meaning
};

[[nodiscard]] constexpr std::string_view to_string(EsnId v) noexcept {
  switch (v) {
    case EsnId::no_esn: return "NO_ESN";
    case EsnId::esn: return "ESN";
    case EsnId::unspecified_32: return "UNSPECIFIED_32";
  }
  return "unknown";
}

// IKEv2 Transform Attribute Types (RFC 7296 §3.3.5). Only Key Length is
// registered; RFC 7296 §3.3.6 makes a proposal with an unknown attribute
// type unacceptable, so the parser must see every other value as unknown.
enum class TransformAttributeType : uint16_t {
  key_length = 14,  // TV format, in bits
};

[[nodiscard]] constexpr std::string_view to_string(TransformAttributeType v) noexcept {
  switch (v) {
    case TransformAttributeType::key_length: return "Key Length";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// IKEv2 Security Protocol Identifiers (RFC 7296 §3.3.1). 0 appears in Notify
// payloads that concern no SA (RFC 7296 §3.10).
enum class ProtocolId : uint8_t {
  none = 0,
  ike = 1,
  ah = 2,
  esp = 3,
  fc_esp_header = 4,         // RFC 4595
  fc_ct_authentication = 5,  // RFC 4595
  gike_update = 6,           // G-IKEv2
};

[[nodiscard]] constexpr std::string_view to_string(ProtocolId v) noexcept {
  switch (v) {
    case ProtocolId::none: return "NONE";
    case ProtocolId::ike: return "IKE";
    case ProtocolId::ah: return "AH";
    case ProtocolId::esp: return "ESP";
    case ProtocolId::fc_esp_header: return "FC_ESP_HEADER";
    case ProtocolId::fc_ct_authentication: return "FC_CT_AUTHENTICATION";
    case ProtocolId::gike_update: return "GIKE_UPDATE";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// IKEv2 Identification Payload ID Types (RFC 7296 §3.5). 4 and 6-8 are
// unassigned (IKEv1 subnet/range types that IKEv2 dropped).
enum class IdType : uint8_t {
  ipv4_addr = 1,
  fqdn = 2,
  rfc822_addr = 3,
  ipv6_addr = 5,
  der_asn1_dn = 9,
  der_asn1_gn = 10,
  key_id = 11,
  fc_name = 12,  // RFC 4595
  null_id = 13,  // RFC 7619
};

[[nodiscard]] constexpr std::string_view to_string(IdType v) noexcept {
  switch (v) {
    case IdType::ipv4_addr: return "ID_IPV4_ADDR";
    case IdType::fqdn: return "ID_FQDN";
    case IdType::rfc822_addr: return "ID_RFC822_ADDR";
    case IdType::ipv6_addr: return "ID_IPV6_ADDR";
    case IdType::der_asn1_dn: return "ID_DER_ASN1_DN";
    case IdType::der_asn1_gn: return "ID_DER_ASN1_GN";
    case IdType::key_id: return "ID_KEY_ID";
    case IdType::fc_name: return "ID_FC_NAME";
    case IdType::null_id: return "ID_NULL";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// IKEv2 Certificate Encodings (RFC 7296 §3.6), used by CERT and CERTREQ.
enum class CertEncoding : uint8_t {
  pkcs7_x509 = 1,
  pgp = 2,
  dns_signed_key = 3,
  x509_signature = 4,
  kerberos_token = 6,
  crl = 7,
  arl = 8,
  spki = 9,
  x509_attribute = 10,
  raw_rsa_key = 11,  // deprecated by RFC 7670
  hash_url_x509_cert = 12,
  hash_url_x509_bundle = 13,
  ocsp_content = 14,    // RFC 4806
  raw_public_key = 15,  // RFC 7670
};

[[nodiscard]] constexpr std::string_view to_string(CertEncoding v) noexcept {
  switch (v) {
    case CertEncoding::pkcs7_x509: return "PKCS #7 wrapped X.509 certificate";
    case CertEncoding::pgp: return "PGP Certificate";
    case CertEncoding::dns_signed_key: return "DNS Signed Key";
    case CertEncoding::x509_signature: return "X.509 Certificate - Signature";
    case CertEncoding::kerberos_token: return "Kerberos Token";
    case CertEncoding::crl: return "Certificate Revocation List (CRL)";
    case CertEncoding::arl: return "Authority Revocation List (ARL)";
    case CertEncoding::spki: return "SPKI Certificate";
    case CertEncoding::x509_attribute: return "X.509 Certificate - Attribute";
    case CertEncoding::raw_rsa_key: return "Raw RSA Key (DEPRECATED)";
    case CertEncoding::hash_url_x509_cert: return "Hash and URL of X.509 certificate";
    case CertEncoding::hash_url_x509_bundle: return "Hash and URL of X.509 bundle";
    case CertEncoding::ocsp_content: return "OCSP Content";
    case CertEncoding::raw_public_key: return "Raw Public Key";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// IKEv2 Authentication Method (RFC 7296 §3.8). 4-8 unassigned.
enum class AuthMethod : uint8_t {
  rsa_signature = 1,
  shared_key_mic = 2,
  dss_signature = 3,
  ecdsa_sha256_p256 = 9,  // RFC 4754
  ecdsa_sha384_p384 = 10,
  ecdsa_sha512_p521 = 11,
  generic_secure_password = 12,  // RFC 6467
  null_auth = 13,                // RFC 7619
  digital_signature = 14,        // RFC 7427: algorithm named inside AUTH
};

[[nodiscard]] constexpr std::string_view to_string(AuthMethod v) noexcept {
  switch (v) {
    case AuthMethod::rsa_signature: return "RSA_DIGITAL_SIGNATURE";
    case AuthMethod::shared_key_mic: return "SHARED_KEY_MIC";
    case AuthMethod::dss_signature: return "DSS_DIGITAL_SIGNATURE";
    case AuthMethod::ecdsa_sha256_p256: return "ECDSA_SHA256_P256";
    case AuthMethod::ecdsa_sha384_p384: return "ECDSA_SHA384_P384";
    case AuthMethod::ecdsa_sha512_p521: return "ECDSA_SHA512_P521";
    case AuthMethod::generic_secure_password: return "GENERIC_SECURE_PASSWORD";
    case AuthMethod::null_auth: return "NULL_AUTHENTICATION";
    case AuthMethod::digital_signature: return "DIGITAL_SIGNATURE";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// IKEv2 Notify Message Types (RFC 7296 §3.10.1): Error Types 0-16383
// (8192-16383 private use) and Status Types 16384-65535 (40960-65535 private
// use).
enum class NotifyType : uint16_t {
  // Error types.
  unsupported_critical_payload = 1,
  invalid_ike_spi = 4,
  invalid_major_version = 5,
  invalid_syntax = 7,
  invalid_message_id = 9,
  invalid_spi = 11,
  no_proposal_chosen = 14,
  invalid_ke_payload = 17,
  authentication_failed = 24,
  single_pair_required = 34,
  no_additional_sas = 35,
  internal_address_failure = 36,
  failed_cp_required = 37,
  ts_unacceptable = 38,
  invalid_selectors = 39,
  unacceptable_addresses = 40,   // RFC 4555
  unexpected_nat_detected = 41,  // RFC 4555
  use_assigned_hoa = 42,         // RFC 5026
  temporary_failure = 43,
  child_sa_not_found = 44,
  invalid_group_id = 45,  // G-IKEv2
  authorization_failed = 46,
  state_not_found = 47,      // RFC 9370
  ts_max_queue = 48,         // RFC 9611
  registration_failed = 49,  // G-IKEv2

  // Status types.
  initial_contact = 16384,
  set_window_size = 16385,
  additional_ts_possible = 16386,
  ipcomp_supported = 16387,
  nat_detection_source_ip = 16388,
  nat_detection_destination_ip = 16389,
  cookie = 16390,
  use_transport_mode = 16391,
  http_cert_lookup_supported = 16392,
  rekey_sa = 16393,
  esp_tfc_padding_not_supported = 16394,
  non_first_fragments_also = 16395,
  mobike_supported = 16396,  // RFC 4555
  additional_ip4_address = 16397,
  additional_ip6_address = 16398,
  no_additional_addresses = 16399,
  update_sa_addresses = 16400,
  cookie2 = 16401,
  no_nats_allowed = 16402,
  auth_lifetime = 16403,            // RFC 4478
  multiple_auth_supported = 16404,  // RFC 4739
  another_auth_follows = 16405,
  redirect_supported = 16406,  // RFC 5685
  redirect = 16407,
  redirected_from = 16408,
  ticket_lt_opaque = 16409,  // RFC 5723
  ticket_request = 16410,
  ticket_ack = 16411,
  ticket_nack = 16412,
  ticket_opaque = 16413,
  link_id = 16414,                          // RFC 5739
  use_wesp_mode = 16415,                    // RFC 5840
  rohc_supported = 16416,                   // RFC 5857
  eap_only_authentication = 16417,          // RFC 5998
  childless_ikev2_supported = 16418,        // RFC 6023
  quick_crash_detection = 16419,            // RFC 6290
  ikev2_message_id_sync_supported = 16420,  // RFC 6311
  ipsec_replay_counter_sync_supported = 16421,
  ikev2_message_id_sync = 16422,
  ipsec_replay_counter_sync = 16423,
  secure_password_methods = 16424,  // RFC 6467
  psk_persist = 16425,              // RFC 6631
  psk_confirm = 16426,
  erx_supported = 16427,                  // RFC 6867
  ifom_capability = 16428,                // 3GPP TS 24.303
  group_sender = 16429,                   // G-IKEv2 (was SENDER_REQUEST_ID)
  ikev2_fragmentation_supported = 16430,  // RFC 7383
  signature_hash_algorithms = 16431,      // RFC 7427
  clone_ike_sa_supported = 16432,         // RFC 7791
  clone_ike_sa = 16433,
  puzzle = 16434,   // RFC 8019
  use_ppk = 16435,  // RFC 8784
  ppk_identity = 16436,
  no_ppk_auth = 16437,
  intermediate_exchange_supported = 16438,  // RFC 9242
  ip4_allowed = 16439,                      // RFC 8983
  ip6_allowed = 16440,
  additional_key_exchange = 16441,  // RFC 9370
  use_aggfrag = 16442,              // RFC 9347
  supported_auth_methods = 16443,   // RFC 9593
  sa_resource_info = 16444,         // RFC 9611
  use_ppk_int = 16445,              // RFC 9867
  ppk_identity_key = 16446,
  ike_sa_init_full_transcript_auth = 16447,  // draft-ietf-ipsecme-ikev2-downgrade-prevention
};

// RFC 7296 §3.10.1: an unrecognized error type in a response means the
// request failed; an unrecognized status type is ignored. The split is by
// value, so it holds for unlisted values too.
[[nodiscard]] constexpr bool is_error(NotifyType v) noexcept { return static_cast<uint16_t>(v) < 16384; }
[[nodiscard]] constexpr bool is_status(NotifyType v) noexcept { return !is_error(v); }

[[nodiscard]] constexpr std::string_view to_string(NotifyType v) noexcept {
  switch (v) {
    case NotifyType::unsupported_critical_payload: return "UNSUPPORTED_CRITICAL_PAYLOAD";
    case NotifyType::invalid_ike_spi: return "INVALID_IKE_SPI";
    case NotifyType::invalid_major_version: return "INVALID_MAJOR_VERSION";
    case NotifyType::invalid_syntax: return "INVALID_SYNTAX";
    case NotifyType::invalid_message_id: return "INVALID_MESSAGE_ID";
    case NotifyType::invalid_spi: return "INVALID_SPI";
    case NotifyType::no_proposal_chosen: return "NO_PROPOSAL_CHOSEN";
    case NotifyType::invalid_ke_payload: return "INVALID_KE_PAYLOAD";
    case NotifyType::authentication_failed: return "AUTHENTICATION_FAILED";
    case NotifyType::single_pair_required: return "SINGLE_PAIR_REQUIRED";
    case NotifyType::no_additional_sas: return "NO_ADDITIONAL_SAS";
    case NotifyType::internal_address_failure: return "INTERNAL_ADDRESS_FAILURE";
    case NotifyType::failed_cp_required: return "FAILED_CP_REQUIRED";
    case NotifyType::ts_unacceptable: return "TS_UNACCEPTABLE";
    case NotifyType::invalid_selectors: return "INVALID_SELECTORS";
    case NotifyType::unacceptable_addresses: return "UNACCEPTABLE_ADDRESSES";
    case NotifyType::unexpected_nat_detected: return "UNEXPECTED_NAT_DETECTED";
    case NotifyType::use_assigned_hoa: return "USE_ASSIGNED_HoA";
    case NotifyType::temporary_failure: return "TEMPORARY_FAILURE";
    case NotifyType::child_sa_not_found: return "CHILD_SA_NOT_FOUND";
    case NotifyType::invalid_group_id: return "INVALID_GROUP_ID";
    case NotifyType::authorization_failed: return "AUTHORIZATION_FAILED";
    case NotifyType::state_not_found: return "STATE_NOT_FOUND";
    case NotifyType::ts_max_queue: return "TS_MAX_QUEUE";
    case NotifyType::registration_failed: return "REGISTRATION_FAILED";
    case NotifyType::initial_contact: return "INITIAL_CONTACT";
    case NotifyType::set_window_size: return "SET_WINDOW_SIZE";
    case NotifyType::additional_ts_possible: return "ADDITIONAL_TS_POSSIBLE";
    case NotifyType::ipcomp_supported: return "IPCOMP_SUPPORTED";
    case NotifyType::nat_detection_source_ip: return "NAT_DETECTION_SOURCE_IP";
    case NotifyType::nat_detection_destination_ip: return "NAT_DETECTION_DESTINATION_IP";
    case NotifyType::cookie: return "COOKIE";
    case NotifyType::use_transport_mode: return "USE_TRANSPORT_MODE";
    case NotifyType::http_cert_lookup_supported: return "HTTP_CERT_LOOKUP_SUPPORTED";
    case NotifyType::rekey_sa: return "REKEY_SA";
    case NotifyType::esp_tfc_padding_not_supported: return "ESP_TFC_PADDING_NOT_SUPPORTED";
    case NotifyType::non_first_fragments_also: return "NON_FIRST_FRAGMENTS_ALSO";
    case NotifyType::mobike_supported: return "MOBIKE_SUPPORTED";
    case NotifyType::additional_ip4_address: return "ADDITIONAL_IP4_ADDRESS";
    case NotifyType::additional_ip6_address: return "ADDITIONAL_IP6_ADDRESS";
    case NotifyType::no_additional_addresses: return "NO_ADDITIONAL_ADDRESSES";
    case NotifyType::update_sa_addresses: return "UPDATE_SA_ADDRESSES";
    case NotifyType::cookie2: return "COOKIE2";
    case NotifyType::no_nats_allowed: return "NO_NATS_ALLOWED";
    case NotifyType::auth_lifetime: return "AUTH_LIFETIME";
    case NotifyType::multiple_auth_supported: return "MULTIPLE_AUTH_SUPPORTED";
    case NotifyType::another_auth_follows: return "ANOTHER_AUTH_FOLLOWS";
    case NotifyType::redirect_supported: return "REDIRECT_SUPPORTED";
    case NotifyType::redirect: return "REDIRECT";
    case NotifyType::redirected_from: return "REDIRECTED_FROM";
    case NotifyType::ticket_lt_opaque: return "TICKET_LT_OPAQUE";
    case NotifyType::ticket_request: return "TICKET_REQUEST";
    case NotifyType::ticket_ack: return "TICKET_ACK";
    case NotifyType::ticket_nack: return "TICKET_NACK";
    case NotifyType::ticket_opaque: return "TICKET_OPAQUE";
    case NotifyType::link_id: return "LINK_ID";
    case NotifyType::use_wesp_mode: return "USE_WESP_MODE";
    case NotifyType::rohc_supported: return "ROHC_SUPPORTED";
    case NotifyType::eap_only_authentication: return "EAP_ONLY_AUTHENTICATION";
    case NotifyType::childless_ikev2_supported: return "CHILDLESS_IKEV2_SUPPORTED";
    case NotifyType::quick_crash_detection: return "QUICK_CRASH_DETECTION";
    case NotifyType::ikev2_message_id_sync_supported: return "IKEV2_MESSAGE_ID_SYNC_SUPPORTED";
    case NotifyType::ipsec_replay_counter_sync_supported: return "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED";
    case NotifyType::ikev2_message_id_sync: return "IKEV2_MESSAGE_ID_SYNC";
    case NotifyType::ipsec_replay_counter_sync: return "IPSEC_REPLAY_COUNTER_SYNC";
    case NotifyType::secure_password_methods: return "SECURE_PASSWORD_METHODS";
    case NotifyType::psk_persist: return "PSK_PERSIST";
    case NotifyType::psk_confirm: return "PSK_CONFIRM";
    case NotifyType::erx_supported: return "ERX_SUPPORTED";
    case NotifyType::ifom_capability: return "IFOM_CAPABILITY";
    case NotifyType::group_sender: return "GROUP_SENDER";
    case NotifyType::ikev2_fragmentation_supported: return "IKEV2_FRAGMENTATION_SUPPORTED";
    case NotifyType::signature_hash_algorithms: return "SIGNATURE_HASH_ALGORITHMS";
    case NotifyType::clone_ike_sa_supported: return "CLONE_IKE_SA_SUPPORTED";
    case NotifyType::clone_ike_sa: return "CLONE_IKE_SA";
    case NotifyType::puzzle: return "PUZZLE";
    case NotifyType::use_ppk: return "USE_PPK";
    case NotifyType::ppk_identity: return "PPK_IDENTITY";
    case NotifyType::no_ppk_auth: return "NO_PPK_AUTH";
    case NotifyType::intermediate_exchange_supported: return "INTERMEDIATE_EXCHANGE_SUPPORTED";
    case NotifyType::ip4_allowed: return "IP4_ALLOWED";
    case NotifyType::ip6_allowed: return "IP6_ALLOWED";
    case NotifyType::additional_key_exchange: return "ADDITIONAL_KEY_EXCHANGE";
    case NotifyType::use_aggfrag: return "USE_AGGFRAG";
    case NotifyType::supported_auth_methods: return "SUPPORTED_AUTH_METHODS";
    case NotifyType::sa_resource_info: return "SA_RESOURCE_INFO";
    case NotifyType::use_ppk_int: return "USE_PPK_INT";
    case NotifyType::ppk_identity_key: return "PPK_IDENTITY_KEY";
    case NotifyType::ike_sa_init_full_transcript_auth: return "IKE_SA_INIT_FULL_TRANSCRIPT_AUTH";
  }
  return "unknown";
}

// The compact mnemonic for one-line message summaries
// ("IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) ]").
// Values without a customary short form return the IANA name; unlisted
// values return "unknown".
[[nodiscard]] constexpr std::string_view short_name(NotifyType v) noexcept {
  switch (v) {
    case NotifyType::unsupported_critical_payload: return "UNSUPPORTED_CRIT";
    case NotifyType::invalid_ike_spi: return "INVAL_IKE_SPI";
    case NotifyType::invalid_major_version: return "INVAL_MAJOR";
    case NotifyType::invalid_syntax: return "INVAL_SYN";
    case NotifyType::invalid_message_id: return "INVAL_MID";
    case NotifyType::invalid_spi: return "INVAL_SPI";
    case NotifyType::no_proposal_chosen: return "NO_PROP";
    case NotifyType::invalid_ke_payload: return "INVAL_KE";
    case NotifyType::authentication_failed: return "AUTH_FAILED";
    case NotifyType::single_pair_required: return "SINGLE_PAIR";
    case NotifyType::no_additional_sas: return "NO_ADD_SAS";
    case NotifyType::internal_address_failure: return "INT_ADDR_FAIL";
    case NotifyType::failed_cp_required: return "FAIL_CP_REQ";
    case NotifyType::ts_unacceptable: return "TS_UNACCEPT";
    case NotifyType::invalid_selectors: return "INVAL_SEL";
    case NotifyType::unacceptable_addresses: return "UNACCEPT_ADDR";
    case NotifyType::unexpected_nat_detected: return "UNEXPECT_NAT";
    case NotifyType::use_assigned_hoa: return "USE_ASSIGNED_HoA";
    case NotifyType::temporary_failure: return "TEMP_FAIL";
    case NotifyType::child_sa_not_found: return "CHLD_SA_NOT_FOUND";
    case NotifyType::invalid_group_id: return "INVALID_GROUP_ID";
    case NotifyType::authorization_failed: return "AUTHORIZATION_FAILED";
    case NotifyType::state_not_found: return "STATE_NOT_FOUND";
    case NotifyType::ts_max_queue: return "TS_MAX_QUEUE";
    case NotifyType::registration_failed: return "REGISTRATION_FAILED";
    case NotifyType::initial_contact: return "INIT_CONTACT";
    case NotifyType::set_window_size: return "SET_WINSIZE";
    case NotifyType::additional_ts_possible: return "ADD_TS_POSS";
    case NotifyType::ipcomp_supported: return "IPCOMP_SUP";
    case NotifyType::nat_detection_source_ip: return "NATD_S_IP";
    case NotifyType::nat_detection_destination_ip: return "NATD_D_IP";
    case NotifyType::cookie: return "COOKIE";
    case NotifyType::use_transport_mode: return "USE_TRANSP";
    case NotifyType::http_cert_lookup_supported: return "HTTP_CERT_LOOKUP_SUP";
    case NotifyType::rekey_sa: return "REKEY_SA";
    case NotifyType::esp_tfc_padding_not_supported: return "ESP_TFC_PAD_N";
    case NotifyType::non_first_fragments_also: return "NON_FIRST_FRAG";
    case NotifyType::mobike_supported: return "MOBIKE_SUP";
    case NotifyType::additional_ip4_address: return "ADD_4_ADDR";
    case NotifyType::additional_ip6_address: return "ADD_6_ADDR";
    case NotifyType::no_additional_addresses: return "NO_ADD_ADDR";
    case NotifyType::update_sa_addresses: return "UPD_SA_ADDR";
    case NotifyType::cookie2: return "COOKIE2";
    case NotifyType::no_nats_allowed: return "NO_NATS";
    case NotifyType::auth_lifetime: return "AUTH_LFT";
    case NotifyType::multiple_auth_supported: return "MULT_AUTH";
    case NotifyType::another_auth_follows: return "AUTH_FOLLOWS";
    case NotifyType::redirect_supported: return "REDIR_SUP";
    case NotifyType::redirect: return "REDIR";
    case NotifyType::redirected_from: return "REDIR_FROM";
    case NotifyType::ticket_lt_opaque: return "TKT_LT_OPAK";
    case NotifyType::ticket_request: return "TKT_REQ";
    case NotifyType::ticket_ack: return "TKT_ACK";
    case NotifyType::ticket_nack: return "TKT_NACK";
    case NotifyType::ticket_opaque: return "TKT_OPAK";
    case NotifyType::link_id: return "LINK_ID";
    case NotifyType::use_wesp_mode: return "WESP_MODE";
    case NotifyType::rohc_supported: return "ROHC_SUP";
    case NotifyType::eap_only_authentication: return "EAP_ONLY";
    case NotifyType::childless_ikev2_supported: return "CHDLESS_SUP";
    case NotifyType::quick_crash_detection: return "QUICK_CRASH_DET";
    case NotifyType::ikev2_message_id_sync_supported: return "MSG_ID_SYN_SUP";
    case NotifyType::ipsec_replay_counter_sync_supported: return "RPL_CTR_SYN_SUP";
    case NotifyType::ikev2_message_id_sync: return "MSG_ID_SYN";
    case NotifyType::ipsec_replay_counter_sync: return "RPL_CTR_SYN";
    case NotifyType::secure_password_methods: return "SEC_PASSWD";
    case NotifyType::psk_persist: return "PSK_PST";
    case NotifyType::psk_confirm: return "PSK_CFM";
    case NotifyType::erx_supported: return "ERX_SUP";
    case NotifyType::ifom_capability: return "IFOM_CAP";
    case NotifyType::group_sender: return "GRP_SENDER";
    case NotifyType::ikev2_fragmentation_supported: return "FRAG_SUP";
    case NotifyType::signature_hash_algorithms: return "HASH_ALG";
    case NotifyType::clone_ike_sa_supported: return "CLONE_SUP";
    case NotifyType::clone_ike_sa: return "CLONE";
    case NotifyType::puzzle: return "PUZZLE";
    case NotifyType::use_ppk: return "USE_PPK";
    case NotifyType::ppk_identity: return "PPK_ID";
    case NotifyType::no_ppk_auth: return "NO_PPK_AUTH";
    case NotifyType::intermediate_exchange_supported: return "IKE_INT_SUP";
    case NotifyType::ip4_allowed: return "IP4_ALLOWED";
    case NotifyType::ip6_allowed: return "IP6_ALLOWED";
    case NotifyType::additional_key_exchange: return "ADD_KE";
    case NotifyType::use_aggfrag: return "USE_AGGFRAG";
    case NotifyType::supported_auth_methods: return "AUTH_METHODS";
    case NotifyType::sa_resource_info: return "SA_RES_INFO";
    case NotifyType::use_ppk_int: return "USE_PPK_INT";
    case NotifyType::ppk_identity_key: return "PPK_ID_KEY";
    case NotifyType::ike_sa_init_full_transcript_auth: return "FULL_TRANSCRIPT_AUTH";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// IKEv2 Traffic Selector Types (RFC 7296 §3.13.1). 0-6 reserved (IKEv1 ID
// types), 241-255 private use.
enum class TsType : uint8_t {
  ipv4_addr_range = 7,
  ipv6_addr_range = 8,
  fc_addr_range = 9,    // RFC 4595
  security_label = 10,  // RFC 9478
};

[[nodiscard]] constexpr std::string_view to_string(TsType v) noexcept {
  switch (v) {
    case TsType::ipv4_addr_range: return "TS_IPV4_ADDR_RANGE";
    case TsType::ipv6_addr_range: return "TS_IPV6_ADDR_RANGE";
    case TsType::fc_addr_range: return "TS_FC_ADDR_RANGE";
    case TsType::security_label: return "TS_SECLABEL";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// IKEv2 Configuration Payload CFG Types (RFC 7296 §3.15).
enum class CfgType : uint8_t {
  request = 1,
  reply = 2,
  set = 3,
  ack = 4,
};

[[nodiscard]] constexpr std::string_view to_string(CfgType v) noexcept {
  switch (v) {
    case CfgType::request: return "CFG_REQUEST";
    case CfgType::reply: return "CFG_REPLY";
    case CfgType::set: return "CFG_SET";
    case CfgType::ack: return "CFG_ACK";
  }
  return "unknown";
}

// Mnemonic for message summaries: "CP(CPRQ)".
[[nodiscard]] constexpr std::string_view short_name(CfgType v) noexcept {
  switch (v) {
    case CfgType::request: return "CPRQ";
    case CfgType::reply: return "CPRP";
    case CfgType::set: return "CPS";
    case CfgType::ack: return "CPA";
  }
  return "unknown";
}

// IKEv2 Configuration Payload Attribute Types (RFC 7296 §3.15.1). The type
// field is 15 bits (the top bit is reserved), so values above 0x7fff never
// come off the wire. 5, 9 and 11 are reserved (RFC 4306 attributes that
// RFC 5996 removed); 16384-32767 private use.
enum class CfgAttribute : uint16_t {
  internal_ip4_address = 1,
  internal_ip4_netmask = 2,
  internal_ip4_dns = 3,
  internal_ip4_nbns = 4,
  internal_ip4_dhcp = 6,
  application_version = 7,
  internal_ip6_address = 8,
  internal_ip6_dns = 10,
  internal_ip6_dhcp = 12,
  internal_ip4_subnet = 13,
  supported_attributes = 14,
  internal_ip6_subnet = 15,
  mip6_home_prefix = 16,                   // RFC 5026
  internal_ip6_link = 17,                  // RFC 5739
  internal_ip6_prefix = 18,                // RFC 5739
  home_agent_address = 19,                 // 3GPP TS 24.302
  p_cscf_ip4_address = 20,                 // RFC 7651
  p_cscf_ip6_address = 21,                 // RFC 7651
  ftt_kat = 22,                            // 3GPP TS 24.302
  external_source_ip4_nat_info = 23,       // 3GPP TS 29.139
  timeout_period_for_liveness_check = 24,  // 3GPP TS 24.302
  internal_dns_domain = 25,                // RFC 8598
  internal_dnssec_ta = 26,                 // RFC 8598
  encdns_ip4 = 27,                         // RFC 9464
  encdns_ip6 = 28,
  encdns_digest_info = 29,
};

[[nodiscard]] constexpr std::string_view to_string(CfgAttribute v) noexcept {
  switch (v) {
    case CfgAttribute::internal_ip4_address: return "INTERNAL_IP4_ADDRESS";
    case CfgAttribute::internal_ip4_netmask: return "INTERNAL_IP4_NETMASK";
    case CfgAttribute::internal_ip4_dns: return "INTERNAL_IP4_DNS";
    case CfgAttribute::internal_ip4_nbns: return "INTERNAL_IP4_NBNS";
    case CfgAttribute::internal_ip4_dhcp: return "INTERNAL_IP4_DHCP";
    case CfgAttribute::application_version: return "APPLICATION_VERSION";
    case CfgAttribute::internal_ip6_address: return "INTERNAL_IP6_ADDRESS";
    case CfgAttribute::internal_ip6_dns: return "INTERNAL_IP6_DNS";
    case CfgAttribute::internal_ip6_dhcp: return "INTERNAL_IP6_DHCP";
    case CfgAttribute::internal_ip4_subnet: return "INTERNAL_IP4_SUBNET";
    case CfgAttribute::supported_attributes: return "SUPPORTED_ATTRIBUTES";
    case CfgAttribute::internal_ip6_subnet: return "INTERNAL_IP6_SUBNET";
    case CfgAttribute::mip6_home_prefix: return "MIP6_HOME_PREFIX";
    case CfgAttribute::internal_ip6_link: return "INTERNAL_IP6_LINK";
    case CfgAttribute::internal_ip6_prefix: return "INTERNAL_IP6_PREFIX";
    case CfgAttribute::home_agent_address: return "HOME_AGENT_ADDRESS";
    case CfgAttribute::p_cscf_ip4_address: return "P_CSCF_IP4_ADDRESS";
    case CfgAttribute::p_cscf_ip6_address: return "P_CSCF_IP6_ADDRESS";
    case CfgAttribute::ftt_kat: return "FTT_KAT";
    case CfgAttribute::external_source_ip4_nat_info: return "EXTERNAL_SOURCE_IP4_NAT_INFO";
    case CfgAttribute::timeout_period_for_liveness_check: return "TIMEOUT_PERIOD_FOR_LIVENESS_CHECK";
    case CfgAttribute::internal_dns_domain: return "INTERNAL_DNS_DOMAIN";
    case CfgAttribute::internal_dnssec_ta: return "INTERNAL_DNSSEC_TA";
    case CfgAttribute::encdns_ip4: return "ENCDNS_IP4";
    case CfgAttribute::encdns_ip6: return "ENCDNS_IP6";
    case CfgAttribute::encdns_digest_info: return "ENCDNS_DIGEST_INFO";
  }
  return "unknown";
}

// The two value lengths an attribute may have: the length must equal `a` or
// `b` (a == b when only one is allowed). A zero length is the "please assign
// me one" form RFC 7296 §3.15.1 allows in a CFG_REQUEST.
struct CfgAttributeLengths {
  uint16_t a;
  uint16_t b;
};

// cfg_attribute_length_range returns the fixed value lengths allowed for `v`
// by the Length column of RFC 7296 §3.15.1 and the registry, or nullopt when
// the value is variable-length (APPLICATION_VERSION, SUPPORTED_ATTRIBUTES,
// INTERNAL_IP6_LINK, the DNS attributes) or the type is unlisted. For the
// variable-length ones use cfg_attribute_length_ok, which knows their rules.
[[nodiscard]] constexpr std::optional<CfgAttributeLengths> cfg_attribute_length_range(
    CfgAttribute v) noexcept {
  using L = CfgAttributeLengths;
  switch (v) {
    case CfgAttribute::internal_ip4_address:
    case CfgAttribute::internal_ip4_netmask:
    case CfgAttribute::internal_ip4_dns:
    case CfgAttribute::internal_ip4_nbns:
    case CfgAttribute::internal_ip4_dhcp:
    case CfgAttribute::p_cscf_ip4_address: return L{0, 4};
    // Address plus a one-octet prefix length.
    case CfgAttribute::internal_ip6_address: return L{0, 17};
    case CfgAttribute::internal_ip6_dns:
    case CfgAttribute::internal_ip6_dhcp:
    case CfgAttribute::p_cscf_ip6_address: return L{0, 16};
    // Address plus netmask.
    case CfgAttribute::internal_ip4_subnet: return L{0, 8};
    // The table lists no empty form for this one (nor for INTERNAL_IP6_PREFIX).
    case CfgAttribute::internal_ip6_subnet: return L{17, 17};
    // RFC 5026 §4.2.1: lifetime (4), prefix (16), prefix length (1).
    case CfgAttribute::mip6_home_prefix: return L{0, 21};
    case CfgAttribute::internal_ip6_prefix: return L{17, 17};
    // 3GPP TS 24.302: an IPv6 address, optionally followed by an IPv4 one.
    case CfgAttribute::home_agent_address: return L{16, 20};
    case CfgAttribute::ftt_kat: return L{2, 2};
    case CfgAttribute::external_source_ip4_nat_info: return L{0, 6};
    case CfgAttribute::timeout_period_for_liveness_check: return L{0, 4};
    case CfgAttribute::application_version:
    case CfgAttribute::supported_attributes:
    case CfgAttribute::internal_ip6_link:
    case CfgAttribute::internal_dns_domain:
    case CfgAttribute::internal_dnssec_ta:
    case CfgAttribute::encdns_ip4:
    case CfgAttribute::encdns_ip6:
    case CfgAttribute::encdns_digest_info: return std::nullopt;
  }
  return std::nullopt;
}

// cfg_attribute_length_ok reports whether a value of `len` octets is allowed
// for `v`. Fixed-length attributes must match cfg_attribute_length_range;
// SUPPORTED_ATTRIBUTES is a list of 2-octet types; INTERNAL_IP6_LINK carries
// an 8-octet interface ID before its link ID (RFC 5739 §3.2). Other
// variable-length and unlisted types accept any length: their contents are
// checked by whoever understands them.
[[nodiscard]] constexpr bool cfg_attribute_length_ok(CfgAttribute v, size_t len) noexcept {
  if (const auto r = cfg_attribute_length_range(v)) return len == r->a || len == r->b;
  if (v == CfgAttribute::supported_attributes) return len % 2 == 0;
  if (v == CfgAttribute::internal_ip6_link) return len >= 8;
  return true;
}

// ---------------------------------------------------------------------------
// EAP Codes (RFC 3748 §4), for the one-line summary of an EAP payload
// (RFC 7296 §3.16).
enum class EapCode : uint8_t {
  request = 1,
  response = 2,
  success = 3,
  failure = 4,
  initiate = 5,  // RFC 6696 (ERP)
  finish = 6,
};

[[nodiscard]] constexpr std::string_view to_string(EapCode v) noexcept {
  switch (v) {
    case EapCode::request: return "REQ";
    case EapCode::response: return "RES";
    case EapCode::success: return "SUCC";
    case EapCode::failure: return "FAIL";
    case EapCode::initiate: return "INIT";
    case EapCode::finish: return "FIN";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// transform_id_name names Transform ID `id` of a transform of type `type`
// (RFC 7296 §3.3.2: the ID's meaning depends on the type). RFC 9370 §2.2.2:
// ADDKE1..7 draw their IDs from the Key Exchange Method registry. Returns
// "unknown" for unlisted IDs and for types whose ID registries this library
// does not carry (KWA, GCAUTH, unlisted types).
[[nodiscard]] constexpr std::string_view transform_id_name(TransformType type, uint16_t id) noexcept {
  switch (type) {
    case TransformType::encr: return crypto::to_string(static_cast<crypto::EncrId>(id));
    case TransformType::prf: return crypto::to_string(static_cast<crypto::PrfId>(id));
    case TransformType::integ: return crypto::to_string(static_cast<crypto::IntegId>(id));
    case TransformType::esn: return to_string(static_cast<EsnId>(id));
    case TransformType::ke:
    case TransformType::addke1:
    case TransformType::addke2:
    case TransformType::addke3:
    case TransformType::addke4:
    case TransformType::addke5:
    case TransformType::addke6:
    case TransformType::addke7: return crypto::to_string(static_cast<crypto::KeGroup>(id));
    case TransformType::kwa:
    case TransformType::gcauth: return "unknown";
  }
  return "unknown";
}

}  // namespace ipsec::wire
