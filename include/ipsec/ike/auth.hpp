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
#include "ipsec/bytes/reader.hpp"
#include "ipsec/bytes/writer.hpp"
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
  const auto info = crypto::prf_info(prf);
  if (!info) return Errc::unsupported_algorithm;
  if (received.size() != info->output_size) return Errc::integrity_check_failed;
  // The expected AUTH is as good as a PSK-derived key for a forger: zeroed
  // when it goes out of scope.
  FixedSecret<limits::kMaxPrfOutputSize> expected;
  IPSEC_TRY(expected.resize(info->output_size));
  IPSEC_TRY(psk_auth(provider, prf, psk, octets, expected.mutable_view()));
  return ct_equal(expected.view(), received) ? Status::success() : Status(Errc::integrity_check_failed);
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

// RSASSA-PSS (RFC 4055 3.1, RFC 7427 appendix A.4): id-RSASSA-PSS with
// RSASSA-PSS-params naming the hash, MGF1 with the same hash, and a salt as
// long as the hash (the only parameters crypto/signature.hpp implements).
inline constexpr std::string_view kPssOid = "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a";
inline constexpr std::string_view kMgf1Oid = "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x08";
struct PssHash {
  crypto::SignatureScheme scheme;
  std::string_view hash_oid;
  uint8_t salt;
  std::string_view algorithm;  // the AlgorithmIdentifier we send (hash parameters NULL)
};
#define IPSEC_PSS_AI(h, salt)                                        \
  std::string_view(                                                  \
      "\x30\x41\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a\x30\x34" \
      "\xa0\x0f\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02" h   \
      "\x05\x00"                                                     \
      "\xa1\x1c\x30\x1a\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x08" \
      "\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02" h           \
      "\x05\x00"                                                     \
      "\xa2\x03\x02\x01" salt,                                       \
      67)
inline constexpr PssHash kPssHashes[] = {
    {crypto::SignatureScheme::rsa_pss_sha256, "\x60\x86\x48\x01\x65\x03\x04\x02\x01", 32,
     IPSEC_PSS_AI("\x01", "\x20")},
    {crypto::SignatureScheme::rsa_pss_sha384, "\x60\x86\x48\x01\x65\x03\x04\x02\x02", 48,
     IPSEC_PSS_AI("\x02", "\x30")},
    {crypto::SignatureScheme::rsa_pss_sha512, "\x60\x86\x48\x01\x65\x03\x04\x02\x03", 64,
     IPSEC_PSS_AI("\x03", "\x40")},
};
#undef IPSEC_PSS_AI

// read_hash_algorithm: an AlgorithmIdentifier of a hash (OID, then absent or
// NULL parameters) from r; its OID's value octets into *oid.
[[nodiscard]] inline bool read_hash_algorithm(ByteReader& r, ByteView* oid) noexcept {
  wire::DerElement ai, id;
  if (!wire::read_der_tagged(r, wire::der_tag::kSequence, &ai)) return false;
  ByteReader in(ai.value);
  if (!wire::read_der_tagged(in, wire::der_tag::kOid, &id)) return false;
  if (!in.empty()) {
    wire::DerElement null;
    if (!wire::read_der_tagged(in, wire::der_tag::kNull, &null) || !null.value.empty() || !in.empty())
      return false;
  }
  *oid = id.value;
  return true;
}

// pss_scheme: the scheme RSASSA-PSS-params (the DER SEQUENCE after the OID)
// name, or nullopt for parameters not implemented (SHA-1 defaults, another
// MGF, a salt other than the hash length, a trailer field other than 1).
[[nodiscard]] inline std::optional<crypto::SignatureScheme> pss_scheme(ByteView params) noexcept {
  wire::DerElement seq;
  if (!wire::read_single_der(params, &seq) || seq.tag != wire::der_tag::kSequence) return std::nullopt;
  ByteReader r(seq.value);
  ByteView hash, mgf_hash;
  uint64_t salt = 20;  // RFC 4055 3.1 defaults: SHA-1, MGF1-SHA-1, 20
  wire::DerElement e;
  while (!r.empty()) {
    if (!wire::read_der(r, &e)) return std::nullopt;
    ByteReader in(e.value);
    if (e.tag == 0xa0) {
      if (!read_hash_algorithm(in, &hash) || !in.empty()) return std::nullopt;
    } else if (e.tag == 0xa1) {
      wire::DerElement ai, id;
      if (!wire::read_der_tagged(in, wire::der_tag::kSequence, &ai) || !in.empty()) return std::nullopt;
      ByteReader m(ai.value);
      if (!wire::read_der_tagged(m, wire::der_tag::kOid, &id) || !equal_bytes(id.value, as_bytes(kMgf1Oid)) ||
          !read_hash_algorithm(m, &mgf_hash) || !m.empty()) {
        return std::nullopt;
      }
    } else if (e.tag == 0xa2 || e.tag == 0xa3) {
      wire::DerElement n;
      if (!wire::read_der_tagged(in, wire::der_tag::kInteger, &n) || !in.empty() || n.value.empty() ||
          n.value.size() > 2 || (n.value[0] & 0x80) != 0) {
        return std::nullopt;
      }
      uint64_t v = 0;
      for (uint8_t b : n.value) v = v << 8 | b;
      if (e.tag == 0xa2) salt = v;
      if (e.tag == 0xa3 && v != 1) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  for (const PssHash& h : kPssHashes) {
    if (equal_bytes(hash, as_bytes(h.hash_oid)) && equal_bytes(mgf_hash, as_bytes(h.hash_oid)) &&
        salt == h.salt)
      return h.scheme;
  }
  return std::nullopt;
}
}  // namespace detail

// algorithm_identifier: the DER AlgorithmIdentifier RFC 7427 sends for a
// scheme, or nullopt for SHA-1 (not offered for new signatures).
[[nodiscard]] inline std::optional<ByteView> algorithm_identifier(crypto::SignatureScheme s) noexcept {
  for (const detail::SchemeOid& x : detail::kSchemes) {
    if (x.scheme == s) return as_bytes(x.algorithm);
  }
  for (const detail::PssHash& h : detail::kPssHashes) {
    if (h.scheme == s) return as_bytes(h.algorithm);
  }
  return std::nullopt;
}

// scheme_of: the scheme an RFC 7427 AUTH names. Errors:
// unsupported_algorithm (an OID not listed, or parameters where the scheme
// has none other than NULL).
[[nodiscard]] inline Result<crypto::SignatureScheme> scheme_of(const wire::SignatureAuthData& auth) noexcept {
  if (equal_bytes(auth.algorithm_oid, as_bytes(detail::kPssOid))) {
    auto s = detail::pss_scheme(auth.parameters);
    if (!s) return Errc::unsupported_algorithm;
    return *s;
  }
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

// ---------------------------------------------------------------------------
// The signature methods before RFC 7427 (RFC 7296 3.8, RFC 4754): RSA
// PKCS#1 v1.5 with SHA-1 (1) and ECDSA with SHA-256/384/512 on P-256/384/521
// (9, 10, 11), whose signature is r | s, each as long as the curve's order,
// rather than DER. Used with peers that do not send
// SIGNATURE_HASH_ALGORITHMS.

// legacy_method: the method for a key type, or nullopt (Ed25519 has none:
// RFC 8420 requires method 14).
[[nodiscard]] constexpr std::optional<wire::AuthMethod> legacy_method(crypto::KeyType t) noexcept {
  switch (t) {
    case crypto::KeyType::rsa: return wire::AuthMethod::rsa_signature;
    case crypto::KeyType::ecdsa_p256: return wire::AuthMethod::ecdsa_sha256_p256;
    case crypto::KeyType::ecdsa_p384: return wire::AuthMethod::ecdsa_sha384_p384;
    case crypto::KeyType::ecdsa_p521: return wire::AuthMethod::ecdsa_sha512_p521;
    case crypto::KeyType::ed25519: return std::nullopt;
  }
  return std::nullopt;
}

namespace detail {
struct LegacyMethod {
  crypto::SignatureScheme scheme;
  crypto::KeyType key;
  size_t coordinate;  // ECDSA: octets of r and of s; 0 for RSA
};
[[nodiscard]] constexpr std::optional<LegacyMethod> legacy(wire::AuthMethod m) noexcept {
  switch (m) {
    case wire::AuthMethod::rsa_signature:
      return LegacyMethod{crypto::SignatureScheme::rsa_pkcs1_sha1, crypto::KeyType::rsa, 0};
    case wire::AuthMethod::ecdsa_sha256_p256:
      return LegacyMethod{crypto::SignatureScheme::ecdsa_sha256, crypto::KeyType::ecdsa_p256, 32};
    case wire::AuthMethod::ecdsa_sha384_p384:
      return LegacyMethod{crypto::SignatureScheme::ecdsa_sha384, crypto::KeyType::ecdsa_p384, 48};
    case wire::AuthMethod::ecdsa_sha512_p521:
      return LegacyMethod{crypto::SignatureScheme::ecdsa_sha512, crypto::KeyType::ecdsa_p521, 66};
    default: return std::nullopt;
  }
}

// der_integer: a big-endian unsigned value as a DER INTEGER into w.
inline void der_integer(ByteWriter& w, ByteView v) noexcept {
  size_t skip = 0;
  while (skip + 1 < v.size() && v[skip] == 0) ++skip;
  const ByteView digits = v.subspan(skip);
  const bool pad = (digits[0] & 0x80) != 0;
  w.put_u8(wire::der_tag::kInteger);
  w.put_u8(static_cast<uint8_t>(digits.size() + (pad ? 1 : 0)));
  if (pad) w.put_u8(0);
  w.put_bytes(digits);
}
}  // namespace detail

// ecdsa_raw_to_der: r | s (RFC 4754 7) as the DER Ecdsa-Sig-Value the
// crypto layer verifies. Errors: invalid_length (odd size, or more than 66
// octets per coordinate).
[[nodiscard]] inline Result<std::vector<uint8_t>> ecdsa_raw_to_der(ByteView raw) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() / 2 > 66) return Errc::invalid_length;
  const size_t n = raw.size() / 2;
  std::vector<uint8_t> body(2 * (n + 3));
  ByteWriter b(body);
  detail::der_integer(b, raw.first(n));
  detail::der_integer(b, raw.subspan(n));
  std::vector<uint8_t> out(b.size() + 3);
  ByteWriter w(out);
  w.put_u8(wire::der_tag::kSequence);
  if (b.size() >= 0x80) w.put_u8(0x81);
  w.put_u8(static_cast<uint8_t>(b.size()));
  w.put_bytes(b.written());
  out.resize(w.size());
  return out;
}

// ecdsa_der_to_raw: the inverse, each coordinate left-padded to
// `coordinate` octets. Errors: invalid_value (not a SEQUENCE of two
// non-negative INTEGERs that fit).
[[nodiscard]] inline Result<std::vector<uint8_t>> ecdsa_der_to_raw(ByteView der, size_t coordinate) {
  wire::DerElement seq, r_int, s_int;
  if (!wire::read_single_der(der, &seq) || seq.tag != wire::der_tag::kSequence) return Errc::invalid_value;
  ByteReader in(seq.value);
  if (!wire::read_der_tagged(in, wire::der_tag::kInteger, &r_int) ||
      !wire::read_der_tagged(in, wire::der_tag::kInteger, &s_int) || !in.empty()) {
    return Errc::invalid_value;
  }
  std::vector<uint8_t> out(2 * coordinate);
  const ByteView parts[] = {r_int.value, s_int.value};
  for (size_t i = 0; i < 2; ++i) {
    ByteView v = parts[i];
    while (!v.empty() && v[0] == 0) v = v.subspan(1);
    if (v.size() > coordinate) return Errc::invalid_value;
    (void)copy_bytes(MutableByteView(out).subspan(i * coordinate + coordinate - v.size()), v);
  }
  return out;
}

// verify_legacy_auth: an AUTH payload of method 1, 9, 10 or 11 over
// `octets`. Errors: unsupported_algorithm (another method),
// key_type_mismatch (the key does not fit the method: 9-11 also fix the
// curve), invalid_length/invalid_value (a malformed r | s), bad_signature.
[[nodiscard]] inline Status verify_legacy_auth(const crypto::PublicKey& key, const wire::AuthPayload& auth,
                                               ByteView octets) {
  const auto m = detail::legacy(auth.method);
  if (!m) return Errc::unsupported_algorithm;
  if (key.type() != m->key) return Errc::key_type_mismatch;
  if (m->coordinate == 0) return key.verify(m->scheme, octets, auth.data);
  if (auth.data.size() != 2 * m->coordinate) return Errc::invalid_length;
  auto der = ecdsa_raw_to_der(auth.data);
  if (!der) return der.status();
  return key.verify(m->scheme, octets, *der);
}

// legacy_auth: our AUTH data for method legacy_method(key.type()).
// Errors: unsupported_algorithm (Ed25519), the key's sign errors.
[[nodiscard]] inline Result<std::vector<uint8_t>> legacy_auth(const crypto::PrivateKey& key, ByteView octets,
                                                              crypto::Rng& rng) {
  const auto method = legacy_method(key.type());
  if (!method) return Errc::unsupported_algorithm;
  const auto m = detail::legacy(*method);
  std::vector<uint8_t> sig(key.max_signature_size());
  auto n = key.sign(m->scheme, octets, rng, sig);
  if (!n) return n.status();
  sig.resize(*n);
  if (m->coordinate == 0) return sig;
  return ecdsa_der_to_raw(sig, m->coordinate);
}

}  // namespace ipsec::ike
