// SPDX-License-Identifier: Apache-2.0
// IKEv2 key derivation: prf+ (RFC 7296 2.13) and SKEYSEED (2.14).
#pragma once

#include <cstddef>
#include <span>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/crypto/prf.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"

namespace ipsec::crypto {

// prf_plus: fill `out` with prf+ (K, S), where K is the key of `prf` and S
// the concatenation of `seed`:
//   T1 = prf (K, S | 0x01), Tn = prf (K, Tn-1 | S | n), prf+ = T1 | T2 | ...
// Errors: limit_exceeded when out needs more than 255 blocks (RFC 7296
// 2.13), invalid_argument for more than 8 seed parts.
[[nodiscard]] Status prf_plus(Prf& prf, std::span<const ByteView> seed, MutableByteView out) noexcept;

// skeyseed: SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 2.14). For PRFs with a
// fixed key size (AES-XCBC, AES-CMAC) the key is the first 64 bits of Ni and
// the first 64 bits of Nr. Errors: unsupported_algorithm, invalid_length
// (a nonce longer than 256 octets, RFC 7296 3.9, or shorter than 8 octets
// with a fixed-key PRF; the minimum of 16 is the codec's to enforce).
[[nodiscard]] Result<SecretBytes> skeyseed(Provider& provider, PrfId prf, ByteView ni, ByteView nr,
                                           ByteView shared_secret) noexcept;

}  // namespace ipsec::crypto
