// SPDX-License-Identifier: Apache-2.0
// Private and public keys for IKEv2 authentication: Ed25519 (RFC 8420),
// ECDSA P-256/384/521 and RSA PKCS#1 v1.5 / RSASSA-PSS (RFC 7427). Keys are
// loaded from the PEM or DER files hosts already have (PKCS#1, SEC1, PKCS#8,
// SubjectPublicKeyInfo). Signing hashes the message itself (EdDSA signs it
// whole, RFC 8420 "Identity").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/transform_ids.hpp"

namespace ipsec::crypto {

enum class KeyType : uint8_t { rsa, ecdsa_p256, ecdsa_p384, ecdsa_p521, ed25519 };

// Signature algorithms. ECDSA signatures are the DER Ecdsa-Sig-Value that
// RFC 7427 (via RFC 3279) carries; RSASSA-PSS uses MGF1 with the same hash
// and a salt as long as the hash (RFC 8017 9.1 and the usual RFC 7427
// AlgorithmIdentifier parameters).
enum class SignatureScheme : uint8_t {
  ed25519,
  ecdsa_sha256,
  ecdsa_sha384,
  ecdsa_sha512,
  rsa_pkcs1_sha1,
  rsa_pkcs1_sha256,
  rsa_pkcs1_sha384,
  rsa_pkcs1_sha512,
  rsa_pss_sha256,
  rsa_pss_sha384,
  rsa_pss_sha512,
};

[[nodiscard]] constexpr std::string_view to_string(KeyType t) noexcept {
  switch (t) {
    case KeyType::rsa: return "RSA";
    case KeyType::ecdsa_p256: return "ECDSA-P256";
    case KeyType::ecdsa_p384: return "ECDSA-P384";
    case KeyType::ecdsa_p521: return "ECDSA-P521";
    case KeyType::ed25519: return "Ed25519";
  }
  return "unknown";
}

[[nodiscard]] constexpr std::string_view to_string(SignatureScheme s) noexcept {
  switch (s) {
    case SignatureScheme::ed25519: return "ed25519";
    case SignatureScheme::ecdsa_sha256: return "ecdsa-with-SHA256";
    case SignatureScheme::ecdsa_sha384: return "ecdsa-with-SHA384";
    case SignatureScheme::ecdsa_sha512: return "ecdsa-with-SHA512";
    case SignatureScheme::rsa_pkcs1_sha1: return "sha1WithRSAEncryption";
    case SignatureScheme::rsa_pkcs1_sha256: return "sha256WithRSAEncryption";
    case SignatureScheme::rsa_pkcs1_sha384: return "sha384WithRSAEncryption";
    case SignatureScheme::rsa_pkcs1_sha512: return "sha512WithRSAEncryption";
    case SignatureScheme::rsa_pss_sha256: return "RSASSA-PSS-SHA256";
    case SignatureScheme::rsa_pss_sha384: return "RSASSA-PSS-SHA384";
    case SignatureScheme::rsa_pss_sha512: return "RSASSA-PSS-SHA512";
  }
  return "unknown";
}

// scheme_fits: whether a scheme can be used with a key of that type.
[[nodiscard]] constexpr bool scheme_fits(SignatureScheme s, KeyType t) noexcept {
  switch (s) {
    case SignatureScheme::ed25519: return t == KeyType::ed25519;
    case SignatureScheme::ecdsa_sha256:
    case SignatureScheme::ecdsa_sha384:
    case SignatureScheme::ecdsa_sha512:
      return t == KeyType::ecdsa_p256 || t == KeyType::ecdsa_p384 || t == KeyType::ecdsa_p521;
    case SignatureScheme::rsa_pkcs1_sha1:
    case SignatureScheme::rsa_pkcs1_sha256:
    case SignatureScheme::rsa_pkcs1_sha384:
    case SignatureScheme::rsa_pkcs1_sha512:
    case SignatureScheme::rsa_pss_sha256:
    case SignatureScheme::rsa_pss_sha384:
    case SignatureScheme::rsa_pss_sha512: return t == KeyType::rsa;
  }
  return false;
}

namespace detail {
struct KeyImpl;
struct KeyImplDeleter {
  void operator()(KeyImpl* p) const noexcept;
};
using KeyImplPtr = std::unique_ptr<KeyImpl, KeyImplDeleter>;
}  // namespace detail

class PublicKey {
 public:
  PublicKey() noexcept;
  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  ~PublicKey();

  // parse: a SubjectPublicKeyInfo, PEM ("PUBLIC KEY") or DER. Errors:
  // invalid_key, unsupported_algorithm (a curve or key type not listed).
  [[nodiscard]] static Result<PublicKey> parse(ByteView pem_or_der) noexcept;
  [[nodiscard]] Result<PublicKey> clone() const noexcept;

  [[nodiscard]] KeyType type() const noexcept;
  [[nodiscard]] size_t bits() const noexcept;
  // spki_der: the DER SubjectPublicKeyInfo.
  [[nodiscard]] ByteView spki_der() const noexcept;

  // verify: Errors: bad_signature, key_type_mismatch (scheme does not fit
  // the key), invalid_length (signature of an impossible size).
  [[nodiscard]] Status verify(SignatureScheme scheme, ByteView message, ByteView signature) const noexcept;

 private:
  friend class PrivateKey;
  friend class Certificate;
  explicit PublicKey(detail::KeyImplPtr impl) noexcept;
  detail::KeyImplPtr impl_;
};

class PrivateKey {
 public:
  PrivateKey() noexcept;
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();  // zeroes the key

  // parse: PEM or DER; RSA (PKCS#1 or PKCS#8), EC (SEC1 or PKCS#8),
  // Ed25519 (PKCS#8, RFC 8410). Encrypted keys are not supported. Errors:
  // invalid_key, unsupported_algorithm, limit_exceeded (larger than
  // limits::kMaxPrivateKeyFileSize).
  [[nodiscard]] static Result<PrivateKey> parse(ByteView pem_or_der) noexcept;
  // generate: a fresh key (tests, benchmarks, provisioning tools).
  // rsa_bits applies to KeyType::rsa only.
  [[nodiscard]] static Result<PrivateKey> generate(KeyType type, Rng& rng, unsigned rsa_bits = 2048) noexcept;

  [[nodiscard]] KeyType type() const noexcept;
  [[nodiscard]] size_t bits() const noexcept;
  [[nodiscard]] size_t max_signature_size() const noexcept;
  [[nodiscard]] Result<PublicKey> public_key() const noexcept;

  // sign: writes the signature into `out` and returns its length. rng is
  // used for RSASSA-PSS salts and ECDSA blinding (ECDSA itself is
  // deterministic, RFC 6979). Errors: key_type_mismatch, buffer_too_small,
  // crypto_backend_failure.
  [[nodiscard]] Result<size_t> sign(SignatureScheme scheme, ByteView message, Rng& rng,
                                    MutableByteView out) const noexcept;

 private:
  explicit PrivateKey(detail::KeyImplPtr impl) noexcept;
  detail::KeyImplPtr impl_;
};

}  // namespace ipsec::crypto
