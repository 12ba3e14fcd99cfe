// SPDX-License-Identifier: Apache-2.0
// Known-answer and negative tests for crypto/aead.hpp: AES-GCM (RFC 4106),
// AES-CCM (RFC 4309), AES-GMAC (RFC 4543) and ChaCha20-Poly1305 (RFC 7634),
// run against every provider that implements the transform.
//
// The Aead API takes KEYMAT = key || salt and an 8-octet explicit IV; the
// nonce is salt || IV. A published 12-octet nonce therefore splits into salt =
// its first 4 octets and IV = its last 8 (GCM, GMAC, ChaCha20-Poly1305); an
// 11-octet CCM nonce into salt = first 3 octets and IV = last 8.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "crypto/crypto_test_util.hpp"
#include "ipsec/crypto/aead.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"
#include "test_util.hpp"

namespace {

using ipsec::test::concat;
using ipsec::test::err;
using ipsec::test::is_sodium;
using ipsec::test::NamedProvider;

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::MutableByteView;
using ipsec::Status;
using ipsec::crypto::Aead;
using ipsec::crypto::AeadOp;
using ipsec::crypto::DefaultProvider;
using ipsec::crypto::EncrId;
using ipsec::crypto::MbedtlsProvider;
using ipsec::crypto::Provider;
using ipsec::crypto::SodiumProvider;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using ipsec::test::to_hex;

// providers: those of crypto_test_util.hpp, plus ipsec-mb when this build
// and CPU have it (IpsecMbProvider::available()).
std::vector<NamedProvider> providers() {
  auto out = ipsec::test::providers();
  static ipsec::crypto::IpsecMbProvider ipsec_mb;
  if (ipsec::crypto::IpsecMbProvider::available()) out.push_back({"IpsecMbProvider", &ipsec_mb});
  return out;
}

bool sodium_supports(EncrId id, uint16_t key_bits) {
  if (id == EncrId::chacha20_poly1305) return true;
  return id == EncrId::aes_gcm_16 && key_bits == 256 && SodiumProvider::aes256gcm_available();
}

// ipsec-mb: AES-GCM-8/12/16, GMAC and ChaCha20-Poly1305, not AES-CCM.
bool ipsec_mb_supports(EncrId id) {
  return ipsec::crypto::IpsecMbProvider::available() && id != EncrId::aes_ccm_8 && id != EncrId::aes_ccm_12 &&
         id != EncrId::aes_ccm_16;
}

bool is_default(const Provider& p) { return std::string_view(p.name()) == "default"; }
bool is_ipsec_mb(const Provider& p) { return std::string_view(p.name()) == "ipsec-mb"; }

// supports: whether provider p implements (id, key_bits) (provider.hpp).
bool supports(const Provider& p, EncrId id, uint16_t key_bits) {
  if (is_sodium(p)) return sodium_supports(id, key_bits);
  if (is_ipsec_mb(p)) return ipsec_mb_supports(id);
  return true;
}

// expected_backend: DefaultProvider takes ipsec-mb, then libsodium, where
// they can (provider.hpp's ranking).
std::string expected_backend(const Provider& p, EncrId id, uint16_t key_bits) {
  if (is_ipsec_mb(p) || (is_default(p) && ipsec_mb_supports(id))) return "ipsec-mb";
  if (is_sodium(p) || (is_default(p) && sodium_supports(id, key_bits))) return "libsodium";
  return "mbedtls";
}

Bytes concat(const Bytes& a, const Bytes& b) { return ipsec::test::concat({a, b}); }

bool all_zero(const Bytes& b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

// pattern: deterministic filler for round trips.
Bytes pattern(size_t n, uint8_t seed) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + 7 * i + (i >> 8));
  return out;
}

struct Kat {
  std::string source;
  EncrId id;
  uint16_t key_bits;
  Bytes key;
  Bytes salt;
  Bytes iv;
  Bytes aad;
  Bytes pt;
  Bytes ct;
  Bytes tag;
};

// check_kat: seal pt and compare with ct and tag; open ct and compare with pt;
// on every provider (unsupported_algorithm where the provider lacks it).
void check_kat(const Kat& v) {
  INFO("vector: " << v.source);
  REQUIRE(v.iv.size() == Aead::kIvSize);
  const Bytes keymat = concat(v.key, v.salt);
  const auto info = ipsec::crypto::encr_info(v.id);
  REQUIRE(info.has_value());
  REQUIRE(keymat.size() == info->keymat_size(v.key_bits));
  for (const NamedProvider& np : providers()) {
    INFO("provider: " << np.name);
    auto made = np.provider->make_aead(v.id, v.key_bits, keymat);
    if (!supports(*np.provider, v.id, v.key_bits)) {
      CHECK(err(made.status()) == "unsupported_algorithm");
      continue;
    }
    REQUIRE(made.ok());
    Aead& aead = **made;
    CHECK(aead.id() == v.id);
    CHECK(aead.key_size() == v.key.size());
    CHECK(aead.icv_size() == v.tag.size());
    CHECK(std::string(aead.backend()) == expected_backend(*np.provider, v.id, v.key_bits));

    Bytes data = v.pt;
    Bytes icv(v.tag.size(), 0xee);
    REQUIRE(err(aead.seal(v.iv, v.aad, data, icv)) == "ok");
    CHECK(to_hex(data) == to_hex(v.ct));
    CHECK(to_hex(icv) == to_hex(v.tag));

    data = v.ct;
    CHECK(err(aead.open(v.iv, v.aad, data, v.tag)) == "ok");
    CHECK(to_hex(data) == to_hex(v.pt));
  }
}

// ---- AES-GCM ---------------------------------------------------------------
// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", revised
// submission to NIST (2005), appendix B, the test cases with 96-bit IVs:
// 1-4 (AES-128), 7-10 (AES-192), 13-16 (AES-256).

struct GcmCase {
  int number;
  uint16_t key_bits;
  const char* key;
  const char* pt;
  const char* aad;
  const char* iv;  // 96 bits: salt (4 octets) || explicit IV (8 octets)
  const char* ct;
  const char* tag;
};

constexpr const char* kGcmP64 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
constexpr const char* kGcmP60 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
constexpr const char* kGcmA = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr const char* kGcmIv = "cafebabefacedbaddecaf888";
constexpr const char* kGcmIv0 = "000000000000000000000000";
constexpr const char* kGcmK128 = "feffe9928665731c6d6a8f9467308308";
constexpr const char* kGcmK192 = "feffe9928665731c6d6a8f9467308308feffe9928665731c";
constexpr const char* kGcmK256 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";

const GcmCase kGcmCases[] = {
    {1, 128, "00000000000000000000000000000000", "", "", kGcmIv0, "", "58e2fccefa7e3061367f1d57a4e7455a"},
    {2, 128, "00000000000000000000000000000000", "00000000000000000000000000000000", "", kGcmIv0,
     "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
    {3, 128, kGcmK128, kGcmP64, "", kGcmIv,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {4, 128, kGcmK128, kGcmP60, kGcmA, kGcmIv,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {7, 192, "000000000000000000000000000000000000000000000000", "", "", kGcmIv0, "",
     "cd33b28ac773f74ba00ed1f312572435"},
    {8, 192, "000000000000000000000000000000000000000000000000", "00000000000000000000000000000000", "",
     kGcmIv0, "98e7247c07f0fe411c267e4384b0f600", "2ff58d80033927ab8ef4d4587514f0fb"},
    {9, 192, kGcmK192, kGcmP64, "", kGcmIv,
     "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
     "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256",
     "9924a7c8587336bfb118024db8674a14"},
    {10, 192, kGcmK192, kGcmP60, kGcmA, kGcmIv,
     "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
     "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710",
     "2519498e80f1478f37ba55bd6d27618c"},
    {13, 256, "0000000000000000000000000000000000000000000000000000000000000000", "", "", kGcmIv0, "",
     "530f8afbc74536b9a963b4f1c4cb738b"},
    {14, 256, "0000000000000000000000000000000000000000000000000000000000000000",
     "00000000000000000000000000000000", "", kGcmIv0, "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {15, 256, kGcmK256, kGcmP64, "", kGcmIv,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {16, 256, kGcmK256, kGcmP60, kGcmA, kGcmIv,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

// split12: a 96-bit nonce as (salt, explicit IV).
std::pair<Bytes, Bytes> split_nonce(const Bytes& nonce, size_t salt_size) {
  REQUIRE(nonce.size() == salt_size + Aead::kIvSize);
  const auto mid = nonce.begin() + static_cast<std::ptrdiff_t>(salt_size);
  return {Bytes(nonce.begin(), mid), Bytes(mid, nonce.end())};
}

TEST_CASE("AES-GCM: GCM specification test cases with 96-bit IVs, ICV 16/12/8 octets") {
  for (const GcmCase& c : kGcmCases) {
    const auto [salt, iv] = split_nonce(from_hex(c.iv), 4);
    const Bytes tag = from_hex(c.tag);
    // ENCR_AES_GCM_16/12/8 (RFC 4106 section 6): the ICV is the leftmost
    // octets of the 16-octet GCM tag.
    const std::pair<EncrId, size_t> variants[] = {
        {EncrId::aes_gcm_16, 16}, {EncrId::aes_gcm_12, 12}, {EncrId::aes_gcm_8, 8}};
    for (const auto& [id, icv_len] : variants) {
      check_kat(Kat{"GCM spec test case " + std::to_string(c.number) + " ICV " + std::to_string(icv_len), id,
                    c.key_bits, from_hex(c.key), salt, iv, from_hex(c.aad), from_hex(c.pt), from_hex(c.ct),
                    Bytes(tag.begin(), tag.begin() + static_cast<std::ptrdiff_t>(icv_len))});
    }
  }
}

// ---- AES-GMAC (RFC 4543) ---------------------------------------------------
// RFC 4543 has no test vectors. GMAC is GCM with an empty plaintext, so the
// GCM spec test cases 1, 7 and 13 (empty P and A) apply, plus Wycheproof
// testvectors_v1/aes_gmac_test.json (MacWithIvTest, 96-bit IVs), whose "msg"
// is what GMAC authenticates: the AAD.

struct GmacCase {
  const char* source;
  uint16_t key_bits;
  const char* key;
  const char* iv;
  const char* msg;
  const char* tag;
};

const GmacCase kGmacCases[] = {
    {"GCM spec test case 1", 128, "00000000000000000000000000000000", kGcmIv0, "",
     "58e2fccefa7e3061367f1d57a4e7455a"},
    {"GCM spec test case 7", 192, "000000000000000000000000000000000000000000000000", kGcmIv0, "",
     "cd33b28ac773f74ba00ed1f312572435"},
    {"GCM spec test case 13", 256, "0000000000000000000000000000000000000000000000000000000000000000",
     kGcmIv0, "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"Wycheproof aes_gmac tcId 1", 128, "98b08a72ffde0ded4bec9d2a8db57235", "1595248735310eb710519c2b", "",
     "5118cc71501c8273a43662b981191750"},
    {"Wycheproof aes_gmac tcId 2", 128, "f0cfce280656fabd93f68ba6b3a3ad6e", "0a38ca626b430ed84a2a8dfe", "4b",
     "8677a0160a923ce7437ca94b8de97da5"},
    {"Wycheproof aes_gmac tcId 5", 128, "8e2c0cc624728af2195d46775502ec13", "e8d43d5646bb7dde8a1e9374",
     "f7efb072100cc6", "2b4e06a558a40542c0fdc7149678c8b8"},
    {"Wycheproof aes_gmac tcId 7", 128, "fe3f266f5f236669582bd80618760543", "014313723d1860bf8f4b11fd",
     "dc25f04acfbdbc986a107043286eae", "60392ad41debec0db43d97dfb3798c91"},
    {"Wycheproof aes_gmac tcId 8", 128, "1d4a92394c7356a6f528cfb3adb8f253", "02194ece3bc50c51c52bdd83",
     "19b69d4178d49c20b4ee5846cb440c99", "3790b32d5cda9f8ef72b643d701077d3"},
    {"Wycheproof aes_gmac tcId 9", 128, "c9859c8b39d8d7e811d8ae45d9b85882", "110d550119d71a0945bfecbb",
     "36717076748d9351e5a3cc67b9e8833e07", "f0b26b17b28ea92708b12b871f3b3071"},
    {"Wycheproof aes_gmac tcId 10", 128, "8b4fd3d3055746cb2dcd9b08c298386f", "1aac5cca3d02d40f57fabecf",
     "83e5abbbfed5eeb353b25f36e4adc0f29060c55c08ae4f80", "2c9c99e071f1d2783a47c7a847a3b76a"},
    {"Wycheproof aes_gmac tcId 11", 128, "46c33fff8898c4a4985599ccc05d0571", "01da1ca72e26f6d6fa9ce281",
     "038537bf94e1d7e14f68b8d5458241e34f5158dea6f8052049b9dad8fb66cb6e0ba6cc223f675614e95d1527c746e650"
     "e9fc6aca69e682d9e30ac06e0a48c0a0428ec1ae23739d82fc246e4cd6bc27cd1d54c0e630c1624fe3dbd0a8cea3b7c8"
     "f2d7c1cca8b8e086cab02153be762d59e49c533cb39e65ab37f6cad2290d0dfe2a",
     "feeec6276f89393b5a5222e0ebb160fd"},
    {"Wycheproof aes_gmac tcId 139", 192, "ded6ff2255658732f0fef08407136893f12edfebdf86a214",
     "0536e9ff304594f2adfe5e02", "", "59a1460f6283168b32c7f527b7a76f12"},
    {"Wycheproof aes_gmac tcId 140", 192, "6ada91c9742dc01e953ef120b22a2649c0be9304386515a2",
     "e19faa23f871fc6658f5b596", "0d", "b1d2a3db724ff1ef11aa76954e39498e"},
    {"Wycheproof aes_gmac tcId 143", 192, "356ae80d9ff51f72920a0bcc807837cd797768adba48751c",
     "ae0a4c452d43a2c841d6e0fd", "a8ab4d4d07c71e", "0431ff7784b4556ec63124cea03eb039"},
    {"Wycheproof aes_gmac tcId 145", 192, "9c426c09c0a0c519a554841eb769886aa3d82725e01b2505",
     "8f6441ffb977de176c4f5336", "e65680b9aeeb43bb4144900800f3bd", "0f392a50fe0f183ad9411a6165d54bda"},
    {"Wycheproof aes_gmac tcId 146", 192, "6031b3a177b43045ae587ffb0d228b0414ff26b7206c30f5",
     "8af8ef74bd2521f6e711950b", "dc89f1dd15f3258b7e921173650eb9ba", "68a1249d6487f46c107bdb8417271e26"},
    {"Wycheproof aes_gmac tcId 147", 192, "364289eccff53efb98da8ee437d6d389775a3cf2b4c970cd",
     "7245a515656a2236c38c85aa", "6647b5da47d16983205ce244880ca60519", "73b98c9398c70a833e3dbef4556d8fa7"},
    {"Wycheproof aes_gmac tcId 148", 192, "4c41b2fe3e60bce3a945e2facd9754c4f60b192da1fe110e",
     "4ab51fc459e4f4a5b44dcfa3", "11c107e4b302fd91ea9219d7fc0079e8ac4bdcfc71ff027a",
     "facd4d12dfafd6bd1f421a5c4c6217ac"},
    {"Wycheproof aes_gmac tcId 277", 256, "d796a05cef109d0ef3a81107a11bd3691593c11a0c98eb4d31ad913b1e4e93be",
     "36dc700abd99d99d8f5bc0ce", "", "75b098b6025155fd699e66908c400156"},
    {"Wycheproof aes_gmac tcId 278", 256, "31e39f0079a182c9b2ba38b8bcc48518a2dff1df885285fc0542f83b255a520c",
     "2cc7459fa6a53f8c9af14154", "45", "1ee076f708e64cc55c71d8633ec29231"},
    {"Wycheproof aes_gmac tcId 281", 256, "4576c1e2470b557f85ae2defc078cb9eeac52b3235137f8bcefd9c116b804d2c",
     "20d29dd528b26a716b1122d4", "4e284ab6f6e49b", "eb910afec079b3da4601fe6c9de32969"},
    {"Wycheproof aes_gmac tcId 283", 256, "30f10609fcf8ae398fa50fb2807e0b605fe1f5962f7cd7d663fa2c50bb0ed537",
     "f251345f8011b4f7fdd59aa2", "c66f86fbee5eda6a0ac4f64d7ef4b8", "b7e5ecd235a406152edd4909f1635206"},
    {"Wycheproof aes_gmac tcId 284", 256, "b5ca16877137e3595d056001b182eb1651e4ae6af080ce7ee0a0c5651a094603",
     "1fc2128cf247fecb746859fc", "ea94e062b10e5dfd2ea993cb6a103d98", "21439fb407247ac0a98a302d6cff4b0f"},
    {"Wycheproof aes_gmac tcId 285", 256, "b5684255463e5788bec2d75c8c463a658c79428d49fb2af5f1256c6bb1711f33",
     "9388c4bf74157c590180e0c1", "329f304b5d32e48186822306d6641c090a", "ff54ecd26aa94aacd6d92bd9f6323ff9"},
    {"Wycheproof aes_gmac tcId 286", 256, "76074fefee148cd8873d2351175b8f0b46ba3881f07d5bd7e67a659e01830a40",
     "0c5b68a8c3fdf645e3ac1e56", "8c0337fc9401e6a58e408a11dff57ab2ddc17c1682778fa9",
     "3686f1f8c18a944cb970f089c939ccd5"},
};

TEST_CASE("AES-GMAC: GCM spec empty-message cases and Wycheproof aes_gmac vectors") {
  for (const GmacCase& c : kGmacCases) {
    const auto [salt, iv] = split_nonce(from_hex(c.iv), 4);
    check_kat(Kat{c.source,
                  EncrId::null_auth_aes_gmac,
                  c.key_bits,
                  from_hex(c.key),
                  salt,
                  iv,
                  from_hex(c.msg),
                  {},
                  {},
                  from_hex(c.tag)});
  }
}

// ---- AES-CCM (RFC 4309: 11-octet nonce, L = 4) ------------------------------
// Wycheproof testvectors/aes_ccm_test.json, the groups with ivSize 88 (an
// 11-octet nonce, the only size RFC 4309 uses) and tagSize 128. No published
// vectors with 11-octet nonces and 8- or 12-octet tags were found (NIST CAVP
// varies the nonce length only with 16-octet tags, VNT; Wycheproof varies
// the tag length only with 12-octet nonces), so ENCR_AES_CCM_8/12 are
// covered by the structural checks and round trips below.

struct CcmCase {
  int tc_id;
  uint16_t key_bits;
  const char* key;
  const char* nonce;  // 11 octets: salt (3) || explicit IV (8)
  const char* aad;
  const char* msg;
  const char* ct;
  const char* tag;
};

const CcmCase kCcmCases[] = {
    {220, 128, "9d2fa75929612e1213460f998946dcec", "0e948a03dbfa10817e8826", "", "", "",
     "2f1fa3585b9a11ff47bd486f95572246"},
    {221, 128, "7a970406a747c2327ecbc8b107a190cd", "99b079de952d60da0d034b", "2f080b2deb6644ef", "", "",
     "9dca9ba441013ce9fc0ac3dbf414626d"},
    {222, 128, "acab31483d9de4ad77f4e63fe41b57ae", "5c0939e71bae1a9de167d4", "",
     "e4d72b2f7cb69bc54a49f4d5cea4f23a", "0c506843ba7bd2dc4578e6bb83fd0c8d",
     "c275373037635bae294f99c8e46964b3"},
    {223, 128, "82841ef7fbae35546525fbbebf4718fb", "b5cd818f73a36ed025b6cf", "44f48c2a20456358",
     "8c2c823bb39941b1c6b75bbc82f05ba4", "b287c637a7554362c80d6b24d50ddfb3",
     "3967277da0f856f8f0ad49282894d2bb"},
    {224, 128, "f9c6d9627fd2e731e2f115b3d0a53bfd", "084558ebfb6582f3d1879a", "",
     "7463af94626279ce0112f670c3115099fd", "d46b6e962b6b7a2352fc437914d9c0d9c0",
     "ebe336176e27041ae78791aca34548c8"},
    {225, 128, "1d286e525ec2864d9ea6e7adfbdc4970", "1ad44879f1947abd503dce", "1db0eaaaa1e2c848",
     "7b40e6c987692d0202cb6f44b423c267dd", "84f91f9d35b998598e50feb34dcaa0d260",
     "ae4e38cc4b730944bc459df85a536f4e"},
    {256, 192, "87c55b2f185f177faaf4b16d93af6dad477146345d0ea992", "0946c69953f4b952bc7c23", "", "", "",
     "257b3c597ecd1d67c3dd35dc70c68e48"},
    {257, 192, "8207e8d57dccdf5480f702c1fa72d0c6d02f1badc6fc08c5", "c18e46a70c592980a2ccc2",
     "bd2e2a9da32a9d67", "", "", "1145c20b7f31d57d458afc650a6d4590"},
    {258, 192, "2c2f7e8bb75ba931a711eca4d319e19ad89767248fee5360", "21a10456470d083ca7bd7c", "",
     "1e9f467441e487bf68d10be853b24479", "186b50f0edf7b523021384f5d8c09049",
     "8db01236b715a76432fcb02cff2f6ba6"},
    {259, 192, "0a3bf0a926fb14a3b716bfa021a208da0330e57bed36828a", "a0ba36edc43d935ee94213",
     "3fcd93ccb8e97956", "9ab6c109c8069d054ccbb5c33c6e70d0", "27d1e353233755a2fe28231637739c46",
     "b9b74765ed3d53031bf3c7349e74340e"},
    {260, 192, "a68dfe22cef2bff0f28d4b68c2a6938b16dc2109bab09c38", "fe76a03b770b431dc6872b", "",
     "f5569155305800bc94184b1ef1c152e197", "34282b16489e7bc7136a2498328bd22e76",
     "e9b7ae57e2b7f60d09f50bed23b93438"},
    {261, 192, "ffe5d2ad71d432d6cd5f1072ec2acb7d7cde9c5c615d0eb9", "ea2198307402a106ea4293",
     "f93db4f4aec8afe8", "c9db4d10d42340ac736271edf9f6581ce8", "bd960c7f60392e8d0afb28ba16ea63afd3",
     "f2ca88d549dff207d979756d13e865d9"},
    {292, 256, "46948c6d69845499104d5dc2fae44880cfe7d0bcbcee57efc0133c266b6d2621", "05f715fd0a5603dd84af76",
     "", "", "", "11e678c0b260c5a3ea70f6a46e4ef436"},
    {293, 256, "e689eb77a578399fa17a75083d25018ffbb68f24d77a029757541d6539bffbdf", "4a419618b2832de7a4f99b",
     "ecf46eaca841769f", "", "", "4a2615d2d5f8e97b92743b0ef2f486ab"},
    {294, 256, "aacb1336d6ee4d96a9a12e5b8f25f04800d4aaba55f379218d64edb3460fe215", "994c191e7a29c0efc1eb4d",
     "", "7bead5abccc876efb0109e412f06c751", "5aa31aa5eb103655b78c4f7bcf08c917",
     "64e41d31eb0df80adcee328f081c4aeb"},
    {295, 256, "60d6841e9e6218a2c8605a7794e74fb215dcf3a70a0015d497ed16564f2a83a0", "4c93f591af92f16596554e",
     "7cb0eb9aa21fe859", "c0d1e635586b0ef835c01479a32175a3", "0c266113544d7a901ce721e1ead6d8f9",
     "8a149eaa05c8722b2663c345a6a5418c"},
    {296, 256, "9dcde57cec27de6b584db4bd810935bd3b3c4ea8f22a16a7b2a62ef51679a13b", "5c3439bdca457b02b04925",
     "", "402cb1fd3b0796200d888f7b399235f5b5", "43f7d99c1a0e504aadd8f8b2981b4aea52",
     "958e19b5c14eebd2d25509336aa6d4c2"},
    {297, 256, "b3a06e00100ffc42dbdd5317f43d2b48f8c11e4bd6e9e3edab58e9944c559278", "f3d24b362bf12b84b8a66a",
     "0242b5e804a79188", "03b03b45f6f320b99d8158ff8b00f0ad92", "d127fd42b2ca4beca9f9ac86b63a1622ef",
     "8a499aab9e8f4096da603c6ccfb9ac4a"},
};

TEST_CASE("AES-CCM-16: Wycheproof aes_ccm vectors with 11-octet nonces (128/192/256-bit keys)") {
  for (const CcmCase& c : kCcmCases) {
    const auto [salt, iv] = split_nonce(from_hex(c.nonce), 3);
    check_kat(Kat{"Wycheproof aes_ccm tcId " + std::to_string(c.tc_id), EncrId::aes_ccm_16, c.key_bits,
                  from_hex(c.key), salt, iv, from_hex(c.aad), from_hex(c.msg), from_hex(c.ct),
                  from_hex(c.tag)});
  }
}

TEST_CASE("AES-CCM-8/12: the payload encryption does not depend on the ICV length, the ICV does") {
  // CCM encrypts the payload with counter blocks A_1.. whose flags octet
  // holds only L' (RFC 3610 section 2.3, NIST SP 800-38C A.3), so CCM_8,
  // CCM_12 and CCM_16 give the same ciphertext under one key and nonce. The
  // tag length is encoded in B_0 (RFC 3610 section 2.2), so a shorter ICV is
  // not a prefix of the 16-octet one (unlike GCM).
  MbedtlsProvider mbedtls;
  for (const CcmCase& c : kCcmCases) {
    INFO("Wycheproof aes_ccm tcId " << c.tc_id);
    const auto [salt, iv] = split_nonce(from_hex(c.nonce), 3);
    const Bytes km = concat(from_hex(c.key), salt);
    const Bytes aad = from_hex(c.aad);
    const Bytes tag16 = from_hex(c.tag);
    for (const auto& [id, len] :
         {std::pair{EncrId::aes_ccm_8, size_t{8}}, std::pair{EncrId::aes_ccm_12, size_t{12}}}) {
      for (const NamedProvider& np : providers()) {
        INFO("provider: " << np.name);
        auto made = np.provider->make_aead(id, c.key_bits, km);
        if (!supports(*np.provider, id, c.key_bits)) {
          CHECK(err(made.status()) == "unsupported_algorithm");
          continue;
        }
        REQUIRE(made.ok());
        Bytes data = from_hex(c.msg);
        Bytes icv(len);
        REQUIRE(err((*made)->seal(iv, aad, data, icv)) == "ok");
        CHECK(to_hex(data) == std::string(c.ct));
        CHECK(to_hex(icv) != to_hex(ByteView(tag16).first(len)));
        CHECK(err((*made)->open(iv, aad, data, icv)) == "ok");
        CHECK(to_hex(data) == std::string(c.msg));
      }
    }
  }
}

// ---- ChaCha20-Poly1305 -----------------------------------------------------

constexpr const char* kRfc8439Key = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";

TEST_CASE("ChaCha20-Poly1305: RFC 8439 section 2.8.2 and appendix A.5, RFC 7634 appendices A and B") {
  // RFC 8439 2.8.2: nonce 07000000 40414243 44454647 (the "constant" 07000000
  // is the salt, the "IV" 4041424344454647 the explicit IV).
  check_kat(
      Kat{"RFC 8439 section 2.8.2", EncrId::chacha20_poly1305, 0, from_hex(kRfc8439Key), from_hex("07000000"),
          from_hex("4041424344454647"), from_hex("50515253c0c1c2c3c4c5c6c7"),
          from_hex("4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a20"
                   "4966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f722074686520"
                   "6675747572652c2073756e73637265656e20776f756c642062652069742e"),
          from_hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                   "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                   "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                   "3ff4def08e4b7a9de576d26586cec64b6116"),
          from_hex("1ae10b594f09e26a7e902ecbd0600691")});
  // RFC 8439 A.5: nonce 00000000 01020304 05060708.
  check_kat(Kat{"RFC 8439 appendix A.5", EncrId::chacha20_poly1305, 0,
                from_hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0"),
                from_hex("00000000"), from_hex("0102030405060708"), from_hex("f33388860000000000004e91"),
                from_hex("496e7465726e65742d4472616674732061726520647261667420646f63756d65"
                         "6e74732076616c696420666f722061206d6178696d756d206f6620736978206d"
                         "6f6e74687320616e64206d617920626520757064617465642c207265706c6163"
                         "65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65"
                         "6e747320617420616e792074696d652e20497420697320696e617070726f7072"
                         "6961746520746f2075736520496e7465726e65742d4472616674732061732072"
                         "65666572656e6365206d6174657269616c206f7220746f206369746520746865"
                         "6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67"
                         "726573732e2fe2809d"),
                from_hex("64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
                         "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
                         "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
                         "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
                         "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
                         "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
                         "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
                         "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
                         "a6ad5cb4022b02709b"),
                from_hex("eead9d67890cbb22392336fea1851f38")});
  // RFC 7634 appendix A (ESP): KEYMAT = key || salt a0a1a2a3, IV
  // 1011121314151617, AAD = SPI 01020304 || sequence number 00000005; the
  // plaintext is an ICMP echo in IPv4 followed by the ESP trailer.
  check_kat(
      Kat{"RFC 7634 appendix A (ESP example)", EncrId::chacha20_poly1305, 0, from_hex(kRfc8439Key),
          from_hex("a0a1a2a3"), from_hex("1011121314151617"), from_hex("0102030400000005"),
          from_hex("45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec100007362708090a0b0c0d"
                   "0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233343536"
                   "3701020204"),
          from_hex("24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa"
                   "95dfab4c02f72aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da9165b828"
                   "29f641e0"),
          from_hex("76aaa8266b7fb0f7b11b369907e1ad43")});
  // RFC 7634 appendix B (IKEv2): the AAD is the IKE header and the
  // Encrypted payload header.
  check_kat(Kat{"RFC 7634 appendix B (IKEv2 example)", EncrId::chacha20_poly1305, 0, from_hex(kRfc8439Key),
                from_hex("a0a1a2a3"), from_hex("1011121314151617"),
                from_hex("c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d72e202500000000090000004529000029"),
                from_hex("0000000c000040010000000a00"), from_hex("610394701f8d017f7c12924889"),
                from_hex("6b71bfe25236efd7cdc67066906315b2")});
}

// ---- Round trips, burst, negatives -------------------------------------------

struct Config {
  EncrId id;
  uint16_t key_bits;
};

std::vector<Config> all_configs() {
  std::vector<Config> out;
  for (EncrId id : {EncrId::aes_gcm_8, EncrId::aes_gcm_12, EncrId::aes_gcm_16, EncrId::aes_ccm_8,
                    EncrId::aes_ccm_12, EncrId::aes_ccm_16, EncrId::null_auth_aes_gmac}) {
    for (uint16_t bits : {uint16_t{128}, uint16_t{192}, uint16_t{256}}) out.push_back({id, bits});
  }
  out.push_back({EncrId::chacha20_poly1305, 0});
  return out;
}

bool is_gmac(EncrId id) { return id == EncrId::null_auth_aes_gmac; }

Bytes keymat_for(const Config& c, uint8_t seed) {
  return pattern(ipsec::crypto::encr_info(c.id)->keymat_size(c.key_bits), seed);
}

std::string config_name(const Config& c) {
  return std::string(ipsec::crypto::to_string(c.id)) + "/" + std::to_string(c.key_bits);
}

constexpr size_t kSizes[] = {0, 1, 15, 16, 17, 1400};

TEST_CASE("AEAD round trips for every transform and key size at 0, 1, 15, 16, 17 and 1400 octets") {
  for (const Config& c : all_configs()) {
    INFO("config: " << config_name(c));
    const Bytes keymat = keymat_for(c, 0x31);
    const size_t icv_len = ipsec::crypto::encr_info(c.id)->icv_size;
    for (const NamedProvider& np : providers()) {
      INFO("provider: " << np.name);
      auto made = np.provider->make_aead(c.id, c.key_bits, keymat);
      if (!supports(*np.provider, c.id, c.key_bits)) {
        CHECK(err(made.status()) == "unsupported_algorithm");
        continue;
      }
      REQUIRE(made.ok());
      Aead& aead = **made;
      for (size_t n : kSizes) {
        INFO("size: " << n);
        const Bytes iv = pattern(8, static_cast<uint8_t>(n));
        // GMAC authenticates everything as AAD: vary the AAD size instead.
        const Bytes pt = is_gmac(c.id) ? Bytes{} : pattern(n, 0x5a);
        const Bytes aad = is_gmac(c.id) ? pattern(n, 0x17) : pattern(12, 0x17);
        Bytes data = pt;
        Bytes icv(icv_len);
        REQUIRE(err(aead.seal(iv, aad, data, icv)) == "ok");
        if (n >= 8 && !is_gmac(c.id)) CHECK(to_hex(data) != to_hex(pt));
        CHECK(err(aead.open(iv, aad, data, icv)) == "ok");
        CHECK(to_hex(data) == to_hex(pt));
      }
    }
  }
}

TEST_CASE("AEAD interoperability: libsodium and mbedTLS agree where both implement a transform") {
  MbedtlsProvider mbedtls;
  SodiumProvider sodium;
  for (const Config& c : all_configs()) {
    if (!sodium_supports(c.id, c.key_bits)) continue;
    INFO("config: " << config_name(c));
    const Bytes keymat = keymat_for(c, 0x44);
    auto a = mbedtls.make_aead(c.id, c.key_bits, keymat);
    auto b = sodium.make_aead(c.id, c.key_bits, keymat);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    for (size_t n : kSizes) {
      INFO("size: " << n);
      const Bytes iv = pattern(8, 0x70);
      const Bytes aad = pattern(8, 0x71);
      const Bytes pt = pattern(n, 0x72);
      Bytes ct_a = pt, ct_b = pt, icv_a(16), icv_b(16);
      REQUIRE(err((*a)->seal(iv, aad, ct_a, icv_a)) == "ok");
      REQUIRE(err((*b)->seal(iv, aad, ct_b, icv_b)) == "ok");
      CHECK(to_hex(ct_a) == to_hex(ct_b));
      CHECK(to_hex(icv_a) == to_hex(icv_b));
      CHECK(err((*b)->open(iv, aad, ct_a, icv_a)) == "ok");
      CHECK(to_hex(ct_a) == to_hex(pt));
      CHECK(err((*a)->open(iv, aad, ct_b, icv_b)) == "ok");
      CHECK(to_hex(ct_b) == to_hex(pt));
    }
  }
}

TEST_CASE("AEAD in place inside one ESP packet buffer gives the same result as separate buffers") {
  // Layout as ESP lays it out (RFC 4303 section 2): SPI | sequence | IV |
  // payload | ICV, with AAD = SPI | sequence and the payload sealed where it
  // lies.
  for (const Config& c : all_configs()) {
    if (is_gmac(c.id)) continue;
    INFO("config: " << config_name(c));
    const Bytes keymat = keymat_for(c, 0x12);
    const size_t icv_len = ipsec::crypto::encr_info(c.id)->icv_size;
    for (const NamedProvider& np : providers()) {
      if (!supports(*np.provider, c.id, c.key_bits)) continue;
      INFO("provider: " << np.name);
      auto made = np.provider->make_aead(c.id, c.key_bits, keymat);
      REQUIRE(made.ok());
      Aead& aead = **made;
      const Bytes payload = pattern(100, 0x09);
      Bytes packet = pattern(8 + 8, 0xa0);  // SPI, sequence, IV
      packet.insert(packet.end(), payload.begin(), payload.end());
      packet.resize(packet.size() + icv_len);
      MutableByteView pkt(packet);
      REQUIRE(err(aead.seal(pkt.subspan(8, 8), pkt.first(8), pkt.subspan(16, payload.size()),
                            pkt.last(icv_len))) == "ok");

      Bytes data = payload;
      Bytes icv(icv_len);
      const Bytes aad(packet.begin(), packet.begin() + 8);
      const Bytes iv(packet.begin() + 8, packet.begin() + 16);
      REQUIRE(err(aead.seal(iv, aad, data, icv)) == "ok");
      CHECK(to_hex(pkt.subspan(16, payload.size())) == to_hex(data));
      CHECK(to_hex(pkt.last(icv_len)) == to_hex(icv));

      REQUIRE(err(aead.open(pkt.subspan(8, 8), pkt.first(8), pkt.subspan(16, payload.size()),
                            pkt.last(icv_len))) == "ok");
      CHECK(to_hex(pkt.subspan(16, payload.size())) == to_hex(payload));
    }
  }
}

TEST_CASE("AEAD burst API matches single calls and reports a status per packet") {
  const Config configs[] = {{EncrId::aes_gcm_16, 256},
                            {EncrId::aes_gcm_8, 128},
                            {EncrId::aes_ccm_12, 192},
                            {EncrId::chacha20_poly1305, 0},
                            {EncrId::null_auth_aes_gmac, 128}};
  constexpr size_t kOps = 5;
  for (const Config& c : configs) {
    INFO("config: " << config_name(c));
    const Bytes keymat = keymat_for(c, 0x66);
    const size_t icv_len = ipsec::crypto::encr_info(c.id)->icv_size;
    for (const NamedProvider& np : providers()) {
      if (!supports(*np.provider, c.id, c.key_bits)) continue;
      INFO("provider: " << np.name);
      auto made = np.provider->make_aead(c.id, c.key_bits, keymat);
      REQUIRE(made.ok());
      Aead& aead = **made;

      std::array<Bytes, kOps> ivs, aads, pts, data, icvs, want_ct, want_icv;
      std::array<AeadOp, kOps> ops{};
      for (size_t i = 0; i < kOps; ++i) {
        const size_t n = is_gmac(c.id) ? 0 : 40 * i + i;
        ivs[i] = pattern(8, static_cast<uint8_t>(0x10 + i));
        aads[i] = pattern(8 + i, static_cast<uint8_t>(0x20 + i));
        pts[i] = pattern(n, static_cast<uint8_t>(0x30 + i));
        want_ct[i] = pts[i];
        want_icv[i] = Bytes(icv_len);
        REQUIRE(err(aead.seal(ivs[i], aads[i], want_ct[i], want_icv[i])) == "ok");
        data[i] = pts[i];
        icvs[i] = Bytes(icv_len);
        ops[i] = AeadOp{&aead, ivs[i], aads[i], data[i], icvs[i], Status(Errc::crypto_backend_failure)};
      }
      aead.seal_burst(ops);
      for (size_t i = 0; i < kOps; ++i) {
        INFO("op: " << i);
        CHECK(err(ops[i].status) == "ok");
        CHECK(to_hex(data[i]) == to_hex(want_ct[i]));
        CHECK(to_hex(icvs[i]) == to_hex(want_icv[i]));
      }

      // open_burst with op 1 tampered (ICV), op 3 given a 7-octet IV.
      icvs[1][0] ^= 0x01;
      ops[3].iv = ByteView(ivs[3]).first(7);
      for (AeadOp& op : ops) op.status = Status(Errc::crypto_backend_failure);
      aead.open_burst(ops);
      for (size_t i = 0; i < kOps; ++i) {
        INFO("op: " << i);
        if (i == 1) {
          CHECK(err(ops[i].status) == "integrity_check_failed");
          CHECK(all_zero(data[i]));
        } else if (i == 3) {
          CHECK(err(ops[i].status) == "invalid_iv_length");
        } else {
          CHECK(err(ops[i].status) == "ok");
          CHECK(to_hex(data[i]) == to_hex(pts[i]));
        }
      }

      // A sealing burst reports argument errors per op too.
      std::array<AeadOp, 2> bad{};
      Bytes short_icv(icv_len - 1), d0 = pattern(is_gmac(c.id) ? 0 : 16, 1), d1 = d0, i1(icv_len);
      bad[0] = AeadOp{&aead, ivs[0], aads[0], d0, short_icv, Status()};
      bad[1] = AeadOp{&aead, ivs[1], aads[1], d1, i1, Status(Errc::crypto_backend_failure)};
      aead.seal_burst(bad);
      CHECK(err(bad[0].status) == "invalid_icv_length");
      CHECK(err(bad[1].status) == "ok");
    }
  }
}

TEST_CASE("AEAD open rejects a flipped bit in ciphertext, ICV, AAD, IV or salt, and zeroes the data") {
  for (const Config& c : all_configs()) {
    INFO("config: " << config_name(c));
    const Bytes keymat = keymat_for(c, 0x21);
    const size_t icv_len = ipsec::crypto::encr_info(c.id)->icv_size;
    for (const NamedProvider& np : providers()) {
      if (!supports(*np.provider, c.id, c.key_bits)) continue;
      INFO("provider: " << np.name);
      auto made = np.provider->make_aead(c.id, c.key_bits, keymat);
      REQUIRE(made.ok());
      Aead& aead = **made;
      const Bytes iv = pattern(8, 0x01);
      const Bytes aad = pattern(16, 0x02);
      const Bytes pt = is_gmac(c.id) ? Bytes{} : pattern(33, 0x03);
      Bytes ct = pt;
      Bytes icv(icv_len);
      REQUIRE(err(aead.seal(iv, aad, ct, icv)) == "ok");

      auto expect_reject = [&](const Bytes& v_iv, const Bytes& v_aad, const Bytes& v_ct, const Bytes& v_icv,
                               Aead& a) {
        Bytes data = v_ct;
        CHECK(err(a.open(v_iv, v_aad, data, v_icv)) == "integrity_check_failed");
        CHECK(all_zero(data));
      };
      // Every bit position of the ICV; a few of the others.
      for (size_t bit = 0; bit < icv_len * 8; ++bit) {
        Bytes t = icv;
        t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        expect_reject(iv, aad, ct, t, aead);
      }
      for (size_t bit : {size_t{0}, size_t{7}, size_t{8 * 16 + 3}, size_t{8 * 33 - 1}}) {
        if (bit / 8 < ct.size()) {
          Bytes t = ct;
          t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
          expect_reject(iv, aad, t, icv, aead);
        }
        if (bit / 8 < aad.size()) {
          Bytes t = aad;
          t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
          expect_reject(iv, t, ct, icv, aead);
        }
        if (bit / 8 < iv.size()) {
          Bytes t = iv;
          t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
          expect_reject(t, aad, ct, icv, aead);
        }
      }
      // Truncated or extended AAD.
      expect_reject(iv, Bytes(aad.begin(), aad.end() - 1), ct, icv, aead);
      expect_reject(iv, concat(aad, {0}), ct, icv, aead);

      // Wrong key, and the right key with another salt (the nonce differs).
      for (size_t at : {size_t{0}, keymat.size() - 1}) {
        Bytes other = keymat;
        other[at] ^= 0x80;
        auto wrong = np.provider->make_aead(c.id, c.key_bits, other);
        REQUIRE(wrong.ok());
        expect_reject(iv, aad, ct, icv, **wrong);
      }

      // The untouched packet still opens (no state left by the failures).
      Bytes data = ct;
      CHECK(err(aead.open(iv, aad, data, icv)) == "ok");
      CHECK(to_hex(data) == to_hex(pt));
    }
  }
}

TEST_CASE("AEAD argument errors: IV length, ICV length, GMAC with data") {
  for (const Config& c : all_configs()) {
    INFO("config: " << config_name(c));
    const Bytes keymat = keymat_for(c, 0x77);
    const size_t icv_len = ipsec::crypto::encr_info(c.id)->icv_size;
    for (const NamedProvider& np : providers()) {
      if (!supports(*np.provider, c.id, c.key_bits)) continue;
      INFO("provider: " << np.name);
      auto made = np.provider->make_aead(c.id, c.key_bits, keymat);
      REQUIRE(made.ok());
      Aead& aead = **made;
      const Bytes aad = pattern(8, 2);
      const size_t n = is_gmac(c.id) ? 0 : 20;

      for (size_t iv_len : {size_t{0}, size_t{4}, size_t{7}, size_t{9}, size_t{12}, size_t{16}}) {
        INFO("iv length: " << iv_len);
        const Bytes iv = pattern(iv_len, 3);
        Bytes data = pattern(n, 4);
        Bytes icv(icv_len);
        CHECK(err(aead.seal(iv, aad, data, icv)) == "invalid_iv_length");
        CHECK(err(aead.open(iv, aad, data, icv)) == "invalid_iv_length");
      }
      for (size_t bad : {size_t{0}, icv_len - 1, icv_len + 1, size_t{32}}) {
        INFO("icv length: " << bad);
        const Bytes iv = pattern(8, 3);
        Bytes data = pattern(n, 4);
        Bytes icv(bad);
        CHECK(err(aead.seal(iv, aad, data, icv)) == "invalid_icv_length");
        CHECK(err(aead.open(iv, aad, data, icv)) == "invalid_icv_length");
      }
      if (is_gmac(c.id)) {
        // RFC 4543 section 3: GMAC carries no ciphertext; the whole packet
        // is AAD.
        const Bytes iv = pattern(8, 3);
        Bytes data = pattern(1, 4);
        Bytes icv(icv_len);
        CHECK(err(aead.seal(iv, aad, data, icv)) == "invalid_argument");
        CHECK(err(aead.open(iv, aad, data, icv)) == "invalid_argument");
      }
    }
  }
}

TEST_CASE("make_aead rejects bad key lengths and KEYMAT sizes") {
  for (const Config& c : all_configs()) {
    INFO("config: " << config_name(c));
    const size_t size = ipsec::crypto::encr_info(c.id)->keymat_size(c.key_bits);
    for (const NamedProvider& np : providers()) {
      INFO("provider: " << np.name);
      for (size_t bad : {size - 1, size + 1, size_t{0}, size - 4}) {
        INFO("keymat size: " << bad);
        CHECK(err(np.provider->make_aead(c.id, c.key_bits, pattern(bad, 1)).status()) ==
              "invalid_key_length");
      }
      // Key Length attribute values that are not AES key sizes (RFC 7296
      // 3.3.5), and any Key Length for ChaCha20-Poly1305 but its fixed
      // 256 (RFC 7634 defines a 256-bit key only).
      const uint16_t bad_bits[] = {1, 64, 127, 160, 257, 512};
      for (uint16_t bits : bad_bits) {
        INFO("key bits: " << bits);
        CHECK(err(np.provider->make_aead(c.id, bits, pattern(bits / 8u + 4u, 1)).status()) ==
              "invalid_key_length");
      }
    }
  }
  for (const NamedProvider& np : providers()) {
    INFO("provider: " << np.name);
    // AES without a Key Length: there is no default size.
    CHECK(err(np.provider->make_aead(EncrId::aes_gcm_16, 0, pattern(20, 1)).status()) ==
          "invalid_key_length");
    CHECK(err(np.provider->make_aead(EncrId::aes_ccm_8, 0, pattern(19, 1)).status()) == "invalid_key_length");
    // ChaCha20-Poly1305 takes 0 (no attribute) or its fixed 256.
    CHECK(np.provider->make_aead(EncrId::chacha20_poly1305, 0, pattern(36, 1)).ok());
    CHECK(np.provider->make_aead(EncrId::chacha20_poly1305, 256, pattern(36, 1)).ok());
    CHECK(err(np.provider->make_aead(EncrId::chacha20_poly1305, 128, pattern(20, 1)).status()) ==
          "invalid_key_length");
    CHECK(err(np.provider->make_aead(EncrId::chacha20_poly1305, 0, pattern(32, 1)).status()) ==
          "invalid_key_length");
  }
}

TEST_CASE("make_aead: unsupported transforms") {
  const EncrId not_aead[] = {EncrId::aes_cbc, EncrId::aes_ctr, EncrId::null};
  const EncrId unknown[] = {EncrId::des3,           EncrId::camellia_ccm_16,   EncrId::camellia_cbc,
                            EncrId::aes_ccm_8_iiv,  EncrId::aes_gcm_16_iiv,    EncrId::chacha20_poly1305_iiv,
                            static_cast<EncrId>(0), static_cast<EncrId>(1024), static_cast<EncrId>(0xffff)};
  for (const NamedProvider& np : providers()) {
    INFO("provider: " << np.name);
    for (EncrId id : not_aead) {
      INFO("id: " << static_cast<int>(id));
      CHECK(err(np.provider->make_aead(id, 128, pattern(20, 1)).status()) == "unsupported_algorithm");
      CHECK(err(np.provider->make_aead(id, 128, pattern(16, 1)).status()) == "unsupported_algorithm");
    }
    for (EncrId id : unknown) {
      INFO("id: " << static_cast<int>(id));
      for (size_t n : {size_t{0}, size_t{19}, size_t{20}, size_t{36}}) {
        CHECK(err(np.provider->make_aead(id, 128, pattern(n, 1)).status()) == "unsupported_algorithm");
      }
    }
  }
  // libsodium implements only AES-256-GCM-16 (with AES-NI and PCLMUL) and
  // ChaCha20-Poly1305; everything else it refuses with well-formed KEYMAT.
  SodiumProvider sodium;
  for (const Config& c : all_configs()) {
    INFO("config: " << config_name(c));
    auto made = sodium.make_aead(c.id, c.key_bits, keymat_for(c, 1));
    if (sodium_supports(c.id, c.key_bits)) {
      CHECK(made.ok());
    } else {
      CHECK(err(made.status()) == "unsupported_algorithm");
    }
  }
  // ipsec-mb has no AES-CCM; with well-formed KEYMAT it says so.
  ipsec::crypto::IpsecMbProvider ipsec_mb;
  for (const Config& c : all_configs()) {
    INFO("config: " << config_name(c));
    auto made = ipsec_mb.make_aead(c.id, c.key_bits, keymat_for(c, 1));
    if (ipsec_mb_supports(c.id)) {
      CHECK(made.ok());
    } else {
      CHECK(err(made.status()) == "unsupported_algorithm");
    }
  }
}

}  // namespace

TEST_CASE("AEAD objects are safe for concurrent seal and open (crypto/aead.hpp contract)") {
  // Four threads seal and open different packets with one keyed object; each
  // result must equal what a single thread computes.
  const std::pair<EncrId, uint16_t> ids[] = {{EncrId::aes_gcm_16, 128},
                                             {EncrId::aes_gcm_16, 256},
                                             {EncrId::chacha20_poly1305, 0},
                                             {EncrId::aes_ccm_16, 128},
                                             {EncrId::null_auth_aes_gmac, 128}};
  for (const NamedProvider& np : providers()) {
    for (const auto& [id, bits] : ids) {
      const auto info = *ipsec::crypto::encr_info(id);
      const Bytes keymat = pattern(info.keymat_size(bits), 0x21);
      auto made = np.provider->make_aead(id, bits, keymat);
      if (!made) continue;
      INFO(np.name << " " << ipsec::crypto::to_string(id) << " " << bits);
      Aead& aead = **made;
      constexpr int kThreads = 4, kPackets = 300;
      const bool gmac = id == EncrId::null_auth_aes_gmac;
      auto seal_one = [&](int thread, int n, Bytes* data, Bytes* icv) {
        Bytes iv(8);
        iv[0] = static_cast<uint8_t>(thread);
        iv[7] = static_cast<uint8_t>(n);
        *data = pattern(gmac ? 0 : 200 + static_cast<size_t>(n % 50), static_cast<uint8_t>(thread * 31 + n));
        const Bytes aad = pattern(gmac ? 300 : 8, static_cast<uint8_t>(n));
        icv->assign(aead.icv_size(), 0);
        return aead.seal(iv, aad, *data, *icv).ok();
      };
      std::vector<Bytes> expected_data(kThreads * kPackets), expected_icv(kThreads * kPackets);
      for (int t = 0; t < kThreads; ++t) {
        for (int n = 0; n < kPackets; ++n) {
          REQUIRE(seal_one(t, n, &expected_data[static_cast<size_t>(t * kPackets + n)],
                           &expected_icv[static_cast<size_t>(t * kPackets + n)]));
        }
      }
      std::atomic<int> mismatches{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          for (int n = 0; n < kPackets; ++n) {
            Bytes data, icv;
            if (!seal_one(t, n, &data, &icv) ||
                data != expected_data[static_cast<size_t>(t * kPackets + n)] ||
                icv != expected_icv[static_cast<size_t>(t * kPackets + n)]) {
              ++mismatches;
            }
          }
        });
      }
      for (auto& th : threads) th.join();
      CHECK(mismatches.load() == 0);
    }
  }
}
