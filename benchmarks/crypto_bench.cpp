// SPDX-License-Identifier: Apache-2.0
// crypto_bench: the raw cost of every transform the library implements, per
// backend, used the way ESP and IKEv2 use them. DefaultProvider's choice of
// backend per algorithm (src/crypto/default_provider.cpp) is made from these
// numbers; benchmarks/README.md has the figures and how to read the names:
//
//   seal/<aead>/<backend>/<size>, open/...   AEAD, in place, 8-octet ESP header as AAD
//   etm_out/<cipher>+<integ>/<size>          encrypt, then ICV over header | IV | ciphertext
//   etm_in/<cipher>+<integ>/<size>           verify the ICV, then decrypt
//   copy/<size>                              memcpy of the packet (open and etm_in include one)
//   prf/<prf>/64, prf_plus/<prf>/128         IKE SA key derivation
//   ke_keygen/<group>/<backend>, ke_shared/<group>/<backend>
//   sign/<key>_<scheme>, verify/<key>_<scheme>
//
// A transform that its backend does not provide (yet) is reported with
// SkipWithError, never a crash.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/crypto/aead.hpp"
#include "ipsec/crypto/cipher.hpp"
#include "ipsec/crypto/integrity.hpp"
#include "ipsec/crypto/key_exchange.hpp"
#include "ipsec/crypto/keymat.hpp"
#include "ipsec/crypto/prf.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/signature.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/crypto/transform_ids.hpp"

namespace {

using ipsec::ByteView;
using ipsec::MutableByteView;
using ipsec::Result;
using ipsec::Status;
using ipsec::crypto::Aead;
using ipsec::crypto::Cipher;
using ipsec::crypto::EncrId;
using ipsec::crypto::IntegId;
using ipsec::crypto::Integrity;
using ipsec::crypto::KeGroup;
using ipsec::crypto::KeyExchange;
using ipsec::crypto::KeyType;
using ipsec::crypto::Prf;
using ipsec::crypto::PrfId;
using ipsec::crypto::PrivateKey;
using ipsec::crypto::Provider;
using ipsec::crypto::PublicKey;
using ipsec::crypto::SignatureScheme;

// Packet sizes: a small control packet, the IPv4 minimum MTU payload, a
// typical full-size tunnel packet, a jumbo frame.
constexpr std::array<size_t, 4> kPacketSizes = {64, 576, 1400, 9000};

// SPI | sequence number: the AAD of the AEADs (RFC 4106 5) and the start of
// what the ICV covers with a separate integrity transform (RFC 4303 2).
constexpr std::array<uint8_t, 8> kEspHeader = {0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x01};

Provider& mbedtls_provider() {
  static ipsec::crypto::MbedtlsProvider provider;
  return provider;
}
Provider& sodium_provider() {
  static ipsec::crypto::SodiumProvider provider;
  return provider;
}
Provider& ipsec_mb_provider() {
  static ipsec::crypto::IpsecMbProvider provider;
  return provider;
}
ipsec::crypto::Rng& system_rng() {
  static ipsec::crypto::SystemRng rng;
  return rng;
}

// pattern: fixed, non-trivial bytes for keys and payloads (the cost of the
// transforms does not depend on the values).
std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 31 * i);
  return v;
}

// set_iv: a fresh explicit IV per packet, as a sender's counter would give.
void set_iv(MutableByteView iv, uint64_t counter) {
  if (iv.size() >= sizeof counter) std::memcpy(iv.data(), &counter, sizeof counter);
}

void skip(benchmark::State& state, std::string_view what, Status status) {
  std::string message(what);
  message += ": ";
  message += status.name();
  state.SkipWithError(message.c_str());
}

void set_bytes(benchmark::State& state, size_t per_iteration) {
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(per_iteration));
}

// Make the results of an iteration observable so that nothing is elided.
void keep(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  benchmark::DoNotOptimize(a.data());
  benchmark::DoNotOptimize(b.data());
  benchmark::ClobberMemory();
}

// ---- Copy baseline ---------------------------------------------------------

// open and etm_in restore the received packet each iteration (decryption is
// in place); this is that copy on its own, to subtract when comparing.
void bm_copy(benchmark::State& state, size_t size) {
  const std::vector<uint8_t> src = pattern(size, 0x42);
  std::vector<uint8_t> dst(size);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), size);
    keep(src, dst);
  }
  set_bytes(state, size);
}

// ---- AEAD ------------------------------------------------------------------

struct AeadCase {
  const char* name;
  EncrId id;
  uint16_t key_bits;  // the Key Length attribute (0 for ChaCha20-Poly1305)
};

constexpr AeadCase kAeads[] = {
    {"aes128gcm8", EncrId::aes_gcm_8, 128},
    {"aes192gcm8", EncrId::aes_gcm_8, 192},
    {"aes256gcm8", EncrId::aes_gcm_8, 256},
    {"aes128gcm12", EncrId::aes_gcm_12, 128},
    {"aes192gcm12", EncrId::aes_gcm_12, 192},
    {"aes256gcm12", EncrId::aes_gcm_12, 256},
    {"aes128gcm16", EncrId::aes_gcm_16, 128},
    {"aes192gcm16", EncrId::aes_gcm_16, 192},
    {"aes256gcm16", EncrId::aes_gcm_16, 256},
    {"aes128ccm8", EncrId::aes_ccm_8, 128},
    {"aes192ccm8", EncrId::aes_ccm_8, 192},
    {"aes256ccm8", EncrId::aes_ccm_8, 256},
    {"aes128ccm12", EncrId::aes_ccm_12, 128},
    {"aes192ccm12", EncrId::aes_ccm_12, 192},
    {"aes256ccm12", EncrId::aes_ccm_12, 256},
    {"aes128ccm16", EncrId::aes_ccm_16, 128},
    {"aes192ccm16", EncrId::aes_ccm_16, 192},
    {"aes256ccm16", EncrId::aes_ccm_16, 256},
    {"chacha20poly1305", EncrId::chacha20_poly1305, 0},
    {"aes128gmac", EncrId::null_auth_aes_gmac, 128},
    {"aes192gmac", EncrId::null_auth_aes_gmac, 192},
    {"aes256gmac", EncrId::null_auth_aes_gmac, 256},
};

// has_sodium: the AEADs libsodium implements, benchmarked on both backends.
constexpr bool has_sodium(const AeadCase& c) {
  return c.id == EncrId::chacha20_poly1305 || (c.id == EncrId::aes_gcm_16 && c.key_bits == 256);
}

// AeadPacket: one packet's buffers, allocated before the timing loop. For
// GMAC (RFC 4543) the payload is authenticated as AAD and nothing is
// encrypted; otherwise the AAD is the ESP header and the payload is data.
struct AeadPacket {
  AeadPacket(const AeadCase& c, size_t size, size_t icv_size)
      : gmac(c.id == EncrId::null_auth_aes_gmac), payload(pattern(size, 0x5a)), icv(icv_size) {}
  [[nodiscard]] ByteView aad() const { return gmac ? ByteView(payload) : ByteView(kEspHeader); }
  [[nodiscard]] MutableByteView data() { return gmac ? MutableByteView() : MutableByteView(payload); }

  bool gmac;
  std::vector<uint8_t> payload;
  std::vector<uint8_t> icv;
  std::array<uint8_t, Aead::kIvSize> iv{};
};

Result<std::unique_ptr<Aead>> make_aead(Provider& provider, const AeadCase& c) {
  const auto info = ipsec::crypto::encr_info(c.id);
  if (!info) return ipsec::Errc::unsupported_algorithm;
  const std::vector<uint8_t> keymat = pattern(info->keymat_size(c.key_bits), 0x11);
  return provider.make_aead(c.id, c.key_bits, keymat);
}

void bm_seal(benchmark::State& state, Provider* provider, AeadCase c, size_t size) {
  auto made = make_aead(*provider, c);
  if (!made) return skip(state, "make_aead", made.status());
  Aead& aead = **made;
  state.SetLabel(aead.backend());
  AeadPacket packet(c, size, aead.icv_size());
  const ByteView aad = packet.aad();
  const MutableByteView data = packet.data();
  uint64_t counter = 0;
  for (auto _ : state) {
    set_iv(packet.iv, ++counter);
    const Status status = aead.seal(packet.iv, aad, data, packet.icv);
    if (!status.ok()) {
      skip(state, "seal", status);
      break;
    }
    keep(packet.payload, packet.icv);
  }
  set_bytes(state, size);
}

void bm_open(benchmark::State& state, Provider* provider, AeadCase c, size_t size) {
  auto made = make_aead(*provider, c);
  if (!made) return skip(state, "make_aead", made.status());
  Aead& aead = **made;
  state.SetLabel(aead.backend());
  AeadPacket packet(c, size, aead.icv_size());
  set_iv(packet.iv, 1);
  if (const Status s = aead.seal(packet.iv, packet.aad(), packet.data(), packet.icv); !s.ok()) {
    return skip(state, "seal", s);
  }
  const std::vector<uint8_t> received = packet.payload;
  const ByteView aad = packet.aad();
  const MutableByteView data = packet.data();
  for (auto _ : state) {
    std::memcpy(packet.payload.data(), received.data(), size);
    const Status status = aead.open(packet.iv, aad, data, packet.icv);
    if (!status.ok()) {
      skip(state, "open", status);
      break;
    }
    keep(packet.payload, packet.icv);
  }
  set_bytes(state, size);
}

// ---- Cipher + integrity (encrypt-then-MAC, RFC 4303 3.3.2) -----------------

struct CipherCase {
  const char* name;
  EncrId id;
  uint16_t key_bits;
};

constexpr CipherCase kCiphers[] = {
    {"aes128cbc", EncrId::aes_cbc, 128}, {"aes192cbc", EncrId::aes_cbc, 192},
    {"aes256cbc", EncrId::aes_cbc, 256}, {"aes128ctr", EncrId::aes_ctr, 128},
    {"aes192ctr", EncrId::aes_ctr, 192}, {"aes256ctr", EncrId::aes_ctr, 256},
    {"null", EncrId::null, 0},
};

struct IntegCase {
  const char* name;
  IntegId id;
};

constexpr IntegCase kIntegs[] = {
    {"hmac_sha1_96", IntegId::hmac_sha1_96},
    {"hmac_sha2_256_128", IntegId::hmac_sha2_256_128},
    {"hmac_sha2_384_192", IntegId::hmac_sha2_384_192},
    {"hmac_sha2_512_256", IntegId::hmac_sha2_512_256},
    {"aes_xcbc_96", IntegId::aes_xcbc_96},
    {"aes_cmac_96", IntegId::aes_cmac_96},
};

// EtmSa: one direction of an ESP SA with a separate integrity transform, and
// one packet's buffers. CBC needs whole blocks: the payload is rounded up as
// ESP padding would (1400 -> 1408), bytes processed count the nominal size.
struct EtmSa {
  Status init(Provider& provider, const CipherCase& c, const IntegCase& i, size_t size) {
    const auto encr = ipsec::crypto::encr_info(c.id);
    const auto integ = ipsec::crypto::integ_info(i.id);
    if (!encr || !integ) return ipsec::Errc::unsupported_algorithm;
    auto made_cipher = provider.make_cipher(c.id, c.key_bits, pattern(encr->keymat_size(c.key_bits), 0x21));
    if (!made_cipher) return made_cipher.status();
    auto made_integ = provider.make_integrity(i.id, pattern(integ->key_size, 0x31));
    if (!made_integ) return made_integ.status();
    cipher = std::move(*made_cipher);
    integrity = std::move(*made_integ);
    const size_t block = cipher->block_size();
    payload = pattern((size + block - 1) / block * block, 0x5a);
    iv.resize(cipher->iv_size());
    icv.resize(integrity->icv_size());
    parts = {ByteView(kEspHeader), ByteView(iv), ByteView(payload)};
    return Status::success();
  }
  [[nodiscard]] std::string label() const {
    return std::string(cipher->backend()) + "+" + integrity->backend();
  }

  std::unique_ptr<Cipher> cipher;
  std::unique_ptr<Integrity> integrity;
  std::vector<uint8_t> payload;
  std::vector<uint8_t> iv;
  std::vector<uint8_t> icv;
  std::array<ByteView, 3> parts{};  // what the ICV covers: header | IV | ciphertext
};

void bm_etm_out(benchmark::State& state, Provider* provider, CipherCase c, IntegCase i, size_t size) {
  EtmSa sa;
  if (const Status s = sa.init(*provider, c, i, size); !s.ok()) return skip(state, "init", s);
  state.SetLabel(sa.label());
  uint64_t counter = 0;
  for (auto _ : state) {
    set_iv(sa.iv, ++counter);
    Status status = sa.cipher->encrypt(sa.iv, sa.payload);
    if (status.ok()) status = sa.integrity->compute(sa.parts, sa.icv);
    if (!status.ok()) {
      skip(state, "encrypt/compute", status);
      break;
    }
    keep(sa.payload, sa.icv);
  }
  set_bytes(state, size);
}

void bm_etm_in(benchmark::State& state, Provider* provider, CipherCase c, IntegCase i, size_t size) {
  EtmSa sa;
  if (const Status s = sa.init(*provider, c, i, size); !s.ok()) return skip(state, "init", s);
  state.SetLabel(sa.label());
  set_iv(sa.iv, 1);
  Status prepared = sa.cipher->encrypt(sa.iv, sa.payload);
  if (prepared.ok()) prepared = sa.integrity->compute(sa.parts, sa.icv);
  if (!prepared.ok()) return skip(state, "encrypt/compute", prepared);
  const std::vector<uint8_t> received = sa.payload;
  for (auto _ : state) {
    std::memcpy(sa.payload.data(), received.data(), received.size());
    Status status = sa.integrity->verify(sa.parts, sa.icv);
    if (status.ok()) status = sa.cipher->decrypt(sa.iv, sa.payload);
    if (!status.ok()) {
      skip(state, "verify/decrypt", status);
      break;
    }
    keep(sa.payload, sa.icv);
  }
  set_bytes(state, size);
}

// Bursts of kBurst packets of one SA through crypto::etm_seal_burst /
// crypto::seal_burst (a multi-buffer backend pipelines them); the time is
// per burst, items are packets.
constexpr size_t kBurst = 32;

void bm_etm_out_burst(benchmark::State& state, Provider* provider, CipherCase c, IntegCase i, size_t size) {
  EtmSa sa;
  if (const Status s = sa.init(*provider, c, i, size); !s.ok()) return skip(state, "init", s);
  state.SetLabel(sa.label());
  const size_t body = sa.payload.size();
  const size_t packet = kEspHeader.size() + sa.iv.size() + body + sa.icv.size();
  std::vector<uint8_t> buf(packet * kBurst);
  std::vector<ipsec::crypto::EtmOp> ops(kBurst);
  const MutableByteView all(buf);
  for (size_t k = 0; k < kBurst; ++k) {
    const MutableByteView p = all.subspan(k * packet, packet);
    ops[k].cipher = sa.cipher.get();
    ops[k].integ = sa.integrity.get();
    ops[k].authenticated = p.first(packet - sa.icv.size());
    ops[k].cipher_offset = kEspHeader.size() + sa.iv.size();
    ops[k].iv = p.subspan(kEspHeader.size(), sa.iv.size());
    ops[k].icv = p.last(sa.icv.size());
  }
  uint64_t counter = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < kBurst; ++k)
      set_iv(all.subspan(k * packet + kEspHeader.size(), sa.iv.size()), ++counter);
    ipsec::crypto::etm_seal_burst(ops);
    if (!ops[0].status.ok()) {
      skip(state, "etm_seal_burst", ops[0].status);
      break;
    }
    keep(buf, buf);
  }
  set_bytes(state, size * kBurst);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBurst));
}

void bm_seal_burst(benchmark::State& state, Provider* provider, AeadCase c, size_t size) {
  auto made = make_aead(*provider, c);
  if (!made) return skip(state, "make_aead", made.status());
  Aead& aead = **made;
  state.SetLabel(aead.backend());
  std::vector<std::vector<uint8_t>> data(kBurst, pattern(size, 0x5a)), icvs(kBurst);
  std::vector<std::vector<uint8_t>> ivs(kBurst, std::vector<uint8_t>(8));
  std::vector<ipsec::crypto::AeadOp> ops(kBurst);
  for (size_t k = 0; k < kBurst; ++k) {
    icvs[k].resize(aead.icv_size());
    ops[k] = {&aead, ivs[k], kEspHeader, data[k], icvs[k], Status()};
  }
  uint64_t counter = 0;
  for (auto _ : state) {
    for (auto& iv : ivs) set_iv(iv, ++counter);
    ipsec::crypto::seal_burst(ops);
    if (!ops[0].status.ok()) {
      skip(state, "seal_burst", ops[0].status);
      break;
    }
    keep(data[0], icvs[0]);
  }
  set_bytes(state, size * kBurst);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBurst));
}

// ---- PRF (IKEv2 key derivation) --------------------------------------------

struct PrfCase {
  const char* name;
  PrfId id;
};

constexpr PrfCase kPrfs[] = {
    {"hmac_sha1", PrfId::hmac_sha1},         {"hmac_sha2_256", PrfId::hmac_sha2_256},
    {"hmac_sha2_384", PrfId::hmac_sha2_384}, {"hmac_sha2_512", PrfId::hmac_sha2_512},
    {"aes128_xcbc", PrfId::aes128_xcbc},     {"aes128_cmac", PrfId::aes128_cmac},
};

Result<std::unique_ptr<Prf>> make_prf(PrfId id) {
  const auto info = ipsec::crypto::prf_info(id);
  if (!info) return ipsec::Errc::unsupported_algorithm;
  return mbedtls_provider().make_prf(id, pattern(info->key_size, 0x41));
}

void bm_prf(benchmark::State& state, PrfId id) {
  constexpr size_t kInput = 64;
  auto made = make_prf(id);
  if (!made) return skip(state, "make_prf", made.status());
  Prf& prf = **made;
  const std::vector<uint8_t> input = pattern(kInput, 0x51);
  std::vector<uint8_t> out(prf.output_size());
  for (auto _ : state) {
    const Status status = prf.compute(input, out);
    if (!status.ok()) {
      skip(state, "compute", status);
      break;
    }
    keep(input, out);
  }
  set_bytes(state, kInput);
}

// prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr): 128 octets of IKE SA keys
// (RFC 7296 2.14), with 32-octet nonces.
void bm_prf_plus(benchmark::State& state, PrfId id) {
  constexpr size_t kOutput = 128;
  auto made = make_prf(id);
  if (!made) return skip(state, "make_prf", made.status());
  Prf& prf = **made;
  const std::vector<uint8_t> ni = pattern(32, 0x61), nr = pattern(32, 0x71);
  const std::vector<uint8_t> spi_i = pattern(8, 0x81), spi_r = pattern(8, 0x91);
  const std::array<ByteView, 4> seed = {ByteView(ni), ByteView(nr), ByteView(spi_i), ByteView(spi_r)};
  std::vector<uint8_t> out(kOutput);
  for (auto _ : state) {
    const Status status = ipsec::crypto::prf_plus(prf, seed, out);
    if (!status.ok()) {
      skip(state, "prf_plus", status);
      break;
    }
    keep(ni, out);
  }
  set_bytes(state, kOutput);
}

// ---- Key exchange ----------------------------------------------------------

struct KeCase {
  const char* name;
  KeGroup group;
};

constexpr KeCase kGroups[] = {
    {"modp2048", KeGroup::modp2048},
    {"modp3072", KeGroup::modp3072},
    {"modp4096", KeGroup::modp4096},
    {"ecp256", KeGroup::ecp256},
    {"ecp384", KeGroup::ecp384},
    {"ecp521", KeGroup::ecp521},
    {"brainpool256", KeGroup::brainpool256},
    {"curve25519", KeGroup::curve25519},
    {"curve448", KeGroup::curve448},
};

// keygen: a fresh private value and its public value (the KE payload).
void bm_ke_keygen(benchmark::State& state, Provider* provider, KeGroup group) {
  if (auto probe = provider->make_key_exchange(group, system_rng()); probe) {
    state.SetLabel((*probe)->backend());
  } else {
    return skip(state, "make_key_exchange", probe.status());
  }
  for (auto _ : state) {
    auto ke = provider->make_key_exchange(group, system_rng());
    if (!ke) {
      skip(state, "make_key_exchange", ke.status());
      break;
    }
    benchmark::DoNotOptimize((*ke)->public_value().data());
  }
}

// shared: g^ir from the peer's public value, validation included.
void bm_ke_shared(benchmark::State& state, Provider* provider, KeGroup group) {
  auto self = provider->make_key_exchange(group, system_rng());
  if (!self) return skip(state, "make_key_exchange", self.status());
  auto peer = provider->make_key_exchange(group, system_rng());
  if (!peer) return skip(state, "make_key_exchange", peer.status());
  state.SetLabel((*self)->backend());
  const ByteView peer_public = (*peer)->public_value();
  for (auto _ : state) {
    auto secret = (*self)->shared_secret(peer_public);
    if (!secret) {
      skip(state, "shared_secret", secret.status());
      break;
    }
    benchmark::DoNotOptimize(secret->view().data());
  }
}

// ---- Signatures (IKEv2 AUTH, RFC 7427 / RFC 8420) --------------------------

struct SigCase {
  const char* name;
  KeyType type;
  unsigned rsa_bits;  // RSA only
  SignatureScheme scheme;
  bool sign;  // also benchmark signing (verify always)
};

constexpr SigCase kSigs[] = {
    {"ed25519", KeyType::ed25519, 0, SignatureScheme::ed25519, true},
    {"ecdsa_p256_sha256", KeyType::ecdsa_p256, 0, SignatureScheme::ecdsa_sha256, true},
    {"ecdsa_p384_sha384", KeyType::ecdsa_p384, 0, SignatureScheme::ecdsa_sha384, true},
    {"ecdsa_p521_sha512", KeyType::ecdsa_p521, 0, SignatureScheme::ecdsa_sha512, true},
    {"rsa2048_pkcs1_sha256", KeyType::rsa, 2048, SignatureScheme::rsa_pkcs1_sha256, true},
    {"rsa2048_pss_sha256", KeyType::rsa, 2048, SignatureScheme::rsa_pss_sha256, true},
    {"rsa3072_pkcs1_sha256", KeyType::rsa, 3072, SignatureScheme::rsa_pkcs1_sha256, false},
};

// The octets IKE_AUTH signs are the peer's IKE_SA_INIT message, a nonce and a
// prf output (RFC 7296 2.15): a few hundred octets.
constexpr size_t kSignedOctets = 512;

// private_key: generated once per process and key kind, on first use (so a
// filtered run generates only the keys it needs).
const Result<PrivateKey>& private_key(KeyType type, unsigned rsa_bits) {
  static std::map<std::pair<KeyType, unsigned>, Result<PrivateKey>> keys;
  const auto kind = std::make_pair(type, type == KeyType::rsa ? rsa_bits : 0u);
  auto it = keys.find(kind);
  if (it == keys.end()) {
    it = keys.emplace(kind, type == KeyType::rsa ? PrivateKey::generate(type, system_rng(), rsa_bits)
                                                 : PrivateKey::generate(type, system_rng()))
             .first;
  }
  return it->second;
}

void bm_sign(benchmark::State& state, SigCase c) {
  const Result<PrivateKey>& key = private_key(c.type, c.rsa_bits);
  if (!key) return skip(state, "PrivateKey::generate", key.status());
  const std::vector<uint8_t> message = pattern(kSignedOctets, 0xa1);
  std::vector<uint8_t> signature(key->max_signature_size());
  for (auto _ : state) {
    auto written = key->sign(c.scheme, message, system_rng(), signature);
    if (!written) {
      skip(state, "sign", written.status());
      break;
    }
    keep(message, signature);
  }
}

void bm_verify(benchmark::State& state, SigCase c) {
  const Result<PrivateKey>& key = private_key(c.type, c.rsa_bits);
  if (!key) return skip(state, "PrivateKey::generate", key.status());
  auto public_key = key->public_key();
  if (!public_key) return skip(state, "public_key", public_key.status());
  const std::vector<uint8_t> message = pattern(kSignedOctets, 0xa1);
  std::vector<uint8_t> signature(key->max_signature_size());
  auto written = key->sign(c.scheme, message, system_rng(), signature);
  if (!written) return skip(state, "sign", written.status());
  const ByteView sig = ByteView(signature).first(*written);
  const PublicKey& pub = *public_key;
  for (auto _ : state) {
    const Status status = pub.verify(c.scheme, message, sig);
    if (!status.ok()) {
      skip(state, "verify", status);
      break;
    }
    benchmark::ClobberMemory();
  }
}

// ---- Registration ----------------------------------------------------------

template <typename Fn>
benchmark::internal::Benchmark* add(const std::string& name, Fn&& fn) {
  return benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn));
}

bool register_all() {
  Provider* const mbedtls = &mbedtls_provider();
  Provider* const sodium = &sodium_provider();
  Provider* const ipsec_mb = &ipsec_mb_provider();
  const bool have_ipsec_mb = ipsec::crypto::IpsecMbProvider::available();

  for (const size_t size : kPacketSizes) {
    add("copy/" + std::to_string(size), [=](benchmark::State& s) { bm_copy(s, size); });
  }

  for (const AeadCase& c : kAeads) {
    std::vector<std::pair<const char*, Provider*>> backends = {{"mbedtls", mbedtls}};
    if (has_sodium(c)) backends.emplace_back("libsodium", sodium);
    if (have_ipsec_mb && ipsec::crypto::IpsecMbProvider::supports(c.id, c.key_bits)) {
      backends.emplace_back("ipsec-mb", ipsec_mb);
    }
    for (const auto& [backend, provider] : backends) {
      for (const size_t size : kPacketSizes) {
        const std::string suffix = std::string(c.name) + "/" + backend + "/" + std::to_string(size);
        Provider* const p = provider;
        add("seal/" + suffix, [=](benchmark::State& s) { bm_seal(s, p, c, size); });
        add("open/" + suffix, [=](benchmark::State& s) { bm_open(s, p, c, size); });
        add("seal_burst/" + suffix, [=](benchmark::State& s) { bm_seal_burst(s, p, c, size); });
      }
    }
  }

  for (const CipherCase& c : kCiphers) {
    for (const IntegCase& i : kIntegs) {
      for (const size_t size : kPacketSizes) {
        // mbedTLS keeps the historical names (etm_out/<cipher>+<integ>/<size>);
        // other backends put theirs before the size.
        const std::string pair = std::string(c.name) + "+" + i.name + "/";
        const std::string suffix = pair + std::to_string(size);
        add("etm_out/" + suffix, [=](benchmark::State& s) { bm_etm_out(s, mbedtls, c, i, size); });
        add("etm_in/" + suffix, [=](benchmark::State& s) { bm_etm_in(s, mbedtls, c, i, size); });
        add("etm_out_burst/" + suffix,
            [=](benchmark::State& s) { bm_etm_out_burst(s, mbedtls, c, i, size); });
        if (have_ipsec_mb) {
          const std::string mb = pair + "ipsec-mb/" + std::to_string(size);
          add("etm_out/" + mb, [=](benchmark::State& s) { bm_etm_out(s, ipsec_mb, c, i, size); });
          add("etm_in/" + mb, [=](benchmark::State& s) { bm_etm_in(s, ipsec_mb, c, i, size); });
          add("etm_out_burst/" + mb, [=](benchmark::State& s) { bm_etm_out_burst(s, ipsec_mb, c, i, size); });
        }
      }
    }
  }

  for (const PrfCase& c : kPrfs) {
    const PrfId id = c.id;
    add(std::string("prf/") + c.name + "/64", [=](benchmark::State& s) { bm_prf(s, id); });
    add(std::string("prf_plus/") + c.name + "/128", [=](benchmark::State& s) { bm_prf_plus(s, id); });
  }

  for (const KeCase& c : kGroups) {
    std::vector<std::pair<const char*, Provider*>> backends = {{"mbedtls", mbedtls}};
    if (c.group == KeGroup::curve25519) backends.emplace_back("libsodium", sodium);
    for (const auto& [backend, provider] : backends) {
      const std::string suffix = std::string(c.name) + "/" + backend;
      const KeGroup group = c.group;
      Provider* const p = provider;
      add("ke_keygen/" + suffix, [=](benchmark::State& s) {
        bm_ke_keygen(s, p, group);
      })->Unit(benchmark::kMicrosecond);
      add("ke_shared/" + suffix, [=](benchmark::State& s) {
        bm_ke_shared(s, p, group);
      })->Unit(benchmark::kMicrosecond);
    }
  }

  for (const SigCase& c : kSigs) {
    if (c.sign) {
      add(std::string("sign/") + c.name, [=](benchmark::State& s) {
        bm_sign(s, c);
      })->Unit(benchmark::kMicrosecond);
    }
    add(std::string("verify/") + c.name, [=](benchmark::State& s) {
      bm_verify(s, c);
    })->Unit(benchmark::kMicrosecond);
  }
  return true;
}

// Registered before main() runs, like the BENCHMARK() macros.
[[maybe_unused]] const bool registered = register_all();

}  // namespace

BENCHMARK_MAIN();
