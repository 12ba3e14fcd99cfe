// SPDX-License-Identifier: Apache-2.0
// Internal helpers shared by the crypto backends (not installed).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/crypto/suites.hpp"

namespace ipsec::crypto::detail {

// check_encr: the EncrInfo for id, after checking that it is of the wanted
// kind (AEAD or not), that key_bits suits it and that keymat has exactly
// key + salt bytes.
[[nodiscard]] inline Result<EncrInfo> check_encr(EncrId id, bool want_aead, uint16_t key_bits,
                                                 ByteView keymat) noexcept {
  const auto info = encr_info(id);
  if (!info || info->aead != want_aead) return Errc::unsupported_algorithm;
  if (!info->allows_key_bits(key_bits)) return Errc::invalid_key_length;
  if (keymat.size() != info->keymat_size(key_bits)) return Errc::invalid_key_length;
  return *info;
}

// make_unique_nothrow: allocation failure becomes Errc::out_of_memory.
template <typename Base, typename T, typename... Args>
[[nodiscard]] Result<std::unique_ptr<Base>> make_object(Args&&... args) noexcept {
  std::unique_ptr<Base> p(new (std::nothrow) T(std::forward<Args>(args)...));
  if (!p) return Errc::out_of_memory;
  return p;
}

// AeadNonce: salt || explicit IV (RFC 4106 4, RFC 4309 4, RFC 7634 2), for
// one call. The salt is key material (the end of KEYMAT): the copy is
// zeroed with the nonce.
template <size_t Size>
class AeadNonce {
 public:
  template <size_t SaltSize>
  AeadNonce(const std::array<uint8_t, SaltSize>& salt, ByteView iv) noexcept {
    static_assert(SaltSize + 8 == Size);
    for (size_t i = 0; i < SaltSize; ++i) bytes_[i] = salt[i];
    for (size_t i = 0; i < 8; ++i) bytes_[SaltSize + i] = iv[i];
  }
  AeadNonce(const AeadNonce&) = delete;
  AeadNonce& operator=(const AeadNonce&) = delete;
  ~AeadNonce() { secure_zero(bytes_); }
  [[nodiscard]] const uint8_t* data() const noexcept { return bytes_.data(); }
  [[nodiscard]] static constexpr size_t size() noexcept { return Size; }

 private:
  std::array<uint8_t, Size> bytes_{};
};

template <size_t SaltSize>
[[nodiscard]] inline AeadNonce<SaltSize + 8> make_nonce(const std::array<uint8_t, SaltSize>& salt,
                                                        ByteView iv) noexcept {
  return AeadNonce<SaltSize + 8>(salt, iv);  // a prvalue: built in place, never copied
}

}  // namespace ipsec::crypto::detail
