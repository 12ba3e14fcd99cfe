// SPDX-License-Identifier: Apache-2.0
// X.509 certificates (RFC 5280) as IKEv2 carries them (CERT encoding 4,
// DER) and chain verification against host-given trust anchors. The library
// reads no clock: validity is checked against the host's wall-clock time
// (seconds since the Unix epoch) passed to verify_chain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/signature.hpp"

namespace ipsec::crypto {

// One subjectAltName entry (RFC 5280 4.2.1.6); value is a view into the
// certificate's DER (IA5String text for dns/email/uri, 4 or 16 octets for ip).
struct SubjectAltName {
  enum class Kind : uint8_t { other, email, dns, directory_name, uri, ip };
  Kind kind = Kind::other;
  ByteView value;
};

namespace detail {
struct CertImpl;
struct CertImplDeleter {
  void operator()(CertImpl* p) const noexcept;
};
}  // namespace detail

class Certificate {
 public:
  Certificate() noexcept;
  Certificate(Certificate&&) noexcept;
  Certificate& operator=(Certificate&&) noexcept;
  ~Certificate();

  // parse_der: one DER certificate (Ed25519 ones too, RFC 8410). Errors:
  // invalid_certificate, limit_exceeded (larger than
  // limits::kMaxCertificateSize), unsupported_algorithm (a public key or
  // signature algorithm the library cannot use: Ed448, SHA-1 with an
  // Ed25519 key, ...).
  [[nodiscard]] static Result<Certificate> parse_der(ByteView der) noexcept;
  // parse_pem: the first "CERTIFICATE" block of a PEM text (at most
  // limits::kMaxCertificatePemSize octets, else limit_exceeded).
  [[nodiscard]] static Result<Certificate> parse_pem(std::string_view pem) noexcept;
  [[nodiscard]] Result<Certificate> clone() const noexcept;

  [[nodiscard]] ByteView der() const noexcept;
  // subject_der / issuer_der: the DER Name (what ID_DER_ASN1_DN compares).
  [[nodiscard]] ByteView subject_der() const noexcept;
  [[nodiscard]] ByteView issuer_der() const noexcept;
  // subject_text: "CN=..., O=..." into out; returns the length. Error:
  // buffer_too_small.
  [[nodiscard]] Result<size_t> subject_text(std::span<char> out) const noexcept;
  [[nodiscard]] size_t subject_alt_name_count() const noexcept;
  [[nodiscard]] SubjectAltName subject_alt_name(size_t index) const noexcept;
  [[nodiscard]] int64_t not_before() const noexcept;  // Unix seconds
  [[nodiscard]] int64_t not_after() const noexcept;
  [[nodiscard]] bool is_ca() const noexcept;
  [[nodiscard]] Result<PublicKey> public_key() const noexcept;

 private:
  friend Status verify_chain(const Certificate&, std::span<const Certificate>, std::span<const Certificate>,
                             int64_t) noexcept;
  std::unique_ptr<detail::CertImpl, detail::CertImplDeleter> impl_;
};

// verify_chain: whether `leaf` chains through `intermediates` (any order) to
// one of `trust_anchors`, with every signature valid, CA constraints met and
// every certificate valid at `unix_time`. Errors: untrusted_certificate (no
// valid path, bad signature, not a CA), certificate_expired,
// certificate_not_yet_valid, limit_exceeded (more than
// limits::kMaxCertificateChainLength intermediates).
[[nodiscard]] Status verify_chain(const Certificate& leaf, std::span<const Certificate> intermediates,
                                  std::span<const Certificate> trust_anchors, int64_t unix_time) noexcept;

}  // namespace ipsec::crypto
