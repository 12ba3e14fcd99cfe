// SPDX-License-Identifier: Apache-2.0
// X.509 certificates (RFC 5280), one certificate per object, and chain
// verification at a host-given time. Two kinds of certificate share the
// Certificate type:
//
//  * Most are parsed and verified by mbedTLS (mbedtls_x509_crt).
//  * mbedTLS 2.28 cannot parse EdDSA certificates (RFC 8410): neither
//    Ed25519 subject keys nor Ed25519 signatures. When mbedTLS refuses a
//    certificate for its key or signature algorithm and the certificate
//    names Ed25519 (its subjectPublicKeyInfo or its signatureAlgorithm),
//    this file parses it itself ("own" certificates), strictly, with
//    wire::read_der and ByteReader: the profile of RFC 5280 section 4 that
//    IKEv2 peers use, refusing what it does not understand (unique IDs, an
//    unknown critical extension). Ed448, X25519 and X448 stay
//    unsupported_algorithm.
//
// verify_chain uses mbedTLS when no own certificate can be on the path, and
// otherwise validates the whole path itself (PathSearch below): mbedTLS can
// neither hold nor check an Ed25519 certificate, and an ECDSA or RSA CA may
// issue one (or be issued by one).
//
// mbedTLS 2.28 limits, documented once:
//  * Its verification reads the system clock (MBEDTLS_HAVE_TIME_DATE) to set
//    the EXPIRED/FUTURE flags. The library never uses a clock: the verify
//    callback discards those flags and recomputes them from unix_time. The
//    clock can still influence which of two equally valid parents mbedTLS
//    tries first (it prefers parents it thinks are in their validity
//    period), never whether a path is accepted.
#include "ipsec/crypto/x509.hpp"

#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string_view>
#include <utility>

#include "ipsec/bytes/reader.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/wire/der.hpp"

namespace ipsec::crypto {

namespace detail {

// CertFields: what path validation needs of a certificate, as views into
// its DER. Own certificates keep theirs; for mbedTLS certificates
// verify_chain reads them from the mbedtls_x509_crt.
struct CertFields {
  ByteView tbs;                  // the whole TBSCertificate element: the signed octets
  ByteView signature_algorithm;  // the whole outer AlgorithmIdentifier element
  ByteView signature;            // signatureValue's octets
  ByteView issuer;               // the whole issuer Name element
  ByteView subject;              // the whole subject Name element
  ByteView spki;                 // the whole SubjectPublicKeyInfo element
  int64_t not_before = 0;        // Unix seconds
  int64_t not_after = 0;
  bool ca = false;  // basicConstraints cA
  bool path_len_limited = false;
  uint32_t path_len = 0;      // basicConstraints pathLenConstraint, when limited
  bool key_cert_sign = true;  // false when keyUsage is present without keyCertSign
};

struct CertImpl {
  CertImpl() noexcept { mbedtls_x509_crt_init(&crt); }
  ~CertImpl() { mbedtls_x509_crt_free(&crt); }
  CertImpl(const CertImpl&) = delete;
  CertImpl& operator=(const CertImpl&) = delete;

  bool own = false;        // parsed by this file, not by mbedTLS
  mbedtls_x509_crt crt{};  // !own: owns a copy of the DER (crt.raw)
  // own: a copy of the DER, and views into it.
  ByteBuffer der;
  CertFields fields;
  std::unique_ptr<SubjectAltName[]> sans;
  size_t san_count = 0;
};

void CertImplDeleter::operator()(CertImpl* p) const noexcept { delete p; }

}  // namespace detail

namespace {

using detail::CertFields;
using detail::CertImpl;

// ---- object identifiers -------------------------------------------------------------

// RFC 8410 section 3.
constexpr uint8_t kOidEd25519[] = {0x2b, 0x65, 0x70};
// RFC 5758 section 3.2: ecdsa-with-SHA256/384/512.
constexpr uint8_t kOidEcdsaSha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
constexpr uint8_t kOidEcdsaSha384[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
constexpr uint8_t kOidEcdsaSha512[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};
// RFC 4055 section 5: sha256/384/512WithRSAEncryption; section 3.1:
// id-RSASSA-PSS and id-mgf1.
constexpr uint8_t kOidRsaSha256[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
constexpr uint8_t kOidRsaSha384[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c};
constexpr uint8_t kOidRsaSha512[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d};
constexpr uint8_t kOidRsassaPss[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};
constexpr uint8_t kOidMgf1[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08};
// RFC 5754 section 2: id-sha256/384/512.
constexpr uint8_t kOidSha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
constexpr uint8_t kOidSha384[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};
constexpr uint8_t kOidSha512[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};
// RFC 5280 4.2.1.3, 4.2.1.6, 4.2.1.9.
constexpr uint8_t kOidKeyUsage[] = {0x55, 0x1d, 0x0f};
constexpr uint8_t kOidSubjectAltName[] = {0x55, 0x1d, 0x11};
constexpr uint8_t kOidBasicConstraints[] = {0x55, 0x1d, 0x13};

// Context-specific tags of the certificate (RFC 5280 4.1) and of
// GeneralName (RFC 5280 4.2.1.6; the module uses IMPLICIT tags, except for
// the CHOICE directoryName, which is therefore EXPLICIT).
constexpr uint8_t kTagVersion = 0xa0;                  // [0] EXPLICIT
constexpr uint8_t kTagIssuerUniqueIdPrimitive = 0x81;  // [1] IMPLICIT
constexpr uint8_t kTagIssuerUniqueIdConstructed = 0xa1;
constexpr uint8_t kTagSubjectUniqueIdPrimitive = 0x82;  // [2] IMPLICIT
constexpr uint8_t kTagSubjectUniqueIdConstructed = 0xa2;
constexpr uint8_t kTagExtensions = 0xa3;  // [3] EXPLICIT
constexpr uint8_t kTagOtherName = 0xa0;
constexpr uint8_t kTagRfc822Name = 0x81;
constexpr uint8_t kTagDnsName = 0x82;
constexpr uint8_t kTagX400Address = 0xa3;
constexpr uint8_t kTagDirectoryName = 0xa4;
constexpr uint8_t kTagEdiPartyName = 0xa5;
constexpr uint8_t kTagUri = 0x86;
constexpr uint8_t kTagIpAddress = 0x87;
constexpr uint8_t kTagRegisteredId = 0x88;
// RSASSA-PSS-params (RFC 4055 3.1): [0]..[3] EXPLICIT.
constexpr uint8_t kTagPssHash = 0xa0;
constexpr uint8_t kTagPssMgf = 0xa1;
constexpr uint8_t kTagPssSalt = 0xa2;
constexpr uint8_t kTagPssTrailer = 0xa3;

// RFC 5280 4.1.2.2: serial numbers are at most 20 octets (a positive one
// with its top bit set takes a 21st, zero, octet in DER).
constexpr size_t kMaxSerialNumberOctets = 20;
// pathLenConstraint values are refused above this (any value larger than
// limits::kMaxCertificateChainLength already means "no limit" here).
constexpr uint32_t kMaxPathLenConstraint = 0x7fffffff;
// RSASSA-PSS saltLength and trailerField values are refused above this (a
// salt is shorter than the largest key, limits::kMaxSignatureSize).
constexpr uint32_t kMaxPssParameter = 0xffff;

// ---- DER (wire/der.hpp reads the elements) -------------------------------------

[[nodiscard]] bool read_sequence(ByteReader& r, wire::DerElement* out) noexcept {
  return wire::read_der(r, out) && out->tag == wire::der_tag::kSequence;
}

// next_is: whether r's next element has tag `tag` (false at the end).
[[nodiscard]] bool next_is(ByteReader& r, uint8_t tag) noexcept {
  uint8_t next = 0;
  return !r.empty() && r.peek_u8(&next) && next == tag;
}

// read_tlv: read_der_tagged, and *whole = the element with its tag and
// length octets (what a signature covers or a Name comparison compares).
[[nodiscard]] bool read_tlv(ByteReader& r, uint8_t tag, wire::DerElement* out, ByteView* whole) noexcept {
  ByteReader start = r;
  if (!wire::read_der_tagged(r, tag, out)) return false;
  return start.read_bytes(r.position() - start.position(), whole);
}

// valid_oid: OBJECT IDENTIFIER contents (X.690 8.19): at least one
// subidentifier, each in the fewest octets (none starts with 0x80), and the
// last octet ends one.
[[nodiscard]] bool valid_oid(ByteView oid) noexcept {
  if (oid.empty()) return false;
  bool at_start = true;
  for (const uint8_t b : oid) {
    if (at_start && b == 0x80) return false;
    at_start = (b & 0x80) == 0;
  }
  return at_start;
}

[[nodiscard]] bool read_oid(ByteReader& r, ByteView* oid) noexcept {
  wire::DerElement e;
  if (!wire::read_der_tagged(r, wire::der_tag::kOid, &e) || !valid_oid(e.value)) return false;
  *oid = e.value;
  return true;
}

// read_boolean: a BOOLEAN (X.690 8.2, 11.1: FALSE is 0x00, TRUE 0xff).
[[nodiscard]] bool read_boolean(ByteReader& r, bool* out) noexcept {
  wire::DerElement e;
  if (!wire::read_der_tagged(r, wire::der_tag::kBoolean, &e) || e.value.size() != 1) return false;
  if (e.value[0] != 0x00 && e.value[0] != 0xff) return false;
  *out = e.value[0] == 0xff;
  return true;
}

// read_small_uint: a non-negative INTEGER in its shortest form (X.690
// 8.3.2) no larger than max.
[[nodiscard]] bool read_small_uint(ByteReader& r, uint32_t max, uint32_t* out) noexcept {
  wire::DerElement e;
  if (!wire::read_der_tagged(r, wire::der_tag::kInteger, &e) || e.value.empty()) return false;
  ByteReader v(e.value);
  uint8_t first = 0;
  if (!v.read_u8(&first) || (first & 0x80) != 0) return false;  // negative
  uint8_t second = 0;
  if (first == 0 && !v.empty() && v.peek_u8(&second) && (second & 0x80) == 0) return false;  // not minimal
  uint64_t value = first;
  uint8_t b = 0;
  while (!v.empty()) {
    if (!v.read_u8(&b)) return false;
    value = (value << 8) | b;
    if (value > max) return false;
  }
  if (value > max) return false;
  *out = static_cast<uint32_t>(value);
  return true;
}

// algorithm_oid: the OID of an AlgorithmIdentifier's contents (RFC 5280
// 4.1.1.2).
[[nodiscard]] bool algorithm_oid(ByteView algorithm_identifier, ByteView* oid) noexcept {
  ByteReader r(algorithm_identifier);
  wire::DerElement t;
  if (!wire::read_der(r, &t) || t.tag != wire::der_tag::kOid) return false;
  *oid = t.value;
  return true;
}

// names_ed25519: whether the certificate is signed with Ed25519 or carries
// an Ed25519 key, walking
//   Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
//     serialNumber, signature AlgorithmIdentifier, issuer, validity, subject,
//     subjectPublicKeyInfo SEQUENCE { algorithm AlgorithmIdentifier, ... } ... } ... }
// (RFC 5280 4.1). Anything malformed answers false: mbedTLS reports it.
[[nodiscard]] bool names_ed25519(ByteView der) noexcept {
  ByteReader r(der);
  wire::DerElement cert;
  if (!read_sequence(r, &cert)) return false;
  ByteReader c(cert.value);
  wire::DerElement tbs;
  if (!read_sequence(c, &tbs)) return false;
  ByteReader t(tbs.value);
  wire::DerElement field;
  if (next_is(t, kTagVersion) && !wire::read_der(t, &field)) return false;
  wire::DerElement serial;
  wire::DerElement signature;
  if (!wire::read_der(t, &serial) || !read_sequence(t, &signature)) return false;
  ByteView oid;
  if (algorithm_oid(signature.value, &oid) && equal_bytes(oid, kOidEd25519)) return true;
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
  return read_sequence(s, &key_algorithm) && algorithm_oid(key_algorithm.value, &oid) &&
         equal_bytes(oid, kOidEd25519);
}

// ---- time ---------------------------------------------------------------------------

// days_from_civil: days from 1970-01-01 to year-month-day in the proleptic
// Gregorian calendar, which X.509 times use (RFC 5280 4.1.2.5.1/.2). The
// year is shifted by 400 (exactly 146097 days) so that every count of whole
// years is positive; the caller has checked that the fields are in range
// (year 0..9999, month 1..12, day valid for the month): mbedTLS for its
// certificates, read_time for ours.
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

constexpr int days_in_month(int year, int month) noexcept {
  constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return kDays[static_cast<size_t>(month - 1)] + (leap && month == 2 ? 1 : 0);
}
static_assert(days_in_month(2024, 2) == 29 && days_in_month(2100, 2) == 28 && days_in_month(2000, 2) == 29);

[[nodiscard]] int64_t unix_seconds(const mbedtls_x509_time& t) noexcept {
  return days_from_civil(t.year, t.mon, t.day) * 86400 + int64_t{t.hour} * 3600 + int64_t{t.min} * 60 + t.sec;
}

// read_digits: n ASCII decimal digits.
[[nodiscard]] bool read_digits(ByteReader& r, size_t n, int* out) noexcept {
  ByteView digits;
  if (!r.read_bytes(n, &digits)) return false;
  int value = 0;
  for (const uint8_t c : digits) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

// read_time: Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }
// in the only forms RFC 5280 4.1.2.5.1/.2 allows, YYMMDDHHMMSSZ and
// YYYYMMDDHHMMSSZ (UTC, seconds present, no fraction), as Unix seconds.
// UTCTime years 50..99 are 1950..1999, 00..49 are 2000..2049.
[[nodiscard]] bool read_time(ByteReader& r, int64_t* out) noexcept {
  wire::DerElement t;
  if (!wire::read_der(r, &t)) return false;
  ByteReader d(t.value);
  int year = 0;
  if (t.tag == wire::der_tag::kUtcTime) {
    if (!read_digits(d, 2, &year)) return false;
    year += year >= 50 ? 1900 : 2000;
  } else if (t.tag == wire::der_tag::kGeneralizedTime) {
    if (!read_digits(d, 4, &year)) return false;
  } else {
    return false;
  }
  int month = 0, day = 0, hour = 0, minute = 0, second = 0;
  uint8_t zulu = 0;
  if (!read_digits(d, 2, &month) || !read_digits(d, 2, &day) || !read_digits(d, 2, &hour) ||
      !read_digits(d, 2, &minute) || !read_digits(d, 2, &second) || !d.read_u8(&zulu) || zulu != 'Z' ||
      !d.expect_end().ok()) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
      second > 59) {
    return false;
  }
  *out = days_from_civil(year, month, day) * 86400 + int64_t{hour} * 3600 + int64_t{minute} * 60 + second;
  return true;
}

// ---- names --------------------------------------------------------------------------

// check_name: the contents of a Name (RFC 5280 4.1.2.4):
//   RDNSequence ::= SEQUENCE OF RelativeDistinguishedName
//   RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
//   AttributeTypeAndValue ::= SEQUENCE { type OID, value ANY }
[[nodiscard]] bool check_name(ByteView rdn_sequence) noexcept {
  ByteReader r(rdn_sequence);
  while (!r.empty()) {
    wire::DerElement rdn;
    if (!wire::read_der_tagged(r, wire::der_tag::kSet, &rdn) || rdn.value.empty()) return false;
    ByteReader s(rdn.value);
    while (!s.empty()) {
      wire::DerElement atv;
      if (!wire::read_der_tagged(s, wire::der_tag::kSequence, &atv)) return false;
      ByteReader a(atv.value);
      ByteView type;
      wire::DerElement value;
      if (!read_oid(a, &type) || !wire::read_der(a, &value) || !a.expect_end().ok()) return false;
    }
  }
  return true;
}

// read_name: a whole Name element, checked.
[[nodiscard]] bool read_name(ByteReader& r, ByteView* whole, bool* empty) noexcept {
  wire::DerElement name;
  if (!read_tlv(r, wire::der_tag::kSequence, &name, whole) || !check_name(name.value)) return false;
  *empty = name.value.empty();
  return true;
}

// The attribute types subject_text names (RFC 4519, RFC 2985, RFC 4524),
// with mbedTLS's labels so that both kinds of certificate read alike;
// others are written as dotted OIDs.
struct AttributeName {
  std::span<const uint8_t> oid;
  std::string_view label;
};
constexpr uint8_t kOidCn[] = {0x55, 0x04, 0x03};
constexpr uint8_t kOidSurname[] = {0x55, 0x04, 0x04};
constexpr uint8_t kOidSerialNumber[] = {0x55, 0x04, 0x05};
constexpr uint8_t kOidC[] = {0x55, 0x04, 0x06};
constexpr uint8_t kOidL[] = {0x55, 0x04, 0x07};
constexpr uint8_t kOidSt[] = {0x55, 0x04, 0x08};
constexpr uint8_t kOidO[] = {0x55, 0x04, 0x0a};
constexpr uint8_t kOidOu[] = {0x55, 0x04, 0x0b};
constexpr uint8_t kOidTitle[] = {0x55, 0x04, 0x0c};
constexpr uint8_t kOidGivenName[] = {0x55, 0x04, 0x2a};
constexpr uint8_t kOidEmail[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01};
constexpr uint8_t kOidDc[] = {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19};
constexpr uint8_t kOidUid[] = {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01};
constexpr AttributeName kAttributeNames[] = {
    {kOidCn, "CN"},
    {kOidSurname, "SN"},
    {kOidSerialNumber, "serialNumber"},
    {kOidC, "C"},
    {kOidL, "L"},
    {kOidSt, "ST"},
    {kOidO, "O"},
    {kOidOu, "OU"},
    {kOidTitle, "title"},
    {kOidGivenName, "GN"},
    {kOidEmail, "emailAddress"},
    {kOidDc, "DC"},
    {kOidUid, "uid"},
};

// TextOut: text into a caller's buffer, counting what did not fit.
class TextOut {
 public:
  explicit TextOut(std::span<char> out) noexcept : out_(out) {}
  void put(char c) noexcept {
    if (n_ < out_.size()) out_[n_] = c;
    ++n_;
  }
  void put(std::string_view s) noexcept {
    for (const char c : s) put(c);
  }
  void put_number(uint64_t v) noexcept {
    std::array<char, 20> digits{};
    size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) put(digits[--n]);
  }
  // finish: NUL-terminates and returns the length without the NUL, or
  // buffer_too_small.
  Result<size_t> finish() noexcept {
    if (n_ >= out_.size()) return Errc::buffer_too_small;
    out_[n_] = '\0';
    return n_;
  }

 private:
  std::span<char> out_;
  size_t n_ = 0;
};

// put_oid: dotted decimal (X.690 8.19.4: the first octets hold 40*X + Y).
// A subidentifier beyond 64 bits is written as '?'.
void put_oid(TextOut& out, ByteView oid) noexcept {
  uint64_t arc = 0;
  bool too_big = false;
  bool first = true;
  for (const uint8_t b : oid) {
    if (arc > (UINT64_MAX >> 7)) too_big = true;
    arc = (arc << 7) | (b & 0x7fu);
    if ((b & 0x80) != 0) continue;
    if (first) {
      const uint64_t top = too_big ? 2 : arc < 40 ? 0 : arc < 80 ? 1 : 2;
      out.put_number(top);
      out.put('.');
      if (too_big) {
        out.put('?');
      } else {
        out.put_number(arc - top * 40);
      }
      first = false;
    } else {
      out.put('.');
      if (too_big) {
        out.put('?');
      } else {
        out.put_number(arc);
      }
    }
    arc = 0;
    too_big = false;
  }
}

// render_name: "CN=..., O=..." for a whole (checked) Name element: the RDNs
// in certificate order, ", " between them, " + " inside a multi-valued
// one; value octets as they are, control characters as '?'.
[[nodiscard]] Result<size_t> render_name(ByteView name, std::span<char> text) noexcept {
  TextOut out(text);
  wire::DerElement seq;
  if (!wire::read_single_der(name, &seq)) return Errc::invalid_certificate;
  ByteReader r(seq.value);
  bool first_rdn = true;
  while (!r.empty()) {
    wire::DerElement rdn;
    if (!wire::read_der(r, &rdn)) return Errc::invalid_certificate;
    if (!first_rdn) out.put(", ");
    first_rdn = false;
    ByteReader s(rdn.value);
    bool first_atv = true;
    while (!s.empty()) {
      wire::DerElement atv;
      if (!wire::read_der(s, &atv)) return Errc::invalid_certificate;
      ByteReader a(atv.value);
      wire::DerElement type;
      wire::DerElement value;
      if (!wire::read_der(a, &type) || !wire::read_der(a, &value)) return Errc::invalid_certificate;
      if (!first_atv) out.put(" + ");
      first_atv = false;
      std::string_view label;
      for (const AttributeName& n : kAttributeNames) {
        if (equal_bytes(type.value, n.oid)) label = n.label;
      }
      if (label.empty()) {
        put_oid(out, type.value);
      } else {
        out.put(label);
      }
      out.put('=');
      for (const uint8_t c : value.value) out.put(c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c));
    }
  }
  return out.finish();
}

// ---- signature algorithms --------------------------------------------------------

// The certificate signature algorithms PublicKey::verify implements. SHA-1
// is not among them: chosen-prefix SHA-1 collisions are practical, which is
// what forging a certificate needs.
struct SignatureAlgorithm {
  std::span<const uint8_t> oid;
  SignatureScheme scheme;
  // RFC 4055 section 5: RSA parameters are NULL, and may be absent; RFC
  // 8410 section 3 and RFC 5758 section 3.2: EdDSA and ECDSA parameters are
  // absent.
  bool null_parameters;
};
constexpr SignatureAlgorithm kSignatureAlgorithms[] = {
    {kOidEd25519, SignatureScheme::ed25519, false},
    {kOidEcdsaSha256, SignatureScheme::ecdsa_sha256, false},
    {kOidEcdsaSha384, SignatureScheme::ecdsa_sha384, false},
    {kOidEcdsaSha512, SignatureScheme::ecdsa_sha512, false},
    {kOidRsaSha256, SignatureScheme::rsa_pkcs1_sha256, true},
    {kOidRsaSha384, SignatureScheme::rsa_pkcs1_sha384, true},
    {kOidRsaSha512, SignatureScheme::rsa_pkcs1_sha512, true},
};

struct PssHash {
  std::span<const uint8_t> oid;
  SignatureScheme scheme;
  uint32_t length;
};
constexpr PssHash kPssHashes[] = {
    {kOidSha256, SignatureScheme::rsa_pss_sha256, 32},
    {kOidSha384, SignatureScheme::rsa_pss_sha384, 48},
    {kOidSha512, SignatureScheme::rsa_pss_sha512, 64},
};

// read_hash_algorithm: a hash AlgorithmIdentifier, parameters NULL or
// absent (RFC 4055 section 2.1).
[[nodiscard]] bool read_hash_algorithm(ByteReader& r, ByteView* oid) noexcept {
  wire::DerElement ai;
  if (!wire::read_der_tagged(r, wire::der_tag::kSequence, &ai)) return false;
  ByteReader in(ai.value);
  if (!read_oid(in, oid)) return false;
  if (in.empty()) return true;
  wire::DerElement null;
  return wire::read_der_tagged(in, wire::der_tag::kNull, &null) && null.value.empty() && in.expect_end().ok();
}

// pss_scheme: the scheme RSASSA-PSS-params name (RFC 4055 3.1):
//   SEQUENCE { hashAlgorithm [0] DEFAULT sha1, maskGenAlgorithm [1] DEFAULT
//   mgf1SHA1, saltLength [2] DEFAULT 20, trailerField [3] DEFAULT 1 }
// in that order. Only what PublicKey::verify implements is accepted: a SHA-2
// hash, MGF1 with the same hash, a salt as long as the hash; anything else
// that parses is unsupported_algorithm.
[[nodiscard]] Result<SignatureScheme> pss_scheme(ByteReader& r) noexcept {
  wire::DerElement params;
  if (!wire::read_der_tagged(r, wire::der_tag::kSequence, &params) || !r.expect_end().ok()) {
    return Errc::invalid_certificate;
  }
  ByteReader p(params.value);
  ByteView hash;      // empty: the SHA-1 default
  ByteView mgf_hash;  // empty: the MGF1-SHA-1 default
  uint32_t salt = 20;
  wire::DerElement e;
  if (next_is(p, kTagPssHash)) {
    if (!wire::read_der(p, &e)) return Errc::invalid_certificate;
    ByteReader in(e.value);
    if (!read_hash_algorithm(in, &hash) || !in.expect_end().ok()) return Errc::invalid_certificate;
  }
  if (next_is(p, kTagPssMgf)) {
    if (!wire::read_der(p, &e)) return Errc::invalid_certificate;
    ByteReader in(e.value);
    wire::DerElement mgf;
    ByteView mgf_oid;
    if (!wire::read_der_tagged(in, wire::der_tag::kSequence, &mgf) || !in.expect_end().ok()) {
      return Errc::invalid_certificate;
    }
    ByteReader m(mgf.value);
    if (!read_oid(m, &mgf_oid)) return Errc::invalid_certificate;
    if (!equal_bytes(mgf_oid, kOidMgf1)) return Errc::unsupported_algorithm;
    if (!read_hash_algorithm(m, &mgf_hash) || !m.expect_end().ok()) return Errc::invalid_certificate;
  }
  if (next_is(p, kTagPssSalt)) {
    if (!wire::read_der(p, &e)) return Errc::invalid_certificate;
    ByteReader in(e.value);
    if (!read_small_uint(in, kMaxPssParameter, &salt) || !in.expect_end().ok()) {
      return Errc::invalid_certificate;
    }
  }
  if (next_is(p, kTagPssTrailer)) {
    uint32_t trailer = 0;
    if (!wire::read_der(p, &e)) return Errc::invalid_certificate;
    ByteReader in(e.value);
    if (!read_small_uint(in, kMaxPssParameter, &trailer) || !in.expect_end().ok()) {
      return Errc::invalid_certificate;
    }
    if (trailer != 1) return Errc::unsupported_algorithm;
  }
  if (!p.expect_end().ok()) return Errc::invalid_certificate;
  for (const PssHash& h : kPssHashes) {
    if (equal_bytes(hash, h.oid) && equal_bytes(mgf_hash, h.oid) && salt == h.length) return h.scheme;
  }
  return Errc::unsupported_algorithm;
}

// signature_scheme: the scheme of a whole AlgorithmIdentifier element.
// Errors: invalid_certificate (malformed), unsupported_algorithm (an
// algorithm or parameters PublicKey::verify does not implement).
[[nodiscard]] Result<SignatureScheme> signature_scheme(ByteView algorithm_identifier) noexcept {
  wire::DerElement ai;
  if (!wire::read_single_der(algorithm_identifier, &ai) || ai.tag != wire::der_tag::kSequence) {
    return Errc::invalid_certificate;
  }
  ByteReader r(ai.value);
  ByteView oid;
  if (!read_oid(r, &oid)) return Errc::invalid_certificate;
  if (equal_bytes(oid, kOidRsassaPss)) return pss_scheme(r);
  for (const SignatureAlgorithm& a : kSignatureAlgorithms) {
    if (!equal_bytes(oid, a.oid)) continue;
    if (!r.empty()) {
      wire::DerElement null;
      if (!a.null_parameters || !wire::read_der_tagged(r, wire::der_tag::kNull, &null) ||
          !null.value.empty() || !r.expect_end().ok()) {
        return Errc::invalid_certificate;
      }
    }
    return a.scheme;
  }
  return Errc::unsupported_algorithm;
}

// ---- certificates this file parses -------------------------------------------------

// split_signed: the three parts of
//   Certificate ::= SEQUENCE { tbsCertificate TBSCertificate,
//     signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
// (RFC 5280 4.1.1) of a DER certificate that is exactly one element.
[[nodiscard]] bool split_signed(ByteView der, CertFields* f) noexcept {
  wire::DerElement cert;
  if (!wire::read_single_der(der, &cert) || cert.tag != wire::der_tag::kSequence) return false;
  ByteReader c(cert.value);
  wire::DerElement tbs;
  wire::DerElement algorithm;
  wire::DerElement value;
  if (!read_tlv(c, wire::der_tag::kSequence, &tbs, &f->tbs) ||
      !read_tlv(c, wire::der_tag::kSequence, &algorithm, &f->signature_algorithm) ||
      !wire::read_der_tagged(c, wire::der_tag::kBitString, &value) || !c.expect_end().ok()) {
    return false;
  }
  // Signatures are whole octets: the BIT STRING's initial octet (the count
  // of unused bits, X.690 8.6.2.2) is 0.
  ByteReader s(value.value);
  uint8_t unused = 0;
  return s.read_u8(&unused) && unused == 0 && s.read_rest(&f->signature) && !f->signature.empty();
}

// parse_basic_constraints: BasicConstraints ::= SEQUENCE { cA BOOLEAN
// DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } (RFC 5280
// 4.2.1.9).
[[nodiscard]] bool parse_basic_constraints(ByteView value, CertFields* f) noexcept {
  ByteReader r(value);
  wire::DerElement seq;
  if (!wire::read_der_tagged(r, wire::der_tag::kSequence, &seq) || !r.expect_end().ok()) return false;
  ByteReader b(seq.value);
  if (next_is(b, wire::der_tag::kBoolean) && !read_boolean(b, &f->ca)) return false;
  if (!b.empty()) {
    if (!read_small_uint(b, kMaxPathLenConstraint, &f->path_len)) return false;
    f->path_len_limited = true;
  }
  return b.expect_end().ok();
}

// parse_key_usage: KeyUsage ::= BIT STRING (RFC 5280 4.2.1.3), of which
// keyCertSign (bit 5) matters here. DER: unused bits are zero (X.690
// 11.2.1).
[[nodiscard]] bool parse_key_usage(ByteView value, CertFields* f) noexcept {
  ByteReader r(value);
  wire::DerElement bits;
  if (!wire::read_der_tagged(r, wire::der_tag::kBitString, &bits) || !r.expect_end().ok()) return false;
  ByteReader b(bits.value);
  uint8_t unused = 0;
  ByteView octets;
  if (!b.read_u8(&unused) || unused > 7 || !b.read_rest(&octets)) return false;
  if (octets.empty()) {
    if (unused != 0) return false;
    f->key_cert_sign = false;
    return true;
  }
  if ((octets.back() & ((1u << unused) - 1u)) != 0) return false;
  f->key_cert_sign = (octets.front() & 0x04) != 0;
  return true;
}

// general_name: one GeneralName (RFC 5280 4.2.1.6) as a SubjectAltName;
// false when the element is not a well-formed GeneralName.
[[nodiscard]] bool general_name(const wire::DerElement& e, SubjectAltName* out) noexcept {
  using Kind = SubjectAltName::Kind;
  out->value = e.value;
  ByteReader in(e.value);
  switch (e.tag) {
    case kTagOtherName: {  // SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
      ByteView type;
      wire::DerElement v;
      out->kind = Kind::other;
      return read_oid(in, &type) && wire::read_der_tagged(in, 0xa0, &v) && in.expect_end().ok();
    }
    case kTagRfc822Name: out->kind = Kind::email; return true;
    case kTagDnsName: out->kind = Kind::dns; return true;
    case kTagUri: out->kind = Kind::uri; return true;
    case kTagX400Address:
    case kTagEdiPartyName: out->kind = Kind::other; return true;
    case kTagDirectoryName: {
      ByteView name;
      bool empty = false;
      out->kind = Kind::directory_name;
      return read_name(in, &name, &empty) && in.expect_end().ok();
    }
    case kTagIpAddress:
      // An address is 4 or 16 octets; other lengths (an address/mask pair
      // belongs in name constraints) are not an ip for our callers.
      out->kind = e.value.size() == 4 || e.value.size() == 16 ? Kind::ip : Kind::other;
      return true;
    case kTagRegisteredId: out->kind = Kind::other; return valid_oid(e.value);
    default: return false;
  }
}

// parse_subject_alt_name: GeneralNames ::= SEQUENCE SIZE (1..MAX) OF
// GeneralName, every entry kept in order.
[[nodiscard]] Status parse_subject_alt_name(ByteView value, CertImpl* impl) noexcept {
  ByteReader r(value);
  wire::DerElement seq;
  if (!wire::read_der_tagged(r, wire::der_tag::kSequence, &seq) || !r.expect_end().ok() ||
      seq.value.empty()) {
    return Errc::invalid_certificate;
  }
  size_t count = 0;
  {
    ByteReader names(seq.value);
    while (!names.empty()) {
      wire::DerElement e;
      SubjectAltName san;
      if (!wire::read_der(names, &e) || !general_name(e, &san)) return Errc::invalid_certificate;
      ++count;
    }
  }
  impl->sans.reset(new (std::nothrow) SubjectAltName[count]);
  if (!impl->sans) return Errc::out_of_memory;
  impl->san_count = count;
  ByteReader names(seq.value);
  for (size_t i = 0; i < count; ++i) {
    wire::DerElement e;
    if (!wire::read_der(names, &e) || !general_name(e, &impl->sans[i])) return Errc::invalid_certificate;
  }
  return Status::success();
}

// parse_extensions: the contents of [3] EXPLICIT Extensions ::= SEQUENCE
// SIZE (1..MAX) OF Extension, Extension ::= SEQUENCE { extnID OID,
// critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (RFC 5280
// 4.1.2.9). basicConstraints, keyUsage and subjectAltName are read; any
// other extension marked critical refuses the certificate (RFC 5280 4.2),
// as does a repeated one.
[[nodiscard]] Status parse_extensions(ByteView contents, CertImpl* impl, CertFields* f) noexcept {
  ByteReader r(contents);
  wire::DerElement seq;
  if (!wire::read_der_tagged(r, wire::der_tag::kSequence, &seq) || !r.expect_end().ok() ||
      seq.value.empty()) {
    return Errc::invalid_certificate;
  }
  bool seen_basic_constraints = false;
  bool seen_key_usage = false;
  bool seen_subject_alt_name = false;
  ByteReader list(seq.value);
  while (!list.empty()) {
    wire::DerElement ext;
    if (!wire::read_der_tagged(list, wire::der_tag::kSequence, &ext)) return Errc::invalid_certificate;
    ByteReader e(ext.value);
    ByteView id;
    bool critical = false;
    wire::DerElement value;
    if (!read_oid(e, &id)) return Errc::invalid_certificate;
    if (next_is(e, wire::der_tag::kBoolean) && !read_boolean(e, &critical)) return Errc::invalid_certificate;
    if (!wire::read_der_tagged(e, wire::der_tag::kOctetString, &value) || !e.expect_end().ok()) {
      return Errc::invalid_certificate;
    }
    if (equal_bytes(id, kOidBasicConstraints)) {
      if (seen_basic_constraints || !parse_basic_constraints(value.value, f))
        return Errc::invalid_certificate;
      seen_basic_constraints = true;
    } else if (equal_bytes(id, kOidKeyUsage)) {
      if (seen_key_usage || !parse_key_usage(value.value, f)) return Errc::invalid_certificate;
      seen_key_usage = true;
    } else if (equal_bytes(id, kOidSubjectAltName)) {
      if (seen_subject_alt_name) return Errc::invalid_certificate;
      IPSEC_TRY(parse_subject_alt_name(value.value, impl));
      seen_subject_alt_name = true;
    } else if (critical) {
      return Errc::invalid_certificate;
    }
  }
  return Status::success();
}

// parse_own: impl->der as a certificate (RFC 5280 4.1):
//   TBSCertificate ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1,
//     serialNumber INTEGER, signature AlgorithmIdentifier, issuer Name,
//     validity SEQUENCE { notBefore Time, notAfter Time }, subject Name,
//     subjectPublicKeyInfo, issuerUniqueID [1] IMPLICIT OPTIONAL,
//     subjectUniqueID [2] IMPLICIT OPTIONAL, extensions [3] EXPLICIT OPTIONAL }
// Fills impl->fields and impl->sans. Errors: invalid_certificate,
// unsupported_algorithm (a signature algorithm or subject key PublicKey
// does not implement), out_of_memory.
[[nodiscard]] Status parse_own(CertImpl* impl) noexcept {
  CertFields f;
  if (!split_signed(impl->der.view(), &f)) return Errc::invalid_certificate;
  wire::DerElement tbs;
  if (!wire::read_single_der(f.tbs, &tbs)) return Errc::invalid_certificate;
  ByteReader t(tbs.value);

  // Version: v3 (2), or absent (v1). DER leaves out the v1 default; v2
  // certificates carry only the unique IDs refused below.
  bool v3 = false;
  if (next_is(t, kTagVersion)) {
    wire::DerElement version;
    wire::DerElement number;
    if (!wire::read_der(t, &version)) return Errc::invalid_certificate;
    ByteReader v(version.value);
    if (!wire::read_der_tagged(v, wire::der_tag::kInteger, &number) || !v.expect_end().ok() ||
        number.value.size() != 1 || number.value[0] != 2) {
      return Errc::invalid_certificate;
    }
    v3 = true;
  }
  wire::DerElement serial;
  if (!wire::read_der_tagged(t, wire::der_tag::kInteger, &serial) || serial.value.empty() ||
      serial.value.size() > kMaxSerialNumberOctets + 1 ||
      (serial.value.size() == kMaxSerialNumberOctets + 1 && serial.value[0] != 0)) {
    return Errc::invalid_certificate;
  }
  // RFC 5280 4.1.2.3: the same algorithm as the outer signatureAlgorithm.
  wire::DerElement inner;
  ByteView inner_algorithm;
  if (!read_tlv(t, wire::der_tag::kSequence, &inner, &inner_algorithm) ||
      !equal_bytes(inner_algorithm, f.signature_algorithm)) {
    return Errc::invalid_certificate;
  }
  // RFC 5280 4.1.2.4: the issuer is a non-empty Name.
  bool empty = false;
  if (!read_name(t, &f.issuer, &empty) || empty) return Errc::invalid_certificate;
  wire::DerElement validity;
  if (!wire::read_der_tagged(t, wire::der_tag::kSequence, &validity)) return Errc::invalid_certificate;
  ByteReader v(validity.value);
  if (!read_time(v, &f.not_before) || !read_time(v, &f.not_after) || !v.expect_end().ok()) {
    return Errc::invalid_certificate;
  }
  // The subject may be empty (RFC 5280 4.1.2.6: the identity is then in a
  // critical subjectAltName).
  if (!read_name(t, &f.subject, &empty)) return Errc::invalid_certificate;
  wire::DerElement spki;
  if (!read_tlv(t, wire::der_tag::kSequence, &spki, &f.spki)) return Errc::invalid_certificate;
  // Unique identifiers (RFC 5280 4.1.2.8: conforming CAs do not generate
  // them) are refused rather than ignored.
  if (next_is(t, kTagIssuerUniqueIdPrimitive) || next_is(t, kTagIssuerUniqueIdConstructed) ||
      next_is(t, kTagSubjectUniqueIdPrimitive) || next_is(t, kTagSubjectUniqueIdConstructed)) {
    return Errc::invalid_certificate;
  }
  if (next_is(t, kTagExtensions)) {
    wire::DerElement extensions;
    if (!v3 || !wire::read_der(t, &extensions)) return Errc::invalid_certificate;
    IPSEC_TRY(parse_extensions(extensions.value, impl, &f));
  }
  if (!t.expect_end().ok()) return Errc::invalid_certificate;

  auto scheme = signature_scheme(f.signature_algorithm);
  if (!scheme) return scheme.status();
  auto key = PublicKey::parse(f.spki);
  if (!key) {
    return key.error() == Errc::unsupported_algorithm || key.error() == Errc::out_of_memory
               ? key.status()
               : Status(Errc::invalid_certificate);
  }
  impl->fields = f;
  return Status::success();
}

// ---- verification ------------------------------------------------------------------

// The mbedTLS verification profile: SHA-2 hashes, RSA (PKCS#1 v1.5 and PSS)
// of at least 2048 bits and ECDSA on the curves of RFC 4754, the same keys
// PublicKey accepts (which is the profile of PathSearch). SHA-1 certificate
// signatures are refused: chosen-prefix SHA-1 collisions are practical,
// which is what forging a certificate needs.
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
  mbedtls_x509_crt head_{};
};

[[nodiscard]] ByteView view_of(const mbedtls_x509_buf& b) noexcept { return {b.p, b.len}; }

// fields_of: the CertFields of either kind of certificate.
[[nodiscard]] bool fields_of(const CertImpl& impl, CertFields* out) noexcept {
  if (impl.own) {
    *out = impl.fields;
    return true;
  }
  const mbedtls_x509_crt& c = impl.crt;
  CertFields f;
  if (!split_signed(view_of(c.raw), &f)) return false;
  f.issuer = view_of(c.issuer_raw);
  f.subject = view_of(c.subject_raw);
  f.spki = view_of(c.pk_raw);
  f.not_before = unix_seconds(c.valid_from);
  f.not_after = unix_seconds(c.valid_to);
  f.ca = c.ca_istrue != 0;
  // mbedTLS keeps pathLenConstraint + 1, and 0 for none.
  f.path_len_limited = c.max_pathlen > 0;
  f.path_len = c.max_pathlen > 0 ? static_cast<uint32_t>(c.max_pathlen - 1) : 0;
  f.key_cert_sign =
      (c.ext_types & MBEDTLS_X509_EXT_KEY_USAGE) == 0 || (c.key_usage & MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0;
  *out = f;
  return true;
}

[[nodiscard]] bool self_issued(const CertFields& c) noexcept { return equal_bytes(c.issuer, c.subject); }

// signed_by: whether `issuer`'s key verifies `child`'s signature with the
// scheme of child's signatureAlgorithm.
[[nodiscard]] bool signed_by(const CertFields& child, const CertFields& issuer) noexcept {
  auto scheme = signature_scheme(child.signature_algorithm);
  if (!scheme) return false;
  auto key = PublicKey::parse(issuer.spki);
  return key && key->verify(*scheme, child.tbs, child.signature).ok();
}

// PathSearch: path validation (RFC 5280 6.1, the parts IKEv2 needs) for
// chains with certificates mbedTLS cannot hold. A depth-first search from
// the leaf through the intermediates (each used once: no loops) to a trust
// anchor; a link child <- issuer holds when the issuer's subject is the
// child's issuer Name (byte comparison), the issuer is a CA (basicConstraints
// cA, and keyCertSign when keyUsage is present), its pathLenConstraint
// covers the non-self-issued intermediates below it, and its key verifies
// the child's signature. Every certificate of the path, the anchor
// included, must be valid at `now`. A path whose links hold but whose
// validity fails is remembered: its error is the answer when no path is
// valid (a path problem outranks a validity problem, as with mbedTLS).
// Each signature is verified at most once (the memo), so hostile
// intermediates cost at most (1 + I) * (I + A) verifications.
class PathSearch {
 public:
  // chain: the leaf, then the intermediates; memo: (1 + I) * (I + A) zero
  // octets.
  PathSearch(std::span<const CertFields> chain, std::span<const CertFields> anchors, int64_t now,
             MutableByteView memo) noexcept
      : chain_(chain),
        anchors_(anchors),
        now_(now),
        memo_(memo),
        columns_(chain.size() - 1 + anchors.size()) {}

  [[nodiscard]] Status run() noexcept {
    const CertFields& leaf = chain_[0];
    on_path_[0] = true;
    path_[0] = 0;
    // A self-signed leaf that is itself a trust anchor (its subject and key
    // are an anchor's), whether or not it is a CA, as mbedTLS trusts a
    // locally trusted end-entity certificate.
    if (self_issued(leaf)) {
      for (const CertFields& a : anchors_) {
        if (!equal_bytes(leaf.subject, a.subject) || !equal_bytes(leaf.spki, a.spki) ||
            !signed_by(leaf, leaf)) {
          continue;
        }
        const Errc e = validity(1, a);
        if (e == Errc::ok) return Status::success();
        if (time_error_ == Errc::ok) time_error_ = e;
      }
    }
    if (search(0, 1, 0)) return Status::success();
    return time_error_ != Errc::ok ? time_error_ : Errc::untrusted_certificate;
  }

 private:
  // search: extend the path whose last certificate is chain_[child] (depth
  // certificates so far; cas_below non-self-issued intermediates in it).
  [[nodiscard]] bool search(size_t child, size_t depth, size_t cas_below) noexcept {
    const size_t intermediates = chain_.size() - 1;
    for (size_t a = 0; a < anchors_.size(); ++a) {
      if (!issued(child, anchors_[a], intermediates + a, cas_below)) continue;
      const Errc e = validity(depth, anchors_[a]);
      if (e == Errc::ok) return true;
      if (time_error_ == Errc::ok) time_error_ = e;
    }
    for (size_t i = 1; i < chain_.size(); ++i) {
      if (on_path_[i] || !issued(child, chain_[i], i - 1, cas_below)) continue;
      on_path_[i] = true;
      path_[depth] = i;
      if (search(i, depth + 1, cas_below + (self_issued(chain_[i]) ? 0 : 1))) return true;
      on_path_[i] = false;
    }
    return false;
  }

  // issued: whether `issuer` (memo column `column`) issued chain_[child]
  // (RFC 5280 6.1.3 (a)(1) and (a)(4), 6.1.4 (k), (l)/(m), (n)).
  [[nodiscard]] bool issued(size_t child, const CertFields& issuer, size_t column,
                            size_t cas_below) noexcept {
    const CertFields& c = chain_[child];
    if (!equal_bytes(c.issuer, issuer.subject) || !issuer.ca || !issuer.key_cert_sign) return false;
    if (issuer.path_len_limited && cas_below > issuer.path_len) return false;
    uint8_t& known = memo_[child * columns_ + column];
    if (known == 0) known = signed_by(c, issuer) ? 1 : 2;
    return known == 1;
  }

  // validity: the path's first `depth` certificates and the anchor at now_
  // (RFC 5280 6.1.3 (a)(2): notBefore and notAfter inclusive); an expired
  // certificate outranks one not yet valid.
  [[nodiscard]] Errc validity(size_t depth, const CertFields& anchor) const noexcept {
    bool expired = now_ > anchor.not_after;
    bool future = now_ < anchor.not_before;
    for (size_t k = 0; k < depth; ++k) {
      const CertFields& c = chain_[path_[k]];
      expired = expired || now_ > c.not_after;
      future = future || now_ < c.not_before;
    }
    if (expired) return Errc::certificate_expired;
    if (future) return Errc::certificate_not_yet_valid;
    return Errc::ok;
  }

  std::span<const CertFields> chain_;
  std::span<const CertFields> anchors_;
  int64_t now_;
  MutableByteView memo_;  // per (child, issuer): 0 unknown, 1 signed, 2 not
  size_t columns_;
  std::array<size_t, limits::kMaxCertificateChainLength + 1> path_{};
  std::array<bool, limits::kMaxCertificateChainLength + 1> on_path_{};
  Errc time_error_ = Errc::ok;
};

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

  std::unique_ptr<detail::CertImpl, detail::CertImplDeleter> impl(new (std::nothrow) detail::CertImpl);
  if (!impl) return Errc::out_of_memory;
  const int rc = mbedtls_x509_crt_parse_der(&impl->crt, der.data(), der.size());
  if (rc != 0) {
    // High-level code only (mbedTLS adds the ASN.1 or OID cause to it).
    const int high = -((-rc) & 0xff80);
    if ((high == MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG || high == MBEDTLS_ERR_PK_UNKNOWN_PK_ALG) &&
        names_ed25519(der)) {
      impl.reset(new (std::nothrow) detail::CertImpl);
      if (!impl) return Errc::out_of_memory;
      auto copy = ByteBuffer::copy_of(der);
      if (!copy) return copy.status();
      impl->own = true;
      impl->der = std::move(*copy);
      IPSEC_TRY(parse_own(impl.get()));
    } else {
      switch (high) {
        case MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG:
        case MBEDTLS_ERR_PK_UNKNOWN_PK_ALG:
        case MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE: return Errc::unsupported_algorithm;
        case MBEDTLS_ERR_X509_ALLOC_FAILED: return Errc::out_of_memory;
        default: return Errc::invalid_certificate;
      }
    }
  }
  Certificate cert;
  cert.impl_ = std::move(impl);
  return cert;
}

Result<Certificate> Certificate::parse_pem(std::string_view pem) noexcept {
  if (pem.size() > limits::kMaxCertificatePemSize) return Errc::limit_exceeded;
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

ByteView Certificate::der() const noexcept {
  if (!impl_) return {};
  return impl_->own ? impl_->der.view() : view_of(impl_->crt.raw);
}

ByteView Certificate::subject_der() const noexcept {
  if (!impl_) return {};
  return impl_->own ? impl_->fields.subject : view_of(impl_->crt.subject_raw);
}

ByteView Certificate::issuer_der() const noexcept {
  if (!impl_) return {};
  return impl_->own ? impl_->fields.issuer : view_of(impl_->crt.issuer_raw);
}

Result<size_t> Certificate::subject_text(std::span<char> out) const noexcept {
  if (!impl_) return Errc::invalid_argument;
  if (out.empty()) return Errc::buffer_too_small;
  if (impl_->own) return render_name(impl_->fields.subject, out);
  // Writes "O=..., CN=..." in certificate order, NUL-terminated, and
  // returns the length without the NUL.
  const int n = mbedtls_x509_dn_gets(out.data(), out.size(), &impl_->crt.subject);
  if (n == MBEDTLS_ERR_X509_BUFFER_TOO_SMALL) return Errc::buffer_too_small;
  if (n < 0) return Errc::invalid_certificate;
  return static_cast<size_t>(n);
}

// mbedTLS keeps every subjectAltName entry (RFC 5280 4.2.1.6) in a list
// whose first node is embedded in the certificate and empty when the
// extension is absent; buf.p points into crt.raw. Own certificates keep
// them in an array (views into der).
size_t Certificate::subject_alt_name_count() const noexcept {
  if (!impl_) return 0;
  if (impl_->own) return impl_->san_count;
  size_t n = 0;
  for (const mbedtls_x509_sequence* s = &impl_->crt.subject_alt_names; s != nullptr; s = s->next) {
    if (s->buf.p != nullptr) ++n;
  }
  return n;
}

SubjectAltName Certificate::subject_alt_name(size_t index) const noexcept {
  if (!impl_) return {};
  if (impl_->own) return index < impl_->san_count ? impl_->sans[index] : SubjectAltName{};
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

int64_t Certificate::not_before() const noexcept {
  if (!impl_) return 0;
  return impl_->own ? impl_->fields.not_before : unix_seconds(impl_->crt.valid_from);
}

int64_t Certificate::not_after() const noexcept {
  if (!impl_) return 0;
  return impl_->own ? impl_->fields.not_after : unix_seconds(impl_->crt.valid_to);
}

// basicConstraints cA (RFC 5280 4.2.1.9); false when the extension is absent.
bool Certificate::is_ca() const noexcept {
  if (!impl_) return false;
  return impl_->own ? impl_->fields.ca : impl_->crt.ca_istrue != 0;
}

Result<PublicKey> Certificate::public_key() const noexcept {
  if (!impl_) return Errc::invalid_argument;
  return PublicKey::parse(impl_->own ? impl_->fields.spki : view_of(impl_->crt.pk_raw));
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

  // PathSearch when an own certificate can be on a path: the leaf, an
  // intermediate, or an anchor whose subject is the issuer of the leaf or
  // of an intermediate.
  bool own = leaf.impl_->own;
  for (const Certificate& c : intermediates) own = own || c.impl_->own;
  for (const Certificate& a : trust_anchors) {
    if (own || !a.impl_->own) continue;
    own = equal_bytes(a.subject_der(), leaf.issuer_der());
    for (const Certificate& c : intermediates) own = own || equal_bytes(a.subject_der(), c.issuer_der());
  }
  if (own) {
    std::array<detail::CertFields, limits::kMaxCertificateChainLength + 1> chain{};
    if (!fields_of(*leaf.impl_, &chain[0])) return Errc::untrusted_certificate;
    for (size_t i = 0; i < intermediates.size(); ++i) {
      if (!fields_of(*intermediates[i].impl_, &chain[i + 1])) return Errc::untrusted_certificate;
    }
    std::unique_ptr<detail::CertFields[]> anchors(new (std::nothrow)
                                                      detail::CertFields[trust_anchors.size()]);
    if (!anchors) return Errc::out_of_memory;
    for (size_t i = 0; i < trust_anchors.size(); ++i) {
      // An anchor whose fields cannot be read keeps empty ones: no subject
      // Name (a whole element) equals an empty view, so it issues nothing.
      if (!fields_of(*trust_anchors[i].impl_, &anchors[i])) anchors[i] = detail::CertFields{};
    }
    const size_t nodes = 1 + intermediates.size();
    auto memo = ByteBuffer::allocate(nodes * (intermediates.size() + trust_anchors.size()));
    if (!memo) return memo.status();
    PathSearch search(std::span<const detail::CertFields>(chain).first(nodes),
                      std::span<const detail::CertFields>(anchors.get(), trust_anchors.size()), unix_time,
                      memo->mutable_view());
    return search.run();
  }

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
  // Own anchors cannot be on this path (nothing names them as its issuer)
  // and mbedTLS cannot hold them.
  CrtList anchors;
  size_t anchor_count = 0;
  for (const Certificate& c : trust_anchors) {
    if (c.impl_->own) continue;
    IPSEC_TRY(anchors.add(c.der()));
    ++anchor_count;
  }
  if (anchor_count == 0) return Errc::untrusted_certificate;

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
