// SPDX-License-Identifier: Apache-2.0
// IKE_AUTH authentication data (RFC 7296 2.15, RFC 7427): the octets each
// side signs or MACs, the pre-shared-key AUTH value, and RFC 7427 digital
// signatures (the AlgorithmIdentifier that names the scheme).
//
//   InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload)
//   ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload)
//   AUTH (PSK)            = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/signature.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/wire/der.hpp"
#include "ipsec/wire/ike_payloads.hpp"

namespace ipsec::ike {

// signed_octets: RealMessage | Nonce (of the other side) | prf(SK_p, ID
// payload body) (RFC 7296 2.15). real_message is the whole IKE_SA_INIT
// message this side sent, as sent; id_body the body of its IDi/IDr payload
// (ID Type, RESERVED, data). Errors: the provider's (unsupported_algorithm,
// invalid_key_length).
[[nodiscard]] inline Result<std::vector<uint8_t>> signed_octets(crypto::Provider& provider, crypto::PrfId prf,
                                                                ByteView real_message, ByteView peer_nonce,
                                                                ByteView sk_p, ByteView id_body) {
  auto mac = provider.make_prf(prf, sk_p);
  if (!mac) return mac.status();
  std::vector<uint8_t> out(real_message.size() + peer_nonce.size() + (*mac)->output_size());
  MutableByteView view(out);
  (void)copy_bytes(view, real_message);
  (void)copy_bytes(view.subspan(real_message.size()), peer_nonce);
  IPSEC_TRY((*mac)->compute(id_body, view.subspan(real_message.size() + peer_nonce.size())));
  return out;
}

// psk_auth: the AUTH data of method 2 (shared key MIC, RFC 7296 2.15) into
// `out` (output_size() of the PRF octets). Errors: invalid_length (out of
// the wrong size), the provider's.
[[nodiscard]] inline Status psk_auth(crypto::Provider& provider, crypto::PrfId prf, ByteView psk,
                                     ByteView octets, MutableByteView out) noexcept {
  // The pad keeps the key derived from the PSK apart from other uses of it.
  static constexpr std::string_view kKeyPad = "Key Pad for IKEv2";
  auto outer = provider.make_prf(prf, psk);
  if (!outer) return outer.status();
  const size_t n = (*outer)->output_size();
  if (out.size() != n) return Errc::invalid_length;
  FixedSecret<limits::kMaxPrfOutputSize> key;
  IPSEC_TRY(key.resize(n));
  IPSEC_TRY((*outer)->compute(as_bytes(kKeyPad), key.mutable_view()));
  auto inner = provider.make_prf(prf, key.view());
  if (!inner) return inner.status();
  return (*inner)->compute(octets, out);
}

// verify_psk_auth: recompute and compare in constant time. Errors:
// integrity_check_failed (answer AUTHENTICATION_FAILED), psk_auth's.
[[nodiscard]] inline Status verify_psk_auth(crypto::Provider& provider, crypto::PrfId prf, ByteView psk,
                                            ByteView octets, ByteView received) noexcept {
  std::array<uint8_t, limits::kMaxPrfOutputSize> expected{};
  const auto info = crypto::prf_info(prf);
  if (!info) return Errc::unsupported_algorithm;
  if (received.size() != info->output_size) return Errc::integrity_check_failed;
  IPSEC_TRY(psk_auth(provider, prf, psk, octets, MutableByteView(expected).first(info->output_size)));
  return ct_equal(ByteView(expected).first(info->output_size), received)
             ? Status::success()
             : Status(Errc::integrity_check_failed);
}

namespace detail {
struct SchemeOid {
  crypto::SignatureScheme scheme;
  std::string_view oid;        // the OID's value octets
  std::string_view algorithm;  // a whole AlgorithmIdentifier to send (RFC 7427 appendix A)
};
// RFC 7427 appendix A; RSA PKCS#1 v1.5 with NULL parameters, ECDSA and
// Ed25519 (RFC 8420) with none.
inline constexpr SchemeOid kSchemes[] = {
    {crypto::SignatureScheme::ecdsa_sha256, "\x2a\x86\x48\xce\x3d\x04\x03\x02",
     "\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02"},
    {crypto::SignatureScheme::ecdsa_sha384, "\x2a\x86\x48\xce\x3d\x04\x03\x03",
     "\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x03"},
    {crypto::SignatureScheme::ecdsa_sha512, "\x2a\x86\x48\xce\x3d\x04\x03\x04",
     "\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x04"},
    {crypto::SignatureScheme::ed25519, "\x2b\x65\x70", "\x30\x05\x06\x03\x2b\x65\x70"},
    {crypto::SignatureScheme::rsa_pkcs1_sha256, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b",
     std::string_view("\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00", 15)},
    {crypto::SignatureScheme::rsa_pkcs1_sha384, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c",
     std::string_view("\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c\x05\x00", 15)},
    {crypto::SignatureScheme::rsa_pkcs1_sha512, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0d",
     std::string_view("\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0d\x05\x00", 15)},
};
}  // namespace detail

// algorithm_identifier: the DER AlgorithmIdentifier RFC 7427 sends for a
// scheme, or nullopt for schemes not offered here (RSASSA-PSS, SHA-1).
[[nodiscard]] inline std::optional<ByteView> algorithm_identifier(crypto::SignatureScheme s) noexcept {
  for (const detail::SchemeOid& x : detail::kSchemes) {
    if (x.scheme == s) return as_bytes(x.algorithm);
  }
  return std::nullopt;
}

// scheme_of: the scheme an RFC 7427 AUTH names. Errors:
// unsupported_algorithm (an OID not listed, or parameters where the scheme
// has none other than NULL).
[[nodiscard]] inline Result<crypto::SignatureScheme> scheme_of(const wire::SignatureAuthData& auth) noexcept {
  for (const detail::SchemeOid& x : detail::kSchemes) {
    if (!equal_bytes(auth.algorithm_oid, as_bytes(x.oid))) continue;
    const bool null_params =
        auth.parameters.size() == 2 && auth.parameters[0] == 0x05 && auth.parameters[1] == 0;
    if (!auth.parameters.empty() && !null_params) return Errc::unsupported_algorithm;
    return x.scheme;
  }
  return Errc::unsupported_algorithm;
}

// verify_signature_auth: an AUTH payload of method 14 (RFC 7427) over
// `octets` with the peer's public key (from its certificate). Errors:
// unsupported_algorithm, key_type_mismatch, bad_signature (answer
// AUTHENTICATION_FAILED), and decode errors of the AUTH data.
[[nodiscard]] inline Status verify_signature_auth(const crypto::PublicKey& key, const wire::AuthPayload& auth,
                                                  ByteView octets) noexcept {
  if (auth.method != wire::AuthMethod::digital_signature) return Errc::unsupported_algorithm;
  auto data = wire::decode_signature_auth(auth.data);
  if (!data) return data.status();
  auto scheme = scheme_of(*data);
  if (!scheme) return scheme.status();
  return key.verify(*scheme, octets, data->signature);
}

}  // namespace ipsec::ike
