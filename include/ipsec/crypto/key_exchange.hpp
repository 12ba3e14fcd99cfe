// SPDX-License-Identifier: Apache-2.0
// KeyExchange: one side of an IKEv2 Diffie-Hellman exchange (MODP RFC 3526,
// ECP RFC 5903, brainpool RFC 6954, Curve25519/448 RFC 8031). The private
// value lives inside the object and is zeroed with it; the public value is
// in the exact KE payload encoding of the group.
#pragma once

#include <cstddef>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/crypto/transform_ids.hpp"

namespace ipsec::crypto {

class KeyExchange {
 public:
  virtual ~KeyExchange() = default;
  [[nodiscard]] virtual KeGroup group() const noexcept = 0;
  [[nodiscard]] virtual const char* backend() const noexcept = 0;
  // public_value: the KE payload data. MODP: g^x padded to the prime length;
  // ECP/brainpool: x | y, each padded to the field size (no 0x04 prefix);
  // Curve25519/448: the u-coordinate (RFC 8031 section 3).
  [[nodiscard]] virtual ByteView public_value() const noexcept = 0;
  // shared_secret: g^ir after validating the peer's value (RFC 6989):
  // MODP 1 < y < p-1; ECP on the curve and not the identity; X25519/X448 a
  // non-zero result. MODP output is padded to the prime length, ECP is the x
  // coordinate (RFC 5903 section 7). Errors: invalid_length (wrong size),
  // invalid_public_value.
  [[nodiscard]] virtual Result<SecretBytes> shared_secret(ByteView peer_public) noexcept = 0;
};

}  // namespace ipsec::crypto
