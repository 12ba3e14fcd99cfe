// SPDX-License-Identifier: Apache-2.0
// Cross-backend tests for crypto/provider.hpp: every backend that implements
// a transform produces the same bytes for the same inputs (mbedTLS is the
// reference), bursts (aead.hpp, cipher.hpp) give the results of single calls
// also when their ops mix keys and backends, and DefaultProvider's choice of
// backend and its override.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "crypto/crypto_test_util.hpp"
#include "ipsec/crypto/aead.hpp"
#include "ipsec/crypto/cipher.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"
#include "test_util.hpp"

namespace {

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::MutableByteView;
using ipsec::Status;
using ipsec::crypto::Aead;
using ipsec::crypto::AeadOp;
using ipsec::crypto::Backend;
using ipsec::crypto::Cipher;
using ipsec::crypto::DefaultProvider;
using ipsec::crypto::EncrId;
using ipsec::crypto::EtmOp;
using ipsec::crypto::IntegId;
using ipsec::crypto::Integrity;
using ipsec::crypto::IpsecMbProvider;
using ipsec::crypto::MbedtlsProvider;
using ipsec::crypto::Provider;
using ipsec::crypto::SodiumProvider;
using ipsec::test::Bytes;
using ipsec::test::err;
using ipsec::test::to_hex;

// Rng: SplitMix64, so that failures reproduce.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  Bytes bytes(size_t n) {
    Bytes out(n);
    for (auto& b : out) b = static_cast<uint8_t>(next());
    return out;
  }

 private:
  uint64_t state_;
};

MbedtlsProvider g_mbedtls;
SodiumProvider g_sodium;
IpsecMbProvider g_ipsec_mb;

struct Named {
  const char* name;
  Provider* provider;
};

// others: the backends compared with mbedTLS (ipsec-mb only when available:
// reported once by the first test case).
std::vector<Named> others() {
  std::vector<Named> out = {{"libsodium", &g_sodium}};
  if (IpsecMbProvider::available()) out.push_back({"ipsec-mb", &g_ipsec_mb});
  return out;
}

// sizes: 0..2000 at random, with the edges and non-block multiples.
std::vector<size_t> sizes(Rng& rng) {
  std::vector<size_t> out = {0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1400, 2000};
  for (int i = 0; i < 20; ++i) out.push_back(rng.below(2001));
  return out;
}

struct AeadConfig {
  EncrId id;
  uint16_t key_bits;
};

std::vector<AeadConfig> aead_configs() {
  std::vector<AeadConfig> out;
  for (EncrId id : {EncrId::aes_gcm_8, EncrId::aes_gcm_12, EncrId::aes_gcm_16, EncrId::null_auth_aes_gmac,
                    EncrId::aes_ccm_16}) {
    for (uint16_t bits : {uint16_t{128}, uint16_t{192}, uint16_t{256}}) out.push_back({id, bits});
  }
  out.push_back({EncrId::chacha20_poly1305, 0});
  return out;
}

constexpr IntegId kIntegs[] = {IntegId::hmac_sha1_96,      IntegId::hmac_sha2_256_128,
                               IntegId::hmac_sha2_384_192, IntegId::hmac_sha2_512_256,
                               IntegId::aes_xcbc_96,       IntegId::aes_cmac_96};

std::string aead_name(const AeadConfig& c) {
  return std::string(ipsec::crypto::to_string(c.id)) + "/" + std::to_string(c.key_bits);
}

TEST_CASE("Backends compared (reported once)") {
  MESSAGE("crypto backends tested: mbedtls, libsodium (AES-256-GCM: "
          << std::string(SodiumProvider::aes256gcm_available() ? "yes" : "no") << "), ipsec-mb: "
          << (IpsecMbProvider::available() ? std::string("yes, ") + IpsecMbProvider::arch()
                                           : std::string("no (not compiled in or no AES-NI): skipped")));
  CHECK(std::string_view(g_ipsec_mb.name()) == "ipsec-mb");
  if (!IpsecMbProvider::available()) {
    CHECK(std::string_view(IpsecMbProvider::arch()) == "none");
    CHECK_FALSE(IpsecMbProvider::supports(EncrId::aes_gcm_16, 128));
    CHECK(err(g_ipsec_mb.make_aead(EncrId::aes_gcm_16, 128, Bytes(20, 1)).status()) ==
          "unsupported_algorithm");
    CHECK(err(g_ipsec_mb.make_cipher(EncrId::aes_cbc, 128, Bytes(16, 1)).status()) ==
          "unsupported_algorithm");
    CHECK(err(g_ipsec_mb.make_integrity(IntegId::hmac_sha1_96, Bytes(20, 1)).status()) ==
          "unsupported_algorithm");
  }
  // Never offered by ipsec-mb: the control plane's PRFs and key exchanges.
  CHECK(err(g_ipsec_mb.make_prf(ipsec::crypto::PrfId::hmac_sha2_256, Bytes(32, 1)).status()) ==
        "unsupported_algorithm");
}

TEST_CASE("AEAD: every backend gives mbedTLS's bytes at random sizes 0..2000") {
  Rng rng(0xae4d);
  for (const AeadConfig& c : aead_configs()) {
    const auto info = *ipsec::crypto::encr_info(c.id);
    const Bytes keymat = rng.bytes(info.keymat_size(c.key_bits));
    auto ref = g_mbedtls.make_aead(c.id, c.key_bits, keymat);
    REQUIRE(ref.ok());
    for (const Named& other : others()) {
      auto made = other.provider->make_aead(c.id, c.key_bits, keymat);
      if (!made) {
        CHECK(err(made.status()) == "unsupported_algorithm");
        continue;
      }
      INFO(std::string(other.name) << " " << aead_name(c));
      CHECK(std::string_view((*made)->backend()) == other.name);
      for (size_t n : sizes(rng)) {
        INFO("size: " << n);
        const bool gmac = c.id == EncrId::null_auth_aes_gmac;
        const Bytes iv = rng.bytes(8);
        const Bytes aad = rng.bytes(gmac ? n : rng.below(33));
        const Bytes pt = gmac ? Bytes{} : rng.bytes(n);
        Bytes want = pt, want_icv(info.icv_size), got = pt, got_icv(info.icv_size);
        REQUIRE(err((*ref)->seal(iv, aad, want, want_icv)) == "ok");
        REQUIRE(err((*made)->seal(iv, aad, got, got_icv)) == "ok");
        CHECK(to_hex(got) == to_hex(want));
        CHECK(to_hex(got_icv) == to_hex(want_icv));
        // Each opens the other's packet.
        REQUIRE(err((*made)->open(iv, aad, want, want_icv)) == "ok");
        CHECK(want == pt);
        REQUIRE(err((*ref)->open(iv, aad, got, got_icv)) == "ok");
        CHECK(got == pt);
      }
    }
  }
}

TEST_CASE("Cipher: every backend gives mbedTLS's bytes at random sizes 0..2000") {
  Rng rng(0xc1f4);
  for (EncrId id : {EncrId::aes_cbc, EncrId::aes_ctr}) {
    for (uint16_t bits : {uint16_t{128}, uint16_t{192}, uint16_t{256}}) {
      const auto info = *ipsec::crypto::encr_info(id);
      const Bytes keymat = rng.bytes(info.keymat_size(bits));
      auto ref = g_mbedtls.make_cipher(id, bits, keymat);
      REQUIRE(ref.ok());
      for (const Named& other : others()) {
        auto made = other.provider->make_cipher(id, bits, keymat);
        if (!made) {
          CHECK(err(made.status()) == "unsupported_algorithm");
          continue;
        }
        INFO(std::string(other.name) << " " << ipsec::crypto::to_string(id) << "/" << bits);
        std::vector<size_t> ns = sizes(rng);
        // One block alone (ipsec-mb's AES-128-CBC takes a path of its own
        // for it: ESP's IV derivation), with random and all-zero IVs.
        ns.insert(ns.end(), {16, 16, 16});
        for (size_t k = 0; k < ns.size(); ++k) {
          size_t n = ns[k];
          if (n % info.block_size != 0) n -= n % info.block_size;  // CBC: whole blocks (RFC 3602 2.4)
          INFO("size: " << n);
          const Bytes iv = k + 1 == ns.size() ? Bytes(info.iv_size, 0) : rng.bytes(info.iv_size);
          const Bytes pt = rng.bytes(n);
          Bytes want = pt, got = pt;
          REQUIRE(err((*ref)->encrypt(iv, want)) == "ok");
          REQUIRE(err((*made)->encrypt(iv, got)) == "ok");
          CHECK(to_hex(got) == to_hex(want));
          REQUIRE(err((*made)->decrypt(iv, got)) == "ok");
          CHECK(got == pt);
        }
      }
    }
  }
}

TEST_CASE("Integrity: every backend gives mbedTLS's ICV at random sizes 0..2000, whole or in parts") {
  Rng rng(0x1c7);
  for (IntegId id : kIntegs) {
    const auto info = *ipsec::crypto::integ_info(id);
    const Bytes key = rng.bytes(info.key_size);
    auto ref = g_mbedtls.make_integrity(id, key);
    REQUIRE(ref.ok());
    for (const Named& other : others()) {
      auto made = other.provider->make_integrity(id, key);
      if (!made) {
        CHECK(err(made.status()) == "unsupported_algorithm");
        continue;
      }
      INFO(std::string(other.name) << " " << ipsec::crypto::to_string(id));
      for (size_t n : sizes(rng)) {
        INFO("size: " << n);
        const Bytes data = rng.bytes(n);
        Bytes want(info.icv_size), got(info.icv_size);
        REQUIRE(err((*ref)->compute(data, want)) == "ok");
        REQUIRE(err((*made)->compute(data, got)) == "ok");
        CHECK(to_hex(got) == to_hex(want));
        // ESP with ESN: packet || seq_hi (RFC 4303 3.3.2.1).
        const Bytes esn = rng.bytes(4);
        const ByteView parts[] = {data, esn};
        REQUIRE(err((*ref)->compute(parts, want)) == "ok");
        REQUIRE(err((*made)->compute(parts, got)) == "ok");
        CHECK(to_hex(got) == to_hex(want));
      }
    }
  }
}

// ---- Encrypt-then-MAC bursts ----------------------------------------------------

// EtmPacket: an ESP-like packet: header (8) | IV | ciphertext | ICV, in one
// buffer, with the op over it.
struct EtmPacket {
  Bytes buf;
  Bytes esn;
  size_t iv_size = 0;
  size_t body = 0;
  size_t icv_size = 0;

  EtmOp op(Cipher* c, Integrity* i) {
    MutableByteView all(buf);
    EtmOp o;
    o.cipher = c;
    o.integ = i;
    o.authenticated = all.first(8 + iv_size + body);
    o.cipher_offset = 8 + iv_size;
    o.iv = all.subspan(8, iv_size);
    o.extra = esn;
    o.icv = all.subspan(8 + iv_size + body, icv_size);
    o.status = Status(Errc::crypto_backend_failure);
    return o;
  }
  ByteView plaintext_region() const { return ByteView(buf).subspan(8 + iv_size, body); }
};

EtmPacket make_packet(Rng& rng, const Cipher& c, const Integrity& i, size_t n, bool esn) {
  EtmPacket p;
  p.iv_size = c.iv_size();
  p.body = n - n % c.block_size();
  p.icv_size = i.icv_size();
  p.buf = rng.bytes(8 + p.iv_size + p.body + p.icv_size);
  if (esn) p.esn = rng.bytes(4);
  return p;
}

struct EtmTransforms {
  std::unique_ptr<Cipher> cipher;
  std::unique_ptr<Integrity> integ;
};

EtmTransforms make_etm(Provider& cp, Provider& ip, EncrId id, uint16_t bits, IntegId integ, ByteView keymat,
                       ByteView key) {
  auto c = cp.make_cipher(id, bits, keymat);
  auto i = ip.make_integrity(integ, key);
  REQUIRE(c.ok());
  REQUIRE(i.ok());
  return {std::move(*c), std::move(*i)};
}

TEST_CASE("EtM bursts: every cipher and integrity pair, every backend, mbedTLS's bytes; open verifies") {
  if (!IpsecMbProvider::available()) {
    MESSAGE("ipsec-mb not available: EtM bursts tested on the generic path only");
  }
  Provider& fast = IpsecMbProvider::available() ? static_cast<Provider&>(g_ipsec_mb) : g_mbedtls;
  Rng rng(0xe7a);
  for (EncrId id : {EncrId::aes_cbc, EncrId::aes_ctr}) {
    for (uint16_t bits : {uint16_t{128}, uint16_t{192}, uint16_t{256}}) {
      for (IntegId integ : kIntegs) {
        INFO(ipsec::crypto::to_string(id) << "/" << bits << " + " << ipsec::crypto::to_string(integ));
        const Bytes keymat = rng.bytes(ipsec::crypto::encr_info(id)->keymat_size(bits));
        const Bytes key = rng.bytes(ipsec::crypto::integ_info(integ)->key_size);
        EtmTransforms ref = make_etm(g_mbedtls, g_mbedtls, id, bits, integ, keymat, key);
        EtmTransforms mb = make_etm(fast, fast, id, bits, integ, keymat, key);
        // Mixed: ipsec-mb's cipher with mbedTLS's MAC and the reverse (the
        // generic path inside an ipsec-mb burst).
        EtmTransforms mixed_a = make_etm(fast, g_mbedtls, id, bits, integ, keymat, key);
        EtmTransforms mixed_b = make_etm(g_mbedtls, fast, id, bits, integ, keymat, key);
        EtmTransforms* owners[] = {&mb, &mb, &mixed_a, &mixed_b, &ref};

        const std::vector<size_t> ns = sizes(rng);
        std::vector<EtmPacket> packets, expected;
        std::vector<EtmOp> ops;
        for (size_t k = 0; k < ns.size(); ++k) {
          EtmTransforms& t = *owners[k % 5];
          packets.push_back(make_packet(rng, *t.cipher, *t.integ, ns[k], k % 7 == 3));
        }
        expected = packets;
        for (size_t k = 0; k < packets.size(); ++k) {
          EtmTransforms& t = *owners[k % 5];
          ops.push_back(packets[k].op(t.cipher.get(), t.integ.get()));
          EtmOp want = expected[k].op(ref.cipher.get(), ref.integ.get());
          REQUIRE(err(ipsec::crypto::etm_seal_one(want)) == "ok");
        }
        const std::vector<EtmPacket> plain = packets;
        ipsec::crypto::etm_seal_burst(ops);
        for (size_t k = 0; k < ops.size(); ++k) {
          INFO("op " << k << " size " << ns[k]);
          CHECK(err(ops[k].status) == "ok");
          CHECK(to_hex(packets[k].buf) == to_hex(expected[k].buf));
        }
        // Tamper with op 2's ICV and op 5's ciphertext (when it has one).
        packets[2].buf.back() ^= 0x01;
        const bool tamper5 = packets[5].body > 0;
        if (tamper5) packets[5].buf[8 + packets[5].iv_size] ^= 0x80;
        ipsec::crypto::etm_open_burst(ops);
        for (size_t k = 0; k < ops.size(); ++k) {
          INFO("op " << k << " size " << ns[k]);
          if (k == 2 || (k == 5 && tamper5)) {
            CHECK(err(ops[k].status) == "integrity_check_failed");
            // Never released decrypted.
            if (packets[k].body >= 16) {
              CHECK(to_hex(packets[k].plaintext_region()) != to_hex(plain[k].plaintext_region()));
            }
          } else {
            CHECK(err(ops[k].status) == "ok");
            CHECK(to_hex(packets[k].plaintext_region()) == to_hex(plain[k].plaintext_region()));
          }
        }
      }
    }
  }
}

TEST_CASE("EtM bursts: per-op argument errors, 150 ops across rounds, free functions on empty spans") {
  Provider& fast = IpsecMbProvider::available() ? static_cast<Provider&>(g_ipsec_mb) : g_mbedtls;
  Rng rng(0xbad);
  const Bytes keymat = rng.bytes(16), key = rng.bytes(32);
  EtmTransforms t = make_etm(fast, fast, EncrId::aes_cbc, 128, IntegId::hmac_sha2_256_128, keymat, key);
  EtmTransforms ref =
      make_etm(g_mbedtls, g_mbedtls, EncrId::aes_cbc, 128, IntegId::hmac_sha2_256_128, keymat, key);
  ipsec::crypto::etm_seal_burst({});
  ipsec::crypto::etm_open_burst({});

  constexpr size_t kOps = 150;
  std::vector<EtmPacket> packets, expected;
  std::vector<EtmOp> ops;
  for (size_t k = 0; k < kOps; ++k) packets.push_back(make_packet(rng, *t.cipher, *t.integ, 64 + k, false));
  expected = packets;
  for (size_t k = 0; k < kOps; ++k) {
    ops.push_back(packets[k].op(t.cipher.get(), t.integ.get()));
    EtmOp want = expected[k].op(ref.cipher.get(), ref.integ.get());
    REQUIRE(err(ipsec::crypto::etm_seal_one(want)) == "ok");
  }
  // Op 10: no integrity; op 20: a short ICV; op 30: a ciphertext that is
  // not whole blocks; op 40: a 15-octet IV; op 50: cipher_offset past the end.
  ops[10].integ = nullptr;
  ops[20].icv = ops[20].icv.first(15);
  ops[30].authenticated = ops[30].authenticated.first(ops[30].authenticated.size() - 1);
  ops[40].iv = ops[40].iv.first(15);
  ops[50].cipher_offset = ops[50].authenticated.size() + 1;
  const std::vector<EtmPacket> before = packets;
  t.cipher->etm_seal_burst(ops);
  for (size_t k = 0; k < kOps; ++k) {
    INFO("op " << k);
    switch (k) {
      case 10:
      case 50: CHECK(err(ops[k].status) == "invalid_argument"); break;
      case 20: CHECK(err(ops[k].status) == "invalid_icv_length"); break;
      case 30: CHECK(err(ops[k].status) == "invalid_block_length"); break;
      case 40: CHECK(err(ops[k].status) == "invalid_iv_length"); break;
      default:
        CHECK(err(ops[k].status) == "ok");
        CHECK(to_hex(packets[k].buf) == to_hex(expected[k].buf));
        continue;
    }
    CHECK(to_hex(packets[k].buf) == to_hex(before[k].buf));  // untouched
  }
}

// ---- AEAD bursts -------------------------------------------------------------------

TEST_CASE("AEAD bursts mixing keys and backends give the single calls' results") {
  Rng rng(0xb125);
  for (const AeadConfig& c : {AeadConfig{EncrId::aes_gcm_16, 256}, AeadConfig{EncrId::aes_gcm_12, 128},
                              AeadConfig{EncrId::aes_gcm_8, 192}, AeadConfig{EncrId::null_auth_aes_gmac, 256},
                              AeadConfig{EncrId::chacha20_poly1305, 0}}) {
    INFO(aead_name(c));
    const auto info = *ipsec::crypto::encr_info(c.id);
    const bool gmac = c.id == EncrId::null_auth_aes_gmac;
    // Two keys on the fast backend, one on mbedTLS, one on libsodium when it
    // has the transform.
    std::vector<std::unique_ptr<Aead>> aeads;
    std::vector<Provider*> providers = {IpsecMbProvider::available() ? static_cast<Provider*>(&g_ipsec_mb)
                                                                     : &g_mbedtls};
    providers.push_back(providers[0]);
    providers.push_back(&g_mbedtls);
    providers.push_back(&g_sodium);
    for (Provider* p : providers) {
      auto made = p->make_aead(c.id, c.key_bits, rng.bytes(info.keymat_size(c.key_bits)));
      if (made) aeads.push_back(std::move(*made));
    }
    REQUIRE(aeads.size() >= 3);

    constexpr size_t kOps = 150;  // more than one round of the ipsec-mb queue
    std::vector<Bytes> ivs, aads, pts, data, icvs, want_ct, want_icv;
    std::vector<AeadOp> ops(kOps);
    for (size_t k = 0; k < kOps; ++k) {
      Aead* a = aeads[k % aeads.size()].get();
      const size_t n = rng.below(1500);
      ivs.push_back(rng.bytes(8));
      aads.push_back(rng.bytes(gmac ? n : 8 + 4 * (k % 2)));
      pts.push_back(gmac ? Bytes{} : rng.bytes(n));
      want_ct.push_back(pts[k]);
      want_icv.push_back(Bytes(info.icv_size));
      REQUIRE(err(a->seal(ivs[k], aads[k], want_ct[k], want_icv[k])) == "ok");
      data.push_back(pts[k]);
      icvs.push_back(Bytes(info.icv_size));
    }
    for (size_t k = 0; k < kOps; ++k) {
      ops[k] = AeadOp{aeads[k % aeads.size()].get(),       ivs[k], aads[k], data[k], icvs[k],
                      Status(Errc::crypto_backend_failure)};
    }
    ops[7].aead = nullptr;  // invalid_argument, the others unaffected
    ipsec::crypto::seal_burst(ops);
    for (size_t k = 0; k < kOps; ++k) {
      INFO("op " << k << " backend " << (ops[k].aead ? ops[k].aead->backend() : "none"));
      if (k == 7) {
        CHECK(err(ops[k].status) == "invalid_argument");
        continue;
      }
      CHECK(err(ops[k].status) == "ok");
      CHECK(to_hex(data[k]) == to_hex(want_ct[k]));
      CHECK(to_hex(icvs[k]) == to_hex(want_icv[k]));
    }
    // Open, with op 3's ICV and op 4's AAD damaged, dispatched through a
    // burst whose first op is of another backend (mbedTLS): same results.
    icvs[3][0] ^= 0x40;
    aads[4][0] ^= 0x01;
    ops[7].aead = aeads[7 % aeads.size()].get();
    data[7] = want_ct[7];
    icvs[7] = want_icv[7];
    std::swap(ops[0], ops[2]);  // ops[0] is now on aeads[2] (mbedTLS)
    ipsec::crypto::open_burst(ops);
    std::swap(ops[0], ops[2]);
    for (size_t k = 0; k < kOps; ++k) {
      INFO("op " << k);
      if (k == 3 || k == 4) {
        CHECK(err(ops[k].status) == "integrity_check_failed");
        CHECK(std::all_of(data[k].begin(), data[k].end(), [](uint8_t b) { return b == 0; }));
      } else {
        CHECK(err(ops[k].status) == "ok");
        CHECK(to_hex(data[k]) == to_hex(pts[k]));
      }
    }
    // And through the ipsec-mb member directly, for the same ops.
    for (size_t k = 0; k < kOps; ++k) {
      data[k] = want_ct[k];
      icvs[k] = want_icv[k];
    }
    aads[4][0] ^= 0x01;
    aeads[0]->open_burst(ops);
    for (size_t k = 0; k < kOps; ++k) {
      INFO("op " << k);
      CHECK(err(ops[k].status) == "ok");
      CHECK(to_hex(data[k]) == to_hex(pts[k]));
    }
  }
  std::vector<AeadOp> none;
  ipsec::crypto::seal_burst(none);
  ipsec::crypto::open_burst(none);
}

TEST_CASE("ipsec-mb transforms from several threads at once (one manager per thread)") {
  if (!IpsecMbProvider::available()) return;
  Rng rng(0x7d);
  const Bytes keymat = rng.bytes(16), key = rng.bytes(32);
  EtmTransforms t =
      make_etm(g_ipsec_mb, g_ipsec_mb, EncrId::aes_cbc, 128, IntegId::hmac_sha2_256_128, keymat, key);
  EtmTransforms ref =
      make_etm(g_mbedtls, g_mbedtls, EncrId::aes_cbc, 128, IntegId::hmac_sha2_256_128, keymat, key);
  constexpr int kThreads = 4, kOps = 40, kRounds = 20;
  std::vector<std::vector<EtmPacket>> want(kThreads), start(kThreads);
  for (int th = 0; th < kThreads; ++th) {
    for (int k = 0; k < kOps; ++k) {
      start[static_cast<size_t>(th)].push_back(
          make_packet(rng, *t.cipher, *t.integ, static_cast<size_t>(100 + 37 * k), false));
    }
    want[static_cast<size_t>(th)] = start[static_cast<size_t>(th)];
    for (EtmPacket& p : want[static_cast<size_t>(th)]) {
      EtmOp op = p.op(ref.cipher.get(), ref.integ.get());
      REQUIRE(err(ipsec::crypto::etm_seal_one(op)) == "ok");
    }
  }
  std::array<int, kThreads> mismatches{};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      const auto i = static_cast<size_t>(th);
      for (int r = 0; r < kRounds; ++r) {
        std::vector<EtmPacket> packets = start[i];
        std::vector<EtmOp> ops;
        for (EtmPacket& p : packets) ops.push_back(p.op(t.cipher.get(), t.integ.get()));
        ipsec::crypto::etm_seal_burst(ops);
        for (size_t k = 0; k < ops.size(); ++k) {
          if (!ops[k].status.ok() || packets[k].buf != want[i][k].buf) ++mismatches[i];
        }
        ipsec::crypto::etm_open_burst(ops);
        for (size_t k = 0; k < ops.size(); ++k) {
          // The ICV octets now hold the ICV; everything before is as it started.
          const size_t covered = packets[k].buf.size() - packets[k].icv_size;
          if (!ops[k].status.ok() || to_hex(ByteView(packets[k].buf).first(covered)) !=
                                         to_hex(ByteView(start[i][k].buf).first(covered))) {
            ++mismatches[i];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) CHECK(m == 0);
}

// ---- DefaultProvider ----------------------------------------------------------------

TEST_CASE("DefaultProvider: the ranking, backend_for and prefer") {
  const bool mb = IpsecMbProvider::available();
  const bool sodium_gcm = SodiumProvider::aes256gcm_available();
  DefaultProvider p;
  CHECK(std::string_view(ipsec::crypto::to_string(Backend::ipsec_mb)) == "ipsec-mb");
  CHECK(std::string_view(ipsec::crypto::to_string(Backend::libsodium)) == "libsodium");
  CHECK(std::string_view(ipsec::crypto::to_string(Backend::mbedtls)) == "mbedtls");

  const Backend gcm256 = mb ? Backend::ipsec_mb : (sodium_gcm ? Backend::libsodium : Backend::mbedtls);
  CHECK(p.backend_for(EncrId::aes_gcm_16, 256) == gcm256);
  CHECK(p.backend_for(EncrId::aes_gcm_16, 128) == (mb ? Backend::ipsec_mb : Backend::mbedtls));
  CHECK(p.backend_for(EncrId::null_auth_aes_gmac, 192) == (mb ? Backend::ipsec_mb : Backend::mbedtls));
  CHECK(p.backend_for(EncrId::chacha20_poly1305, 0) == (mb ? Backend::ipsec_mb : Backend::libsodium));
  CHECK(p.backend_for(EncrId::aes_cbc, 192) == (mb ? Backend::ipsec_mb : Backend::mbedtls));
  CHECK(p.backend_for(EncrId::aes_ctr, 128) == (mb ? Backend::ipsec_mb : Backend::mbedtls));
  CHECK(p.backend_for(EncrId::aes_ccm_16, 128) == Backend::mbedtls);
  CHECK(p.backend_for(EncrId::null, 0) == Backend::mbedtls);
  for (IntegId id : kIntegs) CHECK(p.backend_for(id) == (mb ? Backend::ipsec_mb : Backend::mbedtls));

  // make_* uses what backend_for says.
  const Bytes keymat(36, 0x11);
  auto gcm = p.make_aead(EncrId::aes_gcm_16, 256, keymat);
  REQUIRE(gcm.ok());
  CHECK(std::string_view((*gcm)->backend()) == ipsec::crypto::to_string(gcm256));
  auto hmac = p.make_integrity(IntegId::hmac_sha2_256_128, Bytes(32, 2));
  REQUIRE(hmac.ok());
  CHECK(std::string_view((*hmac)->backend()) == (mb ? "ipsec-mb" : "mbedtls"));

  // The host's preference wins where the backend has the algorithm...
  p.prefer(EncrId::aes_gcm_16, Backend::mbedtls);
  p.prefer(IntegId::hmac_sha2_256_128, Backend::mbedtls);
  CHECK(p.backend_for(EncrId::aes_gcm_16, 256) == Backend::mbedtls);
  CHECK(p.backend_for(EncrId::aes_gcm_16, 128) == Backend::mbedtls);
  CHECK(p.backend_for(IntegId::hmac_sha2_256_128) == Backend::mbedtls);
  auto preferred = p.make_aead(EncrId::aes_gcm_16, 256, keymat);
  REQUIRE(preferred.ok());
  CHECK(std::string_view((*preferred)->backend()) == "mbedtls");
  auto preferred_mac = p.make_integrity(IntegId::hmac_sha2_256_128, Bytes(32, 2));
  REQUIRE(preferred_mac.ok());
  CHECK(std::string_view((*preferred_mac)->backend()) == "mbedtls");
  // ...a later preference for the same algorithm replaces it...
  p.prefer(EncrId::aes_gcm_16, Backend::libsodium);
  CHECK(p.backend_for(EncrId::aes_gcm_16, 256) == (sodium_gcm ? Backend::libsodium : gcm256));
  // ...and where it lacks the algorithm, the ranking decides.
  CHECK(p.backend_for(EncrId::aes_gcm_16, 128) == (mb ? Backend::ipsec_mb : Backend::mbedtls));
  p.prefer(EncrId::aes_ccm_16, Backend::ipsec_mb);
  p.prefer(IntegId::aes_xcbc_96, Backend::libsodium);
  CHECK(p.backend_for(EncrId::aes_ccm_16, 128) == Backend::mbedtls);
  CHECK(p.backend_for(IntegId::aes_xcbc_96) == (mb ? Backend::ipsec_mb : Backend::mbedtls));
  auto ccm = p.make_aead(EncrId::aes_ccm_16, 128, Bytes(19, 3));
  REQUIRE(ccm.ok());
  CHECK(std::string_view((*ccm)->backend()) == "mbedtls");
  // Unknown transforms are ignored, and errors still come through.
  p.prefer(static_cast<EncrId>(4000), Backend::ipsec_mb);
  CHECK(err(p.make_aead(static_cast<EncrId>(4000), 128, Bytes(20, 1)).status()) == "unsupported_algorithm");
  CHECK(err(p.make_aead(EncrId::aes_gcm_16, 128, Bytes(19, 1)).status()) == "invalid_key_length");
  CHECK(err(p.make_cipher(EncrId::aes_cbc, 64, Bytes(8, 1)).status()) == "invalid_key_length");
}

}  // namespace
