// SPDX-License-Identifier: Apache-2.0
#include "ipsec/core/secret.hpp"

#include <sodium.h>

namespace ipsec {

void secure_zero(MutableByteView bytes) noexcept {
  if (!bytes.empty()) sodium_memzero(bytes.data(), bytes.size());
}

bool ct_equal(ByteView a, ByteView b) noexcept {
  // Lengths are public (ICV and MAC sizes are fixed by the transform).
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ipsec
