// SPDX-License-Identifier: Apache-2.0
// Tests for crypto/x509.hpp: parsing, accessors and verify_chain over the
// certificates tests/data/generate.sh makes. Every certificate there has
// fixed validity dates and every verification here passes an explicit
// time, so the tests never depend on the clock:
//   CAs            2020-01-01 .. 2040-01-01
//   leaves         2024-01-01 .. 2034-01-01
//   expired leaf   2020-01-01 .. 2021-01-01
//   future leaf    2035-01-01 .. 2036-01-01
//   unrelated root 2000-01-01 .. 2100-01-01
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto_test_util.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/signature.hpp"
#include "ipsec/crypto/x509.hpp"
#include "test_util.hpp"

namespace {

using ipsec::test::err;

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::Status;
using ipsec::crypto::Certificate;
using ipsec::crypto::KeyType;
using ipsec::crypto::PrivateKey;
using ipsec::crypto::SeededRng;
using ipsec::crypto::SignatureScheme;
using ipsec::crypto::SubjectAltName;
using ipsec::crypto::verify_chain;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using ipsec::test::to_hex;

// Unix times (seconds) of the dates above.
constexpr int64_t k2000 = 946684800;
constexpr int64_t k2020 = 1577836800;
constexpr int64_t k2021 = 1609459200;
constexpr int64_t k2024 = 1704067200;
constexpr int64_t k2034 = 2019686400;
constexpr int64_t k2035 = 2051222400;
constexpr int64_t k2036 = 2082758400;
constexpr int64_t k2040 = 2208988800;
constexpr int64_t k2100 = 4102444800;
constexpr int64_t kNow = 1748736000;  // 2025-06-01T00:00:00Z

Bytes fixture(std::string_view name) {
  Bytes b = ipsec::test::read_data_file(name);
  REQUIRE_MESSAGE(!b.empty(), "missing fixture ", std::string(name), " (run tests/data/generate.sh)");
  return b;
}

Certificate cert(std::string_view name) {
  auto c = Certificate::parse_der(fixture("x509/" + std::string(name) + ".der"));
  REQUIRE_MESSAGE(c.ok(), std::string(name), ": ", err(c.status()));
  return std::move(*c);
}

std::string text(ByteView v) { return std::string(v.begin(), v.end()); }

std::string subject(const Certificate& c) {
  std::array<char, 256> buf{};
  auto n = c.subject_text(buf);
  REQUIRE_MESSAGE(n.ok(), err(n.status()));
  return std::string(buf.data(), *n);
}

// A list of certificates for the span parameters (Certificate is move-only).
template <typename... Names>
std::vector<Certificate> certs(Names... names) {
  std::vector<Certificate> v;
  (v.push_back(cert(names)), ...);
  return v;
}

}  // namespace

// ---- parsing and accessors ------------------------------------------------------

TEST_CASE("X.509: accessors of an ECDSA leaf") {
  const Bytes der = fixture("x509/ec-leaf.der");
  auto parsed = Certificate::parse_der(der);
  REQUIRE_MESSAGE(parsed.ok(), err(parsed.status()));
  const Certificate& leaf = *parsed;
  const Certificate inter = cert("ec-int");

  CHECK(to_hex(leaf.der()) == to_hex(der));
  CHECK(subject(leaf) == "O=ipsec test, CN=vpn.example.com");
  CHECK(subject(inter) == "O=ipsec test, CN=ECDSA Intermediate CA");
  // The issuer Name is the issuer's subject Name, byte for byte.
  CHECK(to_hex(leaf.issuer_der()) == to_hex(inter.subject_der()));
  CHECK(leaf.subject_der().size() > 2);
  CHECK(leaf.subject_der()[0] == 0x30);  // a whole DER Name (RFC 5280 4.1.2.6)
  CHECK(leaf.not_before() == k2024);
  CHECK(leaf.not_after() == k2034);
  CHECK_FALSE(leaf.is_ca());
  CHECK(inter.is_ca());
  CHECK(cert("ec-root").is_ca());

  auto key = leaf.public_key();
  REQUIRE(key.ok());
  CHECK(key->type() == KeyType::ecdsa_p256);
  // The certificate's key is the one in ec-leaf.key.der: what that key
  // signs, the certificate's key verifies.
  auto priv = PrivateKey::parse(fixture("x509/ec-leaf.key.der"));
  REQUIRE(priv.ok());
  CHECK(to_hex(priv->public_key()->spki_der()) == to_hex(key->spki_der()));
  SeededRng rng(1);
  const Bytes message = {'A', 'U', 'T', 'H'};
  Bytes sig(priv->max_signature_size());
  auto n = priv->sign(SignatureScheme::ecdsa_sha256, message, rng, sig);
  REQUIRE(n.ok());
  sig.resize(*n);
  CHECK(key->verify(SignatureScheme::ecdsa_sha256, message, sig).ok());
}

TEST_CASE("X.509: subjectAltName entries are typed views into the DER") {
  const Certificate leaf = cert("ec-leaf");
  REQUIRE(leaf.subject_alt_name_count() == 5);
  const ByteView der = leaf.der();
  struct Expected {
    SubjectAltName::Kind kind;
    Bytes value;
  };
  const std::string_view dns1 = "vpn.example.com";
  const std::string_view dns2 = "gw.example.net";
  const std::string_view email = "admin@example.com";
  const Expected expected[] = {
      {SubjectAltName::Kind::dns, Bytes(dns1.begin(), dns1.end())},
      {SubjectAltName::Kind::dns, Bytes(dns2.begin(), dns2.end())},
      {SubjectAltName::Kind::email, Bytes(email.begin(), email.end())},
      {SubjectAltName::Kind::ip, from_hex("c0000201")},                          // 192.0.2.1
      {SubjectAltName::Kind::ip, from_hex("20010db8000000000000000000000001")},  // 2001:db8::1
  };
  for (size_t i = 0; i < 5; ++i) {
    CAPTURE(i);
    const SubjectAltName san = leaf.subject_alt_name(i);
    CHECK(san.kind == expected[i].kind);
    CHECK(to_hex(san.value) == to_hex(expected[i].value));
    // A view into the certificate, not a copy.
    CHECK(san.value.data() >= der.data());
    CHECK(san.value.data() + san.value.size() <= der.data() + der.size());
  }
  CHECK(text(leaf.subject_alt_name(0).value) == "vpn.example.com");
  // Past the end: an empty entry, no crash.
  CHECK(leaf.subject_alt_name(5).value.empty());
  CHECK(leaf.subject_alt_name(5).kind == SubjectAltName::Kind::other);
  // No extension, no entries.
  CHECK(cert("ec-int").subject_alt_name_count() == 0);
  CHECK(cert("ec-int").subject_alt_name(0).value.empty());
}

TEST_CASE("X.509: validity as Unix seconds, UTCTime and GeneralizedTime") {
  CHECK(cert("ec-root").not_before() == k2020);
  CHECK(cert("ec-root").not_after() == k2040);
  CHECK(cert("ec-leaf-expired").not_before() == k2020);
  CHECK(cert("ec-leaf-expired").not_after() == k2021);
  CHECK(cert("ec-leaf-future").not_before() == k2035);
  CHECK(cert("ec-leaf-future").not_after() == k2036);
  // 2100 is past UTCTime's range: GeneralizedTime (RFC 5280 4.1.2.5).
  CHECK(cert("other-root").not_before() == k2000);
  CHECK(cert("other-root").not_after() == k2100);
}

TEST_CASE("X.509: subject_text needs room for the text and its NUL") {
  const Certificate leaf = cert("ec-leaf");
  const std::string full = "O=ipsec test, CN=vpn.example.com";
  std::vector<char> buf(full.size() + 1);
  auto n = leaf.subject_text(buf);
  REQUIRE(n.ok());
  CHECK(*n == full.size());
  CHECK(std::string(buf.data(), *n) == full);
  buf.resize(full.size());
  CHECK(leaf.subject_text(buf).error() == Errc::buffer_too_small);
  CHECK(leaf.subject_text({}).error() == Errc::buffer_too_small);
}

TEST_CASE("X.509: an RSA leaf signed with RSASSA-PSS") {
  const Certificate leaf = cert("rsa-leaf");
  CHECK(subject(leaf) == "O=ipsec test, CN=rsa.example.com");
  auto key = leaf.public_key();
  REQUIRE(key.ok());
  CHECK(key->type() == KeyType::rsa);
  CHECK(key->bits() == 2048);
  CHECK(leaf.subject_alt_name_count() == 0);
}

TEST_CASE("X.509: clone and move") {
  Certificate original = cert("ec-leaf");
  auto copy = original.clone();
  REQUIRE(copy.ok());
  CHECK(to_hex(copy->der()) == to_hex(original.der()));
  CHECK(copy->der().data() != original.der().data());  // its own DER
  {
    Certificate moved = std::move(original);
    CHECK(subject(moved) == "O=ipsec test, CN=vpn.example.com");
  }
  // The clone outlives the original.
  CHECK(subject(*copy) == "O=ipsec test, CN=vpn.example.com");
  CHECK(copy->subject_alt_name_count() == 5);
  CHECK(text(copy->subject_alt_name(1).value) == "gw.example.net");

  const Certificate empty;
  CHECK(empty.der().empty());
  CHECK(empty.subject_alt_name_count() == 0);
  CHECK(empty.not_after() == 0);
  CHECK_FALSE(empty.is_ca());
  CHECK(empty.public_key().error() == Errc::invalid_argument);
  auto empty_copy = empty.clone();
  REQUIRE(empty_copy.ok());
  CHECK(empty_copy->der().empty());
}

TEST_CASE("X.509: parse_pem takes the first CERTIFICATE block") {
  const Bytes root_pem = fixture("x509/ec-root.pem");
  auto root = Certificate::parse_pem(
      std::string_view(reinterpret_cast<const char*>(root_pem.data()), root_pem.size()));
  REQUIRE_MESSAGE(root.ok(), err(root.status()));
  CHECK(to_hex(root->der()) == to_hex(fixture("x509/ec-root.der")));

  const Bytes bundle = fixture("x509/ec-leaf-bundle.pem");
  auto first =
      Certificate::parse_pem(std::string_view(reinterpret_cast<const char*>(bundle.data()), bundle.size()));
  REQUIRE(first.ok());
  CHECK(to_hex(first->der()) == to_hex(fixture("x509/ec-leaf.der")));

  CHECK(Certificate::parse_pem("").error() == Errc::invalid_certificate);
  CHECK(Certificate::parse_pem("hello").error() == Errc::invalid_certificate);
  CHECK(Certificate::parse_pem("-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n").error() ==
        Errc::invalid_certificate);
  CHECK(Certificate::parse_pem("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n").error() ==
        Errc::invalid_certificate);
  // A key is not a certificate.
  const Bytes key_pem = fixture("keys/p256.pub.pem");
  CHECK(
      Certificate::parse_pem(std::string_view(reinterpret_cast<const char*>(key_pem.data()), key_pem.size()))
          .error() == Errc::invalid_certificate);
}

// mbedTLS 2.28 has no EdDSA: Ed25519 certificates (RFC 8410) are refused as
// an algorithm the backend cannot use, not as malformed.
TEST_CASE("X.509: Ed25519 certificates are unsupported_algorithm") {
  CHECK(Certificate::parse_der(fixture("x509/ed25519-root.der")).error() == Errc::unsupported_algorithm);
}

TEST_CASE("X.509: malformed certificates fail cleanly") {
  CHECK(Certificate::parse_der({}).error() == Errc::invalid_certificate);
  for (const char* name : {"x509/ec-leaf.der", "x509/rsa-leaf.der"}) {
    CAPTURE(std::string(name));
    const Bytes der = fixture(name);
    // Every proper prefix.
    for (size_t n = 0; n < der.size(); ++n) {
      CHECK(Certificate::parse_der(ByteView(der).first(n)).error() == Errc::invalid_certificate);
    }
    // A trailing byte.
    Bytes longer = der;
    longer.push_back(0);
    CHECK(Certificate::parse_der(longer).error() == Errc::invalid_certificate);
  }
  // Every single-bit corruption of a leaf: parsing and, when it parses, the
  // accessors and a verification must not crash (they may fail or not).
  const Bytes der = fixture("x509/ec-leaf.der");
  const auto intermediates = certs("ec-int");
  const auto anchors = certs("ec-root");
  std::array<char, 512> buf{};
  for (size_t at = 0; at < der.size(); ++at) {
    for (uint8_t bit : {uint8_t{0x01}, uint8_t{0x80}}) {
      Bytes bad = der;
      bad[at] ^= bit;
      auto c = Certificate::parse_der(bad);
      if (!c.ok()) continue;
      (void)c->subject_text(buf);
      for (size_t i = 0; i < c->subject_alt_name_count(); ++i) (void)c->subject_alt_name(i);
      (void)c->public_key();
      (void)c->not_before();
      (void)c->not_after();
      (void)verify_chain(*c, intermediates, anchors, kNow);
    }
  }
  Bytes huge(ipsec::limits::kMaxCertificateSize + 1, 0x30);
  CHECK(Certificate::parse_der(huge).error() == Errc::limit_exceeded);
}

// ---- verify_chain --------------------------------------------------------------

TEST_CASE("verify_chain: valid ECDSA and RSA chains") {
  CHECK(verify_chain(cert("ec-leaf"), certs("ec-int"), certs("ec-root"), kNow).ok());
  // RSA root -> intermediate (PKCS#1 v1.5) -> leaf (RSASSA-PSS).
  const Status rsa = verify_chain(cert("rsa-leaf"), certs("rsa-int"), certs("rsa-root"), kNow);
  CHECK_MESSAGE(rsa.ok(), err(rsa));
  // Several trust anchors, the right one among them.
  CHECK(
      verify_chain(cert("ec-leaf"), certs("ec-int"), certs("other-root", "rsa-root", "ec-root"), kNow).ok());
  // An intermediate may itself be the trust anchor.
  CHECK(verify_chain(cert("ec-leaf"), {}, certs("ec-int"), kNow).ok());
}

TEST_CASE("verify_chain: validity is checked at the given time only") {
  const auto inter = certs("ec-int");
  const auto root = certs("ec-root");
  CHECK(verify_chain(cert("ec-leaf-expired"), inter, root, kNow) == Errc::certificate_expired);
  CHECK(verify_chain(cert("ec-leaf-future"), inter, root, kNow) == Errc::certificate_not_yet_valid);
  // Both are fine inside their own validity period: the library reads no clock.
  CHECK(verify_chain(cert("ec-leaf-expired"), inter, root, k2020 + 86400).ok());
  CHECK(verify_chain(cert("ec-leaf-future"), inter, root, k2035 + 86400).ok());

  // RFC 5280 4.1.2.5: notBefore and notAfter are both inside the period.
  const Certificate leaf = cert("ec-leaf");
  CHECK(verify_chain(leaf, inter, root, k2024).ok());
  CHECK(verify_chain(leaf, inter, root, k2024 - 1) == Errc::certificate_not_yet_valid);
  CHECK(verify_chain(leaf, inter, root, k2034).ok());
  CHECK(verify_chain(leaf, inter, root, k2034 + 1) == Errc::certificate_expired);
  // The CAs' periods count too: after 2040 the root has expired.
  CHECK(verify_chain(cert("other-leaf"), {}, certs("other-root"), k2040 + 1) == Errc::certificate_expired);
  CHECK(verify_chain(leaf, inter, root, k2040 + 1) == Errc::certificate_expired);
  CHECK(verify_chain(leaf, inter, root, k2000) == Errc::certificate_not_yet_valid);
}

TEST_CASE("verify_chain: untrusted paths") {
  // Issued by an unrelated CA.
  CHECK(verify_chain(cert("other-leaf"), certs("ec-int"), certs("ec-root"), kNow) ==
        Errc::untrusted_certificate);
  // Our leaf, but only the unrelated CA is trusted.
  CHECK(verify_chain(cert("ec-leaf"), certs("ec-int"), certs("other-root"), kNow) ==
        Errc::untrusted_certificate);
  // Missing intermediate.
  CHECK(verify_chain(cert("ec-leaf"), {}, certs("ec-root"), kNow) == Errc::untrusted_certificate);
  CHECK(verify_chain(cert("ec-leaf-deep"), certs("ec-int-b"), certs("ec-root"), kNow) ==
        Errc::untrusted_certificate);
  // No trust anchors at all.
  CHECK(verify_chain(cert("ec-leaf"), certs("ec-int"), {}, kNow) == Errc::untrusted_certificate);
  // Issued by a certificate that is not a CA (basicConstraints cA FALSE).
  CHECK(verify_chain(cert("ec-by-leaf"), certs("ec-leaf", "ec-int"), certs("ec-root"), kNow) ==
        Errc::untrusted_certificate);
  // A path problem outranks a validity problem.
  CHECK(verify_chain(cert("ec-leaf-expired"), certs("ec-int"), certs("other-root"), kNow) ==
        Errc::untrusted_certificate);

  // A bad signature: the last octet of the leaf (inside the ECDSA s value)
  // changed; the certificate still parses.
  Bytes der = fixture("x509/ec-leaf.der");
  der.back() ^= 0x01;
  auto tampered = Certificate::parse_der(der);
  REQUIRE(tampered.ok());
  CHECK(verify_chain(*tampered, certs("ec-int"), certs("ec-root"), kNow) == Errc::untrusted_certificate);
}

// mbedTLS looks for an issuer only after its subject in the chain list;
// verify_chain must order the intermediates itself.
TEST_CASE("verify_chain: intermediates in any order, with unrelated extras") {
  const Certificate deep = cert("ec-leaf-deep");
  const auto root = certs("ec-root");
  CHECK(verify_chain(deep, certs("ec-int-b", "ec-int-a"), root, kNow).ok());
  CHECK(verify_chain(deep, certs("ec-int-a", "ec-int-b"), root, kNow).ok());
  CHECK(verify_chain(deep, certs("rsa-int", "ec-int-a", "ec-int", "ec-int-b"), root, kNow).ok());
  CHECK(verify_chain(deep, certs("ec-int-a", "other-root", "ec-int-b", "ec-leaf"), root, kNow).ok());
  CHECK(verify_chain(cert("ec-leaf"), certs("rsa-int", "ec-int-a", "ec-int"), root, kNow).ok());
  CHECK(verify_chain(cert("rsa-leaf"), certs("ec-int", "rsa-int"), certs("rsa-root"), kNow).ok());
  // Ordering does not rescue a path whose validity fails.
  CHECK(verify_chain(deep, certs("ec-int-a", "ec-int-b"), root, k2034 + 1) == Errc::certificate_expired);
}

TEST_CASE("verify_chain: limits and empty certificates") {
  std::vector<Certificate> nine;
  for (int i = 0; i < 9; ++i) nine.push_back(cert("ec-int"));
  CHECK(ipsec::limits::kMaxCertificateChainLength == 8);
  CHECK(verify_chain(cert("ec-leaf"), nine, certs("ec-root"), kNow) == Errc::limit_exceeded);
  nine.pop_back();
  CHECK(verify_chain(cert("ec-leaf"), nine, certs("ec-root"), kNow).ok());

  std::vector<Certificate> with_empty;
  with_empty.emplace_back();
  CHECK(verify_chain(Certificate(), certs("ec-int"), certs("ec-root"), kNow) == Errc::invalid_argument);
  CHECK(verify_chain(cert("ec-leaf"), with_empty, certs("ec-root"), kNow) == Errc::invalid_argument);
  CHECK(verify_chain(cert("ec-leaf"), certs("ec-int"), with_empty, kNow) == Errc::invalid_argument);
}
