// SPDX-License-Identifier: Apache-2.0
// Prf: a keyed pseudorandom function of IKEv2 (RFC 7296 2.13): HMAC-SHA1,
// HMAC-SHA2-256/384/512 (RFC 4868), AES-XCBC-PRF-128 (RFC 4434),
// AES-CMAC-PRF-128 (RFC 4615). prf+ is in crypto/keymat.hpp.
#pragma once

#include <cstddef>
#include <span>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/transform_ids.hpp"

namespace ipsec::crypto {

class Prf {
 public:
  virtual ~Prf() = default;
  [[nodiscard]] virtual PrfId id() const noexcept = 0;
  [[nodiscard]] virtual size_t output_size() const noexcept = 0;

  // compute: prf(K, parts...) into `out`, which may overlap the parts.
  // Error: invalid_length when out.size() != output_size().
  [[nodiscard]] virtual Status compute(std::span<const ByteView> parts, MutableByteView out) noexcept = 0;
  [[nodiscard]] Status compute(ByteView data, MutableByteView out) noexcept {
    const ByteView parts[] = {data};
    return compute(parts, out);
  }
};

}  // namespace ipsec::crypto
