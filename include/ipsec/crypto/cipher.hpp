// SPDX-License-Identifier: Apache-2.0
// Cipher: a keyed encryption transform without integrity, used together with
// an Integrity transform (encrypt-then-MAC, RFC 4303 3.3.2): AES-CBC
// (RFC 3602), AES-CTR (RFC 3686), NULL (RFC 2410). Keyed once; per packet
// the caller supplies the explicit IV. In place, no allocation; encrypt and
// decrypt may run concurrently on one keyed object.
#pragma once

#include <cstddef>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/transform_ids.hpp"

namespace ipsec::crypto {

class Cipher {
 public:
  virtual ~Cipher() = default;
  [[nodiscard]] virtual EncrId id() const noexcept = 0;
  [[nodiscard]] virtual size_t key_size() const noexcept = 0;    // bytes, without a CTR nonce
  [[nodiscard]] virtual size_t iv_size() const noexcept = 0;     // 16 CBC, 8 CTR, 0 NULL
  [[nodiscard]] virtual size_t block_size() const noexcept = 0;  // 16 CBC, 1 CTR and NULL
  [[nodiscard]] virtual const char* backend() const noexcept = 0;

  // encrypt / decrypt: transform `data` in place. Errors: invalid_iv_length,
  // invalid_block_length (CBC data not a multiple of 16 octets).
  [[nodiscard]] virtual Status encrypt(ByteView iv, MutableByteView data) noexcept = 0;
  [[nodiscard]] virtual Status decrypt(ByteView iv, MutableByteView data) noexcept = 0;
};

}  // namespace ipsec::crypto
