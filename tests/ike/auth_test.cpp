// SPDX-License-Identifier: Apache-2.0
// IKE_AUTH data (RFC 7296 2.15, RFC 7427): signed octets, PSK AUTH, and
// digital-signature AUTH with the AlgorithmIdentifiers of RFC 7427 appendix
// A. strongSwan's own AUTH payloads are recomputed and verified in
// tests/wire/ike_strongswan_test.cpp (the known answers).
#include "ipsec/ike/auth.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "ipsec/crypto/rng.hpp"
#include "ipsec/wire/ike_builder.hpp"
#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
namespace crypto = ipsec::crypto;
namespace ike = ipsec::ike;
namespace wire = ipsec::wire;

namespace {

crypto::DefaultProvider& provider() {
  static crypto::DefaultProvider p;
  return p;
}

// auth_payload: method 14 AUTH data for a signature over `octets`.
Bytes signature_auth(const crypto::PrivateKey& key, crypto::SignatureScheme scheme, ByteView octets,
                     crypto::Rng& rng) {
  std::vector<uint8_t> sig(key.max_signature_size());
  auto n = key.sign(scheme, octets, rng, sig);
  REQUIRE(n.ok());
  Bytes out(512);
  ipsec::ByteWriter w(out);
  wire::write_signature_auth_data(w, *ike::algorithm_identifier(scheme), ByteView(sig).first(*n));
  REQUIRE(w.ok());
  out.resize(w.size());
  return out;
}

}  // namespace

TEST_CASE("signed octets: message | peer nonce | prf(SK_p, ID body) (RFC 7296 2.15)") {
  const Bytes message = from_hex("0102030405"), nonce = from_hex("a1a2a3"), sk_p(32, 7);
  const Bytes id = from_hex("02000000 6777");  // ID_FQDN "gw"
  auto octets = ike::signed_octets(provider(), crypto::PrfId::hmac_sha2_256, message, nonce, sk_p, id);
  REQUIRE(octets.ok());
  REQUIRE(octets->size() == 5 + 3 + 32);
  CHECK(ipsec::test::to_hex(ByteView(*octets).first(8)) == "0102030405a1a2a3");
  auto prf = provider().make_prf(crypto::PrfId::hmac_sha2_256, sk_p);
  Bytes mac(32);
  REQUIRE((*prf)->compute(id, mac).ok());
  CHECK(Bytes(octets->begin() + 8, octets->end()) == mac);
  CHECK(ike::signed_octets(provider(), static_cast<crypto::PrfId>(99), message, nonce, sk_p, id).status() ==
        Errc::unsupported_algorithm);
}

TEST_CASE("PSK AUTH: prf(prf(PSK, \"Key Pad for IKEv2\"), octets), compared in constant time") {
  const Bytes octets(100, 0x42);
  const ByteView psk = ipsec::as_bytes("a shared secret");
  Bytes auth(32);
  REQUIRE(ike::psk_auth(provider(), crypto::PrfId::hmac_sha2_256, psk, octets, auth).ok());
  // The same by hand.
  auto outer = provider().make_prf(crypto::PrfId::hmac_sha2_256, psk);
  Bytes key(32), expected(32);
  REQUIRE((*outer)->compute(ipsec::as_bytes("Key Pad for IKEv2"), key).ok());
  auto inner = provider().make_prf(crypto::PrfId::hmac_sha2_256, key);
  REQUIRE((*inner)->compute(octets, expected).ok());
  CHECK(auth == expected);
  CHECK(ike::verify_psk_auth(provider(), crypto::PrfId::hmac_sha2_256, psk, octets, auth).ok());
  Bytes wrong = auth;
  wrong[31] ^= 1;
  CHECK(ike::verify_psk_auth(provider(), crypto::PrfId::hmac_sha2_256, psk, octets, wrong).code() ==
        Errc::integrity_check_failed);
  CHECK(ike::verify_psk_auth(provider(), crypto::PrfId::hmac_sha2_256, psk, octets, ByteView(auth).first(31))
            .code() == Errc::integrity_check_failed);
  Bytes small(31);
  CHECK(ike::psk_auth(provider(), crypto::PrfId::hmac_sha2_256, psk, octets, small).code() ==
        Errc::invalid_length);
  // Other PRFs: SHA-1 gives 20 octets, AES-CMAC 16.
  Bytes a20(20), a16(16);
  CHECK(ike::psk_auth(provider(), crypto::PrfId::hmac_sha1, psk, octets, a20).ok());
  CHECK(ike::psk_auth(provider(), crypto::PrfId::aes128_cmac, psk, octets, a16).ok());
}

TEST_CASE("RFC 7427 signature AUTH: ECDSA and Ed25519, and what is refused") {
  crypto::SeededRng rng(uint64_t{7427});
  const Bytes octets(200, 0x5a);
  for (auto [type, scheme] : {std::pair{crypto::KeyType::ecdsa_p256, crypto::SignatureScheme::ecdsa_sha256},
                              std::pair{crypto::KeyType::ecdsa_p384, crypto::SignatureScheme::ecdsa_sha384},
                              std::pair{crypto::KeyType::ed25519, crypto::SignatureScheme::ed25519}}) {
    INFO(crypto::to_string(scheme));
    auto key = crypto::PrivateKey::generate(type, rng);
    REQUIRE(key.ok());
    auto pub = key->public_key();
    REQUIRE(pub.ok());
    const Bytes data = signature_auth(*key, scheme, octets, rng);
    const wire::AuthPayload auth{wire::AuthMethod::digital_signature, data};
    CHECK(ike::verify_signature_auth(*pub, auth, octets).ok());
    Bytes other = octets;
    other[0] ^= 1;
    CHECK(ike::verify_signature_auth(*pub, auth, other).code() == Errc::bad_signature);
    auto parsed = wire::decode_signature_auth(data);
    REQUIRE(parsed.ok());
    CHECK(ike::scheme_of(*parsed).value() == scheme);
  }
  // The AlgorithmIdentifiers of RFC 7427 appendix A.
  CHECK(ipsec::test::to_hex(*ike::algorithm_identifier(crypto::SignatureScheme::ecdsa_sha256)) ==
        "300a06082a8648ce3d040302");
  CHECK(ipsec::test::to_hex(*ike::algorithm_identifier(crypto::SignatureScheme::rsa_pkcs1_sha256)) ==
        "300d06092a864886f70d01010b0500");
  CHECK(ipsec::test::to_hex(*ike::algorithm_identifier(crypto::SignatureScheme::ed25519)) ==
        "300506032b6570");
  CHECK_FALSE(ike::algorithm_identifier(crypto::SignatureScheme::rsa_pkcs1_sha1));
  // An unknown OID, parameters where none belong, another method.
  auto key = crypto::PrivateKey::generate(crypto::KeyType::ecdsa_p256, rng);
  auto pub = key->public_key();
  wire::SignatureAuthData u;
  u.algorithm_oid = from_hex("001122334455");
  CHECK(ike::scheme_of(u).status() == Errc::unsupported_algorithm);
  wire::SignatureAuthData p;
  const Bytes oid = from_hex("2a8648ce3d040302"), params = from_hex("0201 00");
  p.algorithm_oid = oid;
  p.parameters = params;
  CHECK(ike::scheme_of(p).status() == Errc::unsupported_algorithm);
  const wire::AuthPayload psk{wire::AuthMethod::shared_key_mic, Bytes(32, 1)};
  CHECK(ike::verify_signature_auth(*pub, psk, Bytes(1)).code() == Errc::unsupported_algorithm);
}

TEST_CASE("RFC 7427 RSASSA-PSS: the AlgorithmIdentifier (RFC 4055 3.1), signatures, parameters refused") {
  // id-RSASSA-PSS, SHA-256 with NULL parameters, MGF1-SHA-256, salt 32.
  CHECK(ipsec::test::to_hex(*ike::algorithm_identifier(crypto::SignatureScheme::rsa_pss_sha256)) ==
        "304106092a864886f70d01010a3034a00f300d0609608648016503040201050"
        "0a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120");
  auto key = crypto::PrivateKey::parse(ipsec::test::read_data_file("ike/pki/rsa-a.key.der"));
  REQUIRE(key.ok());
  auto pub = key->public_key();
  REQUIRE(pub.ok());
  crypto::SeededRng rng(uint64_t{4055});
  const Bytes octets(100, 0x33);
  for (auto scheme : {crypto::SignatureScheme::rsa_pss_sha256, crypto::SignatureScheme::rsa_pss_sha384,
                      crypto::SignatureScheme::rsa_pss_sha512}) {
    INFO(crypto::to_string(scheme));
    const Bytes data = signature_auth(*key, scheme, octets, rng);
    const wire::AuthPayload auth{wire::AuthMethod::digital_signature, data};
    CHECK(ike::verify_signature_auth(*pub, auth, octets).ok());
    CHECK(ike::scheme_of(wire::decode_signature_auth(data).value()).value() == scheme);
  }
  auto params_scheme = [](const char* params_hex) {
    const Bytes oid = from_hex("2a864886f70d01010a"), params = from_hex(params_hex);
    wire::SignatureAuthData d;
    d.algorithm_oid = oid;
    d.parameters = params;
    return ike::scheme_of(d);
  };
  // Hash AlgorithmIdentifiers without the NULL are the same parameters.
  CHECK(params_scheme(
            "3030 a00d300b0609608648016503040201 a11a301806092a864886f70d010108300b0609608648016503040201"
            " a203020120")
            .value() == crypto::SignatureScheme::rsa_pss_sha256);
  // The defaults (SHA-1, salt 20), a salt other than the hash length, a
  // hash and MGF hash that differ, a trailer other than 1: not implemented.
  CHECK(params_scheme("3000").status() == Errc::unsupported_algorithm);
  CHECK(params_scheme(
            "3030 a00d300b0609608648016503040201 a11a301806092a864886f70d010108300b0609608648016503040201"
            " a203020114")
            .status() == Errc::unsupported_algorithm);
  CHECK(params_scheme(
            "3030 a00d300b0609608648016503040201 a11a301806092a864886f70d010108300b0609608648016503040202"
            " a203020120")
            .status() == Errc::unsupported_algorithm);
  CHECK(params_scheme(
            "3035 a00d300b0609608648016503040201 a11a301806092a864886f70d010108300b0609608648016503040201"
            " a203020120 a303020102")
            .status() == Errc::unsupported_algorithm);
  CHECK(params_scheme("30").status() == Errc::unsupported_algorithm);
}

TEST_CASE("RFC 4754 ECDSA r | s and the RSA/ECDSA methods of RFC 7296 3.8") {
  crypto::SeededRng rng(uint64_t{4754});
  const Bytes octets(64, 0x44);
  struct Case {
    crypto::KeyType type;
    wire::AuthMethod method;
    size_t size;  // of the AUTH data
  };
  auto rsa = crypto::PrivateKey::parse(ipsec::test::read_data_file("ike/pki/rsa-a.key.der"));
  REQUIRE(rsa.ok());
  for (const Case c : {Case{crypto::KeyType::ecdsa_p256, wire::AuthMethod::ecdsa_sha256_p256, 64},
                       Case{crypto::KeyType::ecdsa_p384, wire::AuthMethod::ecdsa_sha384_p384, 96},
                       Case{crypto::KeyType::ecdsa_p521, wire::AuthMethod::ecdsa_sha512_p521, 132},
                       Case{crypto::KeyType::rsa, wire::AuthMethod::rsa_signature, 256}}) {
    INFO(crypto::to_string(c.type));
    auto generated = c.type == crypto::KeyType::rsa ? crypto::PrivateKey()
                                                    : crypto::PrivateKey::generate(c.type, rng).value();
    const crypto::PrivateKey& key = c.type == crypto::KeyType::rsa ? *rsa : generated;
    CHECK(ike::legacy_method(key.type()) == c.method);
    auto data = ike::legacy_auth(key, octets, rng);
    REQUIRE(data.ok());
    CHECK(data->size() == c.size);
    auto pub = key.public_key();
    REQUIRE(pub.ok());
    const wire::AuthPayload auth{c.method, *data};
    CHECK(ike::verify_legacy_auth(*pub, auth, octets).ok());
    Bytes other = octets;
    other[3] ^= 0x10;
    CHECK(ike::verify_legacy_auth(*pub, auth, other).code() == Errc::bad_signature);
  }
  // Method 9 fixes P-256: a P-384 key does not fit it.
  auto p384 = crypto::PrivateKey::generate(crypto::KeyType::ecdsa_p384, rng).value();
  const Bytes sig(64, 1);
  CHECK(ike::verify_legacy_auth(p384.public_key().value(), {wire::AuthMethod::ecdsa_sha256_p256, sig}, octets)
            .code() == Errc::key_type_mismatch);
  CHECK_FALSE(ike::legacy_method(crypto::KeyType::ed25519));
  // r | s <-> DER: leading zeros, high bits (a 0x00 pad), round trips.
  const Bytes raw = from_hex(
      "00000001"
      "80000000");
  auto der = ike::ecdsa_raw_to_der(raw);
  REQUIRE(der.ok());
  CHECK(ipsec::test::to_hex(*der) == "300a02010102050080000000");
  CHECK(ike::ecdsa_der_to_raw(*der, 4).value() == raw);
  CHECK(ike::ecdsa_raw_to_der(from_hex("010203")).status() == Errc::invalid_length);
  CHECK(ike::ecdsa_der_to_raw(*der, 3).status() == Errc::invalid_value);  // s does not fit
  CHECK(ike::ecdsa_der_to_raw(from_hex("3003020101"), 4).status() == Errc::invalid_value);
}
