// SPDX-License-Identifier: Apache-2.0
#include "ipsec/wire/ike_enums.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

using namespace ipsec::wire;

namespace {

// Every listed enumerator has a real name, and no two share one (a copy-paste
// slip in a switch would otherwise print the wrong registry entry).
template <typename E, typename F>
void check_names(std::initializer_list<E> all, F name) {
  std::set<std::string> seen;
  std::set<uint32_t> values;
  for (const E e : all) {
    const std::string_view n = name(e);
    INFO("value " << static_cast<uint32_t>(e) << " name " << std::string(n));
    CHECK(n != "unknown");
    CHECK_FALSE(n.empty());
    CHECK(seen.insert(std::string(n)).second);
    CHECK(values.insert(static_cast<uint32_t>(e)).second);
  }
}

template <typename E>
void check_names(std::initializer_list<E> all) {
  check_names(all, [](E e) { return to_string(e); });
}

// Every value of the field that is not in `all` prints "unknown".
template <typename E, typename F>
void check_unlisted_unknown(std::initializer_list<E> all, uint32_t max, F name) {
  std::set<uint32_t> listed;
  for (const E e : all) listed.insert(static_cast<uint32_t>(e));
  for (uint32_t v = 0; v <= max; ++v) {
    if (listed.count(v) != 0) continue;
    INFO("value " << v);
    CHECK(name(static_cast<E>(v)) == "unknown");
  }
}

template <typename E>
void check_unlisted_unknown(std::initializer_list<E> all, uint32_t max) {
  check_unlisted_unknown(all, max, [](E e) { return to_string(e); });
}

constexpr std::initializer_list<ExchangeType> kExchangeTypes = {
    ExchangeType::ike_sa_init,      ExchangeType::ike_auth,           ExchangeType::create_child_sa,
    ExchangeType::informational,    ExchangeType::ike_session_resume, ExchangeType::gsa_auth,
    ExchangeType::gsa_registration, ExchangeType::gsa_rekey,          ExchangeType::gsa_inband_rekey,
    ExchangeType::ike_intermediate, ExchangeType::ike_followup_ke,
};

constexpr std::initializer_list<PayloadType> kPayloadTypes = {
    PayloadType::none, PayloadType::sa,        PayloadType::ke,   PayloadType::id_i,  PayloadType::id_r,
    PayloadType::cert, PayloadType::certreq,   PayloadType::auth, PayloadType::nonce, PayloadType::notify,
    PayloadType::del,  PayloadType::vendor_id, PayloadType::ts_i, PayloadType::ts_r,  PayloadType::sk,
    PayloadType::cp,   PayloadType::eap,       PayloadType::gspm, PayloadType::id_g,  PayloadType::gsa,
    PayloadType::kd,   PayloadType::skf,       PayloadType::ps,
};

constexpr std::initializer_list<TransformType> kTransformTypes = {
    TransformType::encr,   TransformType::prf,    TransformType::integ,  TransformType::ke,
    TransformType::esn,    TransformType::addke1, TransformType::addke2, TransformType::addke3,
    TransformType::addke4, TransformType::addke5, TransformType::addke6, TransformType::addke7,
    TransformType::kwa,    TransformType::gcauth,
};

constexpr std::initializer_list<EsnId> kEsnIds = {EsnId::no_esn, EsnId::esn, EsnId::unspecified_32};

constexpr std::initializer_list<TransformAttributeType> kTransformAttributeTypes = {
    TransformAttributeType::key_length};

constexpr std::initializer_list<ProtocolId> kProtocolIds = {
    ProtocolId::none,        ProtocolId::ike,           ProtocolId::ah,
    ProtocolId::esp,         ProtocolId::fc_esp_header, ProtocolId::fc_ct_authentication,
    ProtocolId::gike_update,
};

constexpr std::initializer_list<IdType> kIdTypes = {
    IdType::ipv4_addr,   IdType::fqdn,   IdType::rfc822_addr, IdType::ipv6_addr, IdType::der_asn1_dn,
    IdType::der_asn1_gn, IdType::key_id, IdType::fc_name,     IdType::null_id,
};

constexpr std::initializer_list<CertEncoding> kCertEncodings = {
    CertEncoding::pkcs7_x509,
    CertEncoding::pgp,
    CertEncoding::dns_signed_key,
    CertEncoding::x509_signature,
    CertEncoding::kerberos_token,
    CertEncoding::crl,
    CertEncoding::arl,
    CertEncoding::spki,
    CertEncoding::x509_attribute,
    CertEncoding::raw_rsa_key,
    CertEncoding::hash_url_x509_cert,
    CertEncoding::hash_url_x509_bundle,
    CertEncoding::ocsp_content,
    CertEncoding::raw_public_key,
};

constexpr std::initializer_list<AuthMethod> kAuthMethods = {
    AuthMethod::rsa_signature,           AuthMethod::shared_key_mic,    AuthMethod::dss_signature,
    AuthMethod::ecdsa_sha256_p256,       AuthMethod::ecdsa_sha384_p384, AuthMethod::ecdsa_sha512_p521,
    AuthMethod::generic_secure_password, AuthMethod::null_auth,         AuthMethod::digital_signature,
};

constexpr std::initializer_list<NotifyType> kNotifyTypes = {
    NotifyType::unsupported_critical_payload,
    NotifyType::invalid_ike_spi,
    NotifyType::invalid_major_version,
    NotifyType::invalid_syntax,
    NotifyType::invalid_message_id,
    NotifyType::invalid_spi,
    NotifyType::no_proposal_chosen,
    NotifyType::invalid_ke_payload,
    NotifyType::authentication_failed,
    NotifyType::single_pair_required,
    NotifyType::no_additional_sas,
    NotifyType::internal_address_failure,
    NotifyType::failed_cp_required,
    NotifyType::ts_unacceptable,
    NotifyType::invalid_selectors,
    NotifyType::unacceptable_addresses,
    NotifyType::unexpected_nat_detected,
    NotifyType::use_assigned_hoa,
    NotifyType::temporary_failure,
    NotifyType::child_sa_not_found,
    NotifyType::invalid_group_id,
    NotifyType::authorization_failed,
    NotifyType::state_not_found,
    NotifyType::ts_max_queue,
    NotifyType::registration_failed,
    NotifyType::initial_contact,
    NotifyType::set_window_size,
    NotifyType::additional_ts_possible,
    NotifyType::ipcomp_supported,
    NotifyType::nat_detection_source_ip,
    NotifyType::nat_detection_destination_ip,
    NotifyType::cookie,
    NotifyType::use_transport_mode,
    NotifyType::http_cert_lookup_supported,
    NotifyType::rekey_sa,
    NotifyType::esp_tfc_padding_not_supported,
    NotifyType::non_first_fragments_also,
    NotifyType::mobike_supported,
    NotifyType::additional_ip4_address,
    NotifyType::additional_ip6_address,
    NotifyType::no_additional_addresses,
    NotifyType::update_sa_addresses,
    NotifyType::cookie2,
    NotifyType::no_nats_allowed,
    NotifyType::auth_lifetime,
    NotifyType::multiple_auth_supported,
    NotifyType::another_auth_follows,
    NotifyType::redirect_supported,
    NotifyType::redirect,
    NotifyType::redirected_from,
    NotifyType::ticket_lt_opaque,
    NotifyType::ticket_request,
    NotifyType::ticket_ack,
    NotifyType::ticket_nack,
    NotifyType::ticket_opaque,
    NotifyType::link_id,
    NotifyType::use_wesp_mode,
    NotifyType::rohc_supported,
    NotifyType::eap_only_authentication,
    NotifyType::childless_ikev2_supported,
    NotifyType::quick_crash_detection,
    NotifyType::ikev2_message_id_sync_supported,
    NotifyType::ipsec_replay_counter_sync_supported,
    NotifyType::ikev2_message_id_sync,
    NotifyType::ipsec_replay_counter_sync,
    NotifyType::secure_password_methods,
    NotifyType::psk_persist,
    NotifyType::psk_confirm,
    NotifyType::erx_supported,
    NotifyType::ifom_capability,
    NotifyType::group_sender,
    NotifyType::ikev2_fragmentation_supported,
    NotifyType::signature_hash_algorithms,
    NotifyType::clone_ike_sa_supported,
    NotifyType::clone_ike_sa,
    NotifyType::puzzle,
    NotifyType::use_ppk,
    NotifyType::ppk_identity,
    NotifyType::no_ppk_auth,
    NotifyType::intermediate_exchange_supported,
    NotifyType::ip4_allowed,
    NotifyType::ip6_allowed,
    NotifyType::additional_key_exchange,
    NotifyType::use_aggfrag,
    NotifyType::supported_auth_methods,
    NotifyType::sa_resource_info,
    NotifyType::use_ppk_int,
    NotifyType::ppk_identity_key,
    NotifyType::ike_sa_init_full_transcript_auth,
};

constexpr std::initializer_list<TsType> kTsTypes = {TsType::ipv4_addr_range, TsType::ipv6_addr_range,
                                                    TsType::fc_addr_range, TsType::security_label};

constexpr std::initializer_list<CfgType> kCfgTypes = {CfgType::request, CfgType::reply, CfgType::set,
                                                      CfgType::ack};

constexpr std::initializer_list<CfgAttribute> kCfgAttributes = {
    CfgAttribute::internal_ip4_address,
    CfgAttribute::internal_ip4_netmask,
    CfgAttribute::internal_ip4_dns,
    CfgAttribute::internal_ip4_nbns,
    CfgAttribute::internal_ip4_dhcp,
    CfgAttribute::application_version,
    CfgAttribute::internal_ip6_address,
    CfgAttribute::internal_ip6_dns,
    CfgAttribute::internal_ip6_dhcp,
    CfgAttribute::internal_ip4_subnet,
    CfgAttribute::supported_attributes,
    CfgAttribute::internal_ip6_subnet,
    CfgAttribute::mip6_home_prefix,
    CfgAttribute::internal_ip6_link,
    CfgAttribute::internal_ip6_prefix,
    CfgAttribute::home_agent_address,
    CfgAttribute::p_cscf_ip4_address,
    CfgAttribute::p_cscf_ip6_address,
    CfgAttribute::ftt_kat,
    CfgAttribute::external_source_ip4_nat_info,
    CfgAttribute::timeout_period_for_liveness_check,
    CfgAttribute::internal_dns_domain,
    CfgAttribute::internal_dnssec_ta,
    CfgAttribute::encdns_ip4,
    CfgAttribute::encdns_ip6,
    CfgAttribute::encdns_digest_info,
};

constexpr std::initializer_list<EapCode> kEapCodes = {EapCode::request, EapCode::response, EapCode::success,
                                                      EapCode::failure, EapCode::initiate, EapCode::finish};

}  // namespace

TEST_CASE("IKE enums: every listed value has a unique name") {
  check_names(kExchangeTypes);
  check_names(kPayloadTypes);
  check_names(kPayloadTypes, [](PayloadType p) { return long_name(p); });
  check_names(kTransformTypes);
  check_names(kEsnIds);
  check_names(kTransformAttributeTypes);
  check_names(kProtocolIds);
  check_names(kIdTypes);
  check_names(kCertEncodings);
  check_names(kAuthMethods);
  check_names(kNotifyTypes);
  check_names(kNotifyTypes, [](NotifyType n) { return short_name(n); });
  check_names(kTsTypes);
  check_names(kCfgTypes);
  check_names(kCfgTypes, [](CfgType c) { return short_name(c); });
  check_names(kCfgAttributes);
  check_names(kEapCodes);
}

TEST_CASE("IKE enums: unlisted values print unknown") {
  check_unlisted_unknown(kExchangeTypes, 0xff);
  check_unlisted_unknown(kPayloadTypes, 0xff);
  check_unlisted_unknown(kPayloadTypes, 0xff, [](PayloadType p) { return long_name(p); });
  check_unlisted_unknown(kTransformTypes, 0xff);
  check_unlisted_unknown(kEsnIds, 0xffff);
  check_unlisted_unknown(kTransformAttributeTypes, 0xffff);
  check_unlisted_unknown(kProtocolIds, 0xff);
  check_unlisted_unknown(kIdTypes, 0xff);
  check_unlisted_unknown(kCertEncodings, 0xff);
  check_unlisted_unknown(kAuthMethods, 0xff);
  check_unlisted_unknown(kNotifyTypes, 0xffff);
  check_unlisted_unknown(kNotifyTypes, 0xffff, [](NotifyType n) { return short_name(n); });
  check_unlisted_unknown(kTsTypes, 0xff);
  check_unlisted_unknown(kCfgTypes, 0xff);
  check_unlisted_unknown(kCfgTypes, 0xff, [](CfgType c) { return short_name(c); });
  check_unlisted_unknown(kCfgAttributes, 0xffff);
  check_unlisted_unknown(kEapCodes, 0xff);

  // Reserved and private-use values are representable, and unnamed.
  CHECK(to_string(static_cast<NotifyType>(0)) == "unknown");
  CHECK(to_string(static_cast<NotifyType>(40960)) == "unknown");  // private-use status
  CHECK(to_string(static_cast<PayloadType>(1)) == "unknown");     // IKEv1 range
  CHECK(to_string(static_cast<CfgAttribute>(5)) == "unknown");    // reserved since RFC 5996
  CHECK(to_string(static_cast<IdType>(4)) == "unknown");
}

TEST_CASE("IKE enums: values match RFC 7296 section 3 and the registry") {
  // RFC 7296 §3.1.
  static_assert(static_cast<uint8_t>(ExchangeType::ike_sa_init) == 34);
  static_assert(static_cast<uint8_t>(ExchangeType::informational) == 37);
  static_assert(static_cast<uint8_t>(ExchangeType::ike_intermediate) == 43);  // RFC 9242 §5
  static_assert(static_cast<uint8_t>(ExchangeType::ike_followup_ke) == 44);   // RFC 9370 §5
  // RFC 7296 §3.2.
  static_assert(static_cast<uint8_t>(PayloadType::sa) == 33);
  static_assert(static_cast<uint8_t>(PayloadType::sk) == 46);
  static_assert(static_cast<uint8_t>(PayloadType::eap) == 48);
  static_assert(static_cast<uint8_t>(PayloadType::skf) == 53);  // RFC 7383 §2.5
  static_assert(static_cast<uint8_t>(PayloadType::ps) == 54);   // RFC 8019 §8.1
  // RFC 7296 §3.3.2; RFC 9370 §2.2.
  static_assert(static_cast<uint8_t>(TransformType::esn) == 5);
  static_assert(static_cast<uint8_t>(TransformType::addke1) == 6);
  static_assert(static_cast<uint8_t>(TransformType::addke7) == 12);
  // RFC 7296 §3.3.5.
  static_assert(static_cast<uint16_t>(TransformAttributeType::key_length) == 14);
  // RFC 7296 §3.5, RFC 7619 §3.
  static_assert(static_cast<uint8_t>(IdType::ipv6_addr) == 5);
  static_assert(static_cast<uint8_t>(IdType::key_id) == 11);
  static_assert(static_cast<uint8_t>(IdType::null_id) == 13);
  // RFC 7296 §3.6.
  static_assert(static_cast<uint8_t>(CertEncoding::x509_signature) == 4);
  static_assert(static_cast<uint8_t>(CertEncoding::hash_url_x509_bundle) == 13);
  // RFC 7296 §3.8, RFC 4754 §3, RFC 7427 §3.
  static_assert(static_cast<uint8_t>(AuthMethod::shared_key_mic) == 2);
  static_assert(static_cast<uint8_t>(AuthMethod::ecdsa_sha256_p256) == 9);
  static_assert(static_cast<uint8_t>(AuthMethod::digital_signature) == 14);
  // RFC 7296 §3.10.1.
  static_assert(static_cast<uint16_t>(NotifyType::invalid_ke_payload) == 17);
  static_assert(static_cast<uint16_t>(NotifyType::authentication_failed) == 24);
  static_assert(static_cast<uint16_t>(NotifyType::child_sa_not_found) == 44);
  static_assert(static_cast<uint16_t>(NotifyType::nat_detection_destination_ip) == 16389);
  static_assert(static_cast<uint16_t>(NotifyType::cookie) == 16390);
  static_assert(static_cast<uint16_t>(NotifyType::rekey_sa) == 16393);
  static_assert(static_cast<uint16_t>(NotifyType::ikev2_fragmentation_supported) == 16430);  // RFC 7383 §2.3
  static_assert(static_cast<uint16_t>(NotifyType::signature_hash_algorithms) == 16431);      // RFC 7427 §4
  static_assert(static_cast<uint16_t>(NotifyType::use_ppk) == 16435);                        // RFC 8784 §3
  static_assert(static_cast<uint16_t>(NotifyType::intermediate_exchange_supported) == 16438);  // RFC 9242 §5
  static_assert(static_cast<uint16_t>(NotifyType::additional_key_exchange) == 16441);          // RFC 9370 §5
  static_assert(static_cast<uint16_t>(NotifyType::use_aggfrag) == 16442);                      // RFC 9347 §6
  // RFC 7296 §3.13.1, RFC 9478 §4.
  static_assert(static_cast<uint8_t>(TsType::ipv4_addr_range) == 7);
  static_assert(static_cast<uint8_t>(TsType::security_label) == 10);
  // RFC 7296 §3.15, §3.15.1.
  static_assert(static_cast<uint8_t>(CfgType::ack) == 4);
  static_assert(static_cast<uint16_t>(CfgAttribute::internal_ip6_address) == 8);
  static_assert(static_cast<uint16_t>(CfgAttribute::internal_ip6_subnet) == 15);
  static_assert(static_cast<uint16_t>(CfgAttribute::internal_dns_domain) == 25);  // RFC 8598 §5

  CHECK(to_string(ExchangeType::create_child_sa) == "CREATE_CHILD_SA");
  CHECK(to_string(PayloadType::nonce) == "No");
  CHECK(to_string(PayloadType::id_i) == "IDi");
  CHECK(long_name(PayloadType::sk) == "Encrypted and Authenticated");
  CHECK(long_name(PayloadType::skf) == "Encrypted and Authenticated Fragment");
  CHECK(to_string(TransformType::addke3) == "ADDKE3");
  CHECK(to_string(ProtocolId::none) == "NONE");
  CHECK(to_string(IdType::null_id) == "ID_NULL");
  CHECK(to_string(CertEncoding::x509_signature) == "X.509 Certificate - Signature");
  CHECK(to_string(AuthMethod::null_auth) == "NULL_AUTHENTICATION");
  CHECK(to_string(NotifyType::nat_detection_source_ip) == "NAT_DETECTION_SOURCE_IP");
  CHECK(to_string(NotifyType::use_assigned_hoa) == "USE_ASSIGNED_HoA");  // the registry's spelling
  CHECK(to_string(TsType::security_label) == "TS_SECLABEL");
  CHECK(to_string(CfgAttribute::internal_ip4_address) == "INTERNAL_IP4_ADDRESS");
  CHECK(to_string(EapCode::success) == "SUCC");
}

TEST_CASE("IKE enums: notify short names for log summaries") {
  CHECK(short_name(NotifyType::nat_detection_source_ip) == "NATD_S_IP");
  CHECK(short_name(NotifyType::nat_detection_destination_ip) == "NATD_D_IP");
  CHECK(short_name(NotifyType::ikev2_fragmentation_supported) == "FRAG_SUP");
  CHECK(short_name(NotifyType::signature_hash_algorithms) == "HASH_ALG");
  CHECK(short_name(NotifyType::childless_ikev2_supported) == "CHDLESS_SUP");
  CHECK(short_name(NotifyType::multiple_auth_supported) == "MULT_AUTH");
  CHECK(short_name(NotifyType::initial_contact) == "INIT_CONTACT");
  CHECK(short_name(NotifyType::eap_only_authentication) == "EAP_ONLY");
  CHECK(short_name(NotifyType::ikev2_message_id_sync_supported) == "MSG_ID_SYN_SUP");
  CHECK(short_name(NotifyType::auth_lifetime) == "AUTH_LFT");
  CHECK(short_name(NotifyType::mobike_supported) == "MOBIKE_SUP");
  CHECK(short_name(NotifyType::additional_ip4_address) == "ADD_4_ADDR");
  CHECK(short_name(NotifyType::additional_ip6_address) == "ADD_6_ADDR");
  CHECK(short_name(NotifyType::no_additional_addresses) == "NO_ADD_ADDR");
  CHECK(short_name(NotifyType::update_sa_addresses) == "UPD_SA_ADDR");
  CHECK(short_name(NotifyType::rekey_sa) == "REKEY_SA");
  CHECK(short_name(NotifyType::esp_tfc_padding_not_supported) == "ESP_TFC_PAD_N");
  CHECK(short_name(NotifyType::use_transport_mode) == "USE_TRANSP");
  CHECK(short_name(NotifyType::cookie) == "COOKIE");
  CHECK(short_name(NotifyType::cookie2) == "COOKIE2");
  CHECK(short_name(NotifyType::invalid_ke_payload) == "INVAL_KE");
  CHECK(short_name(NotifyType::no_proposal_chosen) == "NO_PROP");
  CHECK(short_name(NotifyType::ts_unacceptable) == "TS_UNACCEPT");
  CHECK(short_name(NotifyType::authentication_failed) == "AUTH_FAILED");
  CHECK(short_name(NotifyType::invalid_syntax) == "INVAL_SYN");
  CHECK(short_name(NotifyType::invalid_major_version) == "INVAL_MAJOR");
  CHECK(short_name(NotifyType::invalid_spi) == "INVAL_SPI");
  CHECK(short_name(NotifyType::invalid_ike_spi) == "INVAL_IKE_SPI");
  CHECK(short_name(NotifyType::invalid_message_id) == "INVAL_MID");
  CHECK(short_name(NotifyType::unsupported_critical_payload) == "UNSUPPORTED_CRIT");
  CHECK(short_name(NotifyType::temporary_failure) == "TEMP_FAIL");
  CHECK(short_name(NotifyType::child_sa_not_found) == "CHLD_SA_NOT_FOUND");
  CHECK(short_name(NotifyType::set_window_size) == "SET_WINSIZE");
  CHECK(short_name(NotifyType::additional_ts_possible) == "ADD_TS_POSS");
  CHECK(short_name(NotifyType::ipcomp_supported) == "IPCOMP_SUP");
  CHECK(short_name(NotifyType::non_first_fragments_also) == "NON_FIRST_FRAG");
  CHECK(short_name(NotifyType::redirect_supported) == "REDIR_SUP");
  CHECK(short_name(NotifyType::redirect) == "REDIR");
  CHECK(short_name(NotifyType::redirected_from) == "REDIR_FROM");
  CHECK(short_name(NotifyType::single_pair_required) == "SINGLE_PAIR");
  CHECK(short_name(NotifyType::no_additional_sas) == "NO_ADD_SAS");
  CHECK(short_name(NotifyType::internal_address_failure) == "INT_ADDR_FAIL");
  CHECK(short_name(NotifyType::failed_cp_required) == "FAIL_CP_REQ");
  CHECK(short_name(NotifyType::invalid_selectors) == "INVAL_SEL");
  CHECK(short_name(NotifyType::unacceptable_addresses) == "UNACCEPT_ADDR");
  CHECK(short_name(NotifyType::unexpected_nat_detected) == "UNEXPECT_NAT");
  CHECK(short_name(NotifyType::intermediate_exchange_supported) == "IKE_INT_SUP");
  // No customary short form: the IANA name.
  CHECK(short_name(NotifyType::state_not_found) == "STATE_NOT_FOUND");
  CHECK(short_name(NotifyType::use_ppk) == "USE_PPK");

  CHECK(short_name(CfgType::request) == "CPRQ");
  CHECK(short_name(CfgType::reply) == "CPRP");
  CHECK(short_name(CfgType::set) == "CPS");
  CHECK(short_name(CfgType::ack) == "CPA");
}

TEST_CASE("IKE enums: is_error splits the notify space at 16384 (RFC 7296 3.10.1)") {
  static_assert(is_error(NotifyType::invalid_syntax));
  static_assert(!is_status(NotifyType::invalid_syntax));
  static_assert(is_status(NotifyType::initial_contact));
  static_assert(!is_error(NotifyType::initial_contact));
  for (const NotifyType n : kNotifyTypes) {
    INFO(std::string(to_string(n)));
    CHECK(is_error(n) == (static_cast<uint16_t>(n) < 16384));
    CHECK(is_error(n) != is_status(n));
  }
  // Unlisted values are classified by range too.
  CHECK(is_error(static_cast<NotifyType>(16383)));  // private-use error
  CHECK(is_error(static_cast<NotifyType>(8192)));
  CHECK(is_status(static_cast<NotifyType>(16384 + 1000)));
  CHECK(is_status(static_cast<NotifyType>(65535)));
}

TEST_CASE("IKE enums: configuration attribute lengths (RFC 7296 3.15.1 table)") {
  struct Row {
    CfgAttribute attr;
    uint16_t a;
    uint16_t b;
  };
  constexpr Row kFixed[] = {
      {CfgAttribute::internal_ip4_address, 0, 4},
      {CfgAttribute::internal_ip4_netmask, 0, 4},
      {CfgAttribute::internal_ip4_dns, 0, 4},
      {CfgAttribute::internal_ip4_nbns, 0, 4},
      {CfgAttribute::internal_ip4_dhcp, 0, 4},
      {CfgAttribute::internal_ip6_address, 0, 17},
      {CfgAttribute::internal_ip6_dns, 0, 16},
      {CfgAttribute::internal_ip6_dhcp, 0, 16},
      {CfgAttribute::internal_ip4_subnet, 0, 8},
      {CfgAttribute::internal_ip6_subnet, 17, 17},
      {CfgAttribute::mip6_home_prefix, 0, 21},
      {CfgAttribute::internal_ip6_prefix, 17, 17},
      {CfgAttribute::home_agent_address, 16, 20},
      {CfgAttribute::p_cscf_ip4_address, 0, 4},  // RFC 7651 §3
      {CfgAttribute::p_cscf_ip6_address, 0, 16},
      {CfgAttribute::ftt_kat, 2, 2},
      {CfgAttribute::external_source_ip4_nat_info, 0, 6},
      {CfgAttribute::timeout_period_for_liveness_check, 0, 4},
  };
  for (const Row& row : kFixed) {
    INFO(std::string(to_string(row.attr)));
    const auto r = cfg_attribute_length_range(row.attr);
    REQUIRE(r.has_value());
    CHECK(r->a == row.a);
    CHECK(r->b == row.b);
    for (size_t len = 0; len <= 40; ++len) {
      CHECK(cfg_attribute_length_ok(row.attr, len) == (len == row.a || len == row.b));
    }
  }

  // The parser's motivating case: a 3-octet INTERNAL_IP4_ADDRESS is malformed.
  CHECK_FALSE(cfg_attribute_length_ok(CfgAttribute::internal_ip4_address, 3));
  CHECK_FALSE(cfg_attribute_length_ok(CfgAttribute::internal_ip6_address, 16));  // prefix length missing
  CHECK_FALSE(cfg_attribute_length_ok(CfgAttribute::internal_ip6_subnet, 0));

  for (const CfgAttribute v :
       {CfgAttribute::application_version, CfgAttribute::supported_attributes,
        CfgAttribute::internal_ip6_link, CfgAttribute::internal_dns_domain, CfgAttribute::internal_dnssec_ta,
        CfgAttribute::encdns_ip4, CfgAttribute::encdns_ip6, CfgAttribute::encdns_digest_info}) {
    INFO(std::string(to_string(v)));
    CHECK_FALSE(cfg_attribute_length_range(v).has_value());
  }
  CHECK(cfg_attribute_length_ok(CfgAttribute::application_version, 0));
  CHECK(cfg_attribute_length_ok(CfgAttribute::application_version, 37));
  CHECK(cfg_attribute_length_ok(CfgAttribute::supported_attributes, 0));
  CHECK(cfg_attribute_length_ok(CfgAttribute::supported_attributes, 6));
  CHECK_FALSE(cfg_attribute_length_ok(CfgAttribute::supported_attributes, 5));
  CHECK_FALSE(cfg_attribute_length_ok(CfgAttribute::internal_ip6_link, 7));
  CHECK(cfg_attribute_length_ok(CfgAttribute::internal_ip6_link, 8));

  // Unlisted (including private-use) types: no rule, any length.
  CHECK_FALSE(cfg_attribute_length_range(static_cast<CfgAttribute>(16384)).has_value());
  CHECK(cfg_attribute_length_ok(static_cast<CfgAttribute>(16384), 3));

  // Every listed attribute is classified one way or the other, consistently.
  for (const CfgAttribute v : kCfgAttributes) {
    if (const auto r = cfg_attribute_length_range(v)) {
      CHECK(r->a <= r->b);
      CHECK(cfg_attribute_length_ok(v, r->a));
      CHECK(cfg_attribute_length_ok(v, r->b));
    }
  }
}

TEST_CASE("IKE enums: transform_id_name dispatches on the transform type (RFC 7296 3.3.2)") {
  CHECK(transform_id_name(TransformType::encr, 12) == "ENCR_AES_CBC");
  CHECK(transform_id_name(TransformType::encr, 20) == "ENCR_AES_GCM_16");
  CHECK(transform_id_name(TransformType::prf, 5) == "PRF_HMAC_SHA2_256");
  CHECK(transform_id_name(TransformType::integ, 12) == "AUTH_HMAC_SHA2_256_128");
  CHECK(transform_id_name(TransformType::integ, 0) == "NONE");
  CHECK(transform_id_name(TransformType::ke, 19) == "ECP_256");
  CHECK(transform_id_name(TransformType::ke, 31) == "CURVE_25519");
  CHECK(transform_id_name(TransformType::esn, 0) == "NO_ESN");
  CHECK(transform_id_name(TransformType::esn, 1) == "ESN");
  // RFC 9370 §2.2.2: ADDKEn uses the Key Exchange Method IDs.
  CHECK(transform_id_name(TransformType::addke1, 36) == "ML_KEM_768");
  CHECK(transform_id_name(TransformType::addke7, 14) == "MODP_2048");

  // The same number means different things under different types.
  CHECK(transform_id_name(TransformType::encr, 14) == "ENCR_AES_CCM_8");
  CHECK(transform_id_name(TransformType::ke, 14) == "MODP_2048");
  CHECK(transform_id_name(TransformType::integ, 14) == "AUTH_HMAC_SHA2_512_256");

  CHECK(transform_id_name(TransformType::encr, 17) == "unknown");  // unassigned
  CHECK(transform_id_name(TransformType::prf, 0) == "unknown");
  CHECK(transform_id_name(TransformType::esn, 3) == "unknown");
  CHECK(transform_id_name(TransformType::kwa, 1) == "unknown");
  CHECK(transform_id_name(static_cast<TransformType>(0), 12) == "unknown");
  CHECK(transform_id_name(static_cast<TransformType>(200), 12) == "unknown");
}

TEST_CASE("IKE enums: names are usable in constant expressions") {
  static_assert(to_string(PayloadType::sa) == "SA");
  static_assert(short_name(NotifyType::cookie) == "COOKIE");
  static_assert(transform_id_name(TransformType::prf, 2) == "PRF_HMAC_SHA1");
  static_assert(cfg_attribute_length_range(CfgAttribute::internal_ip4_subnet)->b == 8);
  CHECK(true);
}
