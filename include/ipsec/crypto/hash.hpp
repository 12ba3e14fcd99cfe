// SPDX-License-Identifier: Apache-2.0
// Plain hash functions, for the protocol fields that are hashes rather than
// MACs: NAT detection (RFC 7296 2.23, SHA-1), certificate hashes
// (3.6, SHA-1), RFC 7427 signature hashing.
#pragma once

#include <cstddef>
#include <span>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/transform_ids.hpp"

namespace ipsec::crypto {

// hash_size: output octets of a hash (0 for identity and unknown ids).
[[nodiscard]] constexpr size_t hash_size(HashId id) noexcept {
  switch (id) {
    case HashId::sha1: return 20;
    case HashId::sha2_256: return 32;
    case HashId::sha2_384: return 48;
    case HashId::sha2_512: return 64;
    case HashId::identity: return 0;
  }
  return 0;
}

// hash: the digest of the concatenation of `parts` into `out`. Errors:
// unsupported_algorithm, invalid_length (out.size() != hash_size(id)).
[[nodiscard]] Status hash(HashId id, std::span<const ByteView> parts, MutableByteView out) noexcept;

}  // namespace ipsec::crypto
