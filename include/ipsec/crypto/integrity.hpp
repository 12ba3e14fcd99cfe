// SPDX-License-Identifier: Apache-2.0
// Integrity: a keyed MAC truncated to the ICV length IPsec carries
// (HMAC-SHA1-96 RFC 2404, HMAC-SHA2 RFC 4868, AES-XCBC-96 RFC 3566,
// AES-CMAC-96 RFC 4494). Keyed once (HMAC pads are precomputed); the input
// may be given in parts so that ESP can append the ESN high bits (RFC 4303
// 3.3.2.1) without copying the packet. compute and verify may run
// concurrently on one keyed object.
#pragma once

#include <cstddef>
#include <span>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/transform_ids.hpp"

namespace ipsec::crypto {

class Integrity {
 public:
  virtual ~Integrity() = default;
  [[nodiscard]] virtual IntegId id() const noexcept = 0;
  [[nodiscard]] virtual size_t key_size() const noexcept = 0;
  [[nodiscard]] virtual size_t icv_size() const noexcept = 0;
  [[nodiscard]] virtual const char* backend() const noexcept = 0;

  // compute: the ICV over the concatenation of `parts`. Error:
  // invalid_icv_length when icv.size() != icv_size().
  [[nodiscard]] virtual Status compute(std::span<const ByteView> parts, MutableByteView icv) noexcept = 0;

  [[nodiscard]] Status compute(ByteView data, MutableByteView icv) noexcept {
    const ByteView parts[] = {data};
    return compute(parts, icv);
  }
  // verify: recompute and compare in constant time. Errors:
  // integrity_check_failed, invalid_icv_length.
  [[nodiscard]] Status verify(std::span<const ByteView> parts, ByteView icv) noexcept;
  [[nodiscard]] Status verify(ByteView data, ByteView icv) noexcept {
    const ByteView parts[] = {data};
    return verify(parts, icv);
  }
};

}  // namespace ipsec::crypto
