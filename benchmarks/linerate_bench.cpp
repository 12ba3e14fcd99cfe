// SPDX-License-Identifier: Apache-2.0
// linerate_bench: ESP at line rate on the Intel ipsec-mb backend (issue 11):
// single packets, bursts, several SAs per burst, a cold cache, two threads,
// each ESP figure beside the raw ipsec-mb call on the same octets in the
// same run. benchmarks/README.md "Line rate: ipsec-mb, bursts, threads" has
// the figures; benchmarks/linerate_ratios.py turns a JSON run into the table.
//
//   esp_encap/<suite>/tunnel4/<size>        restore the inner header, esp::seal
//   raw_encap/<suite>/tunnel4/<size>        restore the inner header, IMB_AES*_GCM_ENC
//   esp_decap/<suite>/tunnel4/<size>        esp::open of the next pooled packet, in place
//   raw_decap/<suite>/tunnel4/<size>        IMB_AES*_GCM_DEC + constant-time tag check
//
//   esp_seal_burst<n>/<suite>/<shape>/<size>     restore n inner headers, esp::seal_burst
//   raw_seal_burst<n>/<suite>/<shape>/<size>     the direct call n times (GCM only)
//   rawjob_seal_burst<n>/<suite>/<shape>/<size>  n jobs through the job API, then flush
//   esp_open_burst<n>, raw_open_burst<n>, rawjob_open_burst<n>: the same inbound,
//                                                over n pooled packets opened in place
//     <shape>: 1sa (one SA), 4sa (packet j of the burst on SA j % 4: the
//     span-of-SAs overload; raw: key j % 4), cold (1sa walking a pool of
//     12,000 packets, about 17 MiB touched: more than L2, less than L3),
//     dram (49,152 packets, about 70 MiB: more than L3).
//
//   dp_outbound_burst32/aes256gcm16/{separate,shared}/1400   sa::Datapath::outbound_burst,
//   dp_inbound_burst32/aes256gcm16/separate/1400             inbound_burst, threads 1 and 2
//   raw_mt_seal_burst32/aes256gcm16/1400                     the raw call in 1 and 2 threads
//   backend_seal/aes256gcm16/<backend>/1400                  Aead::seal per backend
//
// <size> is the inner packet (IPv4 in IPv4 tunnel mode). The raw benchmarks
// process exactly what ESP hands to the crypto: the 8-octet ESP header as
// AAD (or, with HMAC, as the start of what the ICV covers), payload |
// padding | pad length | next header as data, at the same addresses in the
// same buffers; the raw side writes the explicit IV from a counter.
// Decapsulation needs fresh sequence numbers: packets are opened in place
// in a pool that is sealed again (PauseTiming) when it runs out, on both
// sides. items_per_second counts packets; bytes_per_second inner octets.
//
// Without ipsec-mb (not found at build time, or a CPU without AES-NI) the
// ESP cases run on DefaultProvider and "raw" is its Aead/Cipher object
// called directly (the label says which backend); the rawjob cases and the
// CBC+HMAC raw baseline need ipsec-mb and are not registered.
#include <benchmark/benchmark.h>

#if defined(IPSEC_BENCH_HAVE_IPSEC_MB) && IPSEC_BENCH_HAVE_IPSEC_MB
#define NO_COMPAT_IMB_API_053
#include <intel-ipsec-mb.h>
#define LINERATE_MB 1
#else
#define LINERATE_MB 0
#endif

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/packet_buffer.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/core/time.hpp"
#include "ipsec/crypto/aead.hpp"
#include "ipsec/crypto/cipher.hpp"
#include "ipsec/crypto/integrity.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/esp/esp.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/sa/datapath.hpp"
#include "ipsec/sa/selector.hpp"
#include "ipsec/sa/spd.hpp"
#include "ipsec/wire/ip_header.hpp"

namespace {

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::IpAddress;
using ipsec::MutableByteView;
using ipsec::PacketBuffer;
using ipsec::Status;
using ipsec::bench::fail;
using ipsec::crypto::EncrId;
using ipsec::crypto::IntegId;

// Room around each packet: in front for the outer IPv4 and ESP headers and
// the IV, behind for padding and the ICV (the library's maxima).
constexpr size_t kHeadroom = 128;
constexpr size_t kTailroom = 320;
static_assert(kHeadroom >= ipsec::limits::kEspMaxHeadroom && kTailroom >= ipsec::limits::kEspMaxTailroom);
constexpr size_t kInnerHeader = 28;  // IPv4 + UDP: what seal and the SPD read of the inner packet
constexpr size_t kEspHeader = 8;     // SPI, sequence number (RFC 4303 2)
constexpr size_t kBurst = 32;
constexpr size_t kCbcBurst = 16;
// Decapsulation pools: opened in place, sealed again when used up; 256
// packets of 1400 octets (about 380 KiB) stay in this CPU's 512 KiB L2.
constexpr size_t kDecapPool = 256;
constexpr size_t kColdPool = 12000;  // 375 bursts; ~17 MiB of 1400-octet packets
constexpr size_t kDramPool = 49152;  // ~70 MiB: beyond the 32 MiB L3

struct Suite {
  const char* name;
  EncrId encr;
  uint16_t key_bits;
  IntegId integ;
};
constexpr Suite kAes128Gcm = {"aes128gcm16", EncrId::aes_gcm_16, 128, IntegId::none};
constexpr Suite kAes256Gcm = {"aes256gcm16", EncrId::aes_gcm_16, 256, IntegId::none};
constexpr Suite kCbcHmac = {"aes128cbc+hmac_sha2_256_128", EncrId::aes_cbc, 128, IntegId::hmac_sha2_256_128};

ipsec::crypto::DefaultProvider& default_provider() {
  static ipsec::crypto::DefaultProvider p;
  return p;
}

// use_mb: ipsec-mb compiled into this program and usable on this CPU.
bool use_mb() {
  static const bool ok = LINERATE_MB != 0 && ipsec::crypto::IpsecMbProvider::available();
  return ok;
}

// esp_provider: what the ESP cases run on (ipsec-mb, else the default).
ipsec::crypto::Provider& esp_provider() {
  static ipsec::crypto::IpsecMbProvider mb;
  if (use_mb()) return mb;
  return default_provider();
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 31 * i);
  return v;
}

IpAddress v4(uint32_t a) {
  return IpAddress::v4({static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16),
                        static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a)});
}

constexpr uint32_t kGateway = 0xc0000201;      // 192.0.2.1, this gateway
constexpr uint32_t kPeerGateway = 0xc6336402;  // 198.51.100.2
constexpr uint32_t kLocalLan = 0x0a000000;     // 10.0.<w>.0/24
constexpr uint32_t kRemoteLan = 0x64000000;    // 100.0.<w>.0/24

// inner_header: IPv4 (DF, TTL 64, valid checksum) + UDP 12345 -> 53 of a
// `size`-octet datagram.
std::array<uint8_t, kInnerHeader> inner_header(uint32_t src, uint32_t dst, size_t size) {
  std::array<uint8_t, kInnerHeader> h{};
  const std::span<uint8_t, kInnerHeader> s(h);
  h[0] = 0x45;
  ipsec::store_be16(s.subspan<2, 2>(), static_cast<uint16_t>(size));
  h[4] = 0x12;
  h[5] = 0x34;
  h[6] = 0x40;
  h[8] = 64;
  h[9] = 17;
  ipsec::store_be32(s.subspan<12, 4>(), src);
  ipsec::store_be32(s.subspan<16, 4>(), dst);
  ipsec::store_be16(s.subspan<10, 2>(), ipsec::wire::internet_checksum(ByteView(h).first(20)));
  ipsec::store_be16(s.subspan<20, 2>(), 12345);
  ipsec::store_be16(s.subspan<22, 2>(), 53);
  ipsec::store_be16(s.subspan<24, 2>(), static_cast<uint16_t>(size - 20));
  return h;
}

ipsec::esp::TunnelConfig tunnel(uint32_t local, uint32_t remote) {
  ipsec::esp::TunnelConfig t;
  t.local = v4(local);
  t.remote = v4(remote);
  return t;
}

// Keys: per SA index, the encryption KEYMAT (key || salt) and the
// integrity key.
std::vector<uint8_t> encr_keymat(const Suite& suite, size_t sa) {
  const auto info = ipsec::crypto::encr_info(suite.encr);
  return pattern(info ? info->keymat_size(suite.key_bits) : 0, static_cast<uint8_t>(0x11 + 7 * sa));
}
std::vector<uint8_t> integ_key(const Suite& suite, size_t sa) {
  if (suite.integ == IntegId::none) return {};
  const auto info = ipsec::crypto::integ_info(suite.integ);
  return pattern(info ? info->key_size : 0, static_cast<uint8_t>(0x77 + 5 * sa));
}

ipsec::esp::SaConfig sa_config(const Suite& suite, uint32_t spi, ByteView keymat, ByteView ikey,
                               const ipsec::esp::TunnelConfig& t) {
  ipsec::esp::SaConfig c;
  c.spi = spi;
  c.encr = suite.encr;
  c.encr_key_bits = suite.key_bits;
  c.encr_keymat = keymat;
  c.integ = suite.integ;
  c.integ_key = ikey;
  c.mode = ipsec::esp::Mode::tunnel;
  c.tunnel = t;
  return c;
}

// ---- Packet pool -------------------------------------------------------------

// Pool: `slots` host buffers, each kHeadroom | packet | kTailroom, one after
// the other on 64-octet boundaries (a cold walk touches as many lines as a
// host's receive ring would), each with its PacketBuffer.
class Pool {
 public:
  void init(size_t slots, size_t size) {
    size_ = size;
    stride_ = (kHeadroom + size + kTailroom + 63) / 64 * 64;
    raw_.assign(slots * stride_ + 64, 0);
    const auto misalign = static_cast<size_t>(reinterpret_cast<uintptr_t>(raw_.data()) % 64);
    storage_ = MutableByteView(raw_).subspan(misalign == 0 ? 0 : 64 - misalign, slots * stride_);
    pbs_.assign(slots, PacketBuffer{});
    // The payload octets once (the crypto's cost does not depend on them).
    const std::vector<uint8_t> payload = pattern(size, 0x5a);
    for (size_t k = 0; k < slots; ++k) std::copy(payload.begin(), payload.end(), slot(k).begin() + kHeadroom);
  }
  [[nodiscard]] size_t slots() const noexcept { return pbs_.size(); }
  [[nodiscard]] size_t size() const noexcept { return size_; }
  [[nodiscard]] MutableByteView slot(size_t k) noexcept { return storage_.subspan(k * stride_, stride_); }
  PacketBuffer& pb(size_t k) noexcept { return pbs_[k]; }
  [[nodiscard]] std::span<PacketBuffer> pbs(size_t first, size_t n) noexcept {
    return std::span<PacketBuffer>(pbs_).subspan(first, n);
  }

  // load_inner: the plaintext packet of slot k: seal works in place, so
  // restore the inner headers where the host read the packet (all that
  // seal and the SPD read) and the PacketBuffer.
  void load_inner(size_t k, ByteView header) noexcept {
    const MutableByteView s = slot(k);
    std::copy(header.begin(), header.end(), s.begin() + kHeadroom);
    pbs_[k] = PacketBuffer::over(s, kHeadroom, size_).value();
  }
  void keep() noexcept {
    benchmark::DoNotOptimize(storage_.data());
    benchmark::ClobberMemory();
  }

 private:
  size_t size_ = 0, stride_ = 0;
  std::vector<uint8_t> raw_;
  MutableByteView storage_;
  std::vector<PacketBuffer> pbs_;
};

// Layout: where seal put the ESP packet in a slot (the same in every slot:
// one suite, one size).
struct Layout {
  size_t wire_offset = 0, wire_size = 0;  // the outer IP datagram
  size_t esp = 0;                         // the ESP header
  size_t iv = 0, body = 0, icv = 0;       // sizes
};

struct EspSpans {
  MutableByteView header, iv, body, icv, authenticated;  // authenticated: header | IV | body
};
EspSpans spans(MutableByteView slot, const Layout& l) {
  EspSpans s;
  s.authenticated = slot.subspan(l.esp, kEspHeader + l.iv + l.body);
  s.header = s.authenticated.first(kEspHeader);
  s.iv = s.authenticated.subspan(kEspHeader, l.iv);
  s.body = s.authenticated.subspan(kEspHeader + l.iv);
  s.icv = slot.subspan(l.esp + kEspHeader + l.iv + l.body, l.icv);
  return s;
}

// ---- The raw transforms --------------------------------------------------------

#if LINERATE_MB
// bench_manager: this thread's IMB_MGR for the raw calls (its own, not the
// provider's: the raw side shares nothing with the library).
IMB_MGR* bench_manager() {
  struct Holder {
    Holder() = default;
    Holder(const Holder&) = delete;
    Holder& operator=(const Holder&) = delete;
    ~Holder() {
      if (mgr != nullptr) free_mb_mgr(mgr);
    }
    IMB_MGR* mgr = nullptr;
  };
  thread_local Holder holder;
  if (holder.mgr == nullptr) {
    IMB_MGR* mgr = alloc_mb_mgr(0);
    if (mgr == nullptr) return nullptr;
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(mgr, &arch);
    holder.mgr = mgr;
  }
  return holder.mgr;
}

struct alignas(64) GcmKey {
  gcm_key_data data;
};
#endif

// RawSa: one SA's keys as the raw baseline holds them: for ipsec-mb the
// expanded keys (AES-GCM: IMB_AES*_GCM_PRE; AES-CBC: IMB_AES_KEYEXP_128 and
// the HMAC-SHA-256 inner/outer states, RFC 2104 2, from
// IMB_SHA256_ONE_BLOCK over key ^ ipad and key ^ opad), else the default
// provider's transforms.
class RawSa {
 public:
  Status init(const Suite& suite, ByteView keymat, ByteView ikey) {
    suite_ = suite;
    aead_suite_ = suite.integ == IntegId::none;
#if LINERATE_MB
    const size_t key_size = suite.key_bits / 8u;
    if (use_mb()) {
      IMB_MGR* mgr = bench_manager();
      if (mgr == nullptr) return Errc::out_of_memory;
      if (aead_suite_) {
        std::copy_n(keymat.subspan(key_size).begin(), salt_.size(), salt_.begin());
        if (key_size == 16) {
          IMB_AES128_GCM_PRE(mgr, keymat.data(), &gcm_.data);
        } else {
          IMB_AES256_GCM_PRE(mgr, keymat.data(), &gcm_.data);
        }
        return Status::success();
      }
      if (suite.encr != EncrId::aes_cbc || key_size != 16 || suite.integ != IntegId::hmac_sha2_256_128) {
        return Errc::unsupported_algorithm;
      }
      IMB_AES_KEYEXP_128(mgr, keymat.data(), enc_.data(), dec_.data());
      std::array<uint8_t, 64> ipad{}, opad{};
      for (size_t i = 0; i < ipad.size(); ++i) {
        const uint8_t k = i < ikey.size() ? ikey[i] : uint8_t{0};
        ipad[i] = static_cast<uint8_t>(k ^ 0x36);
        opad[i] = static_cast<uint8_t>(k ^ 0x5c);
      }
      IMB_SHA256_ONE_BLOCK(mgr, ipad.data(), ipad_.data());
      IMB_SHA256_ONE_BLOCK(mgr, opad.data(), opad_.data());
      return Status::success();
    }
#endif
    if (aead_suite_) {
      auto a = default_provider().make_aead(suite.encr, suite.key_bits, keymat);
      if (!a) return a.status();
      aead_ = std::move(*a);
      return Status::success();
    }
    auto c = default_provider().make_cipher(suite.encr, suite.key_bits, keymat);
    if (!c) return c.status();
    auto i = default_provider().make_integrity(suite.integ, ikey);
    if (!i) return i.status();
    cipher_ = std::move(*c);
    integ_ = std::move(*i);
    return Status::success();
  }

  [[nodiscard]] const char* backend() const noexcept {
    if (aead_) return aead_->backend();
    if (cipher_) return cipher_->backend();
    return "ipsec-mb";
  }

  // seal: the explicit IV from `counter` (RFC 4106 3.1: unique per
  // packet), then the AEAD over header (AAD) and body, ICV into place; or
  // (CBC+HMAC, without ipsec-mb) encrypt and the ICV over header | IV | body.
  Status seal(const EspSpans& s, uint64_t counter) noexcept {
    ipsec::store_be64(s.iv.first<8>(), counter);
#if LINERATE_MB
    if (use_mb() && aead_suite_) {
      IMB_MGR* mgr = bench_manager();
      const auto nonce = make_nonce(s.iv);
      gcm_context_data ctx;
      if (suite_.key_bits == 128) {
        IMB_AES128_GCM_ENC(mgr, &gcm_.data, &ctx, s.body.data(), s.body.data(), s.body.size(), nonce.data(),
                           s.header.data(), s.header.size(), s.icv.data(), s.icv.size());
      } else {
        IMB_AES256_GCM_ENC(mgr, &gcm_.data, &ctx, s.body.data(), s.body.data(), s.body.size(), nonce.data(),
                           s.header.data(), s.header.size(), s.icv.data(), s.icv.size());
      }
      return Status::success();
    }
    if (use_mb()) return Errc::unsupported_algorithm;  // CBC: jobs only
#endif
    if (aead_) return aead_->seal(s.iv, s.header, s.body, s.icv);
    if (Status st = cipher_->encrypt(s.iv, s.body); !st.ok()) return st;
    const ByteView parts[] = {s.authenticated};
    return integ_->compute(parts, s.icv);
  }

  // open: the AEAD open (tag compared in constant time), or ICV check and
  // decrypt.
  Status open(const EspSpans& s) noexcept {
#if LINERATE_MB
    if (use_mb() && aead_suite_) {
      IMB_MGR* mgr = bench_manager();
      const auto nonce = make_nonce(s.iv);
      gcm_context_data ctx;
      std::array<uint8_t, 16> tag;
      if (suite_.key_bits == 128) {
        IMB_AES128_GCM_DEC(mgr, &gcm_.data, &ctx, s.body.data(), s.body.data(), s.body.size(), nonce.data(),
                           s.header.data(), s.header.size(), tag.data(), tag.size());
      } else {
        IMB_AES256_GCM_DEC(mgr, &gcm_.data, &ctx, s.body.data(), s.body.data(), s.body.size(), nonce.data(),
                           s.header.data(), s.header.size(), tag.data(), tag.size());
      }
      return ipsec::ct_equal(ByteView(tag).first(s.icv.size()), s.icv) ? Status::success()
                                                                       : Status(Errc::integrity_check_failed);
    }
    if (use_mb()) return Errc::unsupported_algorithm;
#endif
    if (aead_) return aead_->open(s.iv, s.header, s.body, s.icv);
    const ByteView parts[] = {s.authenticated};
    if (Status st = integ_->verify(parts, s.icv); !st.ok()) return st;
    return cipher_->decrypt(s.iv, s.body);
  }

#if LINERATE_MB
  // fill_job: one packet as one job (the way the ipsec-mb documentation
  // chains IPsec: encrypt CIPHER_HASH, decrypt HASH_CIPHER). GCM: cipher
  // GCM with hash AES_GMAC and the ESP header as AAD; CBC: cipher CBC over
  // the body, hash HMAC-SHA-256 over header | IV | body, 16 tag octets
  // (RFC 4868 2.1: HMAC-SHA-256-128).
  void fill_job(IMB_JOB* job, bool encrypt, const EspSpans& s, const uint8_t* nonce,
                uint8_t* tag) const noexcept {
    job->cipher_direction = encrypt ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
    job->chain_order = encrypt ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
    job->auth_tag_output = tag;
    job->auth_tag_output_len_in_bytes = s.icv.size();
    if (aead_suite_) {
      job->src = s.body.data();
      job->dst = s.body.data();
      job->cipher_start_src_offset_in_bytes = 0;
      job->msg_len_to_cipher_in_bytes = s.body.size();
      job->hash_start_src_offset_in_bytes = 0;
      job->msg_len_to_hash_in_bytes = s.body.size();
      job->iv = nonce;
      job->iv_len_in_bytes = 12;
      job->cipher_mode = IMB_CIPHER_GCM;
      job->hash_alg = IMB_AUTH_AES_GMAC;
      job->enc_keys = &gcm_.data;
      job->dec_keys = &gcm_.data;
      job->key_len_in_bytes = suite_.key_bits == 128 ? IMB_KEY_128_BYTES : IMB_KEY_256_BYTES;
      job->u.GCM.aad = s.header.data();
      job->u.GCM.aad_len_in_bytes = s.header.size();
      return;
    }
    job->src = s.authenticated.data();
    job->dst = s.body.data();
    job->cipher_start_src_offset_in_bytes = kEspHeader + s.iv.size();
    job->msg_len_to_cipher_in_bytes = s.body.size();
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = s.authenticated.size();
    job->iv = s.iv.data();
    job->iv_len_in_bytes = 16;
    job->cipher_mode = IMB_CIPHER_CBC;
    job->enc_keys = enc_.data();
    job->dec_keys = dec_.data();
    job->key_len_in_bytes = IMB_KEY_128_BYTES;
    job->hash_alg = IMB_AUTH_HMAC_SHA_256;
    job->u.HMAC._hashed_auth_key_xor_ipad = ipad_.data();
    job->u.HMAC._hashed_auth_key_xor_opad = opad_.data();
  }

  // make_nonce: RFC 4106 4: salt || explicit IV.
  [[nodiscard]] std::array<uint8_t, 12> make_nonce(ByteView iv) const noexcept {
    std::array<uint8_t, 12> n;
    std::copy(salt_.begin(), salt_.end(), n.begin());
    std::copy_n(iv.begin(), 8, n.begin() + 4);
    return n;
  }
  [[nodiscard]] bool aead_suite() const noexcept { return aead_suite_; }
#endif

 private:
  Suite suite_{};
  bool aead_suite_ = true;
#if LINERATE_MB
  GcmKey gcm_{};
  std::array<uint8_t, 4> salt_{};
  alignas(16) std::array<uint32_t, 4 * 15> enc_{};
  alignas(16) std::array<uint32_t, 4 * 15> dec_{};
  alignas(16) std::array<uint8_t, 32> ipad_{};
  alignas(16) std::array<uint8_t, 32> opad_{};
#endif
  std::unique_ptr<ipsec::crypto::Aead> aead_;
  std::unique_ptr<ipsec::crypto::Cipher> cipher_;
  std::unique_ptr<ipsec::crypto::Integrity> integ_;
};

// ---- ESP beside raw: the fixture -------------------------------------------------

enum class Side : uint8_t { esp, raw, rawjob };

const char* side_name(Side s) {
  switch (s) {
    case Side::esp: return "esp";
    case Side::raw: return "raw";
    case Side::rawjob: return "rawjob";
  }
  return "?";
}

// Fixture: `sas` outbound SAs and their inbound twins (same keys) on the
// ESP provider, the raw baseline keyed the same way per SA, and a pool of
// `slots` packets; packet k belongs to SA k % sas. Everything is allocated
// and checked here, before the timing loop.
class Fixture {
 public:
  Status init(const Suite& suite, size_t size, size_t sas, size_t slots) {
    header_ = inner_header(kLocalLan | 7, kRemoteLan | 9, size);
    pool_.init(slots, size);
    for (size_t i = 0; i < sas; ++i) {
      const std::vector<uint8_t> keymat = encr_keymat(suite, i);
      const std::vector<uint8_t> ikey = integ_key(suite, i);
      const auto config =
          sa_config(suite, static_cast<uint32_t>(0x1000 + i), keymat, ikey, tunnel(kGateway, kPeerGateway));
      auto out = ipsec::esp::OutboundSa::create(config, esp_provider());
      if (!out) return out.status();
      auto in = ipsec::esp::InboundSa::create(config, esp_provider());
      if (!in) return in.status();
      auto raw = std::make_unique<RawSa>();
      if (Status s = raw->init(suite, keymat, ikey); !s.ok()) return s;
      out_.push_back(std::move(*out));
      in_.push_back(std::move(*in));
      raw_.push_back(std::move(raw));
    }
    for (size_t k = 0; k < std::min(slots, kBurst); ++k) {
      out_of_.push_back(out_[k % sas].get());
      in_of_.push_back(in_[k % sas].get());
    }
    const auto& t = out_.front()->transforms();
    label_ = t.aead ? t.aead->backend() : std::string(t.cipher->backend()) + "+" + t.integ->backend();
    label_ += std::string(" | raw ") + raw_.front()->backend();

    // Round trips, packet 0: ESP seal gives the layout; the raw open must
    // accept ESP's packet (same keys, same octets) and ESP open must give
    // the packet back; the raw seal and open agree.
    pool_.load_inner(0, header_);
    auto sealed = ipsec::esp::seal(*out_[0], pool_.pb(0));
    if (!sealed) return sealed.status();
    layout_.wire_offset = pool_.pb(0).offset();
    layout_.wire_size = pool_.pb(0).size();
    layout_.esp = layout_.wire_offset + sealed->esp_offset;
    layout_.iv = t.iv_size;
    layout_.icv = t.icv_size;
    if (layout_.wire_size < sealed->esp_offset + kEspHeader + t.iv_size + t.icv_size) return Errc::truncated;
    layout_.body = layout_.wire_size - sealed->esp_offset - kEspHeader - t.iv_size - t.icv_size;
    const std::vector<uint8_t> expected = plain(0);
    if (Status s = raw_open_checked(0); !s.ok()) return s;
    if (!ipsec::equal_bytes(esp_spans(0).body.first(size), expected)) return Errc::integrity_check_failed;
    pool_.load_inner(0, header_);
    if (auto again = ipsec::esp::seal(*out_[0], pool_.pb(0)); !again) return again.status();
    auto opened = ipsec::esp::open(*in_[0], pool_.pb(0));
    if (!opened) return opened.status();
    if (!ipsec::equal_bytes(pool_.pb(0).data(), expected)) return Errc::integrity_check_failed;
    if (aead() || !use_mb()) {
      pool_.load_inner(0, header_);
      if (Status s = raw_seal(0); !s.ok()) return s;
      if (Status s = raw_open(0); !s.ok()) return s;
    }
#if LINERATE_MB
    if (use_mb()) {
      // The job path: sealed by jobs, opened one by one (GCM: by the direct
      // call; CBC: ESP's, after the header carries fresh sequence numbers
      // from an ESP seal), and the other way round.
      const size_t n = std::min(slots, kBurst);
      for (size_t k = 0; k < n; ++k) pool_.load_inner(k, header_);
      if (aead()) {
        if (Status s = raw_jobs(0, n, true); !s.ok()) return s;
        for (size_t k = 0; k < n; ++k) {
          if (Status s = raw_open(k); !s.ok()) return s;
        }
      } else {
        for (size_t k = 0; k < n; ++k) {
          if (auto r = ipsec::esp::seal(*out_of_[k], pool_.pb(k)); !r) return r.status();
        }
        if (Status s = raw_jobs(0, n, false); !s.ok()) return s;
        if (!ipsec::equal_bytes(esp_spans(n - 1).body.first(size), expected)) {
          return Errc::integrity_check_failed;
        }
        for (size_t k = 0; k < n; ++k) pool_.load_inner(k, header_);
        if (Status s = raw_jobs(0, n, true); !s.ok()) return s;
        if (Status s = raw_jobs(0, n, false); !s.ok()) return s;
      }
    }
#endif
    return Status::success();
  }

  [[nodiscard]] const std::string& label() const noexcept { return label_; }
  [[nodiscard]] bool aead() const noexcept { return out_.front()->transforms().aead != nullptr; }
  Pool& pool() noexcept { return pool_; }
  void load_inner(size_t k) noexcept { pool_.load_inner(k, header_); }
  ipsec::esp::OutboundSa& out(size_t k) noexcept { return *out_[k % out_.size()]; }
  ipsec::esp::InboundSa& in(size_t k) noexcept { return *in_[k % in_.size()]; }
  [[nodiscard]] size_t sas() const noexcept { return out_.size(); }
  [[nodiscard]] std::span<ipsec::esp::OutboundSa* const> out_of(size_t n) const noexcept {
    return std::span<ipsec::esp::OutboundSa* const>(out_of_).first(n);
  }
  [[nodiscard]] std::span<ipsec::esp::InboundSa* const> in_of(size_t n) const noexcept {
    return std::span<ipsec::esp::InboundSa* const>(in_of_).first(n);
  }
  EspSpans esp_spans(size_t k) noexcept { return spans(pool_.slot(k), layout_); }

  Status raw_seal(size_t k) noexcept { return raw_[k % raw_.size()]->seal(esp_spans(k), ++counter_); }
  Status raw_open(size_t k) noexcept { return raw_[k % raw_.size()]->open(esp_spans(k)); }
  // raw_open_checked: raw_open, or for CBC+HMAC on ipsec-mb (jobs only) a
  // burst of one job.
  Status raw_open_checked(size_t k) noexcept {
#if LINERATE_MB
    if (use_mb() && !aead()) return raw_jobs(k, 1, false);
#endif
    return raw_open(k);
  }

  // refill: seal every packet of the pool again (later sequence numbers),
  // leaving each PacketBuffer on its ESP datagram, ready to be opened.
  Status refill() noexcept {
    for (size_t k = 0; k < pool_.slots(); ++k) {
      load_inner(k);
      auto sealed = ipsec::esp::seal(out(k), pool_.pb(k));
      if (!sealed) return sealed.status();
      if (pool_.pb(k).offset() != layout_.wire_offset || pool_.pb(k).size() != layout_.wire_size) {
        return Errc::invalid_length;
      }
    }
    return Status::success();
  }

#if LINERATE_MB
  // raw_jobs: packets first..first+n through the job API (GET_NEXT_JOB /
  // SUBMIT_JOB, then FLUSH_JOB until the queue is empty); sealing writes the
  // IVs from the counter first. Open checks every tag in constant time.
  Status raw_jobs(size_t first, size_t n, bool encrypt) noexcept {
    IMB_MGR* mgr = bench_manager();
    if (mgr == nullptr) return Errc::out_of_memory;
    std::array<std::array<uint8_t, 12>, kBurst> nonces;
    std::array<std::array<uint8_t, 16>, kBurst> tags;
    size_t done = 0;
    bool ok = true;
    auto complete = [&](const IMB_JOB* job) {
      ++done;
      if (job->status != IMB_STATUS_COMPLETED) {
        ok = false;
      } else if (!encrypt) {
        const auto j = reinterpret_cast<uintptr_t>(job->user_data);
        const EspSpans s = esp_spans(first + j);
        ok = ok && ipsec::ct_equal(ByteView(tags[j]).first(s.icv.size()), s.icv);
      }
    };
    for (size_t j = 0; j < n; ++j) {
      const EspSpans s = esp_spans(first + j);
      const RawSa& raw = *raw_[(first + j) % raw_.size()];
      if (encrypt) ipsec::store_be64(s.iv.first<8>(), ++counter_);
      if (raw.aead_suite()) nonces[j] = raw.make_nonce(s.iv);
      IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
      raw.fill_job(job, encrypt, s, nonces[j].data(), encrypt ? s.icv.data() : tags[j].data());
      job->user_data = reinterpret_cast<void*>(j);
      job = IMB_SUBMIT_JOB(mgr);
      while (job != nullptr) {
        complete(job);
        job = IMB_GET_COMPLETED_JOB(mgr);
      }
    }
    while (const IMB_JOB* job = IMB_FLUSH_JOB(mgr)) complete(job);
    if (done != n) return Errc::crypto_backend_failure;
    return ok ? Status::success() : Status(Errc::integrity_check_failed);
  }
#endif

 private:
  // plain: the inner packet of slot k as load_inner leaves it.
  std::vector<uint8_t> plain(size_t) const {
    std::vector<uint8_t> p = pattern(pool_.size(), 0x5a);
    std::copy(header_.begin(), header_.end(), p.begin());
    return p;
  }

  std::array<uint8_t, kInnerHeader> header_{};
  Pool pool_;
  Layout layout_;
  std::vector<std::unique_ptr<ipsec::esp::OutboundSa>> out_;
  std::vector<std::unique_ptr<ipsec::esp::InboundSa>> in_;
  std::vector<std::unique_ptr<RawSa>> raw_;
  std::vector<ipsec::esp::OutboundSa*> out_of_;  // burst position j -> SA j % sas
  std::vector<ipsec::esp::InboundSa*> in_of_;
  std::string label_;
  uint64_t counter_ = 1;
};

bool setup(benchmark::State& state, Fixture& f, const Suite& suite, size_t size, size_t sas, size_t slots) {
  if (const Status s = f.init(suite, size, sas, slots); !s.ok()) {
    fail(state, "init", s);
    return false;
  }
  state.SetLabel(f.label());
  return true;
}

void finish(benchmark::State& state, size_t packets_per_iteration, size_t size) {
  const auto packets = static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(packets_per_iteration);
  state.SetItemsProcessed(packets);
  state.SetBytesProcessed(packets * static_cast<int64_t>(size));
}

// ---- Single packets ----------------------------------------------------------------

void bm_encap(benchmark::State& state, Suite suite, size_t size, Side side) {
  Fixture f;
  if (!setup(state, f, suite, size, 1, 1)) return;
  for (auto _ : state) {
    f.load_inner(0);
    if (side == Side::esp) {
      auto sealed = ipsec::esp::seal(f.out(0), f.pool().pb(0));
      if (!sealed) {
        fail(state, "seal", sealed.status());
        break;
      }
    } else if (const Status s = f.raw_seal(0); !s.ok()) {
      fail(state, "raw seal", s);
      break;
    }
    f.pool().keep();
  }
  finish(state, 1, size);
}

void bm_decap(benchmark::State& state, Suite suite, size_t size, Side side) {
  Fixture f;
  if (!setup(state, f, suite, size, 1, kDecapPool)) return;
  if (const Status s = f.refill(); !s.ok()) return fail(state, "refill", s);
  size_t k = 0;
  for (auto _ : state) {
    if (k == kDecapPool) {
      state.PauseTiming();
      const Status s = f.refill();
      state.ResumeTiming();
      if (!s.ok()) {
        fail(state, "refill", s);
        break;
      }
      k = 0;
    }
    if (side == Side::esp) {
      auto opened = ipsec::esp::open(f.in(k), f.pool().pb(k));
      if (!opened) {
        fail(state, "open", opened.status());
        break;
      }
    } else if (const Status s = f.raw_open(k); !s.ok()) {
      fail(state, "raw open", s);
      break;
    }
    ++k;
    f.pool().keep();
  }
  finish(state, 1, size);
}

// ---- Bursts --------------------------------------------------------------------------

// seal_side: burst [first, first + n) on one side; every packet's status
// is checked (a burst that half fails must not look fast).
Status seal_side(Fixture& f, Side side, size_t first, size_t n) noexcept {
  switch (side) {
    case Side::esp: {
      std::array<ipsec::esp::SealResult, kBurst> results;
      const auto r = std::span(results).first(n);
      if (f.sas() == 1) {
        ipsec::esp::seal_burst(f.out(0), f.pool().pbs(first, n), r);
      } else {
        ipsec::esp::seal_burst(f.out_of(n), f.pool().pbs(first, n), r);
      }
      for (const auto& x : r) {
        if (!x.status.ok()) return x.status;
      }
      return Status::success();
    }
    case Side::raw:
      for (size_t j = 0; j < n; ++j) {
        if (Status s = f.raw_seal(first + j); !s.ok()) return s;
      }
      return Status::success();
    case Side::rawjob:
#if LINERATE_MB
      return f.raw_jobs(first, n, true);
#else
      return Errc::unsupported_algorithm;
#endif
  }
  return Errc::invalid_argument;
}

Status open_side(Fixture& f, Side side, size_t first, size_t n) noexcept {
  switch (side) {
    case Side::esp: {
      std::array<ipsec::esp::OpenResult, kBurst> results;
      const auto r = std::span(results).first(n);
      if (f.sas() == 1) {
        ipsec::esp::open_burst(f.in(0), f.pool().pbs(first, n), r);
      } else {
        ipsec::esp::open_burst(f.in_of(n), f.pool().pbs(first, n), r);
      }
      for (const auto& x : r) {
        if (!x.status.ok()) return x.status;
      }
      return Status::success();
    }
    case Side::raw:
      for (size_t j = 0; j < n; ++j) {
        if (Status s = f.raw_open(first + j); !s.ok()) return s;
      }
      return Status::success();
    case Side::rawjob:
#if LINERATE_MB
      return f.raw_jobs(first, n, false);
#else
      return Errc::unsupported_algorithm;
#endif
  }
  return Errc::invalid_argument;
}

// bm_seal_burst: bursts of n over a pool of `slots` packets, in order
// (slots == n: the same hot buffers every time).
void bm_seal_burst(benchmark::State& state, Suite suite, size_t size, size_t sas, size_t slots, size_t n,
                   Side side) {
  Fixture f;
  if (!setup(state, f, suite, size, sas, slots)) return;
  size_t first = 0;
  for (auto _ : state) {
    for (size_t j = 0; j < n; ++j) f.load_inner(first + j);
    if (const Status s = seal_side(f, side, first, n); !s.ok()) {
      fail(state, "seal burst", s);
      break;
    }
    first += n;
    if (first == slots) first = 0;
    f.pool().keep();
  }
  finish(state, n, size);
}

void bm_open_burst(benchmark::State& state, Suite suite, size_t size, size_t sas, size_t n, Side side) {
  Fixture f;
  if (!setup(state, f, suite, size, sas, kDecapPool)) return;
  if (const Status s = f.refill(); !s.ok()) return fail(state, "refill", s);
  size_t first = 0;
  for (auto _ : state) {
    if (first == kDecapPool) {
      state.PauseTiming();
      const Status s = f.refill();
      state.ResumeTiming();
      if (!s.ok()) {
        fail(state, "refill", s);
        break;
      }
      first = 0;
    }
    if (const Status s = open_side(f, side, first, n); !s.ok()) {
      fail(state, "open burst", s);
      break;
    }
    first += n;
    f.pool().keep();
  }
  finish(state, n, size);
}

// ---- Threads: the datapath facade -------------------------------------------------------

// DpWorker: what one datapath thread owns: its tunnel (reqid w + 1, local
// LAN 10.0.w.0/24 <-> remote 100.0.w.0/24), its buffers, and the peer's
// outbound SA that seals the packets its inbound SA opens.
struct DpWorker {
  std::array<uint8_t, kInnerHeader> out_header{}, in_header{};
  Pool out_pool;  // kBurst packets, sealed again each iteration
  Pool in_pool;   // kDecapPool packets, opened in place
  std::unique_ptr<ipsec::esp::OutboundSa> peer;
  size_t wire_offset = 0, wire_size = 0;

  Status refill() noexcept {
    for (size_t k = 0; k < in_pool.slots(); ++k) {
      in_pool.load_inner(k, in_header);
      auto sealed = ipsec::esp::seal(*peer, in_pool.pb(k));
      if (!sealed) return sealed.status();
      if (wire_size == 0) {
        wire_offset = in_pool.pb(k).offset();
        wire_size = in_pool.pb(k).size();
      }
      if (in_pool.pb(k).offset() != wire_offset || in_pool.pb(k).size() != wire_size) {
        return Errc::invalid_length;
      }
    }
    return Status::success();
  }
};

constexpr size_t kWorkers = 2;

struct DpThreads {
  std::unique_ptr<ipsec::sa::Datapath> dp;
  std::array<DpWorker, kWorkers> w;
  std::string label;
  Status status;
};

ipsec::sa::AddressRange lan(uint32_t base, size_t w) {
  const uint32_t net = base | static_cast<uint32_t>(w) << 8;
  return ipsec::sa::AddressRange{v4(net), v4(net | 0xff)};
}

// build_threads: a Datapath with workers = 2, one PROTECT policy per worker
// in each direction, an outbound SA per reqid and an inbound SA per worker
// (AES-256-GCM-16 on DefaultProvider, which takes ipsec-mb when present);
// then each worker's packets make a round trip through the datapath.
std::unique_ptr<DpThreads> build_threads(size_t size) {
  auto f = std::make_unique<DpThreads>();
  auto fail_with = [&](Status s) {
    f->status = s;
    return std::move(f);
  };
  const Suite suite = kAes256Gcm;
  ipsec::sa::DatapathConfig config;
  config.workers = kWorkers;
  config.sad.max_inbound = 64;
  config.sad.max_reqids = kWorkers + 2;
  auto dp = ipsec::sa::Datapath::create(config);
  if (!dp) return fail_with(dp.status());
  f->dp = std::move(*dp);
  std::vector<ipsec::sa::Policy> policies;
  for (size_t w = 0; w < kWorkers; ++w) {
    ipsec::sa::Policy p;
    p.id = static_cast<uint32_t>(w + 1);
    p.selector.local = lan(kLocalLan, w);
    p.selector.remote = lan(kRemoteLan, w);
    p.action = ipsec::sa::PolicyAction::protect;
    p.reqid = static_cast<uint32_t>(w + 1);
    p.sa.tunnel_local = v4(kGateway);
    p.sa.tunnel_remote = v4(kPeerGateway);
    policies.push_back(p);
  }
  for (auto d : {ipsec::sa::Direction::outbound, ipsec::sa::Direction::inbound}) {
    if (Status s = f->dp->set_policies(d, policies); !s.ok()) return fail_with(s);
  }
  ipsec::crypto::SeededRng rng(uint64_t{11});
  for (size_t w = 0; w < kWorkers; ++w) {
    DpWorker& wk = f->w[w];
    const uint32_t local = kLocalLan | static_cast<uint32_t>(w) << 8 | 7;
    const uint32_t remote = kRemoteLan | static_cast<uint32_t>(w) << 8 | 9;
    wk.out_header = inner_header(local, remote, size);
    wk.in_header = inner_header(remote, local, size);
    wk.out_pool.init(kBurst, size);
    wk.in_pool.init(kDecapPool, size);

    const std::vector<uint8_t> out_key = encr_keymat(suite, 2 * w);
    auto out = ipsec::esp::OutboundSa::create(
        sa_config(suite, static_cast<uint32_t>(0x10000 + w), out_key, {}, tunnel(kGateway, kPeerGateway)),
        default_provider());
    if (!out) return fail_with(out.status());
    if (w == 0) f->label = (*out)->transforms().aead->backend();
    ipsec::sa::SaBinding ob;
    ob.reqid = policies[w].reqid;
    ob.selectors.push_back(policies[w].selector);
    if (Status s = f->dp->sad().install_outbound(std::move(*out), std::move(ob), ipsec::Timestamp{});
        !s.ok()) {
      return fail_with(s);
    }

    auto spi = f->dp->sad().allocate_spi(rng);
    if (!spi) return fail_with(spi.status());
    const std::vector<uint8_t> in_key = encr_keymat(suite, 2 * w + 1);
    auto in = ipsec::esp::InboundSa::create(
        sa_config(suite, *spi, in_key, {}, tunnel(kGateway, kPeerGateway)), default_provider());
    if (!in) return fail_with(in.status());
    auto peer = ipsec::esp::OutboundSa::create(
        sa_config(suite, *spi, in_key, {}, tunnel(kPeerGateway, kGateway)), default_provider());
    if (!peer) return fail_with(peer.status());
    wk.peer = std::move(*peer);
    ipsec::sa::SaBinding ib;
    ib.reqid = policies[w].reqid;
    ib.selectors.push_back(policies[w].selector);
    if (Status s = f->dp->sad().install_inbound(std::move(*in), std::move(ib), ipsec::Timestamp{}); !s.ok()) {
      return fail_with(s);
    }
  }

  // Round trips: each worker's packets go out as its own SA's, and its
  // peer's come in, intact.
  for (size_t w = 0; w < kWorkers; ++w) {
    DpWorker& wk = f->w[w];
    const ipsec::sa::ReadSection rs = f->dp->enter(w);
    for (size_t k = 0; k < kBurst; ++k) wk.out_pool.load_inner(k, wk.out_header);
    std::array<ipsec::sa::DatapathResult, kBurst> results;
    f->dp->outbound_burst(rs, wk.out_pool.pbs(0, kBurst), results);
    for (const auto& r : results) {
      if (r.verdict != ipsec::sa::Verdict::send) return fail_with(r.status.ok() ? Errc::no_policy : r.status);
      if (r.reqid != w + 1) return fail_with(Status(Errc::invalid_argument, Status::kNoOffset, "reqid"));
    }
    if (Status s = wk.refill(); !s.ok()) return fail_with(s);
    f->dp->inbound_burst(rs, wk.in_pool.pbs(0, kBurst), results);
    for (size_t k = 0; k < kBurst; ++k) {
      const auto& r = results[k];
      if (r.verdict != ipsec::sa::Verdict::deliver) {
        return fail_with(r.status.ok() ? Errc::unknown_spi : r.status);
      }
      const ByteView got = wk.in_pool.pb(k).data();
      if (got.size() != size || !std::equal(wk.in_header.begin(), wk.in_header.end(), got.begin())) {
        return fail_with(Status(Errc::integrity_check_failed, Status::kNoOffset, "inbound round trip"));
      }
    }
  }
  return f;
}

DpThreads* threads_fixture(benchmark::State& state, size_t size) {
  // Built once, by whichever thread comes first (a function-local static
  // is initialised once; the others wait), before any timing starts.
  static const std::unique_ptr<DpThreads> f = build_threads(size);
  if (!f->status.ok()) {
    fail(state, "build", f->status);
    return nullptr;
  }
  if (state.thread_index() == 0) state.SetLabel(f->label);
  return f.get();
}

// bm_dp_outbound: each thread its own worker index and buffers; `shared`:
// every thread sends into tunnel 0 (one SA: its atomic sequence number and
// counters are shared), else thread w into tunnel w.
void bm_dp_outbound(benchmark::State& state, size_t size, bool shared) {
  DpThreads* f = threads_fixture(state, size);
  if (f == nullptr) return;
  const auto w = static_cast<size_t>(state.thread_index());
  DpWorker& wk = f->w[w];
  const std::array<uint8_t, kInnerHeader>& header = shared ? f->w[0].out_header : wk.out_header;
  std::array<ipsec::sa::DatapathResult, kBurst> results;
  for (auto _ : state) {
    for (size_t k = 0; k < kBurst; ++k) wk.out_pool.load_inner(k, header);
    {
      const ipsec::sa::ReadSection rs = f->dp->enter(w);
      f->dp->outbound_burst(rs, wk.out_pool.pbs(0, kBurst), results);
    }
    const auto bad = std::find_if(results.begin(), results.end(),
                                  [](const auto& r) { return r.verdict != ipsec::sa::Verdict::send; });
    if (bad != results.end()) {
      fail(state, "outbound_burst", bad->status.ok() ? Status(Errc::invalid_argument) : bad->status);
      break;
    }
    wk.out_pool.keep();
  }
  finish(state, kBurst, size);
}

void bm_dp_inbound(benchmark::State& state, size_t size) {
  DpThreads* f = threads_fixture(state, size);
  if (f == nullptr) return;
  const auto w = static_cast<size_t>(state.thread_index());
  DpWorker& wk = f->w[w];
  if (const Status s = wk.refill(); !s.ok()) return fail(state, "refill", s);
  std::array<ipsec::sa::DatapathResult, kBurst> results;
  size_t first = 0;
  for (auto _ : state) {
    if (first == kDecapPool) {
      state.PauseTiming();
      const Status s = wk.refill();
      state.ResumeTiming();
      if (!s.ok()) {
        fail(state, "refill", s);
        break;
      }
      first = 0;
    }
    {
      const ipsec::sa::ReadSection rs = f->dp->enter(w);
      f->dp->inbound_burst(rs, wk.in_pool.pbs(first, kBurst), results);
    }
    const auto bad = std::find_if(results.begin(), results.end(),
                                  [](const auto& r) { return r.verdict != ipsec::sa::Verdict::deliver; });
    if (bad != results.end()) {
      fail(state, "inbound_burst", bad->status.ok() ? Status(Errc::invalid_argument) : bad->status);
      break;
    }
    first += kBurst;
    wk.in_pool.keep();
  }
  finish(state, kBurst, size);
}

// bm_raw_threads: the raw call on each thread's own fixture and manager:
// what the hardware scales to without the library.
void bm_raw_threads(benchmark::State& state, size_t size) {
  static const auto fixtures = [size] {
    std::array<std::unique_ptr<Fixture>, kWorkers> a;
    for (auto& f : a) {
      f = std::make_unique<Fixture>();
      if (!f->init(kAes256Gcm, size, 1, kBurst).ok()) f.reset();
    }
    return a;
  }();
  Fixture* f = fixtures[static_cast<size_t>(state.thread_index())].get();
  if (f == nullptr) return fail(state, "init", Errc::invalid_argument);
  if (state.thread_index() == 0) state.SetLabel(f->label());
  for (auto _ : state) {
    for (size_t j = 0; j < kBurst; ++j) f->load_inner(j);
    if (const Status s = seal_side(*f, Side::raw, 0, kBurst); !s.ok()) {
      fail(state, "raw seal", s);
      break;
    }
    f->pool().keep();
  }
  finish(state, kBurst, size);
}

// ---- Backends -------------------------------------------------------------------------

// bm_backend_seal: Aead::seal of one backend, in place, the 8-octet ESP
// header as AAD (crypto_bench's seal/<aead>/<backend>/<size>).
void bm_backend_seal(benchmark::State& state, ipsec::crypto::Backend backend, size_t size) {
  static ipsec::crypto::IpsecMbProvider mb;
  static ipsec::crypto::SodiumProvider sodium;
  static ipsec::crypto::MbedtlsProvider mbedtls;
  ipsec::crypto::Provider* p = &mbedtls;
  if (backend == ipsec::crypto::Backend::ipsec_mb) p = &mb;
  if (backend == ipsec::crypto::Backend::libsodium) p = &sodium;
  const std::vector<uint8_t> keymat = encr_keymat(kAes256Gcm, 0);
  auto aead = p->make_aead(kAes256Gcm.encr, kAes256Gcm.key_bits, keymat);
  if (!aead) return fail(state, "make_aead", aead.status());
  state.SetLabel((*aead)->backend());
  std::vector<uint8_t> buffer = pattern(kEspHeader + 8 + size + 16, 3);
  const MutableByteView b(buffer);
  const ByteView aad = b.first(kEspHeader);
  const MutableByteView iv = b.subspan(kEspHeader, 8);
  const MutableByteView data = b.subspan(kEspHeader + 8, size);
  const MutableByteView icv = b.last(16);
  uint64_t counter = 0;
  for (auto _ : state) {
    ipsec::store_be64(iv.first<8>(), ++counter);
    if (const Status s = (*aead)->seal(iv, aad, data, icv); !s.ok()) {
      fail(state, "seal", s);
      break;
    }
    benchmark::DoNotOptimize(buffer.data());
    benchmark::ClobberMemory();
  }
  finish(state, 1, size);
}

// ---- Registration ---------------------------------------------------------------------

template <typename Fn>
benchmark::internal::Benchmark* add(const std::string& name, Fn&& fn) {
  return benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn));
}

std::vector<Side> raw_sides(bool aead) {
  std::vector<Side> sides;
  if (aead || !use_mb()) sides.push_back(Side::raw);
  if (use_mb()) sides.push_back(Side::rawjob);
  return sides;
}

void register_bursts(const Suite& suite, size_t size, const char* shape, size_t sas, size_t slots, size_t n,
                     bool open) {
  const bool aead = suite.integ == IntegId::none;
  std::vector<Side> sides = raw_sides(aead);
  sides.insert(sides.begin(), Side::esp);
  const std::string suffix = std::to_string(n) + "/" + suite.name + "/" + shape + "/" + std::to_string(size);
  for (const Side side : sides) {
    add(std::string(side_name(side)) + "_seal_burst" + suffix,
        [=](benchmark::State& s) { bm_seal_burst(s, suite, size, sas, slots, n, side); });
  }
  if (!open) return;
  for (const Side side : sides) {
    add(std::string(side_name(side)) + "_open_burst" + suffix,
        [=](benchmark::State& s) { bm_open_burst(s, suite, size, sas, n, side); });
  }
}

bool register_all() {
  // 1. Single packets.
  for (const Suite& suite : {kAes128Gcm, kAes256Gcm}) {
    for (const size_t size : {size_t{64}, size_t{1400}}) {
      const std::string suffix = std::string(suite.name) + "/tunnel4/" + std::to_string(size);
      for (const Side side : {Side::esp, Side::raw}) {
        const std::string s = side_name(side);
        add(s + "_encap/" + suffix, [=](benchmark::State& st) { bm_encap(st, suite, size, side); });
        add(s + "_decap/" + suffix, [=](benchmark::State& st) { bm_decap(st, suite, size, side); });
      }
    }
  }
  // 2. Bursts of 32, one SA and four.
  for (const Suite& suite : {kAes128Gcm, kAes256Gcm}) {
    for (const size_t size : {size_t{64}, size_t{1400}}) {
      register_bursts(suite, size, "1sa", 1, kBurst, kBurst, true);
      register_bursts(suite, size, "4sa", 4, kBurst, kBurst, true);
    }
  }
  // 3. AES-128-CBC + HMAC-SHA-256-128, bursts of 16 (the ESP side needs
  // ipsec-mb to be compared with anything).
  if (use_mb()) register_bursts(kCbcHmac, 1400, "1sa", 1, kCbcBurst, kCbcBurst, true);
  // 4. Cold cache: the 1400-octet AES-256-GCM seal burst over large pools
  // (the hot one is .../1sa/1400 above).
  register_bursts(kAes256Gcm, 1400, "cold", 1, kColdPool, kBurst, false);
  register_bursts(kAes256Gcm, 1400, "dram", 1, kDramPool, kBurst, false);
  // 5. Threads.
  constexpr size_t kThreadSize = 1400;
  add("dp_outbound_burst32/aes256gcm16/separate/1400",
      [](benchmark::State& s) { bm_dp_outbound(s, kThreadSize, false); })
      ->Threads(1)
      ->Threads(2)
      ->UseRealTime();
  add("dp_outbound_burst32/aes256gcm16/shared/1400",
      [](benchmark::State& s) { bm_dp_outbound(s, kThreadSize, true); })
      ->Threads(1)
      ->Threads(2)
      ->UseRealTime();
  add("dp_inbound_burst32/aes256gcm16/separate/1400",
      [](benchmark::State& s) { bm_dp_inbound(s, kThreadSize); })
      ->Threads(1)
      ->Threads(2)
      ->UseRealTime();
  add("raw_mt_seal_burst32/aes256gcm16/1400", [](benchmark::State& s) { bm_raw_threads(s, kThreadSize); })
      ->Threads(1)
      ->Threads(2)
      ->UseRealTime();
  // 6. Backends.
  for (const auto backend : {ipsec::crypto::Backend::ipsec_mb, ipsec::crypto::Backend::libsodium,
                             ipsec::crypto::Backend::mbedtls}) {
    if (backend == ipsec::crypto::Backend::ipsec_mb && !use_mb()) continue;
    add(std::string("backend_seal/aes256gcm16/") + ipsec::crypto::to_string(backend) + "/1400",
        [=](benchmark::State& s) { bm_backend_seal(s, backend, 1400); });
  }
  return true;
}

[[maybe_unused]] const bool registered = register_all();

}  // namespace

BENCHMARK_MAIN();
