// SPDX-License-Identifier: Apache-2.0
// X.509 certificates (RFC 5280) over mbedTLS's mbedtls_x509_crt, one
// certificate per object, and chain verification at a host-given time.
//
// mbedTLS 2.28 limits, documented once:
//  * It cannot parse EdDSA certificates (RFC 8410): neither Ed25519/Ed448
//    subject keys nor Ed25519/Ed448 signatures. parse_der detects those OIDs
//    and answers unsupported_algorithm instead of invalid_certificate.
//  * Its verification reads the system clock (MBEDTLS_HAVE_TIME_DATE) to set
//    the EXPIRED/FUTURE flags. The library never uses a clock: the verify
//    callback discards those flags and recomputes them from unix_time. The
//    clock can still influence which of two equally valid parents mbedTLS
//    tries first (it prefers parents it thinks are in their validity
//    period), never whether a path is accepted.
#include "ipsec/crypto/x509.hpp"

#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <array>
#include <cstring>
#include <new>
#include <utility>

#include "ipsec/bytes/reader.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/wire/der.hpp"

namespace ipsec::crypto {

namespace detail {

struct CertImpl {
  CertImpl() noexcept { mbedtls_x509_crt_init(&crt); }
  ~CertImpl() { mbedtls_x509_crt_free(&crt); }
  CertImpl(const CertImpl&) = delete;
  CertImpl& operator=(const CertImpl&) = delete;

  mbedtls_x509_crt crt;  // owns a copy of the DER (crt.raw)
};

void CertImplDeleter::operator()(CertImpl* p) const noexcept { delete p; }

}  // namespace detail

namespace {

// ---- DER (wire/der.hpp reads the elements) -------------------------------------

// RFC 8410 section 3 algorithm identifiers, which mbedTLS 2.28 lacks.
constexpr uint8_t kOidEd25519[] = {0x2b, 0x65, 0x70};
constexpr uint8_t kOidEd448[] = {0x2b, 0x65, 0x71};
constexpr uint8_t kOidX25519[] = {0x2b, 0x65, 0x6e};
constexpr uint8_t kOidX448[] = {0x2b, 0x65, 0x6f};

[[nodiscard]] bool read_sequence(ByteReader& r, wire::DerElement* out) noexcept {
  return wire::read_der(r, out) && out->tag == wire::der_tag::kSequence;
}

// algorithm_oid: the OID of an AlgorithmIdentifier (RFC 5280 4.1.1.2).
[[nodiscard]] bool algorithm_oid(ByteView algorithm_identifier, ByteView* oid) noexcept {
  ByteReader r(algorithm_identifier);
  wire::DerElement t;
  if (!wire::read_der(r, &t) || t.tag != wire::der_tag::kOid) return false;
  *oid = t.value;
  return true;
}

[[nodiscard]] bool is_rfc8410_oid(ByteView oid) noexcept {
  return equal_bytes(oid, kOidEd25519) || equal_bytes(oid, kOidEd448) || equal_bytes(oid, kOidX25519) ||
         equal_bytes(oid, kOidX448);
}

// uses_rfc8410_algorithm: whether the certificate is signed with EdDSA or
// carries an RFC 8410 key, walking
//   Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
//     serialNumber, signature AlgorithmIdentifier, issuer, validity, subject,
//     subjectPublicKeyInfo SEQUENCE { algorithm AlgorithmIdentifier, ... } ... } ... }
// (RFC 5280 4.1). Anything malformed answers false: mbedTLS reports it.
[[nodiscard]] bool uses_rfc8410_algorithm(ByteView der) noexcept {
  ByteReader r(der);
  wire::DerElement cert;
  if (!read_sequence(r, &cert)) return false;
  ByteReader c(cert.value);
  wire::DerElement tbs;
  if (!read_sequence(c, &tbs)) return false;
  ByteReader t(tbs.value);
  wire::DerElement field;
  uint8_t next = 0;
  if (!t.empty() && t.peek_u8(&next) && next == wire::der_tag::kContext0 && !wire::read_der(t, &field))
    return false;
  wire::DerElement serial;
  wire::DerElement signature;
  if (!wire::read_der(t, &serial) || !read_sequence(t, &signature)) return false;
  ByteView oid;
  if (algorithm_oid(signature.value, &oid) && is_rfc8410_oid(oid)) return true;
  wire::DerElement issuer;
  wire::DerElement validity;
  wire::DerElement subject;
  wire::DerElement spki;
  if (!wire::read_der(t, &issuer) || !wire::read_der(t, &validity) || !wire::read_der(t, &subject) ||
      !read_sequence(t, &spki)) {
    return false;
  }
  ByteReader s(spki.value);
  wire::DerElement key_algorithm;
  return read_sequence(s, &key_algorithm) && algorithm_oid(key_algorithm.value, &oid) && is_rfc8410_oid(oid);
}

// ---- time ---------------------------------------------------------------------------

// days_from_civil: days from 1970-01-01 to year-month-day in the proleptic
// Gregorian calendar, which X.509 times use (RFC 5280 4.1.2.5.1/.2). The
// year is shifted by 400 (exactly 146097 days) so that every count of whole
// years is positive; mbedTLS has already checked that the fields are in
// range (year 0..9999, month 1..12, day valid for the month).
constexpr int64_t days_before_year(int64_t y) noexcept {
  const int64_t prior = y - 1;
  return prior * 365 + prior / 4 - prior / 100 + prior / 400;
}
constexpr int64_t days_from_civil(int year, int month, int day) noexcept {
  constexpr int64_t kCumulativeDays[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  const int64_t y = int64_t{year} + 400;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const int64_t day_of_year =
      kCumulativeDays[static_cast<size_t>(month - 1)] + (leap && month > 2 ? 1 : 0) + (day - 1);
  return days_before_year(y) + day_of_year - days_before_year(1970 + 400);
}
static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(1969, 12, 31) == -1);
static_assert(days_from_civil(2000, 1, 1) == 10957);
static_assert(days_from_civil(2024, 2, 29) == 19782);
static_assert(days_from_civil(2100, 1, 1) == 47482);
static_assert(days_from_civil(9999, 12, 31) == 2932896);
static_assert(days_from_civil(1, 1, 1) == -719162);

[[nodiscard]] int64_t unix_seconds(const mbedtls_x509_time& t) noexcept {
  return days_from_civil(t.year, t.mon, t.day) * 86400 + int64_t{t.hour} * 3600 + int64_t{t.min} * 60 + t.sec;
}

// ---- verification ------------------------------------------------------------------

// The verification profile: SHA-2 hashes, RSA (PKCS#1 v1.5 and PSS) of at
// least 2048 bits and ECDSA on the curves of RFC 4754, the same keys
// PublicKey accepts. SHA-1 certificate signatures are refused: chosen-prefix
// SHA-1 collisions are practical, which is what forging a certificate needs.
const mbedtls_x509_crt_profile kProfile = {
    MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) | MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
    MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSA) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSASSA_PSS) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA),
    MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1) | MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP384R1) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP521R1),
    2048,
};

constexpr uint32_t kTimeFlags = MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE;

// verify_callback: called by mbedTLS for every certificate of the path it
// built (trust anchor included). Replaces mbedTLS's clock-based validity
// flags with ones computed at the host's time; the validity period includes
// both notBefore and notAfter (RFC 5280 4.1.2.5).
int verify_callback(void* ctx, mbedtls_x509_crt* crt, int /*depth*/, uint32_t* flags) noexcept {
  const int64_t now = *static_cast<const int64_t*>(ctx);
  *flags &= ~kTimeFlags;
  if (now > unix_seconds(crt->valid_to)) *flags |= MBEDTLS_X509_BADCERT_EXPIRED;
  if (now < unix_seconds(crt->valid_from)) *flags |= MBEDTLS_X509_BADCERT_FUTURE;
  return 0;
}

// CrtList: a temporary mbedTLS certificate list whose entries point into
// Certificates' DER (parsed without copying); freed when dropped.
class CrtList {
 public:
  CrtList() noexcept { mbedtls_x509_crt_init(&head_); }
  ~CrtList() { mbedtls_x509_crt_free(&head_); }
  CrtList(const CrtList&) = delete;
  CrtList& operator=(const CrtList&) = delete;

  [[nodiscard]] Status add(ByteView der) noexcept {
    const int rc = mbedtls_x509_crt_parse_der_nocopy(&head_, der.data(), der.size());
    if (rc == MBEDTLS_ERR_X509_ALLOC_FAILED) return Errc::out_of_memory;
    return rc == 0 ? Status::success() : Status(Errc::invalid_certificate);
  }
  mbedtls_x509_crt* head() noexcept { return &head_; }

 private:
  mbedtls_x509_crt head_;
};

[[nodiscard]] ByteView view_of(const mbedtls_x509_buf& b) noexcept { return {b.p, b.len}; }

}  // namespace

// ---- Certificate -------------------------------------------------------------------

Certificate::Certificate() noexcept = default;
Certificate::Certificate(Certificate&&) noexcept = default;
Certificate& Certificate::operator=(Certificate&&) noexcept = default;
Certificate::~Certificate() = default;

Result<Certificate> Certificate::parse_der(ByteView der) noexcept {
  if (der.size() > limits::kMaxCertificateSize) return Errc::limit_exceeded;
  // Exactly one DER element: mbedTLS would ignore bytes after it.
  {
    ByteReader r(der);
    wire::DerElement outer;
    if (!read_sequence(r, &outer) || !r.expect_end().ok()) return Errc::invalid_certificate;
  }
  if (uses_rfc8410_algorithm(der)) return Errc::unsupported_algorithm;

  std::unique_ptr<detail::CertImpl, detail::CertImplDeleter> impl(new (std::nothrow) detail::CertImpl);
  if (!impl) return Errc::out_of_memory;
  const int rc = mbedtls_x509_crt_parse_der(&impl->crt, der.data(), der.size());
  if (rc != 0) {
    // High-level code only (mbedTLS adds the ASN.1 or OID cause to it).
    switch (-((-rc) & 0xff80)) {
      case MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG:
      case MBEDTLS_ERR_PK_UNKNOWN_PK_ALG:
      case MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE: return Errc::unsupported_algorithm;
      case MBEDTLS_ERR_X509_ALLOC_FAILED: return Errc::out_of_memory;
      default: return Errc::invalid_certificate;
    }
  }
  Certificate cert;
  cert.impl_ = std::move(impl);
  return cert;
}

Result<Certificate> Certificate::parse_pem(std::string_view pem) noexcept {
  // mbedtls_pem_read_buffer needs NUL-terminated text.
  auto text = ByteBuffer::allocate(pem.size() + 1);
  if (!text) return text.status();
  if (!pem.empty()) std::memcpy(text->mutable_view().data(), pem.data(), pem.size());
  mbedtls_pem_context ctx;
  mbedtls_pem_init(&ctx);
  size_t used = 0;
  const int rc = mbedtls_pem_read_buffer(&ctx, "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----",
                                         text->view().data(), nullptr, 0, &used);
  Result<Certificate> cert =
      rc == 0 ? parse_der(ByteView(ctx.buf, ctx.buflen)) : Result<Certificate>(Errc::invalid_certificate);
  mbedtls_pem_free(&ctx);
  return cert;
}

Result<Certificate> Certificate::clone() const noexcept {
  if (!impl_) return Certificate();
  return parse_der(der());
}

ByteView Certificate::der() const noexcept { return impl_ ? view_of(impl_->crt.raw) : ByteView(); }

ByteView Certificate::subject_der() const noexcept {
  return impl_ ? view_of(impl_->crt.subject_raw) : ByteView();
}

ByteView Certificate::issuer_der() const noexcept {
  return impl_ ? view_of(impl_->crt.issuer_raw) : ByteView();
}

Result<size_t> Certificate::subject_text(std::span<char> out) const noexcept {
  if (!impl_) return Errc::invalid_argument;
  if (out.empty()) return Errc::buffer_too_small;
  // Writes "O=..., CN=..." in certificate order, NUL-terminated, and
  // returns the length without the NUL.
  const int n = mbedtls_x509_dn_gets(out.data(), out.size(), &impl_->crt.subject);
  if (n == MBEDTLS_ERR_X509_BUFFER_TOO_SMALL) return Errc::buffer_too_small;
  if (n < 0) return Errc::invalid_certificate;
  return static_cast<size_t>(n);
}

// mbedTLS keeps every subjectAltName entry (RFC 5280 4.2.1.6) in a list
// whose first node is embedded in the certificate and empty when the
// extension is absent; buf.p points into crt.raw.
size_t Certificate::subject_alt_name_count() const noexcept {
  if (!impl_) return 0;
  size_t n = 0;
  for (const mbedtls_x509_sequence* s = &impl_->crt.subject_alt_names; s != nullptr; s = s->next) {
    if (s->buf.p != nullptr) ++n;
  }
  return n;
}

SubjectAltName Certificate::subject_alt_name(size_t index) const noexcept {
  if (!impl_) return {};
  size_t i = 0;
  for (const mbedtls_x509_sequence* s = &impl_->crt.subject_alt_names; s != nullptr; s = s->next) {
    if (s->buf.p == nullptr) continue;
    if (i++ != index) continue;
    // GeneralName is a CHOICE of context-specific tags [0]..[8].
    SubjectAltName san;
    san.value = view_of(s->buf);
    switch (s->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK) {
      case MBEDTLS_X509_SAN_RFC822_NAME: san.kind = SubjectAltName::Kind::email; break;
      case MBEDTLS_X509_SAN_DNS_NAME: san.kind = SubjectAltName::Kind::dns; break;
      case MBEDTLS_X509_SAN_DIRECTORY_NAME: san.kind = SubjectAltName::Kind::directory_name; break;
      case MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER: san.kind = SubjectAltName::Kind::uri; break;
      case MBEDTLS_X509_SAN_IP_ADDRESS:
        // An address in a SAN is 4 or 16 octets (RFC 5280 4.2.1.6); other
        // lengths (an address/mask pair belongs in name constraints) are
        // not an ip for our callers.
        san.kind = san.value.size() == 4 || san.value.size() == 16 ? SubjectAltName::Kind::ip
                                                                   : SubjectAltName::Kind::other;
        break;
      default: san.kind = SubjectAltName::Kind::other; break;
    }
    return san;
  }
  return {};
}

int64_t Certificate::not_before() const noexcept { return impl_ ? unix_seconds(impl_->crt.valid_from) : 0; }

int64_t Certificate::not_after() const noexcept { return impl_ ? unix_seconds(impl_->crt.valid_to) : 0; }

// basicConstraints cA (RFC 5280 4.2.1.9); false when the extension is absent.
bool Certificate::is_ca() const noexcept { return impl_ && impl_->crt.ca_istrue != 0; }

Result<PublicKey> Certificate::public_key() const noexcept {
  if (!impl_) return Errc::invalid_argument;
  return PublicKey::parse(view_of(impl_->crt.pk_raw));
}

// ---- verify_chain ---------------------------------------------------------------------

Status verify_chain(const Certificate& leaf, std::span<const Certificate> intermediates,
                    std::span<const Certificate> trust_anchors, int64_t unix_time) noexcept {
  if (intermediates.size() > limits::kMaxCertificateChainLength) return Errc::limit_exceeded;
  if (!leaf.impl_) return Errc::invalid_argument;
  for (const Certificate& c : intermediates) {
    if (!c.impl_) return Errc::invalid_argument;
  }
  for (const Certificate& c : trust_anchors) {
    if (!c.impl_) return Errc::invalid_argument;
  }
  if (trust_anchors.empty()) return Errc::untrusted_certificate;

  // mbedTLS looks for a certificate's issuer only *after* it in the list, so
  // put the intermediates in path order: from the leaf, repeatedly the
  // unused one whose subject is the current issuer (byte comparison; the
  // usual case). Whatever is left follows in the given order, where mbedTLS
  // can still find it.
  std::array<size_t, limits::kMaxCertificateChainLength> order{};
  std::array<bool, limits::kMaxCertificateChainLength> used{};
  size_t placed = 0;
  const mbedtls_x509_crt* current = &leaf.impl_->crt;
  while (placed < intermediates.size()) {
    bool found = false;
    for (size_t i = 0; i < intermediates.size(); ++i) {
      const mbedtls_x509_crt& candidate = intermediates[i].impl_->crt;
      if (used[i] || !equal_bytes(view_of(candidate.subject_raw), view_of(current->issuer_raw))) continue;
      used[i] = true;
      order[placed++] = i;
      current = &candidate;
      found = true;
      break;
    }
    if (!found) break;
  }
  for (size_t i = 0; i < intermediates.size(); ++i) {
    if (!used[i]) order[placed++] = i;
  }

  CrtList chain;
  IPSEC_TRY(chain.add(leaf.der()));
  for (size_t i = 0; i < intermediates.size(); ++i) IPSEC_TRY(chain.add(intermediates[order[i]].der()));
  CrtList anchors;
  for (const Certificate& c : trust_anchors) IPSEC_TRY(anchors.add(c.der()));

  int64_t now = unix_time;
  uint32_t flags = 0;
  const int rc = mbedtls_x509_crt_verify_with_profile(chain.head(), anchors.head(), nullptr, &kProfile,
                                                      nullptr, &flags, verify_callback, &now);
  if (rc == 0) return Status::success();
  // Fatal errors (a path longer than MBEDTLS_X509_MAX_INTERMEDIATE_CA, ...)
  // leave no usable flags.
  if (rc != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) return Errc::untrusted_certificate;
  // A path problem (no anchor, bad signature, not a CA, weak key or hash)
  // outranks a validity problem.
  if ((flags & ~kTimeFlags) != 0) return Errc::untrusted_certificate;
  if ((flags & MBEDTLS_X509_BADCERT_EXPIRED) != 0) return Errc::certificate_expired;
  if ((flags & MBEDTLS_X509_BADCERT_FUTURE) != 0) return Errc::certificate_not_yet_valid;
  return Errc::untrusted_certificate;
}

}  // namespace ipsec::crypto
