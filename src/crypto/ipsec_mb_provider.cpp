// SPDX-License-Identifier: Apache-2.0
// Intel ipsec-mb backend (x86-64): AES-GCM-8/12/16 and AES-GMAC (RFC 4106,
// RFC 4543), ChaCha20-Poly1305 (RFC 7634), AES-CBC (RFC 3602), AES-CTR
// (RFC 3686), HMAC-SHA1-96 (RFC 2404), HMAC-SHA2 (RFC 4868), AES-XCBC-96
// (RFC 3566) and AES-CMAC-96 (RFC 4494).
//
// One IMB_MGR per thread (thread_local, allocated on first use, freed at
// thread exit); keyed objects hold only expanded keys, so they may be used
// from several threads at once (aead.hpp). AES-GCM and ChaCha20-Poly1305
// packets go through the direct function API, bursts too: GCM is parallel
// within one packet, and the job API measured 20-40 ns per packet slower
// with no gain from interleaving (benchmarks/README.md "Line rate"). The
// CBC/CTR/MAC transforms and the encrypt-then-MAC bursts use the job API,
// whose multi-buffer managers pipeline several packets (CBC encryption and
// HMAC are serial within one packet, so this is where bursts pay).
//
// Without IPSEC_HAVE_IPSEC_MB (IPSEC_WITH_IPSEC_MB=OFF, or not found) the
// provider offers nothing: available() is false and make_* returns
// unsupported_algorithm.
#include "ipsec/crypto/provider.hpp"

#if defined(IPSEC_HAVE_IPSEC_MB) && IPSEC_HAVE_IPSEC_MB

// Keep the library's pre-0.53 compatibility macros (CBC, SHA1, ENCRYPT, ...)
// out of this translation unit.
#define NO_COMPAT_IMB_API_053
#include <intel-ipsec-mb.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common.hpp"
#include "ipsec/core/secret.hpp"

namespace ipsec::crypto {
namespace {

using detail::check_encr;
using detail::make_object;

// The backend() of every object of this file returns this array: its address
// identifies them, so that a burst can tell its own ops from other backends'
// without RTTI (a string literal could be merged with another backend's).
constexpr char kBackend[] = "ipsec-mb";

bool is_ours(const char* backend) noexcept { return backend == kBackend; }

// Ops per job-queue round: the queue holds IMB_MAX_JOBS (256); the per-op
// nonces and tags of one round live on the stack.
constexpr size_t kChunk = 64;

// ---- Managers -----------------------------------------------------------------

struct ManagerHolder {
  ManagerHolder() = default;
  ManagerHolder(const ManagerHolder&) = delete;
  ManagerHolder& operator=(const ManagerHolder&) = delete;
  ~ManagerHolder() {
    if (mgr != nullptr) free_mb_mgr(mgr);
  }
  IMB_MGR* mgr = nullptr;
};

// thread_manager: this thread's manager, or nullptr when it cannot be
// allocated or the CPU lacks AES-NI (the library would fall back to its
// slow AES emulation; the other backends are better then).
IMB_MGR* thread_manager() noexcept {
  thread_local ManagerHolder holder;
  if (holder.mgr != nullptr) return holder.mgr;
  IMB_MGR* mgr = alloc_mb_mgr(0);
  if (mgr == nullptr) return nullptr;
  IMB_ARCH arch = IMB_ARCH_NONE;
  init_mb_mgr_auto(mgr, &arch);
  if (imb_get_errno(mgr) != 0 || arch == IMB_ARCH_NONE || arch == IMB_ARCH_NOAESNI) {
    free_mb_mgr(mgr);
    return nullptr;
  }
  holder.mgr = mgr;
  return mgr;
}

// placeholder: ipsec-mb checks its pointers even for zero lengths.
uint8_t g_placeholder[16] = {};
const uint8_t* nonnull(ByteView v) noexcept { return v.empty() ? g_placeholder : v.data(); }
uint8_t* nonnull(MutableByteView v) noexcept { return v.empty() ? g_placeholder : v.data(); }

// clear_job: jobs are recycled ring slots; start each from zero so that no
// field of an earlier job (another algorithm) leaks into this one.
void clear_job(IMB_JOB* job) noexcept { std::memset(static_cast<void*>(job), 0, sizeof *job); }

// run_jobs: fill(job, i) for i < n, submitted in order; done(job) for every
// completed job (any order). All are complete when it returns.
template <typename Fill, typename Done>
void run_jobs(IMB_MGR* mgr, size_t n, Fill&& fill, Done&& done) noexcept {
  for (size_t i = 0; i < n; ++i) {
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
    clear_job(job);
    fill(job, i);
    job = IMB_SUBMIT_JOB(mgr);
    while (job != nullptr) {
      done(job);
      job = IMB_GET_COMPLETED_JOB(mgr);
    }
  }
  while (IMB_JOB* job = IMB_FLUSH_JOB(mgr)) done(job);
}

// run_one: one job, completed before it returns.
template <typename Fill>
[[nodiscard]] Status run_one(IMB_MGR* mgr, Fill&& fill) noexcept {
  bool ok = false;
  run_jobs(
      mgr, 1, [&](IMB_JOB* job, size_t) { fill(job); },
      [&](const IMB_JOB* job) { ok = job->status == IMB_STATUS_COMPLETED; });
  return ok ? Status::success() : Status(Errc::crypto_backend_failure);
}

IMB_KEY_SIZE_BYTES key_size_enum(size_t bytes) noexcept {
  if (bytes == 16) return IMB_KEY_128_BYTES;
  if (bytes == 24) return IMB_KEY_192_BYTES;
  return IMB_KEY_256_BYTES;
}

// ---- AEAD -----------------------------------------------------------------------

// gcm_key_data wants 64-octet alignment (the header only asks for it when
// LINUX is defined).
struct alignas(64) GcmKey {
  gcm_key_data data;
};

// MbAead: AES-GCM-8/12/16 and AES-GMAC (RFC 4106 8.1, RFC 4543 3.2: KEYMAT
// = key || 4-octet salt) or ChaCha20-Poly1305 (RFC 7634 2: 32-octet key ||
// 4-octet salt). The nonce is salt || 8-octet IV.
class MbAead final : public Aead {
 public:
  MbAead(EncrId id, size_t key_size, size_t icv_size) noexcept
      : id_(id), key_size_(key_size), icv_size_(icv_size) {}
  MbAead(const MbAead&) = delete;
  MbAead& operator=(const MbAead&) = delete;
  ~MbAead() override {
    secure_zero(MutableByteView(reinterpret_cast<uint8_t*>(&gcm_), sizeof gcm_));
    secure_zero(chacha_key_);
    secure_zero(salt_);
  }

  Status init(IMB_MGR* mgr, ByteView keymat) noexcept {
    std::copy_n(keymat.subspan(key_size_).begin(), salt_.size(), salt_.begin());
    if (is_chacha()) {
      std::copy_n(keymat.begin(), chacha_key_.size(), chacha_key_.begin());
      return Status::success();
    }
    switch (key_size_) {
      case 16: IMB_AES128_GCM_PRE(mgr, keymat.data(), &gcm_.data); break;
      case 24: IMB_AES192_GCM_PRE(mgr, keymat.data(), &gcm_.data); break;
      default: IMB_AES256_GCM_PRE(mgr, keymat.data(), &gcm_.data); break;
    }
    return Status::success();
  }

  EncrId id() const noexcept override { return id_; }
  size_t key_size() const noexcept override { return key_size_; }
  size_t icv_size() const noexcept override { return icv_size_; }
  const char* backend() const noexcept override { return kBackend; }

  Status seal(ByteView iv, ByteView aad, MutableByteView data, MutableByteView icv) noexcept override {
    IPSEC_TRY(check(iv, data, icv.size()));
    IMB_MGR* mgr = thread_manager();
    if (mgr == nullptr) return Errc::out_of_memory;
    std::array<uint8_t, 16> tag{};
    crypt(mgr, true, iv, aad, data, tag);
    std::copy_n(tag.begin(), icv_size_, icv.begin());
    return Status::success();
  }
  Status open(ByteView iv, ByteView aad, MutableByteView data, ByteView icv) noexcept override {
    IPSEC_TRY(check(iv, data, icv.size()));
    IMB_MGR* mgr = thread_manager();
    if (mgr == nullptr) return Errc::out_of_memory;
    std::array<uint8_t, 16> tag{};
    crypt(mgr, false, iv, aad, data, tag);
    return finish_open(ByteView(tag).first(icv_size_), icv, data);
  }

 private:
  bool is_chacha() const noexcept { return id_ == EncrId::chacha20_poly1305; }

  Status check(ByteView iv, MutableByteView data, size_t icv_given) const noexcept {
    if (iv.size() != kIvSize) return Errc::invalid_iv_length;
    if (icv_given != icv_size_) return Errc::invalid_icv_length;
    // RFC 4543 3: GMAC encrypts nothing; the whole packet is AAD.
    if (id_ == EncrId::null_auth_aes_gmac && !data.empty()) return Errc::invalid_argument;
    return Status::success();
  }

  // finish_open: compare the computed tag with the received ICV in constant
  // time; on a mismatch zero the decrypted data (never released).
  static Status finish_open(ByteView computed, ByteView icv, MutableByteView data) noexcept {
    if (ct_equal(computed, icv)) return Status::success();
    secure_zero(data);
    return Errc::integrity_check_failed;
  }

  // crypt: one packet through the direct API; the full 16-octet tag into
  // `tag` (RFC 4106 6: ICV = its leftmost icv_size octets).
  void crypt(IMB_MGR* mgr, bool encrypt, ByteView iv, ByteView aad, MutableByteView data,
             std::array<uint8_t, 16>& tag) const noexcept {
    const auto nonce = detail::make_nonce(salt_, iv);
    uint8_t* d = nonnull(data);
    const uint8_t* a = nonnull(aad);
    if (is_chacha()) {
      chacha20_poly1305_context_data ctx{};
      IMB_CHACHA20_POLY1305_INIT(mgr, chacha_key_.data(), &ctx, nonce.data(), a, aad.size());
      if (!data.empty()) {
        if (encrypt) {
          IMB_CHACHA20_POLY1305_ENC_UPDATE(mgr, chacha_key_.data(), &ctx, d, d, data.size());
        } else {
          IMB_CHACHA20_POLY1305_DEC_UPDATE(mgr, chacha_key_.data(), &ctx, d, d, data.size());
        }
      }
      // ENC_FINALIZE and DEC_FINALIZE are the same function in ipsec-mb 1.3:
      // the tag over what was authenticated either way.
      IMB_CHACHA20_POLY1305_ENC_FINALIZE(mgr, &ctx, tag.data(), tag.size());
      secure_zero(MutableByteView(reinterpret_cast<uint8_t*>(&ctx), sizeof ctx));  // Poly1305 key
      return;
    }
    // Not zero-filled first: IMB_AES*_GCM_ENC/DEC initialise every field
    // they read (the init step of their own), and the fill cost about a fifth
    // of a 64-octet packet's ESP overhead. Zeroed afterwards (GHASH state).
    gcm_context_data ctx;  // NOLINT(cppcoreguidelines-pro-type-member-init)
    const size_t n = data.size();
    if (encrypt) {
      switch (key_size_) {
        case 16:
          IMB_AES128_GCM_ENC(mgr, &gcm_.data, &ctx, d, d, n, nonce.data(), a, aad.size(), tag.data(), 16);
          break;
        case 24:
          IMB_AES192_GCM_ENC(mgr, &gcm_.data, &ctx, d, d, n, nonce.data(), a, aad.size(), tag.data(), 16);
          break;
        default:
          IMB_AES256_GCM_ENC(mgr, &gcm_.data, &ctx, d, d, n, nonce.data(), a, aad.size(), tag.data(), 16);
          break;
      }
    } else {
      switch (key_size_) {
        case 16:
          IMB_AES128_GCM_DEC(mgr, &gcm_.data, &ctx, d, d, n, nonce.data(), a, aad.size(), tag.data(), 16);
          break;
        case 24:
          IMB_AES192_GCM_DEC(mgr, &gcm_.data, &ctx, d, d, n, nonce.data(), a, aad.size(), tag.data(), 16);
          break;
        default:
          IMB_AES256_GCM_DEC(mgr, &gcm_.data, &ctx, d, d, n, nonce.data(), a, aad.size(), tag.data(), 16);
          break;
      }
    }
    secure_zero(MutableByteView(reinterpret_cast<uint8_t*>(&ctx), sizeof ctx));  // holds E(K, Y0)
  }

  GcmKey gcm_{};
  std::array<uint8_t, 32> chacha_key_{};
  std::array<uint8_t, 4> salt_{};
  EncrId id_;
  size_t key_size_;
  size_t icv_size_;
};

// ---- Integrity ------------------------------------------------------------------

// Inputs in several parts (ESP's ESN high bits, RFC 4303 3.3.2.1) are copied
// into one stack buffer up to this size (the job API hashes one contiguous
// buffer); longer ones go to the mbedTLS transform of the same key.
constexpr size_t kMaxGatherSize = 4096;

// MbIntegrity: HMAC-SHA1-96 (RFC 2404), HMAC-SHA2-256/384/512 (RFC 4868),
// AES-XCBC-MAC-96 (RFC 3566), AES-CMAC-96 (RFC 4494).
class MbIntegrity final : public Integrity {
 public:
  MbIntegrity(IntegId id, size_t key_size, size_t icv_size) noexcept
      : id_(id), key_size_(key_size), icv_size_(icv_size) {}
  MbIntegrity(const MbIntegrity&) = delete;
  MbIntegrity& operator=(const MbIntegrity&) = delete;
  ~MbIntegrity() override {
    secure_zero(ipad_);
    secure_zero(opad_);
    secure_zero(MutableByteView(reinterpret_cast<uint8_t*>(aes_enc_.data()), sizeof aes_enc_));
    secure_zero(MutableByteView(reinterpret_cast<uint8_t*>(aes_dec_.data()), sizeof aes_dec_));
    secure_zero(k2_);
    secure_zero(k3_);
  }

  Status init(IMB_MGR* mgr, ByteView key) noexcept {
    switch (id_) {
      case IntegId::aes_xcbc_96:
        // RFC 3566 4: K1 = E(K, 0x01..), K2 = E(K, 0x02..), K3 = E(K, 0x03..).
        IMB_AES_XCBC_KEYEXP(mgr, key.data(), aes_enc_.data(), k2_.data(), k3_.data());
        break;
      case IntegId::aes_cmac_96:
        // RFC 4493 2.3: subkeys K1, K2 from L = E(K, 0^128).
        IMB_AES_KEYEXP_128(mgr, key.data(), aes_enc_.data(), aes_dec_.data());
        IMB_AES_CMAC_SUBKEY_GEN_128(mgr, aes_enc_.data(), k2_.data(), k3_.data());
        break;
      default: hmac_pads(mgr, key); break;
    }
    // The fallback for long multi-part inputs (see kMaxGatherSize) and empty ones.
    MbedtlsProvider mbedtls;
    auto fallback = mbedtls.make_integrity(id_, key);
    if (!fallback) return fallback.status();
    fallback_ = std::move(*fallback);
    return Status::success();
  }

  IntegId id() const noexcept override { return id_; }
  size_t key_size() const noexcept override { return key_size_; }
  size_t icv_size() const noexcept override { return icv_size_; }
  const char* backend() const noexcept override { return kBackend; }

  using Integrity::compute;
  Status compute(std::span<const ByteView> parts, MutableByteView icv) noexcept override {
    if (icv.size() != icv_size_) return Errc::invalid_icv_length;
    size_t total = 0, nonempty = 0;
    ByteView only;
    for (const ByteView& p : parts) {
      total += p.size();
      if (!p.empty()) {
        ++nonempty;
        only = p;
      }
    }
    IMB_MGR* mgr = thread_manager();
    if (mgr == nullptr) return Errc::out_of_memory;
    // The job API refuses an empty message; IPsec never authenticates one
    // (the ESP header is always covered), so mbedTLS may answer it.
    if (total == 0) return fallback_->compute(parts, icv);
    if (nonempty == 1) return mac(mgr, only, icv);
    if (total > kMaxGatherSize) return fallback_->compute(parts, icv);
    // Packet bytes, not secret: not zeroed, and not zero-filled first (4 KiB
    // per call; only the first `total` octets are written and read).
    std::array<uint8_t, kMaxGatherSize> buf;  // NOLINT(cppcoreguidelines-pro-type-member-init)
    size_t at = 0;
    for (const ByteView& p : parts) {
      std::copy(p.begin(), p.end(), buf.begin() + static_cast<std::ptrdiff_t>(at));
      at += p.size();
    }
    return mac(mgr, ByteView(buf).first(total), icv);
  }

  // set_hash: the hash half of a job: algorithm and keys.
  void set_hash(IMB_JOB* job) const noexcept {
    switch (id_) {
      case IntegId::aes_xcbc_96:
        job->hash_alg = IMB_AUTH_AES_XCBC;
        job->u.XCBC._k1_expanded = aes_enc_.data();
        job->u.XCBC._k2 = k2_.data();
        job->u.XCBC._k3 = k3_.data();
        break;
      case IntegId::aes_cmac_96:
        job->hash_alg = IMB_AUTH_AES_CMAC;
        job->u.CMAC._key_expanded = aes_enc_.data();
        job->u.CMAC._skey1 = k2_.data();
        job->u.CMAC._skey2 = k3_.data();
        break;
      default:
        job->hash_alg = hmac_alg();
        job->u.HMAC._hashed_auth_key_xor_ipad = ipad_.data();
        job->u.HMAC._hashed_auth_key_xor_opad = opad_.data();
        break;
    }
  }

 private:
  IMB_HASH_ALG hmac_alg() const noexcept {
    switch (id_) {
      case IntegId::hmac_sha1_96: return IMB_AUTH_HMAC_SHA_1;
      case IntegId::hmac_sha2_256_128: return IMB_AUTH_HMAC_SHA_256;
      case IntegId::hmac_sha2_384_192: return IMB_AUTH_HMAC_SHA_384;
      default: return IMB_AUTH_HMAC_SHA_512;
    }
  }

  // hmac_pads: RFC 2104 2: the hash states after the first block, K ^ ipad
  // and K ^ opad (the keys of suites.hpp are never longer than a block).
  void hmac_pads(IMB_MGR* mgr, ByteView key) noexcept {
    const size_t block = (id_ == IntegId::hmac_sha1_96 || id_ == IntegId::hmac_sha2_256_128) ? 64 : 128;
    std::array<uint8_t, 128> in{}, out{};
    for (size_t i = 0; i < block; ++i) {
      const uint8_t k = i < key.size() ? key[i] : uint8_t{0};
      in[i] = static_cast<uint8_t>(k ^ 0x36);
      out[i] = static_cast<uint8_t>(k ^ 0x5c);
    }
    switch (id_) {
      case IntegId::hmac_sha1_96:
        IMB_SHA1_ONE_BLOCK(mgr, in.data(), ipad_.data());
        IMB_SHA1_ONE_BLOCK(mgr, out.data(), opad_.data());
        break;
      case IntegId::hmac_sha2_256_128:
        IMB_SHA256_ONE_BLOCK(mgr, in.data(), ipad_.data());
        IMB_SHA256_ONE_BLOCK(mgr, out.data(), opad_.data());
        break;
      case IntegId::hmac_sha2_384_192:
        IMB_SHA384_ONE_BLOCK(mgr, in.data(), ipad_.data());
        IMB_SHA384_ONE_BLOCK(mgr, out.data(), opad_.data());
        break;
      default:
        IMB_SHA512_ONE_BLOCK(mgr, in.data(), ipad_.data());
        IMB_SHA512_ONE_BLOCK(mgr, out.data(), opad_.data());
        break;
    }
    secure_zero(in);
    secure_zero(out);
  }

  Status mac(IMB_MGR* mgr, ByteView data, MutableByteView icv) const noexcept {
    return run_one(mgr, [&](IMB_JOB* job) {
      job->cipher_mode = IMB_CIPHER_NULL;
      job->cipher_direction = IMB_DIR_ENCRYPT;
      job->chain_order = IMB_ORDER_HASH_CIPHER;
      job->src = nonnull(data);
      job->dst = g_placeholder;
      job->hash_start_src_offset_in_bytes = 0;
      job->msg_len_to_hash_in_bytes = data.size();
      job->auth_tag_output = icv.data();
      job->auth_tag_output_len_in_bytes = icv_size_;
      set_hash(job);
    });
  }

  // HMAC: the ipad/opad states (SHA-384's is SHA-512's full state). XCBC:
  // aes_enc_ = K1 expanded, k2_, k3_. CMAC: aes_enc_ = K expanded, k2_/k3_
  // = subkeys K1/K2.
  alignas(16) std::array<uint8_t, 64> ipad_{};
  alignas(16) std::array<uint8_t, 64> opad_{};
  alignas(16) std::array<uint32_t, size_t{4} * 15> aes_enc_{};
  alignas(16) std::array<uint32_t, size_t{4} * 15> aes_dec_{};
  alignas(16) std::array<uint8_t, 16> k2_{};
  alignas(16) std::array<uint8_t, 16> k3_{};
  std::unique_ptr<Integrity> fallback_;
  IntegId id_;
  size_t key_size_;
  size_t icv_size_;
};

// ---- Ciphers --------------------------------------------------------------------

// MbCipher: AES-CBC (RFC 3602, 16-octet IV) and AES-CTR (RFC 3686: KEYMAT =
// key || 4-octet nonce, 8-octet IV, counter block nonce | IV | 1).
class MbCipher final : public Cipher {
 public:
  MbCipher(EncrId id, size_t key_size) noexcept : id_(id), key_size_(key_size) {}
  MbCipher(const MbCipher&) = delete;
  MbCipher& operator=(const MbCipher&) = delete;
  ~MbCipher() override {
    secure_zero(MutableByteView(reinterpret_cast<uint8_t*>(enc_.data()), sizeof enc_));
    secure_zero(MutableByteView(reinterpret_cast<uint8_t*>(dec_.data()), sizeof dec_));
    secure_zero(nonce_);
  }
  Status init(IMB_MGR* mgr, ByteView keymat) noexcept {
    if (id_ == EncrId::aes_ctr) std::copy_n(keymat.subspan(key_size_).begin(), nonce_.size(), nonce_.begin());
    switch (key_size_) {
      case 16: IMB_AES_KEYEXP_128(mgr, keymat.data(), enc_.data(), dec_.data()); break;
      case 24: IMB_AES_KEYEXP_192(mgr, keymat.data(), enc_.data(), dec_.data()); break;
      default: IMB_AES_KEYEXP_256(mgr, keymat.data(), enc_.data(), dec_.data()); break;
    }
    return Status::success();
  }

  EncrId id() const noexcept override { return id_; }
  size_t key_size() const noexcept override { return key_size_; }
  size_t iv_size() const noexcept override { return is_ctr() ? 8 : 16; }
  size_t block_size() const noexcept override { return is_ctr() ? 1 : 16; }
  const char* backend() const noexcept override { return kBackend; }

  Status encrypt(ByteView iv, MutableByteView data) noexcept override { return crypt(true, iv, data); }
  Status decrypt(ByteView iv, MutableByteView data) noexcept override { return crypt(false, iv, data); }

  void etm_seal_burst(std::span<EtmOp> ops) noexcept override { etm_burst(ops, true); }
  void etm_open_burst(std::span<EtmOp> ops) noexcept override { etm_burst(ops, false); }

 private:
  bool is_ctr() const noexcept { return id_ == EncrId::aes_ctr; }

  Status check(ByteView iv, size_t size) const noexcept {
    if (iv.size() != iv_size()) return Errc::invalid_iv_length;
    if (!is_ctr() && size % 16 != 0) return Errc::invalid_block_length;
    return Status::success();
  }

  // counter_block: RFC 3686 4: nonce | IV | 0x00000001.
  void counter_block(ByteView iv, std::array<uint8_t, 16>& block) const noexcept {
    std::copy(nonce_.begin(), nonce_.end(), block.begin());
    std::copy_n(iv.begin(), 8, block.begin() + 4);
    block[12] = block[13] = block[14] = 0;
    block[15] = 1;
  }

  // set_cipher: the cipher half of a job over src[offset..offset+len),
  // written in place.
  void set_cipher(IMB_JOB* job, bool encrypt, const uint8_t* iv) const noexcept {
    job->cipher_mode = is_ctr() ? IMB_CIPHER_CNTR : IMB_CIPHER_CBC;
    job->cipher_direction = encrypt ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
    job->enc_keys = enc_.data();
    job->dec_keys = dec_.data();
    job->key_len_in_bytes = key_size_enum(key_size_);
    job->iv = iv;
    job->iv_len_in_bytes = 16;
  }

  Status crypt(bool encrypt, ByteView iv, MutableByteView data) const noexcept {
    IPSEC_TRY(check(iv, data.size()));
    if (data.empty()) return Status::success();
    IMB_MGR* mgr = thread_manager();
    if (mgr == nullptr) return Errc::out_of_memory;
    std::array<uint8_t, 16> block{};
    if (encrypt && !is_ctr() && key_size_ == 16 && data.size() == 16) {
      // One AES-128-CBC block (ESP's IV, E_K(SPI | seq | 0): esp/esp.hpp)
      // without the job queue, whose submit and flush cost more than the
      // block: E_K(IV ^ P) is the CFB keystream of IV ^ P XORed onto zeros.
      for (size_t i = 0; i < 16; ++i) block[i] = static_cast<uint8_t>(iv[i] ^ data[i]);
      const std::array<uint8_t, 16> zero{};
      IMB_AES128_CFB_ONE(mgr, data.data(), zero.data(), block.data(), enc_.data(), 16);
      secure_zero(block);
      return Status::success();
    }
    const uint8_t* job_iv = iv.data();
    if (is_ctr()) {
      counter_block(iv, block);
      job_iv = block.data();
    }
    const Status s = run_one(mgr, [&](IMB_JOB* job) {
      set_cipher(job, encrypt, job_iv);
      job->hash_alg = IMB_AUTH_NULL;
      job->chain_order = encrypt ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
      job->src = data.data();
      job->dst = data.data();
      job->cipher_start_src_offset_in_bytes = 0;
      job->msg_len_to_cipher_in_bytes = data.size();
    });
    secure_zero(block);  // holds the nonce (RFC 3686 5.1: key material)
    return s;
  }

  struct Slot {
    EtmOp* op = nullptr;
    const MbCipher* cipher = nullptr;
    const MbIntegrity* integ = nullptr;
    std::array<uint8_t, 16> block{};  // CTR counter block
    std::array<uint8_t, 32> tag{};    // open: the computed ICV (up to HMAC-SHA2-512-256)
  };

  // etm_burst: ops whose cipher and integrity transforms are both of this
  // backend and that carry no `extra` become one chained job each (seal:
  // cipher then hash; open: hash then cipher, RFC 4303 3.4.4), submitted
  // together; the others take the generic path.
  static void etm_burst(std::span<EtmOp> ops, bool encrypt) noexcept {
    IMB_MGR* mgr = nullptr;
    std::array<Slot, kChunk> slots{};
    while (!ops.empty()) {
      const std::span<EtmOp> round = ops.first(std::min(ops.size(), kChunk));
      ops = ops.subspan(round.size());
      size_t n = 0;
      for (EtmOp& op : round) {
        // Empty ciphertext and ESN go the generic way (rare; the job API
        // wants a non-empty cipher range and one contiguous hash range).
        if (op.cipher == nullptr || op.integ == nullptr || !is_ours(op.cipher->backend()) ||
            !is_ours(op.integ->backend()) || !op.extra.empty() ||
            op.cipher_offset >= op.authenticated.size()) {
          op.status = encrypt ? etm_seal_one(op) : etm_open_one(op);
          continue;
        }
        // is_ours() checked both: they are this file's classes (no RTTI here:
        // the library builds with -fno-rtti).
        // NOLINTBEGIN(cppcoreguidelines-pro-type-static-cast-downcast)
        const auto& c = static_cast<const MbCipher&>(*op.cipher);
        const auto& integ = static_cast<const MbIntegrity&>(*op.integ);
        // NOLINTEND(cppcoreguidelines-pro-type-static-cast-downcast)
        if (op.icv.size() != integ.icv_size()) {
          op.status = Errc::invalid_icv_length;
          continue;
        }
        op.status = c.check(op.iv, op.authenticated.size() - op.cipher_offset);
        if (!op.status.ok()) continue;
        if (mgr == nullptr) mgr = thread_manager();
        if (mgr == nullptr) {
          op.status = Errc::out_of_memory;
          continue;
        }
        Slot& s = slots[n++];
        s.op = &op;
        s.cipher = &c;
        s.integ = &integ;
        if (c.is_ctr()) c.counter_block(op.iv, s.block);
      }
      if (n == 0) continue;
      run_jobs(
          mgr, n,
          [&](IMB_JOB* job, size_t i) {
            Slot& s = slots[i];
            EtmOp& op = *s.op;
            s.cipher->set_cipher(job, encrypt, s.cipher->is_ctr() ? s.block.data() : op.iv.data());
            s.integ->set_hash(job);
            job->chain_order = encrypt ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
            job->src = op.authenticated.data();
            job->dst = op.authenticated.subspan(op.cipher_offset).data();  // the cipher's output, in place
            job->cipher_start_src_offset_in_bytes = op.cipher_offset;
            job->msg_len_to_cipher_in_bytes = op.authenticated.size() - op.cipher_offset;
            job->hash_start_src_offset_in_bytes = 0;
            job->msg_len_to_hash_in_bytes = op.authenticated.size();
            job->auth_tag_output = encrypt ? op.icv.data() : s.tag.data();
            job->auth_tag_output_len_in_bytes = op.icv.size();
            job->user_data = &s;
          },
          [&](const IMB_JOB* job) {
            const Slot& s = *static_cast<const Slot*>(job->user_data);
            EtmOp& op = *s.op;
            const MutableByteView ciphertext = op.authenticated.subspan(op.cipher_offset);
            if (job->status != IMB_STATUS_COMPLETED) {
              if (!encrypt) secure_zero(ciphertext);
              op.status = Errc::crypto_backend_failure;
            } else if (encrypt || ct_equal(ByteView(s.tag).first(op.icv.size()), op.icv)) {
              op.status = Status::success();
            } else {
              // The job decrypted already: zero, never release unauthenticated plaintext.
              secure_zero(ciphertext);
              op.status = Errc::integrity_check_failed;
            }
          });
      for (size_t i = 0; i < n; ++i) secure_zero(slots[i].block);
    }
  }

  alignas(16) std::array<uint32_t, size_t{4} * 15> enc_{};
  alignas(16) std::array<uint32_t, size_t{4} * 15> dec_{};
  std::array<uint8_t, 4> nonce_{};
  EncrId id_;
  size_t key_size_;
};

template <typename T, typename Base, typename... Args>
Result<std::unique_ptr<Base>> make_keyed(ByteView key, Args&&... args) noexcept {
  IMB_MGR* mgr = thread_manager();
  if (mgr == nullptr) return Errc::out_of_memory;
  auto obj = make_object<Base, T>(std::forward<Args>(args)...);
  if (!obj) return obj.status();
  IPSEC_TRY(static_cast<T&>(**obj).init(mgr, key));
  return obj;
}

const char* arch_name(uint32_t arch) noexcept {
  switch (arch) {
    case IMB_ARCH_SSE: return "sse";
    case IMB_ARCH_AVX: return "avx";
    case IMB_ARCH_AVX2: return "avx2";
    case IMB_ARCH_AVX512: return "avx512";
    default: return "none";
  }
}

}  // namespace

bool IpsecMbProvider::available() noexcept {
  static const bool ok = thread_manager() != nullptr;
  return ok;
}

const char* IpsecMbProvider::arch() noexcept {
  if (!available()) return "none";
  IMB_MGR* mgr = thread_manager();
  return mgr == nullptr ? "none" : arch_name(mgr->used_arch);
}

bool IpsecMbProvider::supports(EncrId id, uint16_t key_bits) noexcept {
  if (!available()) return false;
  const auto info = encr_info(id);
  if (!info || !info->allows_key_bits(key_bits)) return false;
  switch (id) {
    case EncrId::aes_gcm_8:
    case EncrId::aes_gcm_12:
    case EncrId::aes_gcm_16:
    case EncrId::null_auth_aes_gmac:
    case EncrId::chacha20_poly1305:
    case EncrId::aes_cbc:
    case EncrId::aes_ctr: return true;
    default: return false;
  }
}

bool IpsecMbProvider::supports(IntegId id) noexcept {
  if (!available()) return false;
  switch (id) {
    case IntegId::hmac_sha1_96:
    case IntegId::hmac_sha2_256_128:
    case IntegId::hmac_sha2_384_192:
    case IntegId::hmac_sha2_512_256:
    case IntegId::aes_xcbc_96:
    case IntegId::aes_cmac_96: return true;
    default: return false;
  }
}

Result<std::unique_ptr<Aead>> IpsecMbProvider::make_aead(EncrId id, uint16_t key_bits,
                                                         ByteView keymat) noexcept {
  auto info = check_encr(id, true, key_bits, keymat);
  if (!info) return info.status();
  if (!supports(id, key_bits)) return Errc::unsupported_algorithm;
  return make_keyed<MbAead, Aead>(keymat, id, size_t{info->key_bits(key_bits) / 8u}, size_t{info->icv_size});
}

Result<std::unique_ptr<Cipher>> IpsecMbProvider::make_cipher(EncrId id, uint16_t key_bits,
                                                             ByteView keymat) noexcept {
  auto info = check_encr(id, false, key_bits, keymat);
  if (!info) return info.status();
  if (!supports(id, key_bits)) return Errc::unsupported_algorithm;
  return make_keyed<MbCipher, Cipher>(keymat, id, size_t{info->key_bits(key_bits) / 8u});
}

Result<std::unique_ptr<Integrity>> IpsecMbProvider::make_integrity(IntegId id, ByteView key) noexcept {
  const auto info = integ_info(id);
  if (!info) return Errc::unsupported_algorithm;
  if (key.size() != info->key_size) return Errc::invalid_key_length;
  if (!supports(id)) return Errc::unsupported_algorithm;
  return make_keyed<MbIntegrity, Integrity>(key, id, size_t{info->key_size}, size_t{info->icv_size});
}

}  // namespace ipsec::crypto

#else  // !IPSEC_HAVE_IPSEC_MB

namespace ipsec::crypto {

bool IpsecMbProvider::available() noexcept { return false; }
const char* IpsecMbProvider::arch() noexcept { return "none"; }
bool IpsecMbProvider::supports(EncrId, uint16_t) noexcept { return false; }
bool IpsecMbProvider::supports(IntegId) noexcept { return false; }

Result<std::unique_ptr<Aead>> IpsecMbProvider::make_aead(EncrId, uint16_t, ByteView) noexcept {
  return Errc::unsupported_algorithm;
}
Result<std::unique_ptr<Cipher>> IpsecMbProvider::make_cipher(EncrId, uint16_t, ByteView) noexcept {
  return Errc::unsupported_algorithm;
}
Result<std::unique_ptr<Integrity>> IpsecMbProvider::make_integrity(IntegId, ByteView) noexcept {
  return Errc::unsupported_algorithm;
}

}  // namespace ipsec::crypto

#endif  // IPSEC_HAVE_IPSEC_MB

namespace ipsec::crypto {

// The PRFs and key exchanges are the control plane's: mbedTLS and libsodium
// serve them (ipsec-mb has no big-number or curve arithmetic).
Result<std::unique_ptr<Prf>> IpsecMbProvider::make_prf(PrfId, ByteView) noexcept {
  return Errc::unsupported_algorithm;
}
Result<std::unique_ptr<KeyExchange>> IpsecMbProvider::make_key_exchange(KeGroup, Rng&) noexcept {
  return Errc::unsupported_algorithm;
}
Result<std::unique_ptr<KeyExchange>> IpsecMbProvider::import_key_exchange(KeGroup, ByteView) noexcept {
  return Errc::unsupported_algorithm;
}

}  // namespace ipsec::crypto
