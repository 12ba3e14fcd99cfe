// SPDX-License-Identifier: Apache-2.0
// The DER subset that IPsec meets in keys, certificates and RFC 7427
// AlgorithmIdentifiers: one element = tag, definite length, value (X.690
// 8.1, 10.1). Views are zero-copy spans into the input, read through
// ByteReader like every other untrusted byte.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/core/result.hpp"

namespace ipsec::wire {

// Universal and context tags used by X.509, PKCS#8 and RFC 7427.
namespace der_tag {
inline constexpr uint8_t kBoolean = 0x01;
inline constexpr uint8_t kInteger = 0x02;
inline constexpr uint8_t kBitString = 0x03;
inline constexpr uint8_t kOctetString = 0x04;
inline constexpr uint8_t kNull = 0x05;
inline constexpr uint8_t kOid = 0x06;
inline constexpr uint8_t kUtcTime = 0x17;
inline constexpr uint8_t kGeneralizedTime = 0x18;
inline constexpr uint8_t kSequence = 0x30;
inline constexpr uint8_t kSet = 0x31;
inline constexpr uint8_t kContext0 = 0xa0;           // [0] constructed
inline constexpr uint8_t kContext1Primitive = 0x81;  // [1] IMPLICIT primitive
}  // namespace der_tag

struct DerElement {
  uint8_t tag = 0;
  ByteView value;
  uint32_t value_offset = 0;  // absolute offset of value[0], for errors
};

// read_der: one element with a single-octet tag and a definite length in its
// shortest form (X.690 10.1). Refused with the reader failed: high tag
// numbers (invalid_value, "der tag"), indefinite or over-long lengths
// (invalid_length, "der length"), non-minimal lengths (invalid_value),
// values past the input (truncated). Lengths are at most 4 octets: nothing
// in this library's bounded inputs is larger.
[[nodiscard]] inline bool read_der(ByteReader& r, DerElement* out) noexcept {
  const uint32_t at = r.offset();
  uint8_t tag = 0, first = 0;
  if (!r.read_u8(&tag)) return false;
  if ((tag & 0x1f) == 0x1f) {
    (void)r.fail_at(Errc::invalid_value, at, "der tag");
    return false;
  }
  if (!r.read_u8(&first)) return false;
  size_t len = first;
  if (first >= 0x80) {
    const unsigned n = first & 0x7fu;
    if (n == 0 || n > 4) {
      (void)r.fail_at(Errc::invalid_length, at, "der length");
      return false;
    }
    len = 0;
    for (unsigned i = 0; i < n; ++i) {
      uint8_t b = 0;
      if (!r.read_u8(&b)) return false;
      if (i == 0 && b == 0) {
        (void)r.fail_at(Errc::invalid_value, at, "der length");  // not minimal
        return false;
      }
      len = (len << 8) | b;
    }
    if (len < 0x80) {
      (void)r.fail_at(Errc::invalid_value, at, "der length");  // long form for a short length
      return false;
    }
  }
  out->tag = tag;
  out->value_offset = r.offset();
  return r.read_bytes(len, &out->value);
}

// read_der_tagged: read_der, and the tag must be `tag` (else invalid_value
// at the element, "der tag").
[[nodiscard]] inline bool read_der_tagged(ByteReader& r, uint8_t tag, DerElement* out) noexcept {
  const uint32_t at = r.offset();
  if (!read_der(r, out)) return false;
  if (out->tag != tag) {
    (void)r.fail_at(Errc::invalid_value, at, "der tag");
    return false;
  }
  return true;
}

// read_single_der: `der` is exactly one element, nothing before or after
// (what a key file, a certificate or an AUTH AlgorithmIdentifier holds).
[[nodiscard]] inline bool read_single_der(ByteView der, DerElement* out) noexcept {
  ByteReader r(der);
  return read_der(r, out) && r.expect_end().ok();
}

}  // namespace ipsec::wire
