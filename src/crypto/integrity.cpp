// SPDX-License-Identifier: Apache-2.0
#include "ipsec/crypto/integrity.hpp"

#include <array>

#include "ipsec/core/limits.hpp"
#include "ipsec/core/secret.hpp"

namespace ipsec::crypto {

Status Integrity::verify(std::span<const ByteView> parts, ByteView icv) noexcept {
  if (icv.size() != icv_size()) return Errc::invalid_icv_length;
  std::array<uint8_t, limits::kMaxIcvSize> expected{};
  const MutableByteView out = MutableByteView(expected).first(icv_size());
  IPSEC_TRY(compute(parts, out));
  const bool match = ct_equal(out, icv);
  secure_zero(expected);
  return match ? Status::success() : Status(Errc::integrity_check_failed);
}

}  // namespace ipsec::crypto
