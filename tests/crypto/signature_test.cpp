// SPDX-License-Identifier: Apache-2.0
// Tests for crypto/signature.hpp: known answers (RFC 8032 Ed25519, RFC 6979
// deterministic ECDSA, RSA PKCS#1 v1.5 against OpenSSL), interop with
// signatures OpenSSL made (tests/data/generate.sh), every key file form, key
// generation, and the failures: tampering, wrong keys, mismatched schemes,
// unsupported and malformed keys.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "crypto/crypto_test_util.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/signature.hpp"
#include "test_util.hpp"

namespace {

using ipsec::test::err;

using ipsec::ByteReader;
using ipsec::ByteView;
using ipsec::Errc;
using ipsec::Result;
using ipsec::Status;
using ipsec::crypto::KeyType;
using ipsec::crypto::PrivateKey;
using ipsec::crypto::PublicKey;
using ipsec::crypto::SeededRng;
using ipsec::crypto::SignatureScheme;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using ipsec::test::to_hex;

Bytes fixture(std::string_view name) {
  Bytes b = ipsec::test::read_data_file(name);
  REQUIRE_MESSAGE(!b.empty(), "missing fixture ", std::string(name), " (run tests/data/generate.sh)");
  return b;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

PrivateKey private_key(const Bytes& bytes) {
  auto k = PrivateKey::parse(bytes);
  REQUIRE_MESSAGE(k.ok(), err(k.status()));
  return std::move(*k);
}

PublicKey public_key(const Bytes& bytes) {
  auto k = PublicKey::parse(bytes);
  REQUIRE_MESSAGE(k.ok(), err(k.status()));
  return std::move(*k);
}

Bytes sign(const PrivateKey& key, SignatureScheme scheme, ByteView message, uint64_t seed = 1) {
  SeededRng rng(seed);
  Bytes sig(key.max_signature_size());
  auto n = key.sign(scheme, message, rng, sig);
  REQUIRE_MESSAGE(n.ok(), err(n.status()));
  sig.resize(*n);
  return sig;
}

// Ed25519 private key as PKCS#8 v1 (RFC 8410 section 7): the fixed prefix
// and the 32-octet seed.
Bytes ed25519_pkcs8(const Bytes& seed) { return cat(from_hex("302e020100300506032b657004220420"), seed); }
// Ed25519 SubjectPublicKeyInfo (RFC 8410 section 4).
Bytes ed25519_spki(const Bytes& pub) { return cat(from_hex("302a300506032b6570032100"), pub); }

// SEC1 ECPrivateKey without the optional public key (RFC 5915 section 3):
// SEQUENCE { INTEGER 1, OCTET STRING d, [0] { namedCurve OID } }. Every
// length here is below 128, so each fits one octet.
Bytes sec1(const Bytes& d, const Bytes& curve_oid) {
  Bytes body = {0x02, 0x01, 0x01, 0x04, static_cast<uint8_t>(d.size())};
  body = cat(body, d);
  body = cat(
      body, {0xa0, static_cast<uint8_t>(curve_oid.size() + 2), 0x06, static_cast<uint8_t>(curve_oid.size())});
  body = cat(body, curve_oid);
  REQUIRE(body.size() < 128);
  return cat({0x30, static_cast<uint8_t>(body.size())}, body);
}

// ecdsa_r_s: r || s, each left-padded to n octets, from a DER Ecdsa-Sig-Value
// (RFC 3279 2.2.3: SEQUENCE { r INTEGER, s INTEGER }).
Bytes ecdsa_r_s(ByteView der, size_t n) {
  ByteReader r(der);
  uint8_t tag = 0;
  uint8_t len = 0;
  REQUIRE(r.read_u8(&tag));
  REQUIRE(tag == 0x30);
  REQUIRE(r.read_u8(&len));
  if (len == 0x81) REQUIRE(r.read_u8(&len));
  REQUIRE(len == r.remaining());
  Bytes out;
  for (int i = 0; i < 2; ++i) {
    ByteView v;
    REQUIRE(r.read_u8(&tag));
    REQUIRE(tag == 0x02);
    REQUIRE(r.read_u8(&len));
    REQUIRE(r.read_bytes(len, &v));
    while (!v.empty() && v[0] == 0) v = v.subspan(1);
    REQUIRE(v.size() <= n);
    out.insert(out.end(), n - v.size(), 0);
    out.insert(out.end(), v.begin(), v.end());
  }
  REQUIRE(r.empty());
  return out;
}

// any_scheme: a scheme that fits the key type.
SignatureScheme any_scheme(KeyType t) {
  switch (t) {
    case KeyType::rsa: return SignatureScheme::rsa_pss_sha256;
    case KeyType::ed25519: return SignatureScheme::ed25519;
    default: return SignatureScheme::ecdsa_sha256;
  }
}

Bytes flipped(Bytes b, size_t at) {
  b.at(at) ^= 0x01;
  return b;
}

}  // namespace

// ---- Ed25519 -------------------------------------------------------------------

// RFC 8032 section 7.1: TEST 1, TEST 2, TEST 3 and TEST SHA(abc). PureEdDSA
// is deterministic, so signing must give exactly the published signature.
TEST_CASE("Ed25519: RFC 8032 section 7.1 test vectors") {
  struct Vector {
    const char* name;
    const char* secret;
    const char* pub;
    const char* message;
    const char* signature;
  };
  const Vector vectors[] = {
      {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
       "6bd25bf5f0595bbe24655141438e7a100b"},
      {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d"
       "8c387b2eaeb4302aeeb00d291612bb0c00"},
      {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
       "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
       "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6"
       "594a7c15e9716ed28dc027beceea1ec40a"},
      {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
       "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
       "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
       "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
       "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0"
       "303dca179c138ac17ad9bef1177331a704"},
  };
  for (const Vector& v : vectors) {
    CAPTURE(std::string(v.name));
    const Bytes message = from_hex(v.message);
    const Bytes expected = from_hex(v.signature);

    const PrivateKey key = private_key(ed25519_pkcs8(from_hex(v.secret)));
    CHECK(key.type() == KeyType::ed25519);
    CHECK(key.bits() == 256);
    CHECK(key.max_signature_size() == 64);
    auto pub = key.public_key();
    REQUIRE(pub.ok());
    CHECK(to_hex(pub->spki_der()) == to_hex(ed25519_spki(from_hex(v.pub))));

    const Bytes sig = sign(key, SignatureScheme::ed25519, message);
    CHECK(to_hex(sig) == v.signature);
    CHECK(pub->verify(SignatureScheme::ed25519, message, expected).ok());

    // The same public key given as a SubjectPublicKeyInfo.
    const PublicKey spki = public_key(ed25519_spki(from_hex(v.pub)));
    CHECK(spki.type() == KeyType::ed25519);
    CHECK(spki.verify(SignatureScheme::ed25519, message, expected).ok());
    CHECK(spki.verify(SignatureScheme::ed25519, cat(message, {0}), expected) == Errc::bad_signature);
  }
}

// RFC 8410 section 10.3: a PKCS#8 v2 (OneAsymmetricKey, RFC 5958) key with
// an attribute and the public key; section 10.1 gives that public key.
TEST_CASE("Ed25519: RFC 8410 OneAsymmetricKey with attributes and public key") {
  const std::string_view pem =
      "-----BEGIN PRIVATE KEY-----\n"
      "MHICAQEwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
      "oB8wHQYKKoZIhvcNAQkJFDEPDA1DdXJkbGUgQ2hhaXJzgSEAGb9ECWmEzf6FQbrB\n"
      "Z9w7lshQhqowtrbLDFw4rXAxZuE=\n"
      "-----END PRIVATE KEY-----\n";
  const std::string_view spki_pem =
      "-----BEGIN PUBLIC KEY-----\n"
      "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
      "-----END PUBLIC KEY-----\n";
  const PrivateKey key = private_key(Bytes(pem.begin(), pem.end()));
  const PublicKey pub = public_key(Bytes(spki_pem.begin(), spki_pem.end()));
  auto derived = key.public_key();
  REQUIRE(derived.ok());
  CHECK(to_hex(derived->spki_der()) == to_hex(pub.spki_der()));
  const Bytes msg = {'h', 'i'};
  CHECK(pub.verify(SignatureScheme::ed25519, msg, sign(key, SignatureScheme::ed25519, msg)).ok());

  // The same structure in DER, then broken in the ways RFC 5958 and
  // RFC 8410 forbid.
  const Bytes der = from_hex(
      "3072020101300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f4475584"
      "2a01f301d060a2a864886f70d01090914310f0c0d437572646c65204368616972738121"
      "0019bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1");
  CHECK(PrivateKey::parse(der).ok());
  // A public key that is not the private key's.
  CHECK(PrivateKey::parse(flipped(der, der.size() - 1)).error() == Errc::invalid_key);
  // publicKey with version v1.
  Bytes v1 = der;
  v1[4] = 0x00;
  CHECK(PrivateKey::parse(v1).error() == Errc::invalid_key);
  // Version 2 is not defined.
  Bytes v3 = der;
  v3[4] = 0x02;
  CHECK(PrivateKey::parse(v3).error() == Errc::invalid_key);
  // Parameters present (RFC 8410 section 3: MUST be absent).
  const Bytes with_params = cat(from_hex("3030020100300706032b6570050004220420"), Bytes(32, 0));
  CHECK(PrivateKey::parse(with_params).error() == Errc::invalid_key);
  // A 31-octet seed.
  const Bytes short_seed = cat(from_hex("302d020100300506032b65700421041f"), Bytes(31, 0));
  CHECK(PrivateKey::parse(short_seed).error() == Errc::invalid_key);
}

TEST_CASE("Ed25519: public keys that are not points of the prime-order group") {
  // The identity (small order) and a non-canonical y (2^255 - 1 > p).
  CHECK(PublicKey::parse(ed25519_spki(from_hex("01" + std::string(62, '0')))).error() == Errc::invalid_key);
  CHECK(PublicKey::parse(ed25519_spki(from_hex(std::string(62, 'f') + "7f"))).error() == Errc::invalid_key);
  // A BIT STRING with unused bits, and one octet short.
  Bytes unused_bits = ed25519_spki(Bytes(32, 0x11));
  unused_bits[11] = 0x01;
  CHECK(PublicKey::parse(unused_bits).error() == Errc::invalid_key);
  CHECK(PublicKey::parse(from_hex("3029300506032b65700320"
                                  "00" +
                                  std::string(62, '1')))
            .error() == Errc::invalid_key);
}

// ---- ECDSA ---------------------------------------------------------------------

// RFC 6979 appendix A.2.5 (P-256), A.2.6 (P-384), A.2.7 (P-521), message
// "sample": with MBEDTLS_ECDSA_DETERMINISTIC, k and therefore (r, s) are
// exactly the published ones, whatever the Rng (it only blinds). P-521
// values are left-padded with one 0 digit to whole octets.
TEST_CASE("ECDSA: RFC 6979 appendix A.2.5-A.2.7 deterministic signatures") {
  struct Vector {
    const char* name;
    KeyType type;
    const char* curve_oid;
    size_t n;
    const char* x;
    const char* ux;
    const char* uy;
    SignatureScheme scheme;
    const char* r;
    const char* s;
  };
  const Vector vectors[] = {
      {"A.2.5 P-256 SHA-256", KeyType::ecdsa_p256, "2a8648ce3d030107", 32,
       "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721",
       "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6",
       "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299", SignatureScheme::ecdsa_sha256,
       "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
       "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"},
      // A hash longer than the group order (bits2int truncates).
      {"A.2.5 P-256 SHA-512", KeyType::ecdsa_p256, "2a8648ce3d030107", 32,
       "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721",
       "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6",
       "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299", SignatureScheme::ecdsa_sha512,
       "8496A60B5E9B47C825488827E0495B0E3FA109EC4568FD3F8D1097678EB97F00",
       "2362AB1ADBE2B8ADF9CB9EDAB740EA6049C028114F2460F96554F61FAE3302FE"},
      {"A.2.6 P-384 SHA-384", KeyType::ecdsa_p384, "2b81040022", 48,
       "6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D896D5724E4C70A825F872C9EA60D2EDF5",
       "EC3A4E415B4E19A4568618029F427FA5DA9A8BC4AE92E02E06AAE5286B300C64DEF8F0EA9055866064A254515480BC13",
       "8015D9B72D7D57244EA8EF9AC0C621896708A59367F9DFB9F54CA84B3F1C9DB1288B231C3AE0D4FE7344FD2533264720",
       SignatureScheme::ecdsa_sha384,
       "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C81A648152E44ACF96E36DD1E80FABE46",
       "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94FA329C145786E679E7B82C71A38628AC8"},
      {"A.2.7 P-521 SHA-512", KeyType::ecdsa_p521, "2b81040023", 66,
       "00FAD06DAA62BA3B25D2FB40133DA757205DE67F5BB0018FEE8C86E1B68C7E75C"
       "AA896EB32F1F47C70855836A6D16FCC1466F6D8FBEC67DB89EC0C08B0E996B83538",
       "01894550D0785932E00EAA23B694F213F8C3121F86DC97A04E5A7167DB4E5BCD3"
       "71123D46E45DB6B5D5370A7F20FB633155D38FFA16D2BD761DCAC474B9A2F5023A4",
       "00493101C962CD4D2FDDF782285E64584139C2F91B47F87FF82354D6630F746A2"
       "8A0DB25741B5B34A828008B22ACC23F924FAAFBD4D33F81EA66956DFEAA2BFDFCF5",
       SignatureScheme::ecdsa_sha512,
       "00C328FAFCBD79DD77850370C46325D987CB525569FB63C5D3BC53950E6D4C5F1"
       "74E25A1EE9017B5D450606ADD152B534931D7D4E8455CC91F9B15BF05EC36E377FA",
       "00617CCE7CF5064806C467F678D3B4080D6F1CC50AF26CA209417308281B68AF2"
       "82623EAA63E5B5C0723D8B8C37FF0777B1A20F8CCB1DCCC43997F1EE0E44DA4A67A"},
      // A hash shorter than the group order.
      {"A.2.7 P-521 SHA-256", KeyType::ecdsa_p521, "2b81040023", 66,
       "00FAD06DAA62BA3B25D2FB40133DA757205DE67F5BB0018FEE8C86E1B68C7E75C"
       "AA896EB32F1F47C70855836A6D16FCC1466F6D8FBEC67DB89EC0C08B0E996B83538",
       "01894550D0785932E00EAA23B694F213F8C3121F86DC97A04E5A7167DB4E5BCD3"
       "71123D46E45DB6B5D5370A7F20FB633155D38FFA16D2BD761DCAC474B9A2F5023A4",
       "00493101C962CD4D2FDDF782285E64584139C2F91B47F87FF82354D6630F746A2"
       "8A0DB25741B5B34A828008B22ACC23F924FAAFBD4D33F81EA66956DFEAA2BFDFCF5",
       SignatureScheme::ecdsa_sha256,
       "01511BB4D675114FE266FC4372B87682BAECC01D3CC62CF2303C92B3526012659"
       "D16876E25C7C1E57648F23B73564D67F61C6F14D527D54972810421E7D87589E1A7",
       "004A171143A83163D6DF460AAF61522695F207A58B95C0644D87E52AA1A347916"
       "E4F7A72930B1BC06DBE22CE3F58264AFD23704CBB63B29B931F7DE6C9D949A7ECFC"},
  };
  const Bytes message = {'s', 'a', 'm', 'p', 'l', 'e'};
  for (const Vector& v : vectors) {
    CAPTURE(std::string(v.name));
    const PrivateKey key = private_key(sec1(from_hex(v.x), from_hex(v.curve_oid)));
    CHECK(key.type() == v.type);
    auto pub = key.public_key();
    REQUIRE(pub.ok());
    // The SubjectPublicKeyInfo ends with the uncompressed point 04 || Ux || Uy.
    const Bytes point = cat(cat({0x04}, from_hex(v.ux)), from_hex(v.uy));
    REQUIRE(pub->spki_der().size() > point.size());
    CHECK(to_hex(pub->spki_der().last(point.size())) == to_hex(point));

    const Bytes expected = cat(from_hex(v.r), from_hex(v.s));
    for (uint64_t seed : {1u, 2u}) {
      const Bytes sig = sign(key, v.scheme, message, seed);
      CHECK(sig.size() <= key.max_signature_size());
      CHECK(to_hex(ecdsa_r_s(sig, v.n)) == to_hex(expected));
      CHECK(pub->verify(v.scheme, message, sig).ok());
      CHECK(pub->verify(v.scheme, Bytes{'S', 'a', 'm', 'p', 'l', 'e'}, sig) == Errc::bad_signature);
    }
  }
}

TEST_CASE("ECDSA: OpenSSL signatures verify, ours verify with OpenSSL's public key") {
  const Bytes message = fixture("keys/message.bin");
  struct Case {
    const char* name;
    KeyType type;
    size_t bits;
    SignatureScheme scheme;
  };
  for (const Case& c : {Case{"p256", KeyType::ecdsa_p256, 256, SignatureScheme::ecdsa_sha256},
                        Case{"p384", KeyType::ecdsa_p384, 384, SignatureScheme::ecdsa_sha384},
                        Case{"p521", KeyType::ecdsa_p521, 521, SignatureScheme::ecdsa_sha512}}) {
    const std::string n = c.name;
    CAPTURE(n);
    const std::string hash = c.scheme == SignatureScheme::ecdsa_sha256   ? "sha256"
                             : c.scheme == SignatureScheme::ecdsa_sha384 ? "sha384"
                                                                         : "sha512";
    const Bytes openssl_sig = fixture("keys/" + n + "." + hash + ".sig");
    for (const char* form : {".pub.pem", ".pub.der"}) {
      const PublicKey pub = public_key(fixture("keys/" + n + form));
      CHECK(pub.type() == c.type);
      CHECK(pub.bits() == c.bits);
      CHECK(to_hex(pub.spki_der()) == to_hex(fixture("keys/" + n + ".pub.der")));
      CHECK(pub.verify(c.scheme, message, openssl_sig).ok());
      CHECK(pub.verify(c.scheme, flipped(message, 0), openssl_sig) == Errc::bad_signature);
    }
    for (const char* form : {".pk8.pem", ".pk8.der", ".sec1.pem", ".sec1.der"}) {
      CAPTURE(std::string(form));
      const PrivateKey key = private_key(fixture("keys/" + n + form));
      CHECK(key.type() == c.type);
      CHECK(key.bits() == c.bits);
      auto pub = key.public_key();
      REQUIRE(pub.ok());
      CHECK(to_hex(pub->spki_der()) == to_hex(fixture("keys/" + n + ".pub.der")));
      CHECK(pub->verify(c.scheme, message, sign(key, c.scheme, message)).ok());
    }
  }
}

// ---- RSA -----------------------------------------------------------------------

// RSASSA-PKCS1-v1_5 is deterministic (RFC 8017 8.2.1): the reference is the
// signature `openssl dgst -sha256|-sha512 -sign` made over message.bin with
// the same key (tests/data/generate.sh).
TEST_CASE("RSA PKCS#1 v1.5: same signature as OpenSSL, from every key form") {
  const Bytes message = fixture("keys/message.bin");
  const Bytes ref256 = fixture("keys/rsa2048.pkcs1_sha256.sig");
  const Bytes ref512 = fixture("keys/rsa2048.pkcs1_sha512.sig");
  const PublicKey pub = public_key(fixture("keys/rsa2048.pub.pem"));
  CHECK(pub.type() == KeyType::rsa);
  CHECK(pub.bits() == 2048);
  CHECK(to_hex(pub.spki_der()) == to_hex(fixture("keys/rsa2048.pub.der")));
  for (const char* form :
       {"keys/rsa2048.pk8.pem", "keys/rsa2048.pk8.der", "keys/rsa2048.pkcs1.pem", "keys/rsa2048.pkcs1.der"}) {
    CAPTURE(std::string(form));
    const PrivateKey key = private_key(fixture(form));
    CHECK(key.type() == KeyType::rsa);
    CHECK(key.bits() == 2048);
    CHECK(key.max_signature_size() == 256);
    auto derived = key.public_key();
    REQUIRE(derived.ok());
    CHECK(to_hex(derived->spki_der()) == to_hex(pub.spki_der()));
    CHECK(to_hex(sign(key, SignatureScheme::rsa_pkcs1_sha256, message)) == to_hex(ref256));
    CHECK(to_hex(sign(key, SignatureScheme::rsa_pkcs1_sha512, message)) == to_hex(ref512));
  }
  CHECK(pub.verify(SignatureScheme::rsa_pkcs1_sha256, message, ref256).ok());
  CHECK(pub.verify(SignatureScheme::rsa_pkcs1_sha512, message, ref512).ok());
  // The hash is part of the signed DigestInfo.
  CHECK(pub.verify(SignatureScheme::rsa_pkcs1_sha384, message, ref256) == Errc::bad_signature);
  CHECK(pub.verify(SignatureScheme::rsa_pss_sha256, message, ref256) == Errc::bad_signature);

  const PrivateKey key = private_key(fixture("keys/rsa2048.pk8.der"));
  for (SignatureScheme s : {SignatureScheme::rsa_pkcs1_sha1, SignatureScheme::rsa_pkcs1_sha384}) {
    CHECK(pub.verify(s, message, sign(key, s, message)).ok());
  }
}

// RSASSA-PSS (RFC 8017 8.1) with MGF1 over the same hash and a salt as long
// as the hash: OpenSSL's (-sigopt rsa_pss_saltlen:digest) verify, ours
// round-trip and are randomized by the salt.
TEST_CASE("RSA-PSS: OpenSSL signatures verify, ours round-trip") {
  const Bytes message = fixture("keys/message.bin");
  const PublicKey pub = public_key(fixture("keys/rsa2048.pub.der"));
  CHECK(pub.verify(SignatureScheme::rsa_pss_sha256, message, fixture("keys/rsa2048.pss_sha256.sig")).ok());
  CHECK(pub.verify(SignatureScheme::rsa_pss_sha384, message, fixture("keys/rsa2048.pss_sha384.sig")).ok());
  CHECK(pub.verify(SignatureScheme::rsa_pss_sha512, message, fixture("keys/rsa2048.pss_sha384.sig")) ==
        Errc::bad_signature);
  CHECK(pub.verify(SignatureScheme::rsa_pkcs1_sha256, message, fixture("keys/rsa2048.pss_sha256.sig")) ==
        Errc::bad_signature);

  const PrivateKey key = private_key(fixture("keys/rsa2048.pkcs1.pem"));
  for (SignatureScheme s :
       {SignatureScheme::rsa_pss_sha256, SignatureScheme::rsa_pss_sha384, SignatureScheme::rsa_pss_sha512}) {
    CAPTURE(std::string(to_string(s)));
    const Bytes a = sign(key, s, message, 1);
    const Bytes b = sign(key, s, message, 2);
    CHECK(a.size() == 256);
    CHECK(a != b);  // fresh salt
    CHECK(pub.verify(s, message, a).ok());
    CHECK(pub.verify(s, message, b).ok());
    CHECK(pub.verify(s, flipped(message, 3), a) == Errc::bad_signature);
  }
  // PKCS#1 v1.5 after PSS on the same key still gives OpenSSL's bytes (the
  // padding mode is set per signature).
  CHECK(to_hex(sign(key, SignatureScheme::rsa_pkcs1_sha256, message)) ==
        to_hex(fixture("keys/rsa2048.pkcs1_sha256.sig")));
}

TEST_CASE("RSA: signing from several threads with one key") {
  const Bytes message = fixture("keys/message.bin");
  const PrivateKey key = private_key(fixture("keys/rsa2048.pk8.der"));
  auto pub = key.public_key();
  REQUIRE(pub.ok());
  const SignatureScheme schemes[] = {SignatureScheme::rsa_pss_sha256, SignatureScheme::rsa_pkcs1_sha256,
                                     SignatureScheme::rsa_pss_sha512, SignatureScheme::rsa_pkcs1_sha384};
  std::array<std::vector<Bytes>, 4> sigs;
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      SeededRng rng(t);
      for (int i = 0; i < 4; ++i) {
        Bytes sig(256);
        auto n = key.sign(schemes[t], message, rng, sig);
        if (n.ok()) sigs[t].push_back(sig);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < 4; ++t) {
    REQUIRE(sigs[t].size() == 4);
    for (const Bytes& sig : sigs[t]) CHECK(pub->verify(schemes[t], message, sig).ok());
  }
}

// ---- OpenSSL Ed25519 fixtures ----------------------------------------------------

TEST_CASE("Ed25519: OpenSSL key files and signature") {
  const Bytes message = fixture("keys/message.bin");
  const Bytes openssl_sig = fixture("keys/ed25519.sig");
  for (const char* form : {"keys/ed25519.pub.pem", "keys/ed25519.pub.der"}) {
    const PublicKey pub = public_key(fixture(form));
    CHECK(pub.type() == KeyType::ed25519);
    CHECK(to_hex(pub.spki_der()) == to_hex(fixture("keys/ed25519.pub.der")));
    CHECK(pub.verify(SignatureScheme::ed25519, message, openssl_sig).ok());
  }
  for (const char* form : {"keys/ed25519.pk8.pem", "keys/ed25519.pk8.der"}) {
    const PrivateKey key = private_key(fixture(form));
    // Deterministic: the same bytes OpenSSL produced.
    CHECK(to_hex(sign(key, SignatureScheme::ed25519, message)) == to_hex(openssl_sig));
  }
}

// ---- generation ------------------------------------------------------------------

TEST_CASE("generate: every key type signs and verifies; the seed fixes the key") {
  const Bytes message = {'I', 'K', 'E'};
  struct Case {
    KeyType type;
    SignatureScheme scheme;
    size_t bits;
  };
  for (const Case& c : {Case{KeyType::ed25519, SignatureScheme::ed25519, 256},
                        Case{KeyType::ecdsa_p256, SignatureScheme::ecdsa_sha256, 256},
                        Case{KeyType::ecdsa_p384, SignatureScheme::ecdsa_sha384, 384},
                        Case{KeyType::ecdsa_p521, SignatureScheme::ecdsa_sha512, 521},
                        Case{KeyType::rsa, SignatureScheme::rsa_pss_sha256, 2048}}) {
    CAPTURE(std::string(to_string(c.type)));
    SeededRng rng1(42);
    SeededRng rng2(42);
    auto a = PrivateKey::generate(c.type, rng1);
    auto b = PrivateKey::generate(c.type, rng2);
    REQUIRE_MESSAGE(a.ok(), err(a.status()));
    REQUIRE(b.ok());
    CHECK(a->type() == c.type);
    CHECK(a->bits() == c.bits);
    auto pa = a->public_key();
    auto pb = b->public_key();
    REQUIRE(pa.ok());
    REQUIRE(pb.ok());
    CHECK(to_hex(pa->spki_der()) == to_hex(pb->spki_der()));
    CHECK(pa->verify(c.scheme, message, sign(*a, c.scheme, message)).ok());

    // The SubjectPublicKeyInfo parses back to the same key.
    auto again = PublicKey::parse(pa->spki_der());
    REQUIRE(again.ok());
    CHECK(again->verify(c.scheme, message, sign(*b, c.scheme, message)).ok());
    auto copy = pa->clone();
    REQUIRE(copy.ok());
    CHECK(to_hex(copy->spki_der()) == to_hex(pa->spki_der()));
  }
  SeededRng rng(1);
  CHECK(PrivateKey::generate(KeyType::rsa, rng, 1024).error() == Errc::invalid_argument);
  CHECK(PrivateKey::generate(KeyType::rsa, rng, 2049).error() == Errc::invalid_argument);
  CHECK(PrivateKey::generate(KeyType::rsa, rng, 16384).error() == Errc::invalid_argument);
}

// ---- failures --------------------------------------------------------------------

TEST_CASE("verify: tampered signature, tampered message, wrong key") {
  const Bytes message = fixture("keys/message.bin");
  struct Case {
    const char* key;
    const char* pub;
    const char* other_pub;  // same type, different key
    SignatureScheme scheme;
  };
  for (const Case& c :
       {Case{"keys/ed25519.pk8.der", "keys/ed25519.pub.der", nullptr, SignatureScheme::ed25519},
        Case{"keys/p256.pk8.der", "keys/p256.pub.der", "x509/ec-leaf.key.der", SignatureScheme::ecdsa_sha256},
        Case{"keys/p384.sec1.der", "keys/p384.pub.der", nullptr, SignatureScheme::ecdsa_sha384},
        Case{"keys/rsa2048.pk8.der", "keys/rsa2048.pub.der", nullptr, SignatureScheme::rsa_pkcs1_sha256},
        Case{"keys/rsa2048.pk8.der", "keys/rsa2048.pub.der", nullptr, SignatureScheme::rsa_pss_sha384}}) {
    CAPTURE(std::string(c.key));
    CAPTURE(std::string(to_string(c.scheme)));
    const PrivateKey key = private_key(fixture(c.key));
    const PublicKey pub = public_key(fixture(c.pub));
    const Bytes sig = sign(key, c.scheme, message);
    REQUIRE(pub.verify(c.scheme, message, sig).ok());

    for (size_t at : {size_t{0}, sig.size() / 2, sig.size() - 1}) {
      const Status st = pub.verify(c.scheme, message, flipped(sig, at));
      // A flipped DER header byte of an ECDSA signature may also make it
      // unparseable; either way it must not verify.
      CHECK_FALSE(st.ok());
      CHECK((st == Errc::bad_signature || st == Errc::invalid_length));
    }
    CHECK(pub.verify(c.scheme, flipped(message, message.size() - 1), sig) == Errc::bad_signature);
    CHECK(pub.verify(c.scheme, ByteView(message).first(message.size() - 1), sig) == Errc::bad_signature);

    // Signed with another key of the same type.
    if (c.other_pub == nullptr) {
      SeededRng rng(7);
      auto other = PrivateKey::generate(key.type(), rng);
      REQUIRE(other.ok());
      CHECK(pub.verify(c.scheme, message, sign(*other, c.scheme, message)) == Errc::bad_signature);
    } else {
      const PrivateKey other = private_key(fixture(c.other_pub));
      CHECK(pub.verify(c.scheme, message, sign(other, c.scheme, message)) == Errc::bad_signature);
    }
  }
}

TEST_CASE("scheme that does not fit the key: key_type_mismatch") {
  const Bytes message = {1, 2, 3};
  const PrivateKey ed = private_key(fixture("keys/ed25519.pk8.der"));
  const PrivateKey ec = private_key(fixture("keys/p256.pk8.der"));
  const PrivateKey rsa = private_key(fixture("keys/rsa2048.pk8.der"));
  SeededRng rng(1);
  Bytes out(1024);
  CHECK(ed.sign(SignatureScheme::ecdsa_sha256, message, rng, out).error() == Errc::key_type_mismatch);
  CHECK(ec.sign(SignatureScheme::rsa_pss_sha256, message, rng, out).error() == Errc::key_type_mismatch);
  CHECK(ec.sign(SignatureScheme::ed25519, message, rng, out).error() == Errc::key_type_mismatch);
  CHECK(rsa.sign(SignatureScheme::ecdsa_sha384, message, rng, out).error() == Errc::key_type_mismatch);
  CHECK(rsa.sign(SignatureScheme::ed25519, message, rng, out).error() == Errc::key_type_mismatch);

  const Bytes ed_sig = sign(ed, SignatureScheme::ed25519, message);
  const Bytes rsa_sig = sign(rsa, SignatureScheme::rsa_pkcs1_sha256, message);
  CHECK(ed.public_key()->verify(SignatureScheme::rsa_pkcs1_sha256, message, ed_sig) ==
        Errc::key_type_mismatch);
  CHECK(ec.public_key()->verify(SignatureScheme::ed25519, message, ed_sig) == Errc::key_type_mismatch);
  CHECK(rsa.public_key()->verify(SignatureScheme::ecdsa_sha256, message, rsa_sig) == Errc::key_type_mismatch);
}

TEST_CASE("signatures of impossible sizes and short output buffers") {
  const Bytes message = {1, 2, 3};
  const PrivateKey ed = private_key(fixture("keys/ed25519.pk8.der"));
  const PrivateKey ec = private_key(fixture("keys/p256.pk8.der"));
  const PrivateKey rsa = private_key(fixture("keys/rsa2048.pk8.der"));
  const Bytes ed_sig = sign(ed, SignatureScheme::ed25519, message);
  const Bytes ec_sig = sign(ec, SignatureScheme::ecdsa_sha256, message);
  const Bytes rsa_sig = sign(rsa, SignatureScheme::rsa_pss_sha256, message);

  CHECK(ed.public_key()->verify(SignatureScheme::ed25519, message, ByteView(ed_sig).first(63)) ==
        Errc::invalid_length);
  CHECK(ed.public_key()->verify(SignatureScheme::ed25519, message, cat(ed_sig, {0})) == Errc::invalid_length);
  CHECK(ed.public_key()->verify(SignatureScheme::ed25519, message, {}) == Errc::invalid_length);
  CHECK(rsa.public_key()->verify(SignatureScheme::rsa_pss_sha256, message, ByteView(rsa_sig).first(255)) ==
        Errc::invalid_length);
  CHECK(rsa.public_key()->verify(SignatureScheme::rsa_pss_sha256, message, cat({0}, rsa_sig)) ==
        Errc::invalid_length);
  CHECK(ec.public_key()->verify(SignatureScheme::ecdsa_sha256, message, Bytes(73, 0x30)) ==
        Errc::invalid_length);
  CHECK(ec.public_key()->verify(SignatureScheme::ecdsa_sha256, message, Bytes(2000, 0)) ==
        Errc::invalid_length);
  // Trailing bytes after a valid Ecdsa-Sig-Value, or a truncated one.
  CHECK(ec.public_key()->verify(SignatureScheme::ecdsa_sha256, message, cat(ec_sig, {0})) ==
        Errc::bad_signature);
  CHECK(ec.public_key()->verify(SignatureScheme::ecdsa_sha256, message,
                                ByteView(ec_sig).first(ec_sig.size() - 1)) == Errc::bad_signature);

  SeededRng rng(1);
  Bytes small(63);
  CHECK(ed.sign(SignatureScheme::ed25519, message, rng, small).error() == Errc::buffer_too_small);
  Bytes rsa_small(255);
  CHECK(rsa.sign(SignatureScheme::rsa_pkcs1_sha256, message, rng, rsa_small).error() ==
        Errc::buffer_too_small);
  Bytes ec_small(8);
  CHECK(ec.sign(SignatureScheme::ecdsa_sha256, message, rng, ec_small).error() == Errc::buffer_too_small);
  CHECK(ec.max_signature_size() == 72);
  CHECK(private_key(fixture("keys/p384.pk8.der")).max_signature_size() == 104);
  CHECK(private_key(fixture("keys/p521.pk8.der")).max_signature_size() == 139);
}

TEST_CASE("empty key objects fail cleanly") {
  const PrivateKey none;
  const PublicKey no_pub;
  SeededRng rng(1);
  Bytes out(64);
  const Bytes message = {1};
  CHECK(none.sign(SignatureScheme::ed25519, message, rng, out).error() == Errc::invalid_key);
  CHECK(none.public_key().error() == Errc::invalid_key);
  CHECK(none.bits() == 0);
  CHECK(none.max_signature_size() == 0);
  CHECK(no_pub.verify(SignatureScheme::ed25519, message, out) == Errc::invalid_key);
  CHECK(no_pub.spki_der().empty());
  CHECK(no_pub.bits() == 0);
  auto copy = no_pub.clone();
  REQUIRE(copy.ok());
  CHECK(copy->spki_der().empty());

  // A moved-from key is empty too.
  PrivateKey key = private_key(fixture("keys/p256.pk8.der"));
  PrivateKey moved = std::move(key);
  Bytes sig(moved.max_signature_size());
  CHECK(moved.sign(SignatureScheme::ecdsa_sha256, message, rng, sig).ok());
  CHECK(key.bits() == 0);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  CHECK(key.sign(SignatureScheme::ecdsa_sha256, message, rng, sig).error() == Errc::invalid_key);
}

TEST_CASE("unsupported keys: small RSA, other curves, encrypted, other RFC 8410 algorithms") {
  CHECK(PublicKey::parse(fixture("keys/rsa1024.pub.der")).error() == Errc::unsupported_algorithm);
  CHECK(PrivateKey::parse(fixture("keys/secp256k1.pk8.der")).error() == Errc::unsupported_algorithm);
  CHECK(PrivateKey::parse(fixture("keys/p256.pk8.enc.pem")).error() == Errc::unsupported_algorithm);
  CHECK(PrivateKey::parse(fixture("keys/rsa2048.pkcs1.enc.pem")).error() == Errc::unsupported_algorithm);
  // Ed448 (1.3.101.113) and X25519 (1.3.101.110) PKCS#8, X25519 SPKI.
  Bytes ed448 = ed25519_pkcs8(Bytes(32, 1));
  ed448[11] = 0x71;
  CHECK(PrivateKey::parse(ed448).error() == Errc::unsupported_algorithm);
  Bytes x25519 = ed25519_pkcs8(Bytes(32, 1));
  x25519[11] = 0x6e;
  CHECK(PrivateKey::parse(x25519).error() == Errc::unsupported_algorithm);
  Bytes x25519_pub = ed25519_spki(Bytes(32, 9));
  x25519_pub[8] = 0x6e;
  CHECK(PublicKey::parse(x25519_pub).error() == Errc::unsupported_algorithm);
  // An EC public key on a curve IKEv2 does not use: the P-384 SPKI with its
  // curve OID 1.3.132.0.34 changed to 1.3.132.0.33 (secp224r1).
  Bytes p384 = fixture("keys/p384.pub.der");
  REQUIRE(to_hex(ByteView(p384).subspan(13, 7)) == "06052b81040022");
  p384[19] = 0x21;
  CHECK(PublicKey::parse(p384).error() == Errc::unsupported_algorithm);
}

TEST_CASE("malformed keys: garbage, truncation, trailing bytes, size limit") {
  CHECK(PrivateKey::parse({}).error() == Errc::invalid_key);
  CHECK(PublicKey::parse({}).error() == Errc::invalid_key);
  for (const std::string_view garbage :
       {std::string_view("not a key at all"), std::string_view("\x30\x03\x02\x01\x00", 5),
        std::string_view("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"),
        std::string_view("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"),
        std::string_view("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n")}) {
    CAPTURE(std::string(garbage));
    const Bytes b(garbage.begin(), garbage.end());
    CHECK(PrivateKey::parse(b).error() == Errc::invalid_key);
    CHECK(PublicKey::parse(b).error() == Errc::invalid_key);
  }
  // A public key is not a private key and the other way round.
  CHECK_FALSE(PrivateKey::parse(fixture("keys/p256.pub.der")).ok());
  CHECK_FALSE(PublicKey::parse(fixture("keys/p256.pk8.der")).ok());
  CHECK_FALSE(PrivateKey::parse(fixture("keys/p256.pub.pem")).ok());

  SeededRng rng(3);
  Bytes random(600);
  for (int i = 0; i < 50; ++i) {
    rng.fill(random);
    random[0] = 0x30;  // take the DER path
    CHECK_FALSE(PrivateKey::parse(random).ok());
    CHECK_FALSE(PublicKey::parse(random).ok());
  }

  // Every proper prefix of every DER form fails, and a trailing byte too.
  for (const char* name :
       {"keys/rsa2048.pk8.der", "keys/rsa2048.pkcs1.der", "keys/p256.pk8.der", "keys/p521.sec1.der",
        "keys/ed25519.pk8.der", "keys/rsa2048.pub.der", "keys/p384.pub.der", "keys/ed25519.pub.der"}) {
    CAPTURE(std::string(name));
    const Bytes der = fixture(name);
    const bool is_public = std::string_view(name).find(".pub.") != std::string_view::npos;
    for (size_t n = 0; n < der.size(); ++n) {
      const ByteView prefix = ByteView(der).first(n);
      if (is_public) {
        CHECK_FALSE(PublicKey::parse(prefix).ok());
      } else {
        CHECK_FALSE(PrivateKey::parse(prefix).ok());
      }
    }
    const Bytes longer = cat(der, {0});
    CHECK((is_public ? PublicKey::parse(longer).error() : PrivateKey::parse(longer).error()) ==
          Errc::invalid_key);
  }

  // Every single-bit corruption of small DER keys: parse must not crash, and
  // whatever parses must still sign or verify without crashing.
  const Bytes message = {1, 2, 3};
  for (const char* name : {"keys/p256.sec1.der", "keys/ed25519.pk8.der", "keys/p256.pub.der",
                           "keys/ed25519.pub.der", "keys/rsa2048.pub.der"}) {
    CAPTURE(std::string(name));
    const Bytes der = fixture(name);
    const bool is_public = std::string_view(name).find(".pub.") != std::string_view::npos;
    for (size_t at = 0; at < der.size(); ++at) {
      for (uint8_t bit : {uint8_t{0x01}, uint8_t{0x80}}) {
        Bytes bad = der;
        bad[at] ^= bit;
        if (is_public) {
          auto k = PublicKey::parse(bad);
          if (k.ok()) (void)k->verify(any_scheme(k->type()), message, Bytes(64, 1));
        } else {
          auto k = PrivateKey::parse(bad);
          if (k.ok()) {
            Bytes sig(k->max_signature_size());
            (void)k->sign(any_scheme(k->type()), message, rng, sig);
          }
        }
      }
    }
  }

  Bytes huge(ipsec::limits::kMaxPrivateKeyFileSize + 1, 'A');
  CHECK(PrivateKey::parse(huge).error() == Errc::limit_exceeded);
  CHECK(PublicKey::parse(huge).error() == Errc::limit_exceeded);
}

TEST_CASE("PEM: surrounding text, CRLF line ends, an EC PARAMETERS block, truncation") {
  const Bytes pem = fixture("keys/p256.sec1.pem");
  const Bytes pub_pem = fixture("keys/p256.pub.pem");
  const std::string body(pem.begin(), pem.end());
  const std::string pub_body(pub_pem.begin(), pub_pem.end());
  const std::string expected = to_hex(fixture("keys/p256.pub.der"));

  std::string crlf;
  for (char ch : body) {
    if (ch == '\n') crlf += '\r';
    crlf += ch;
  }
  const std::string variants[] = {
      // RFC 7468 section 2: text outside the encapsulation boundaries.
      "Bag Attributes\n    friendlyName: gateway\n" + body,
      // What `openssl ecparam -genkey` writes.
      "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + body,
      crlf,
      // A public key block after the private key does not matter.
      body + pub_body,
  };
  for (const std::string& text : variants) {
    CAPTURE(text);
    auto key = PrivateKey::parse(Bytes(text.begin(), text.end()));
    REQUIRE_MESSAGE(key.ok(), err(key.status()));
    CHECK(to_hex(key->public_key()->spki_der()) == expected);
  }
  // The public key PEM, with text around it.
  const std::string pub_text = "subject=CN=gw\n" + pub_body + "trailer\n";
  auto pub = PublicKey::parse(Bytes(pub_text.begin(), pub_text.end()));
  REQUIRE(pub.ok());
  CHECK(to_hex(pub->spki_der()) == expected);

  // No END line, or a body cut short.
  const std::string no_end = body.substr(0, body.find("-----END"));
  CHECK(PrivateKey::parse(Bytes(no_end.begin(), no_end.end())).error() == Errc::invalid_key);
  std::string cut = body;
  cut.erase(body.find('\n') + 1, 20);
  CHECK_FALSE(PrivateKey::parse(Bytes(cut.begin(), cut.end())).ok());
}
