// SPDX-License-Identifier: Apache-2.0
// Known-answer and negative tests for crypto/cipher.hpp: AES-CBC (RFC 3602),
// AES-CTR (RFC 3686) and ENCR_NULL (RFC 2410), on every provider.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto_test_util.hpp"
#include "ipsec/crypto/cipher.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"
#include "test_util.hpp"

namespace {

using ipsec::test::ascii;
using ipsec::test::concat;
using ipsec::test::err;
using ipsec::test::is_sodium;
using ipsec::test::NamedProvider;

using ipsec::ByteView;
using ipsec::Status;
using ipsec::crypto::Cipher;
using ipsec::crypto::DefaultProvider;
using ipsec::crypto::EncrId;
using ipsec::crypto::MbedtlsProvider;
using ipsec::crypto::Provider;
using ipsec::crypto::SodiumProvider;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using ipsec::test::to_hex;

Bytes concat(const Bytes& a, const Bytes& b) { return ipsec::test::concat({a, b}); }

// providers: those of crypto_test_util.hpp, plus ipsec-mb when this build
// and CPU have it (IpsecMbProvider::available()).
std::vector<NamedProvider> providers() {
  auto out = ipsec::test::providers();
  static ipsec::crypto::IpsecMbProvider ipsec_mb;
  if (ipsec::crypto::IpsecMbProvider::available()) out.push_back({"IpsecMbProvider", &ipsec_mb});
  return out;
}

bool is_ipsec_mb(const Provider& p) { return std::string_view(p.name()) == "ipsec-mb"; }

// supports: libsodium has no plain ciphers; ipsec-mb has AES-CBC and AES-CTR.
bool supports(const Provider& p, EncrId id) {
  if (is_sodium(p)) return false;
  return !is_ipsec_mb(p) || id != EncrId::null;
}

// expected_backend: DefaultProvider takes ipsec-mb where it can.
std::string expected_backend(const Provider& p, EncrId id) {
  if (id == EncrId::null) return "none";
  if (is_ipsec_mb(p)) return "ipsec-mb";
  if (std::string_view(p.name()) == "default" && ipsec::crypto::IpsecMbProvider::available())
    return "ipsec-mb";
  return "mbedtls";
}

Bytes pattern(size_t n, uint8_t seed) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + 11 * i);
  return out;
}

// check_kat: encrypt pt -> ct and decrypt ct -> pt in place on every provider.
void check_kat(const std::string& source, EncrId id, uint16_t key_bits, const Bytes& keymat, const Bytes& iv,
               const Bytes& pt, const Bytes& ct) {
  INFO("vector: " << source);
  for (const NamedProvider& np : providers()) {
    INFO("provider: " << np.name);
    auto made = np.provider->make_cipher(id, key_bits, keymat);
    if (!supports(*np.provider, id)) {
      CHECK(err(made.status()) == "unsupported_algorithm");
      continue;
    }
    REQUIRE(made.ok());
    Cipher& cipher = **made;
    CHECK(cipher.id() == id);
    CHECK(std::string(cipher.backend()) == expected_backend(*np.provider, id));
    CHECK(cipher.iv_size() == iv.size());
    Bytes data = pt;
    REQUIRE(err(cipher.encrypt(iv, data)) == "ok");
    CHECK(to_hex(data) == to_hex(ct));
    REQUIRE(err(cipher.decrypt(iv, data)) == "ok");
    CHECK(to_hex(data) == to_hex(pt));
  }
}

// ---- AES-CBC, RFC 3602 section 4 --------------------------------------------

TEST_CASE("AES-CBC: RFC 3602 section 4 cases 1-4") {
  check_kat("RFC 3602 case 1", EncrId::aes_cbc, 128, from_hex("06a9214036b8a15b512e03d534120006"),
            from_hex("3dafba429d9eb430b422da802c9fac41"), ascii("Single block msg"),
            from_hex("e353779c1079aeb82708942dbe77181a"));
  check_kat("RFC 3602 case 2", EncrId::aes_cbc, 128, from_hex("c286696d887c9aa0611bbb3e2025a45a"),
            from_hex("562e17996d093d28ddb3ba695a2e6f58"),
            from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
            from_hex("d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"));
  check_kat("RFC 3602 case 3", EncrId::aes_cbc, 128, from_hex("6c3ea0477630ce21a2ce334aa746c2cd"),
            from_hex("c782dc4c098c66cbd9cd27d825682c81"),
            ascii("This is a 48-byte message (exactly 3 AES blocks)"),
            from_hex("d0a02b3836451753d493665d33f0e8862dea54cdb293abc7506939276772f8d5"
                     "021c19216bad525c8579695d83ba2684"));
  check_kat("RFC 3602 case 4", EncrId::aes_cbc, 128, from_hex("56e47a38c5598974bc46903dba290349"),
            from_hex("8ce82eefbea0da3c44699ed7db51b7d9"),
            from_hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                     "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"),
            from_hex("c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e"
                     "35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55"));
}

// esp_plaintext: payload || RFC 4303 default padding 1, 2, 3, ... || Pad
// Length || Next Header, padded to the 16-octet AES block (RFC 3602 cases
// 5-8 print exactly this as their plaintext).
Bytes esp_plaintext(const Bytes& payload, uint8_t next_header) {
  Bytes out = payload;
  const size_t pad = (16 - (payload.size() + 2) % 16) % 16;
  for (size_t i = 1; i <= pad; ++i) out.push_back(static_cast<uint8_t>(i));
  out.push_back(static_cast<uint8_t>(pad));
  out.push_back(next_header);
  return out;
}

struct EspCase {
  int number;
  const char* key;
  const char* payload;
  uint8_t next_header;
  const char* packet;  // SPI | sequence number | IV | ciphertext
};

const EspCase kEspCases[] = {
    {5, "90d382b410eeba7ad938c46cec1a82bf",
     "08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526272829"
     "2a2b2c2d2e2f3031323334353637",
     1,
     "0000432100000001e96e8c08ab465763fd098d45dd3ff893f663c25d325c18c6a9453e194e120849a4870b66cc6b9965330013"
     "b4898dc856a4699e523a55db080b59ec3a8e4b7e52775b07d1db34ed9c538ab50c551b874aa269add047ad2d5913ac19b7cfba"
     "d4a6"},
    {6, "90d382b410eeba7ad938c46cec1a82bf", "0800b5e8a80a0500a69c083d0b660e00777777777777777777777777", 1,
     "000043210000000869d08df7d203329db093fc4924e5bd80f51995881ec4e0c4488987ce742e8109689bb379d2d750c0d915dc"
     "a346a89f75"},
    {7, "0123456789abcdef0123456789abcdef",
     "45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d02a2040008090a0b0c0d0e0f101112131415"
     "161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
     4,
     "0000876500000002f4e765244f6407adf13dc1380f673f37773b5241a4c449225e4f3ce5ed611b0c237ca96cf74a93013c1b0e"
     "a1a0cf70f8e4ecaec78ac53aad7a0f022b859243c647752e94a859352b8a4d4d2decd136e5c177f132ad3fbfb2201ac9904c74"
     "ee0a109e0ca1e4dfe9d5a100b842f1c22f0d"},
    {8, "0123456789abcdef0123456789abcdef",
     "45000044090c00004001f990c0a87b03c0a87bc80800d63caa0a0200c69c083da3de0300ffffffffffffffffffffffffffff"
     "ffffffffffffffffffffffffffffffffffff",
     4,
     "000087650000000585d47224b5f3dd5d2101d4ea8dffab2215b92683819596a8047232cc00f7048fe45318e11f8a0f62ede3c3"
     "fc61203bb50f980a08c9843fd3a1b06d5c07ff9639b7eb7dfb3512e5de435e7207ed971ef3d2726d9b5ef6affc6d17a0decbb1"
     "3892"},
};

TEST_CASE("AES-CBC: RFC 3602 section 4 ESP cases 5-8") {
  for (const EspCase& c : kEspCases) {
    const Bytes packet = from_hex(c.packet);
    REQUIRE(packet.size() > 24);
    const Bytes iv(packet.begin() + 8, packet.begin() + 24);
    const Bytes ct(packet.begin() + 24, packet.end());
    const Bytes pt = esp_plaintext(from_hex(c.payload), c.next_header);
    REQUIRE(pt.size() == ct.size());
    check_kat("RFC 3602 case " + std::to_string(c.number), EncrId::aes_cbc, 128, from_hex(c.key), iv, pt, ct);
  }
}

// ---- AES-CTR, RFC 3686 section 6 --------------------------------------------
// KEYMAT = key || 4-octet nonce (RFC 3686 section 5.1); the 8-octet IV is
// sent per packet and the counter block is nonce || IV || block counter,
// starting at 1 (section 4).

struct CtrCase {
  int number;
  uint16_t key_bits;
  const char* key;
  const char* nonce;
  const char* iv;
  const char* pt;
  const char* ct;
};

constexpr const char* kCtrP16 = "53696e676c6520626c6f636b206d7367";  // "Single block msg"
constexpr const char* kCtrP32 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr const char* kCtrP36 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223";

const CtrCase kCtrCases[] = {
    {1, 128, "ae6852f8121067cc4bf7a5765577f39e", "00000030", "0000000000000000", kCtrP16,
     "e4095d4fb7a7b3792d6175a3261311b8"},
    {2, 128, "7e24067817fae0d743d6ce1f32539163", "006cb6db", "c0543b59da48d90b", kCtrP32,
     "5104a106168a72d9790d41ee8edad388eb2e1efc46da57c8fce630df9141be28"},
    {3, 128, "7691be035e5020a8ac6e618529f9a0dc", "00e0017b", "27777f3f4a1786f0", kCtrP36,
     "c1cf48a89f2ffdd9cf4652e9efdb72d74540a42bde6d7836d59a5ceaaef3105325b2072f"},
    {4, 192, "16af5b145fc9f579c175f93e3bfb0eed863d06ccfdb78515", "00000048", "36733c147d6d93cb", kCtrP16,
     "4b55384fe259c9c84e7935a003cbe928"},
    {5, 192, "7c5cb2401b3dc33c19e7340819e0f69c678c3db8e6f6a91a", "0096b03b", "020c6eadc2cb500d", kCtrP32,
     "453243fc609b23327edfaafa7131cd9f8490701c5ad4a79cfc1fe0ff42f4fb00"},
    {6, 192, "02bf391ee8ecb159b959617b0965279bf59b60a786d3e0fe", "0007bdfd", "5cbd60278dcc0912", kCtrP36,
     "96893fc55e5c722f540b7dd1ddf7e758d288bc95c69165884536c811662f2188abee0935"},
    {7, 256, "776beff2851db06f4c8a0542c8696f6c6a81af1eec96b4d37fc1d689e6c1c104", "00000060",
     "db5672c97aa8f0b2", kCtrP16, "145ad01dbf824ec7560863dc71e3e0c0"},
    {8, 256, "f6d66d6bd52d59bb0796365879eff886c66dd51a5b6a99744b50590c87a23884", "00faac24",
     "c1585ef15a43d875", kCtrP32, "f05e231b3894612c49ee000b804eb2a9b8306b508f839d6a5530831d9344af1c"},
    {9, 256, "ff7a617ce69148e4f1726e2f43581de2aa62d9f805532edff1eed687fb54153d", "001cc5b7",
     "51a51d70a1c11148", kCtrP36, "eb6c52821d0bbbf7ce7594462aca4faab407df866569fd07f48cc0b583d6071f1ec0e6b8"},
};

TEST_CASE("AES-CTR: RFC 3686 section 6 test vectors #1-#9") {
  for (const CtrCase& c : kCtrCases) {
    check_kat("RFC 3686 test vector #" + std::to_string(c.number), EncrId::aes_ctr, c.key_bits,
              concat(from_hex(c.key), from_hex(c.nonce)), from_hex(c.iv), from_hex(c.pt), from_hex(c.ct));
  }
}

TEST_CASE("AES-CTR is a stream: a prefix of the packet encrypts to a prefix of the ciphertext") {
  for (const NamedProvider& np : providers()) {
    if (!supports(*np.provider, EncrId::aes_ctr)) continue;
    INFO("provider: " << np.name);
    for (const CtrCase& c : kCtrCases) {
      INFO("RFC 3686 test vector #" << c.number);
      auto made =
          np.provider->make_cipher(EncrId::aes_ctr, c.key_bits, concat(from_hex(c.key), from_hex(c.nonce)));
      REQUIRE(made.ok());
      const Bytes pt = from_hex(c.pt), ct = from_hex(c.ct), iv = from_hex(c.iv);
      for (size_t n = 0; n <= pt.size(); ++n) {
        Bytes data(pt.begin(), pt.begin() + static_cast<std::ptrdiff_t>(n));
        REQUIRE(err((*made)->encrypt(iv, data)) == "ok");
        CHECK(to_hex(data) == to_hex(ByteView(ct).first(n)));
      }
    }
  }
}

// ---- ENCR_NULL, RFC 2410 ----------------------------------------------------

TEST_CASE("ENCR_NULL: RFC 2410 test cases (NULL(data) = data)") {
  // RFC 2410 section 2 "Test Vectors", test_case 1 (data 0x123456789abcdef,
  // data_len 8) and test_case 2.
  check_kat("RFC 2410 test_case 1", EncrId::null, 0, {}, {}, from_hex("0123456789abcdef"),
            from_hex("0123456789abcdef"));
  check_kat("RFC 2410 test_case 2", EncrId::null, 0, {}, {},
            ascii("Network Security People Have A Strange Sense Of Humor"),
            ascii("Network Security People Have A Strange Sense Of Humor"));
  MbedtlsProvider mbedtls;
  auto made = mbedtls.make_cipher(EncrId::null, 0, {});
  REQUIRE(made.ok());
  CHECK((*made)->key_size() == 0);
  CHECK((*made)->iv_size() == 0);
  CHECK((*made)->block_size() == 1);
  Bytes empty;
  CHECK(err((*made)->encrypt({}, empty)) == "ok");
  // NULL takes no IV (RFC 2410 section 2: no cryptographic synchronization).
  Bytes data = pattern(8, 1);
  const Bytes iv = pattern(8, 2);
  CHECK(err((*made)->encrypt(iv, data)) == "invalid_iv_length");
  CHECK(err((*made)->decrypt(iv, data)) == "invalid_iv_length");
  CHECK(to_hex(data) == to_hex(pattern(8, 1)));
}

// ---- Properties, round trips, negatives --------------------------------------

struct Config {
  EncrId id;
  uint16_t key_bits;
};

const Config kConfigs[] = {{EncrId::aes_cbc, 128}, {EncrId::aes_cbc, 192}, {EncrId::aes_cbc, 256},
                           {EncrId::aes_ctr, 128}, {EncrId::aes_ctr, 192}, {EncrId::aes_ctr, 256},
                           {EncrId::null, 0}};

std::string config_name(const Config& c) {
  return std::string(ipsec::crypto::to_string(c.id)) + "/" + std::to_string(c.key_bits);
}

TEST_CASE("Cipher sizes and round trips for every transform and key size") {
  for (const Config& c : kConfigs) {
    INFO("config: " << config_name(c));
    const auto info = ipsec::crypto::encr_info(c.id);
    REQUIRE(info.has_value());
    const Bytes keymat = pattern(info->keymat_size(c.key_bits), 0x40);
    for (const NamedProvider& np : providers()) {
      INFO("provider: " << np.name);
      auto made = np.provider->make_cipher(c.id, c.key_bits, keymat);
      if (!supports(*np.provider, c.id)) {
        CHECK(err(made.status()) == "unsupported_algorithm");
        continue;
      }
      REQUIRE(made.ok());
      Cipher& cipher = **made;
      CHECK(cipher.id() == c.id);
      CHECK(cipher.key_size() == c.key_bits / 8u);
      CHECK(cipher.iv_size() == info->iv_size);
      CHECK(cipher.block_size() == info->block_size);
      CHECK(std::string(cipher.backend()) == expected_backend(*np.provider, c.id));
      const Bytes iv = pattern(cipher.iv_size(), 0x50);
      for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{32}, size_t{1400}}) {
        if (n % cipher.block_size() != 0) continue;
        INFO("size: " << n);
        const Bytes pt = pattern(n, 0x60);
        Bytes data = pt;
        REQUIRE(err(cipher.encrypt(iv, data)) == "ok");
        if (c.id != EncrId::null && n >= 16) CHECK(to_hex(data) != to_hex(pt));
        if (c.id == EncrId::null) CHECK(to_hex(data) == to_hex(pt));
        REQUIRE(err(cipher.decrypt(iv, data)) == "ok");
        CHECK(to_hex(data) == to_hex(pt));
      }
      if (c.id != EncrId::null) {
        // Another IV, another ciphertext; the IV buffer is not modified.
        const Bytes iv_before = iv;
        Bytes a = pattern(32, 1), b = pattern(32, 1);
        REQUIRE(err(cipher.encrypt(iv, a)) == "ok");
        REQUIRE(err(cipher.encrypt(pattern(cipher.iv_size(), 0x51), b)) == "ok");
        CHECK(to_hex(a) != to_hex(b));
        CHECK(to_hex(iv) == to_hex(iv_before));
      }
    }
  }
}

TEST_CASE("AES-CBC rejects data that is not a multiple of 16 octets") {
  for (uint16_t bits : {uint16_t{128}, uint16_t{192}, uint16_t{256}}) {
    for (const NamedProvider& np : providers()) {
      if (!supports(*np.provider, EncrId::aes_cbc)) continue;
      INFO("provider: " << np.name << " bits: " << bits);
      auto made = np.provider->make_cipher(EncrId::aes_cbc, bits, pattern(bits / 8u, 3));
      REQUIRE(made.ok());
      const Bytes iv = pattern(16, 4);
      for (size_t n : {size_t{1}, size_t{8}, size_t{15}, size_t{17}, size_t{31}, size_t{1401}}) {
        INFO("size: " << n);
        const Bytes pt = pattern(n, 5);
        Bytes data = pt;
        CHECK(err((*made)->encrypt(iv, data)) == "invalid_block_length");
        CHECK(err((*made)->decrypt(iv, data)) == "invalid_block_length");
        CHECK(to_hex(data) == to_hex(pt));  // untouched
      }
    }
  }
}

TEST_CASE("Ciphers reject IVs of the wrong length") {
  for (const Config& c : kConfigs) {
    if (c.id == EncrId::null) continue;  // covered with the RFC 2410 vectors
    INFO("config: " << config_name(c));
    const auto info = ipsec::crypto::encr_info(c.id);
    for (const NamedProvider& np : providers()) {
      if (!supports(*np.provider, c.id)) continue;
      INFO("provider: " << np.name);
      auto made = np.provider->make_cipher(c.id, c.key_bits, pattern(info->keymat_size(c.key_bits), 6));
      REQUIRE(made.ok());
      for (size_t n :
           {size_t{0}, size_t{7}, size_t{8}, size_t{9}, size_t{12}, size_t{15}, size_t{16}, size_t{17}}) {
        if (n == info->iv_size) continue;
        INFO("iv length: " << n);
        const Bytes iv = pattern(n, 7);
        const Bytes pt = pattern(32, 8);
        Bytes data = pt;
        CHECK(err((*made)->encrypt(iv, data)) == "invalid_iv_length");
        CHECK(err((*made)->decrypt(iv, data)) == "invalid_iv_length");
        CHECK(to_hex(data) == to_hex(pt));
      }
    }
  }
}

TEST_CASE("make_cipher rejects bad key lengths, KEYMAT sizes and unsupported transforms") {
  for (const NamedProvider& np : providers()) {
    INFO("provider: " << np.name);
    const bool sodium = is_sodium(*np.provider);
    auto code = [&](EncrId id, uint16_t bits, size_t keymat_size) {
      return err(np.provider->make_cipher(id, bits, pattern(keymat_size, 9)).status());
    };
    if (!sodium) {
      // A 128-bit key with a 192-bit Key Length and so on; CTR without its
      // nonce (RFC 3686 section 5.1); Key Lengths AES does not have.
      CHECK(code(EncrId::aes_cbc, 128, 24) == "invalid_key_length");
      CHECK(code(EncrId::aes_cbc, 256, 16) == "invalid_key_length");
      CHECK(code(EncrId::aes_cbc, 128, 20) == "invalid_key_length");
      CHECK(code(EncrId::aes_ctr, 128, 16) == "invalid_key_length");
      CHECK(code(EncrId::aes_ctr, 192, 24) == "invalid_key_length");
      CHECK(code(EncrId::aes_ctr, 256, 37) == "invalid_key_length");
      for (uint16_t bits : {uint16_t{0}, uint16_t{64}, uint16_t{160}, uint16_t{512}}) {
        CHECK(code(EncrId::aes_cbc, bits, bits / 8u) == "invalid_key_length");
        CHECK(code(EncrId::aes_ctr, bits, bits / 8u + 4u) == "invalid_key_length");
      }
      // ENCR_NULL has no key (RFC 2410 section 2).
      CHECK(code(EncrId::null, 0, 1) == "invalid_key_length");
      CHECK(code(EncrId::null, 128, 16) == "invalid_key_length");
      CHECK(code(EncrId::aes_cbc, 128, 16) == "ok");
      // ipsec-mb: ENCR_NULL is left to mbedTLS (nothing to accelerate).
      CHECK(code(EncrId::null, 0, 0) == (is_ipsec_mb(*np.provider) ? "unsupported_algorithm" : "ok"));
    } else {
      CHECK(code(EncrId::aes_cbc, 128, 16) == "unsupported_algorithm");
      CHECK(code(EncrId::aes_ctr, 128, 20) == "unsupported_algorithm");
      CHECK(code(EncrId::null, 0, 0) == "unsupported_algorithm");
    }
    // AEAD transforms are not ciphers; unknown and unimplemented IDs.
    for (EncrId id : {EncrId::aes_gcm_16, EncrId::aes_ccm_8, EncrId::null_auth_aes_gmac,
                      EncrId::chacha20_poly1305, EncrId::des3, EncrId::camellia_cbc, EncrId::camellia_ctr,
                      static_cast<EncrId>(0), static_cast<EncrId>(4000)}) {
      INFO("id: " << static_cast<int>(id));
      CHECK(code(id, 128, 16) == "unsupported_algorithm");
      CHECK(code(id, 128, 20) == "unsupported_algorithm");
    }
  }
}

}  // namespace
