// SPDX-License-Identifier: Apache-2.0
// libsodium backend: AES-256-GCM-16 (CPUs with AES-NI and PCLMUL),
// ChaCha20-Poly1305 (RFC 7634) and Curve25519 (RFC 8031).
#include <sodium.h>

#include <algorithm>
#include <array>

#include "common.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/crypto/provider.hpp"

namespace ipsec::crypto {
namespace {

using detail::check_encr;
using detail::make_nonce;
using detail::make_object;

constexpr const char* kBackend = "libsodium";

// libsodium declares its message pointers nonnull even for zero lengths.
uint8_t* data_pointer(MutableByteView data, uint8_t* placeholder) noexcept {
  return data.empty() ? placeholder : data.data();
}

Status check_args(ByteView iv, size_t icv_given) noexcept {
  if (iv.size() != Aead::kIvSize) return Errc::invalid_iv_length;
  if (icv_given != 16) return Errc::invalid_icv_length;
  return Status::success();
}

// AES-256-GCM with a 16-octet ICV (RFC 4106); the expanded key is computed
// once (crypto_aead_aes256gcm_beforenm).
class SodiumAes256Gcm final : public Aead {
 public:
  explicit SodiumAes256Gcm(ByteView keymat) noexcept {
    (void)crypto_aead_aes256gcm_beforenm(&state_, keymat.data());
    std::copy_n(keymat.subspan(32).begin(), salt_.size(), salt_.begin());
  }
  ~SodiumAes256Gcm() override {
    secure_zero(MutableByteView(reinterpret_cast<uint8_t*>(&state_), sizeof state_));
    secure_zero(salt_);
  }
  EncrId id() const noexcept override { return EncrId::aes_gcm_16; }
  size_t key_size() const noexcept override { return 32; }
  size_t icv_size() const noexcept override { return 16; }
  const char* backend() const noexcept override { return kBackend; }

  Status seal(ByteView iv, ByteView aad, MutableByteView data, MutableByteView icv) noexcept override {
    IPSEC_TRY(check_args(iv, icv.size()));
    const auto nonce = make_nonce(salt_, iv);
    uint8_t placeholder = 0;
    uint8_t* m = data_pointer(data, &placeholder);
    if (crypto_aead_aes256gcm_encrypt_detached_afternm(m, icv.data(), nullptr, m, data.size(), aad.data(),
                                                       aad.size(), nullptr, nonce.data(), &state_) != 0) {
      return Errc::crypto_backend_failure;
    }
    return Status::success();
  }
  Status open(ByteView iv, ByteView aad, MutableByteView data, ByteView icv) noexcept override {
    IPSEC_TRY(check_args(iv, icv.size()));
    const auto nonce = make_nonce(salt_, iv);
    uint8_t placeholder = 0;
    uint8_t* m = data_pointer(data, &placeholder);
    if (crypto_aead_aes256gcm_decrypt_detached_afternm(m, nullptr, m, data.size(), icv.data(), aad.data(),
                                                       aad.size(), nonce.data(), &state_) != 0) {
      secure_zero(data);
      return Errc::integrity_check_failed;
    }
    return Status::success();
  }

 private:
  crypto_aead_aes256gcm_state state_{};
  std::array<uint8_t, 4> salt_{};
};

// ChaCha20-Poly1305 (RFC 7634: 32-octet key, 4-octet salt, 8-octet IV).
class SodiumChachaPoly final : public Aead {
 public:
  explicit SodiumChachaPoly(ByteView keymat) noexcept {
    std::copy_n(keymat.begin(), key_.size(), key_.begin());
    std::copy_n(keymat.subspan(32).begin(), salt_.size(), salt_.begin());
  }
  ~SodiumChachaPoly() override {
    secure_zero(key_);
    secure_zero(salt_);
  }
  EncrId id() const noexcept override { return EncrId::chacha20_poly1305; }
  size_t key_size() const noexcept override { return 32; }
  size_t icv_size() const noexcept override { return 16; }
  const char* backend() const noexcept override { return kBackend; }

  Status seal(ByteView iv, ByteView aad, MutableByteView data, MutableByteView icv) noexcept override {
    IPSEC_TRY(check_args(iv, icv.size()));
    const auto nonce = make_nonce(salt_, iv);
    uint8_t placeholder = 0;
    uint8_t* m = data_pointer(data, &placeholder);
    if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(m, icv.data(), nullptr, m, data.size(), aad.data(),
                                                           aad.size(), nullptr, nonce.data(),
                                                           key_.data()) != 0) {
      return Errc::crypto_backend_failure;
    }
    return Status::success();
  }
  Status open(ByteView iv, ByteView aad, MutableByteView data, ByteView icv) noexcept override {
    IPSEC_TRY(check_args(iv, icv.size()));
    const auto nonce = make_nonce(salt_, iv);
    uint8_t placeholder = 0;
    uint8_t* m = data_pointer(data, &placeholder);
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(m, nullptr, m, data.size(), icv.data(), aad.data(),
                                                           aad.size(), nonce.data(), key_.data()) != 0) {
      secure_zero(data);
      return Errc::integrity_check_failed;
    }
    return Status::success();
  }

 private:
  std::array<uint8_t, 32> key_{};
  std::array<uint8_t, 4> salt_{};
};

// Curve25519 (RFC 7748 section 5, RFC 8031 section 2).
class SodiumX25519 final : public KeyExchange {
 public:
  explicit SodiumX25519(ByteView scalar) noexcept {
    std::copy_n(scalar.begin(), private_.size(), private_.begin());
    (void)crypto_scalarmult_base(public_.data(), private_.data());
  }
  ~SodiumX25519() override { secure_zero(private_); }
  KeGroup group() const noexcept override { return KeGroup::curve25519; }
  const char* backend() const noexcept override { return kBackend; }
  ByteView public_value() const noexcept override { return public_; }
  Result<SecretBytes> shared_secret(ByteView peer) noexcept override {
    if (peer.size() != 32) return Errc::invalid_length;
    auto out = SecretBytes::allocate(32);
    if (!out) return out.status();
    // RFC 7748 section 6.1 / RFC 8031 section 2.3: an all-zero result means
    // a low-order peer point; libsodium refuses it with -1.
    if (crypto_scalarmult(out->mutable_view().data(), private_.data(), peer.data()) != 0) {
      return Errc::invalid_public_value;
    }
    return out;
  }

 private:
  std::array<uint8_t, 32> private_{};
  std::array<uint8_t, 32> public_{};
};

}  // namespace

SodiumProvider::SodiumProvider() noexcept { IPSEC_ASSERT(sodium_init() >= 0); }

bool SodiumProvider::aes256gcm_available() noexcept {
  IPSEC_ASSERT(sodium_init() >= 0);
  return crypto_aead_aes256gcm_is_available() != 0;
}

Result<std::unique_ptr<Aead>> SodiumProvider::make_aead(EncrId id, uint16_t key_bits,
                                                        ByteView keymat) noexcept {
  auto info = check_encr(id, true, key_bits, keymat);
  if (!info) return info.status();
  if (id == EncrId::chacha20_poly1305) return make_object<Aead, SodiumChachaPoly>(keymat);
  if (id == EncrId::aes_gcm_16 && key_bits == 256 && aes256gcm_available()) {
    return make_object<Aead, SodiumAes256Gcm>(keymat);
  }
  return Errc::unsupported_algorithm;
}

Result<std::unique_ptr<Cipher>> SodiumProvider::make_cipher(EncrId, uint16_t, ByteView) noexcept {
  return Errc::unsupported_algorithm;
}

Result<std::unique_ptr<Integrity>> SodiumProvider::make_integrity(IntegId, ByteView) noexcept {
  return Errc::unsupported_algorithm;
}

Result<std::unique_ptr<Prf>> SodiumProvider::make_prf(PrfId, ByteView) noexcept {
  return Errc::unsupported_algorithm;
}

Result<std::unique_ptr<KeyExchange>> SodiumProvider::make_key_exchange(KeGroup group, Rng& rng) noexcept {
  if (group != KeGroup::curve25519) return Errc::unsupported_algorithm;
  std::array<uint8_t, 32> scalar{};
  rng.fill(scalar);
  auto ke = make_object<KeyExchange, SodiumX25519>(ByteView(scalar));
  secure_zero(scalar);
  return ke;
}

Result<std::unique_ptr<KeyExchange>> SodiumProvider::import_key_exchange(KeGroup group,
                                                                         ByteView private_value) noexcept {
  if (group != KeGroup::curve25519) return Errc::unsupported_algorithm;
  if (private_value.size() != 32) return Errc::invalid_key;
  return make_object<KeyExchange, SodiumX25519>(private_value);
}

}  // namespace ipsec::crypto
