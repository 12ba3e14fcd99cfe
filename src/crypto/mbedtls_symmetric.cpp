// SPDX-License-Identifier: Apache-2.0
// mbedTLS backend for the symmetric transforms: AES-GCM/GMAC/CCM,
// ChaCha20-Poly1305, AES-CBC/CTR, NULL, HMAC-SHA1/SHA2 (integrity and PRF),
// AES-XCBC and AES-CMAC (integrity and PRF).
#include <mbedtls/aes.h>
#include <mbedtls/ccm.h>
#include <mbedtls/chachapoly.h>
#include <mbedtls/gcm.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/crypto/provider.hpp"

namespace ipsec::crypto {
namespace {

using detail::check_encr;
using detail::make_nonce;
using detail::make_object;

constexpr const char* kBackend = "mbedtls";

Status check_aead_args(ByteView iv, size_t icv_given, size_t icv_size) noexcept {
  if (iv.size() != Aead::kIvSize) return Errc::invalid_iv_length;
  if (icv_given != icv_size) return Errc::invalid_icv_length;
  return Status::success();
}

// ---- AEAD -------------------------------------------------------------------

// CallContext: a per-call copy of a keyed mbedTLS AEAD context, zeroed when
// the call ends. mbedTLS keeps per-message state (GHASH accumulator,
// ChaCha20 counter, Poly1305 state) in the context, so calls on the shared
// keyed context could not run concurrently; the copy makes every Aead safe
// for concurrent use (aead.hpp), for the price of a few hundred octets of
// memcpy. The copy shares the expanded AES key of the GCM context, which
// mbedTLS only reads in ECB mode, and is never freed (that would free it).
template <typename Context>
struct CallContext {
  explicit CallContext(const Context& keyed) noexcept : ctx(keyed) {}
  ~CallContext() { secure_zero(MutableByteView(reinterpret_cast<uint8_t*>(&ctx), sizeof ctx)); }
  CallContext(const CallContext&) = delete;
  CallContext& operator=(const CallContext&) = delete;
  Context ctx;
};

// AES-GCM (RFC 4106) and AES-GMAC (RFC 4543, authentication only).
class MbedtlsGcm final : public Aead {
 public:
  MbedtlsGcm(EncrId id, size_t key_size, size_t icv_size) noexcept
      : id_(id), key_size_(key_size), icv_size_(icv_size) {
    mbedtls_gcm_init(&ctx_);
  }
  ~MbedtlsGcm() override {
    mbedtls_gcm_free(&ctx_);  // zeroizes the key schedule
    secure_zero(salt_);
  }
  Status init(ByteView keymat) noexcept {
    const ByteView key = keymat.first(key_size_);
    std::copy_n(keymat.subspan(key_size_).begin(), salt_.size(), salt_.begin());
    if (mbedtls_gcm_setkey(&ctx_, MBEDTLS_CIPHER_ID_AES, key.data(), static_cast<unsigned>(key_size_ * 8)) !=
        0) {
      return Errc::crypto_backend_failure;
    }
    return Status::success();
  }

  EncrId id() const noexcept override { return id_; }
  size_t key_size() const noexcept override { return key_size_; }
  size_t icv_size() const noexcept override { return icv_size_; }
  const char* backend() const noexcept override { return kBackend; }

  Status seal(ByteView iv, ByteView aad, MutableByteView data, MutableByteView icv) noexcept override {
    IPSEC_TRY(check_aead_args(iv, icv.size(), icv_size_));
    if (id_ == EncrId::null_auth_aes_gmac && !data.empty()) return Errc::invalid_argument;
    const auto nonce = make_nonce(salt_, iv);
    CallContext call(ctx_);
    if (mbedtls_gcm_crypt_and_tag(&call.ctx, MBEDTLS_GCM_ENCRYPT, data.size(), nonce.data(), nonce.size(),
                                  aad.data(), aad.size(), data.data(), data.data(), icv.size(),
                                  icv.data()) != 0) {
      return Errc::crypto_backend_failure;
    }
    return Status::success();
  }
  Status open(ByteView iv, ByteView aad, MutableByteView data, ByteView icv) noexcept override {
    IPSEC_TRY(check_aead_args(iv, icv.size(), icv_size_));
    if (id_ == EncrId::null_auth_aes_gmac && !data.empty()) return Errc::invalid_argument;
    const auto nonce = make_nonce(salt_, iv);
    CallContext call(ctx_);
    const int rc = mbedtls_gcm_auth_decrypt(&call.ctx, data.size(), nonce.data(), nonce.size(), aad.data(),
                                            aad.size(), icv.data(), icv.size(), data.data(), data.data());
    if (rc == 0) return Status::success();
    secure_zero(data);
    return rc == MBEDTLS_ERR_GCM_AUTH_FAILED ? Errc::integrity_check_failed : Errc::crypto_backend_failure;
  }

 private:
  mbedtls_gcm_context ctx_{};
  std::array<uint8_t, 4> salt_{};
  EncrId id_;
  size_t key_size_;
  size_t icv_size_;
};

// AES-CCM (RFC 4309): 3-octet salt, 11-octet nonce, so L = 4.
class MbedtlsCcm final : public Aead {
 public:
  MbedtlsCcm(EncrId id, size_t key_size, size_t icv_size) noexcept
      : id_(id), key_size_(key_size), icv_size_(icv_size) {
    mbedtls_ccm_init(&ctx_);
  }
  ~MbedtlsCcm() override {
    mbedtls_ccm_free(&ctx_);
    secure_zero(salt_);
  }
  Status init(ByteView keymat) noexcept {
    std::copy_n(keymat.subspan(key_size_).begin(), salt_.size(), salt_.begin());
    if (mbedtls_ccm_setkey(&ctx_, MBEDTLS_CIPHER_ID_AES, keymat.data(),
                           static_cast<unsigned>(key_size_ * 8)) != 0) {
      return Errc::crypto_backend_failure;
    }
    return Status::success();
  }

  EncrId id() const noexcept override { return id_; }
  size_t key_size() const noexcept override { return key_size_; }
  size_t icv_size() const noexcept override { return icv_size_; }
  const char* backend() const noexcept override { return kBackend; }

  Status seal(ByteView iv, ByteView aad, MutableByteView data, MutableByteView icv) noexcept override {
    IPSEC_TRY(check_aead_args(iv, icv.size(), icv_size_));
    const auto nonce = make_nonce(salt_, iv);
    if (mbedtls_ccm_encrypt_and_tag(&ctx_, data.size(), nonce.data(), nonce.size(), aad.data(), aad.size(),
                                    data.data(), data.data(), icv.data(), icv.size()) != 0) {
      return Errc::crypto_backend_failure;
    }
    return Status::success();
  }
  Status open(ByteView iv, ByteView aad, MutableByteView data, ByteView icv) noexcept override {
    IPSEC_TRY(check_aead_args(iv, icv.size(), icv_size_));
    const auto nonce = make_nonce(salt_, iv);
    const int rc = mbedtls_ccm_auth_decrypt(&ctx_, data.size(), nonce.data(), nonce.size(), aad.data(),
                                            aad.size(), data.data(), data.data(), icv.data(), icv.size());
    if (rc == 0) return Status::success();
    secure_zero(data);
    return rc == MBEDTLS_ERR_CCM_AUTH_FAILED ? Errc::integrity_check_failed : Errc::crypto_backend_failure;
  }

 private:
  mbedtls_ccm_context ctx_{};
  std::array<uint8_t, 3> salt_{};
  EncrId id_;
  size_t key_size_;
  size_t icv_size_;
};

// ChaCha20-Poly1305 (RFC 7634 over RFC 8439).
class MbedtlsChachaPoly final : public Aead {
 public:
  MbedtlsChachaPoly() noexcept { mbedtls_chachapoly_init(&ctx_); }
  ~MbedtlsChachaPoly() override {
    mbedtls_chachapoly_free(&ctx_);
    secure_zero(salt_);
  }
  Status init(ByteView keymat) noexcept {
    std::copy_n(keymat.subspan(32).begin(), salt_.size(), salt_.begin());
    if (mbedtls_chachapoly_setkey(&ctx_, keymat.data()) != 0) return Errc::crypto_backend_failure;
    return Status::success();
  }

  EncrId id() const noexcept override { return EncrId::chacha20_poly1305; }
  size_t key_size() const noexcept override { return 32; }
  size_t icv_size() const noexcept override { return 16; }
  const char* backend() const noexcept override { return kBackend; }

  Status seal(ByteView iv, ByteView aad, MutableByteView data, MutableByteView icv) noexcept override {
    IPSEC_TRY(check_aead_args(iv, icv.size(), 16));
    const auto nonce = make_nonce(salt_, iv);
    CallContext call(ctx_);
    if (mbedtls_chachapoly_encrypt_and_tag(&call.ctx, data.size(), nonce.data(), aad.data(), aad.size(),
                                           data.data(), data.data(), icv.data()) != 0) {
      return Errc::crypto_backend_failure;
    }
    return Status::success();
  }
  Status open(ByteView iv, ByteView aad, MutableByteView data, ByteView icv) noexcept override {
    IPSEC_TRY(check_aead_args(iv, icv.size(), 16));
    const auto nonce = make_nonce(salt_, iv);
    CallContext call(ctx_);
    const int rc = mbedtls_chachapoly_auth_decrypt(&call.ctx, data.size(), nonce.data(), aad.data(),
                                                   aad.size(), icv.data(), data.data(), data.data());
    if (rc == 0) return Status::success();
    secure_zero(data);
    return rc == MBEDTLS_ERR_CHACHAPOLY_AUTH_FAILED ? Errc::integrity_check_failed
                                                    : Errc::crypto_backend_failure;
  }

 private:
  mbedtls_chachapoly_context ctx_{};
  std::array<uint8_t, 4> salt_{};
};

// ---- Ciphers ------------------------------------------------------------------

// AES-CBC (RFC 3602): explicit 16-octet IV per packet.
class MbedtlsAesCbc final : public Cipher {
 public:
  explicit MbedtlsAesCbc(size_t key_size) noexcept : key_size_(key_size) {
    mbedtls_aes_init(&enc_);
    mbedtls_aes_init(&dec_);
  }
  ~MbedtlsAesCbc() override {
    mbedtls_aes_free(&enc_);
    mbedtls_aes_free(&dec_);
  }
  Status init(ByteView key) noexcept {
    const auto bits = static_cast<unsigned>(key_size_ * 8);
    if (mbedtls_aes_setkey_enc(&enc_, key.data(), bits) != 0 ||
        mbedtls_aes_setkey_dec(&dec_, key.data(), bits) != 0) {
      return Errc::crypto_backend_failure;
    }
    return Status::success();
  }
  EncrId id() const noexcept override { return EncrId::aes_cbc; }
  size_t key_size() const noexcept override { return key_size_; }
  size_t iv_size() const noexcept override { return 16; }
  size_t block_size() const noexcept override { return 16; }
  const char* backend() const noexcept override { return kBackend; }

  Status encrypt(ByteView iv, MutableByteView data) noexcept override {
    return crypt(&enc_, MBEDTLS_AES_ENCRYPT, iv, data);
  }
  Status decrypt(ByteView iv, MutableByteView data) noexcept override {
    return crypt(&dec_, MBEDTLS_AES_DECRYPT, iv, data);
  }

 private:
  static Status crypt(mbedtls_aes_context* ctx, int mode, ByteView iv, MutableByteView data) noexcept {
    if (iv.size() != 16) return Errc::invalid_iv_length;
    if (data.size() % 16 != 0) return Errc::invalid_block_length;
    std::array<uint8_t, 16> chain{};  // mbedTLS advances the IV it is given
    std::copy_n(iv.begin(), 16, chain.begin());
    if (mbedtls_aes_crypt_cbc(ctx, mode, data.size(), chain.data(), data.data(), data.data()) != 0) {
      return Errc::crypto_backend_failure;
    }
    return Status::success();
  }
  mbedtls_aes_context enc_{};
  mbedtls_aes_context dec_{};
  size_t key_size_;
};

// AES-CTR (RFC 3686 section 4): counter block = nonce(4) | IV(8) | counter
// starting at 1.
class MbedtlsAesCtr final : public Cipher {
 public:
  explicit MbedtlsAesCtr(size_t key_size) noexcept : key_size_(key_size) { mbedtls_aes_init(&ctx_); }
  ~MbedtlsAesCtr() override {
    mbedtls_aes_free(&ctx_);
    secure_zero(nonce_);
  }
  Status init(ByteView keymat) noexcept {
    std::copy_n(keymat.subspan(key_size_).begin(), 4, nonce_.begin());
    if (mbedtls_aes_setkey_enc(&ctx_, keymat.data(), static_cast<unsigned>(key_size_ * 8)) != 0) {
      return Errc::crypto_backend_failure;
    }
    return Status::success();
  }
  EncrId id() const noexcept override { return EncrId::aes_ctr; }
  size_t key_size() const noexcept override { return key_size_; }
  size_t iv_size() const noexcept override { return 8; }
  size_t block_size() const noexcept override { return 1; }
  const char* backend() const noexcept override { return kBackend; }

  Status encrypt(ByteView iv, MutableByteView data) noexcept override { return crypt(iv, data); }
  Status decrypt(ByteView iv, MutableByteView data) noexcept override { return crypt(iv, data); }

 private:
  Status crypt(ByteView iv, MutableByteView data) noexcept {
    if (iv.size() != 8) return Errc::invalid_iv_length;
    std::array<uint8_t, 16> counter{};
    std::copy_n(nonce_.begin(), 4, counter.begin());
    std::copy_n(iv.begin(), 8, counter.begin() + 4);
    counter[15] = 1;
    std::array<uint8_t, 16> stream{};
    size_t offset = 0;
    const int rc = mbedtls_aes_crypt_ctr(&ctx_, data.size(), &offset, counter.data(), stream.data(),
                                         data.data(), data.data());
    secure_zero(stream);
    secure_zero(counter);  // holds the nonce, which is key material (RFC 3686 5.1)
    return rc == 0 ? Status::success() : Status(Errc::crypto_backend_failure);
  }
  mbedtls_aes_context ctx_{};
  std::array<uint8_t, 4> nonce_{};
  size_t key_size_;
};

// ENCR_NULL (RFC 2410): the identity, for integrity-only ESP.
class NullCipher final : public Cipher {
 public:
  EncrId id() const noexcept override { return EncrId::null; }
  size_t key_size() const noexcept override { return 0; }
  size_t iv_size() const noexcept override { return 0; }
  size_t block_size() const noexcept override { return 1; }
  const char* backend() const noexcept override { return "none"; }
  Status encrypt(ByteView iv, MutableByteView) noexcept override {
    return iv.empty() ? Status::success() : Status(Errc::invalid_iv_length);
  }
  Status decrypt(ByteView iv, MutableByteView) noexcept override {
    return iv.empty() ? Status::success() : Status(Errc::invalid_iv_length);
  }
};

// ---- HMAC (RFC 2104) ----------------------------------------------------------

// Hash traits over mbedTLS's one-shot-capable contexts.
struct Sha1 {
  using Context = mbedtls_sha1_context;
  static constexpr size_t kBlock = 64, kOutput = 20;
  static void init(Context* c) noexcept { mbedtls_sha1_init(c); }
  static void free(Context* c) noexcept { mbedtls_sha1_free(c); }
  static void starts(Context* c) noexcept { (void)mbedtls_sha1_starts_ret(c); }
  static void update(Context* c, ByteView b) noexcept {
    (void)mbedtls_sha1_update_ret(c, b.data(), b.size());
  }
  static void finish(Context* c, uint8_t* out) noexcept { (void)mbedtls_sha1_finish_ret(c, out); }
  static void clone(Context* d, const Context* s) noexcept { mbedtls_sha1_clone(d, s); }
};
struct Sha256 {
  using Context = mbedtls_sha256_context;
  static constexpr size_t kBlock = 64, kOutput = 32;
  static void init(Context* c) noexcept { mbedtls_sha256_init(c); }
  static void free(Context* c) noexcept { mbedtls_sha256_free(c); }
  static void starts(Context* c) noexcept { (void)mbedtls_sha256_starts_ret(c, 0); }
  static void update(Context* c, ByteView b) noexcept {
    (void)mbedtls_sha256_update_ret(c, b.data(), b.size());
  }
  static void finish(Context* c, uint8_t* out) noexcept { (void)mbedtls_sha256_finish_ret(c, out); }
  static void clone(Context* d, const Context* s) noexcept { mbedtls_sha256_clone(d, s); }
};
template <bool Is384>
struct Sha512Family {
  using Context = mbedtls_sha512_context;
  static constexpr size_t kBlock = 128, kOutput = Is384 ? 48 : 64;
  static void init(Context* c) noexcept { mbedtls_sha512_init(c); }
  static void free(Context* c) noexcept { mbedtls_sha512_free(c); }
  static void starts(Context* c) noexcept { (void)mbedtls_sha512_starts_ret(c, Is384 ? 1 : 0); }
  static void update(Context* c, ByteView b) noexcept {
    (void)mbedtls_sha512_update_ret(c, b.data(), b.size());
  }
  static void finish(Context* c, uint8_t* out) noexcept {
    std::array<uint8_t, 64> full{};  // SHA-384 finish writes 64 octets
    (void)mbedtls_sha512_finish_ret(c, full.data());
    std::copy_n(full.begin(), kOutput, out);
  }
  static void clone(Context* d, const Context* s) noexcept { mbedtls_sha512_clone(d, s); }
};
using Sha384 = Sha512Family<true>;
using Sha512 = Sha512Family<false>;

// Hmac: keyed once; the inner and outer hash states after absorbing the
// padded key are kept, so a MAC costs the message plus two blocks.
template <typename Hash>
class Hmac {
 public:
  Hmac() noexcept {
    Hash::init(&inner_);
    Hash::init(&outer_);
  }
  ~Hmac() {
    Hash::free(&inner_);  // mbedTLS zeroizes freed contexts
    Hash::free(&outer_);
  }
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  void set_key(ByteView key) noexcept {
    std::array<uint8_t, Hash::kBlock> k{};
    if (key.size() > Hash::kBlock) {  // RFC 2104 section 2: long keys are hashed first
      typename Hash::Context c;
      Hash::init(&c);
      Hash::starts(&c);
      Hash::update(&c, key);
      Hash::finish(&c, k.data());
      Hash::free(&c);
    } else if (!key.empty()) {
      std::copy(key.begin(), key.end(), k.begin());
    }
    std::array<uint8_t, Hash::kBlock> pad{};
    for (size_t i = 0; i < pad.size(); ++i) pad[i] = static_cast<uint8_t>(k[i] ^ 0x36);
    Hash::starts(&inner_);
    Hash::update(&inner_, pad);
    for (size_t i = 0; i < pad.size(); ++i) pad[i] = static_cast<uint8_t>(k[i] ^ 0x5c);
    Hash::starts(&outer_);
    Hash::update(&outer_, pad);
    secure_zero(pad);
    secure_zero(k);
  }

  // mac: the full HMAC output over the parts.
  void mac(std::span<const ByteView> parts, std::array<uint8_t, Hash::kOutput>* out) noexcept {
    typename Hash::Context c;
    Hash::init(&c);
    Hash::clone(&c, &inner_);
    for (const ByteView& p : parts) Hash::update(&c, p);
    std::array<uint8_t, Hash::kOutput> inner_hash{};
    Hash::finish(&c, inner_hash.data());
    Hash::clone(&c, &outer_);
    Hash::update(&c, inner_hash);
    Hash::finish(&c, out->data());
    Hash::free(&c);
    secure_zero(inner_hash);
  }

 private:
  typename Hash::Context inner_;
  typename Hash::Context outer_;
};

template <typename Hash>
class HmacIntegrity final : public Integrity {
 public:
  HmacIntegrity(IntegId id, size_t key_size, size_t icv_size) noexcept
      : id_(id), key_size_(key_size), icv_size_(icv_size) {}
  void init(ByteView key) noexcept { hmac_.set_key(key); }
  IntegId id() const noexcept override { return id_; }
  size_t key_size() const noexcept override { return key_size_; }
  size_t icv_size() const noexcept override { return icv_size_; }
  const char* backend() const noexcept override { return kBackend; }
  using Integrity::compute;
  Status compute(std::span<const ByteView> parts, MutableByteView icv) noexcept override {
    if (icv.size() != icv_size_) return Errc::invalid_icv_length;
    std::array<uint8_t, Hash::kOutput> full{};
    hmac_.mac(parts, &full);
    std::copy_n(full.begin(), icv_size_, icv.begin());  // RFC 4868 2.1.1: leftmost bits
    secure_zero(full);
    return Status::success();
  }

 private:
  Hmac<Hash> hmac_;
  IntegId id_;
  size_t key_size_;
  size_t icv_size_;
};

template <typename Hash>
class HmacPrf final : public Prf {
 public:
  explicit HmacPrf(PrfId id) noexcept : id_(id) {}
  void init(ByteView key) noexcept { hmac_.set_key(key); }
  PrfId id() const noexcept override { return id_; }
  size_t output_size() const noexcept override { return Hash::kOutput; }
  using Prf::compute;
  Status compute(std::span<const ByteView> parts, MutableByteView out) noexcept override {
    if (out.size() != Hash::kOutput) return Errc::invalid_length;
    std::array<uint8_t, Hash::kOutput> full{};
    hmac_.mac(parts, &full);
    std::copy(full.begin(), full.end(), out.begin());
    secure_zero(full);
    return Status::success();
  }

 private:
  Hmac<Hash> hmac_;
  PrfId id_;
};

// ---- AES-XCBC (RFC 3566) and AES-CMAC (RFC 4493) --------------------------------

// Both are a CBC-MAC whose last block is XORed with one of two subkeys: one
// when it is complete, another after 10* padding. They differ only in how
// the block-cipher key and the two subkeys derive from the user key.
class AesCbcMac {
 public:
  enum class Kind { xcbc, cmac };
  AesCbcMac() noexcept { mbedtls_aes_init(&aes_); }
  ~AesCbcMac() {
    mbedtls_aes_free(&aes_);
    secure_zero(complete_);
    secure_zero(padded_);
  }
  AesCbcMac(const AesCbcMac&) = delete;
  AesCbcMac& operator=(const AesCbcMac&) = delete;

  // set_key: a 16-octet AES-128 key.
  Status set_key(Kind kind, ByteView key) noexcept {
    if (key.size() != 16) return Errc::invalid_key_length;
    if (kind == Kind::xcbc) {
      // RFC 3566 section 4: K1 = E(K, 0x01^16), K2 = E(K, 0x02^16), K3 = E(K, 0x03^16);
      // K1 keys the CBC-MAC, K2 tweaks complete and K3 padded last blocks.
      mbedtls_aes_context k;
      mbedtls_aes_init(&k);
      if (mbedtls_aes_setkey_enc(&k, key.data(), 128) != 0) {
        mbedtls_aes_free(&k);
        return Errc::crypto_backend_failure;
      }
      std::array<uint8_t, 16> k1{}, c{};
      c.fill(0x01);
      (void)mbedtls_aes_crypt_ecb(&k, MBEDTLS_AES_ENCRYPT, c.data(), k1.data());
      c.fill(0x02);
      (void)mbedtls_aes_crypt_ecb(&k, MBEDTLS_AES_ENCRYPT, c.data(), complete_.data());
      c.fill(0x03);
      (void)mbedtls_aes_crypt_ecb(&k, MBEDTLS_AES_ENCRYPT, c.data(), padded_.data());
      mbedtls_aes_free(&k);
      const int rc = mbedtls_aes_setkey_enc(&aes_, k1.data(), 128);
      secure_zero(k1);
      return rc == 0 ? Status::success() : Status(Errc::crypto_backend_failure);
    }
    // RFC 4493 section 2.3: L = E(K, 0^128); K1 = dbl(L), K2 = dbl(K1).
    if (mbedtls_aes_setkey_enc(&aes_, key.data(), 128) != 0) return Errc::crypto_backend_failure;
    std::array<uint8_t, 16> l{}, zero{};
    (void)mbedtls_aes_crypt_ecb(&aes_, MBEDTLS_AES_ENCRYPT, zero.data(), l.data());
    doubling(l, &complete_);
    doubling(complete_, &padded_);
    secure_zero(l);
    return Status::success();
  }

  void mac(std::span<const ByteView> parts, std::array<uint8_t, 16>* out) noexcept {
    std::array<uint8_t, 16> x{}, block{};
    size_t filled = 0;  // bytes in `block`, which is held back until more input arrives
    for (const ByteView& part : parts) {
      size_t at = 0;
      while (at < part.size()) {
        if (filled == 16) {
          absorb(&x, block);
          filled = 0;
        }
        const size_t take = std::min<size_t>(16 - filled, part.size() - at);
        std::copy_n(part.subspan(at).begin(), take, block.begin() + static_cast<std::ptrdiff_t>(filled));
        filled += take;
        at += take;
      }
    }
    const std::array<uint8_t, 16>* tweak = &complete_;
    if (filled < 16) {  // 10* padding (RFC 3566 4 step 3b, RFC 4493 2.4 step 4)
      block[filled] = 0x80;
      std::fill(block.begin() + static_cast<std::ptrdiff_t>(filled) + 1, block.end(), uint8_t{0});
      tweak = &padded_;
    }
    for (size_t i = 0; i < 16; ++i) block[i] ^= (*tweak)[i];
    absorb(&x, block);
    *out = x;
    secure_zero(x);
    secure_zero(block);
  }

 private:
  void absorb(std::array<uint8_t, 16>* x, const std::array<uint8_t, 16>& block) noexcept {
    for (size_t i = 0; i < 16; ++i) (*x)[i] ^= block[i];
    (void)mbedtls_aes_crypt_ecb(&aes_, MBEDTLS_AES_ENCRYPT, x->data(), x->data());
  }
  // dbl: multiplication by x in GF(2^128) (RFC 4493 2.3, Rb = 0x87).
  static void doubling(const std::array<uint8_t, 16>& in, std::array<uint8_t, 16>* out) noexcept {
    const uint8_t carry = static_cast<uint8_t>(in[0] >> 7);
    for (size_t i = 0; i < 15; ++i) (*out)[i] = static_cast<uint8_t>((in[i] << 1) | (in[i + 1] >> 7));
    (*out)[15] = static_cast<uint8_t>((in[15] << 1) ^ (0x87 & (0 - carry)));
  }

  mbedtls_aes_context aes_{};
  std::array<uint8_t, 16> complete_{};
  std::array<uint8_t, 16> padded_{};
};

class AesMacIntegrity final : public Integrity {
 public:
  explicit AesMacIntegrity(IntegId id) noexcept : id_(id) {}
  Status init(ByteView key) noexcept {
    return mac_.set_key(id_ == IntegId::aes_xcbc_96 ? AesCbcMac::Kind::xcbc : AesCbcMac::Kind::cmac, key);
  }
  IntegId id() const noexcept override { return id_; }
  size_t key_size() const noexcept override { return 16; }
  size_t icv_size() const noexcept override { return 12; }  // RFC 3566 2.1, RFC 4494 2
  const char* backend() const noexcept override { return kBackend; }
  using Integrity::compute;
  Status compute(std::span<const ByteView> parts, MutableByteView icv) noexcept override {
    if (icv.size() != 12) return Errc::invalid_icv_length;
    std::array<uint8_t, 16> full{};
    mac_.mac(parts, &full);
    std::copy_n(full.begin(), 12, icv.begin());
    secure_zero(full);
    return Status::success();
  }

 private:
  AesCbcMac mac_;
  IntegId id_;
};

// AES-XCBC-PRF-128 (RFC 4434) and AES-CMAC-PRF-128 (RFC 4615): the full
// 128-bit MAC; keys that are not 16 octets are first normalised.
class AesMacPrf final : public Prf {
 public:
  explicit AesMacPrf(PrfId id) noexcept : id_(id) {}
  Status init(ByteView key) noexcept {
    const auto kind = id_ == PrfId::aes128_xcbc ? AesCbcMac::Kind::xcbc : AesCbcMac::Kind::cmac;
    if (key.size() == 16) return mac_.set_key(kind, key);
    std::array<uint8_t, 16> k{};
    if (key.size() < 16 && kind == AesCbcMac::Kind::xcbc) {
      // RFC 4434 section 2: a shorter XCBC key is padded with zeros.
      std::copy(key.begin(), key.end(), k.begin());
    } else {
      // Longer XCBC keys (RFC 4434 section 2) and CMAC keys of any length
      // but 128 bits (RFC 4615 section 3): K' = MAC(0^128, K).
      AesCbcMac zero_keyed;
      const std::array<uint8_t, 16> zero{};
      IPSEC_TRY(zero_keyed.set_key(kind, zero));
      const ByteView parts[] = {key};
      zero_keyed.mac(parts, &k);
    }
    const Status s = mac_.set_key(kind, k);
    secure_zero(k);
    return s;
  }
  PrfId id() const noexcept override { return id_; }
  size_t output_size() const noexcept override { return 16; }
  using Prf::compute;
  Status compute(std::span<const ByteView> parts, MutableByteView out) noexcept override {
    if (out.size() != 16) return Errc::invalid_length;
    std::array<uint8_t, 16> full{};
    mac_.mac(parts, &full);
    std::copy(full.begin(), full.end(), out.begin());
    secure_zero(full);
    return Status::success();
  }

 private:
  AesCbcMac mac_;
  PrfId id_;
};

template <typename T, typename Base, typename... Args>
Result<std::unique_ptr<Base>> make_keyed(ByteView key, Args&&... args) noexcept {
  auto obj = make_object<Base, T>(std::forward<Args>(args)...);
  if (!obj) return obj.status();
  IPSEC_TRY(static_cast<T&>(**obj).init(key));
  return obj;
}

// For init() functions that cannot fail.
template <typename T, typename Base, typename... Args>
Result<std::unique_ptr<Base>> make_keyed_infallible(ByteView key, Args&&... args) noexcept {
  auto obj = make_object<Base, T>(std::forward<Args>(args)...);
  if (!obj) return obj.status();
  static_cast<T&>(**obj).init(key);
  return obj;
}

}  // namespace

Result<std::unique_ptr<Aead>> MbedtlsProvider::make_aead(EncrId id, uint16_t key_bits,
                                                         ByteView keymat) noexcept {
  auto info = check_encr(id, true, key_bits, keymat);
  if (!info) return info.status();
  const size_t key_size = info->key_bits(key_bits) / 8u;
  switch (id) {
    case EncrId::aes_gcm_8:
    case EncrId::aes_gcm_12:
    case EncrId::aes_gcm_16:
    case EncrId::null_auth_aes_gmac:
      return make_keyed<MbedtlsGcm, Aead>(keymat, id, key_size, size_t{info->icv_size});
    case EncrId::aes_ccm_8:
    case EncrId::aes_ccm_12:
    case EncrId::aes_ccm_16:
      return make_keyed<MbedtlsCcm, Aead>(keymat, id, key_size, size_t{info->icv_size});
    case EncrId::chacha20_poly1305: return make_keyed<MbedtlsChachaPoly, Aead>(keymat);
    default: return Errc::unsupported_algorithm;
  }
}

Result<std::unique_ptr<Cipher>> MbedtlsProvider::make_cipher(EncrId id, uint16_t key_bits,
                                                             ByteView keymat) noexcept {
  auto info = check_encr(id, false, key_bits, keymat);
  if (!info) return info.status();
  const size_t key_size = info->key_bits(key_bits) / 8u;
  switch (id) {
    case EncrId::aes_cbc: return make_keyed<MbedtlsAesCbc, Cipher>(keymat, key_size);
    case EncrId::aes_ctr: return make_keyed<MbedtlsAesCtr, Cipher>(keymat, key_size);
    case EncrId::null: return make_object<Cipher, NullCipher>();
    default: return Errc::unsupported_algorithm;
  }
}

Result<std::unique_ptr<Integrity>> MbedtlsProvider::make_integrity(IntegId id, ByteView key) noexcept {
  const auto info = integ_info(id);
  if (!info) return Errc::unsupported_algorithm;
  if (key.size() != info->key_size) return Errc::invalid_key_length;
  const size_t k = info->key_size, icv = info->icv_size;
  switch (id) {
    case IntegId::hmac_sha1_96: return make_keyed_infallible<HmacIntegrity<Sha1>, Integrity>(key, id, k, icv);
    case IntegId::hmac_sha2_256_128:
      return make_keyed_infallible<HmacIntegrity<Sha256>, Integrity>(key, id, k, icv);
    case IntegId::hmac_sha2_384_192:
      return make_keyed_infallible<HmacIntegrity<Sha384>, Integrity>(key, id, k, icv);
    case IntegId::hmac_sha2_512_256:
      return make_keyed_infallible<HmacIntegrity<Sha512>, Integrity>(key, id, k, icv);
    case IntegId::aes_xcbc_96:
    case IntegId::aes_cmac_96: return make_keyed<AesMacIntegrity, Integrity>(key, id);
    default: return Errc::unsupported_algorithm;
  }
}

Result<std::unique_ptr<Prf>> MbedtlsProvider::make_prf(PrfId id, ByteView key) noexcept {
  switch (id) {
    case PrfId::hmac_sha1: return make_keyed_infallible<HmacPrf<Sha1>, Prf>(key, id);
    case PrfId::hmac_sha2_256: return make_keyed_infallible<HmacPrf<Sha256>, Prf>(key, id);
    case PrfId::hmac_sha2_384: return make_keyed_infallible<HmacPrf<Sha384>, Prf>(key, id);
    case PrfId::hmac_sha2_512: return make_keyed_infallible<HmacPrf<Sha512>, Prf>(key, id);
    case PrfId::aes128_xcbc:
    case PrfId::aes128_cmac: return make_keyed<AesMacPrf, Prf>(key, id);
    default: return Errc::unsupported_algorithm;
  }
}

}  // namespace ipsec::crypto
