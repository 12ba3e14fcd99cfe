// SPDX-License-Identifier: Apache-2.0
// Tests for crypto/x509.hpp: parsing, accessors and verify_chain over the
// certificates tests/data/generate.sh and generate-ed25519.sh (Ed25519,
// which the library parses itself) make. Every certificate there has
// fixed validity dates and every verification here passes an explicit
// time, so the tests never depend on the clock:
//   CAs            2020-01-01 .. 2040-01-01
//   leaves         2024-01-01 .. 2034-01-01
//   expired leaf   2020-01-01 .. 2021-01-01
//   future leaf    2035-01-01 .. 2036-01-01
//   unrelated root 2000-01-01 .. 2100-01-01
//   ed-leaf-rich   2024-01-01 .. 2100-01-01
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstddef>
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

// The Ed25519 fixtures of tests/data/generate-ed25519.sh (x509/ed25519/).
Certificate ed(std::string_view name) { return cert("ed25519/" + std::string(name)); }
template <typename... Names>
std::vector<Certificate> eds(Names... names) {
  std::vector<Certificate> v;
  (v.push_back(ed(names)), ...);
  return v;
}
Bytes ed_fixture(std::string_view name) { return fixture("x509/ed25519/" + std::string(name) + ".der"); }

// Whether v is a view into der (not a copy).
bool inside(ByteView v, ByteView der) {
  return !v.empty() && v.data() >= der.data() && v.data() + v.size() <= der.data() + der.size();
}

// replace_first: der with the first occurrence of `from` (hex) at or after
// `start` replaced by `to` (hex, the same length); REQUIREs an occurrence.
Bytes replace_first(Bytes der, std::string_view from, std::string_view to, size_t start = 0) {
  const Bytes f = from_hex(from);
  const Bytes t = from_hex(to);
  REQUIRE(f.size() == t.size());
  for (size_t at = start; at + f.size() <= der.size(); ++at) {
    if (std::equal(f.begin(), f.end(), der.begin() + static_cast<std::ptrdiff_t>(at))) {
      std::copy(t.begin(), t.end(), der.begin() + static_cast<std::ptrdiff_t>(at));
      return der;
    }
  }
  FAIL("pattern ", std::string(from), " not found");
  return der;
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

// mbedTLS 2.28 has no EdDSA: the library parses Ed25519 certificates (RFC
// 8410) itself, and they work like the others.
TEST_CASE("X.509: an Ed25519 root CA parses") {
  const Certificate root = cert("ed25519-root");
  CHECK(subject(root) == "O=ipsec test, CN=Ed25519 Root CA");
  CHECK(to_hex(root.issuer_der()) == to_hex(root.subject_der()));  // self-issued
  CHECK(root.is_ca());
  CHECK(root.not_before() == k2020);
  CHECK(root.not_after() == k2040);
  CHECK(root.subject_alt_name_count() == 0);
  auto key = root.public_key();
  REQUIRE_MESSAGE(key.ok(), err(key.status()));
  CHECK(key->type() == KeyType::ed25519);
  const std::vector<Certificate> anchors = certs("ed25519-root");
  CHECK(verify_chain(root, {}, anchors, kNow).ok());
}

TEST_CASE("X.509: accessors of an Ed25519 leaf") {
  const Bytes der = ed_fixture("ed-leaf");
  auto parsed = Certificate::parse_der(der);
  REQUIRE_MESSAGE(parsed.ok(), err(parsed.status()));
  const Certificate& leaf = *parsed;
  const Certificate root = ed("ed-root");

  CHECK(to_hex(leaf.der()) == to_hex(der));
  CHECK(leaf.der().data() != der.data());  // its own copy
  CHECK(subject(leaf) == "O=ipsec test, CN=ed25519.example.com");
  CHECK(subject(root) == "O=ipsec test, CN=Ed25519 Root CA");
  CHECK(to_hex(leaf.issuer_der()) == to_hex(root.subject_der()));
  CHECK(to_hex(root.issuer_der()) == to_hex(root.subject_der()));
  // Whole DER Names, views into the certificate.
  REQUIRE(leaf.subject_der().size() > 2);
  CHECK(leaf.subject_der()[0] == 0x30);
  CHECK(inside(leaf.subject_der(), leaf.der()));
  CHECK(inside(leaf.issuer_der(), leaf.der()));
  CHECK(leaf.not_before() == k2024);
  CHECK(leaf.not_after() == k2034);
  CHECK_FALSE(leaf.is_ca());
  CHECK(root.is_ca());

  REQUIRE(leaf.subject_alt_name_count() == 1);
  const SubjectAltName san = leaf.subject_alt_name(0);
  CHECK(san.kind == SubjectAltName::Kind::dns);
  CHECK(text(san.value) == "ed25519.example.com");
  CHECK(inside(san.value, leaf.der()));
  CHECK(leaf.subject_alt_name(1).value.empty());
  CHECK(leaf.subject_alt_name(1).kind == SubjectAltName::Kind::other);

  // The key is the certificate's SubjectPublicKeyInfo (RFC 8410 section 4:
  // 44 octets, the key the last 32), and it verifies the leaf's issuer's
  // signatures: the root's key checks the leaf's signature.
  auto key = leaf.public_key();
  REQUIRE_MESSAGE(key.ok(), err(key.status()));
  CHECK(key->type() == KeyType::ed25519);
  CHECK(key->spki_der().size() == 44);
  const std::string der_hex = to_hex(leaf.der());
  CHECK(der_hex.find(to_hex(key->spki_der())) != std::string::npos);
  auto root_key = root.public_key();
  REQUIRE(root_key.ok());
  CHECK(root_key->type() == KeyType::ed25519);
  CHECK(to_hex(root_key->spki_der()) != to_hex(key->spki_der()));
}

TEST_CASE("X.509: an Ed25519 leaf with many attribute types and every kind of subjectAltName") {
  const Certificate leaf = ed("ed-leaf-rich");
  // openssl x509 -subject: C = DE, ST = Berlin, L = Berlin, O = ipsec test,
  // OU = unit + OU = tests, CN = rich.example.com, emailAddress = ...
  CHECK(subject(leaf) ==
        "C=DE, ST=Berlin, L=Berlin, O=ipsec test, OU=unit + OU=tests, CN=rich.example.com, "
        "emailAddress=rich@example.com, serialNumber=42, DC=example, GN=Alice, SN=Liddell");
  // notAfter 2100 is a GeneralizedTime (RFC 5280 4.1.2.5).
  CHECK(leaf.not_before() == k2024);
  CHECK(leaf.not_after() == k2100);
  // basicConstraints CA:FALSE, not critical.
  CHECK_FALSE(leaf.is_ca());

  struct Expected {
    SubjectAltName::Kind kind;
    Bytes value;
  };
  const auto bytes = [](std::string_view t) { return Bytes(t.begin(), t.end()); };
  // DirName:/O=ipsec test/CN=directory name, UTF8Strings.
  const Bytes dir_name = from_hex(
      "302e311330110603550"
      "40a0c0a6970736563207465737431173015060355040"
      "30c0e6469726563746f7279206e616d65");
  const Expected expected[] = {
      {SubjectAltName::Kind::dns, bytes("rich.example.com")},
      {SubjectAltName::Kind::email, bytes("rich@example.com")},
      {SubjectAltName::Kind::ip, from_hex("c6336407")},                          // 198.51.100.7
      {SubjectAltName::Kind::ip, from_hex("20010db8000000000000000000000007")},  // 2001:db8::7
      {SubjectAltName::Kind::uri, bytes("https://rich.example.com/")},
      {SubjectAltName::Kind::directory_name, dir_name},
      {SubjectAltName::Kind::other, {}},  // otherName (UPN): checked below
  };
  REQUIRE(leaf.subject_alt_name_count() == 7);
  for (size_t i = 0; i < 7; ++i) {
    CAPTURE(i);
    const SubjectAltName san = leaf.subject_alt_name(i);
    CHECK(san.kind == expected[i].kind);
    if (i < 6) CHECK(to_hex(san.value) == to_hex(expected[i].value));
    CHECK(inside(san.value, leaf.der()));
  }
  // otherName: type-id 1.3.6.1.4.1.311.20.2.3 (UPN), then [0] the UTF8String.
  const std::string other = to_hex(leaf.subject_alt_name(6).value);
  CHECK(other.rfind("060a2b060104018237140203a0", 0) == 0);
  CHECK(other.find(to_hex(bytes("rich@upn.example.com"))) != std::string::npos);
  CHECK(leaf.subject_alt_name(7).value.empty());
}

TEST_CASE("X.509: subject_text of an Ed25519 certificate needs room for the text and its NUL") {
  const Certificate leaf = ed("ed-leaf");
  const std::string full = "O=ipsec test, CN=ed25519.example.com";
  std::vector<char> buf(full.size() + 1, 'x');
  auto n = leaf.subject_text(buf);
  REQUIRE(n.ok());
  CHECK(*n == full.size());
  CHECK(std::string(buf.data(), *n) == full);
  CHECK(buf[full.size()] == '\0');
  buf.resize(full.size());
  CHECK(leaf.subject_text(buf).error() == Errc::buffer_too_small);
  CHECK(leaf.subject_text({}).error() == Errc::buffer_too_small);
}

TEST_CASE("X.509: clone and move of an Ed25519 certificate") {
  Certificate original = ed("ed-leaf");
  auto copy = original.clone();
  REQUIRE(copy.ok());
  CHECK(to_hex(copy->der()) == to_hex(original.der()));
  CHECK(copy->der().data() != original.der().data());
  {
    Certificate moved = std::move(original);
    CHECK(subject(moved) == "O=ipsec test, CN=ed25519.example.com");
  }
  CHECK(subject(*copy) == "O=ipsec test, CN=ed25519.example.com");
  CHECK(copy->subject_alt_name_count() == 1);
  CHECK(text(copy->subject_alt_name(0).value) == "ed25519.example.com");
  CHECK(inside(copy->subject_alt_name(0).value, copy->der()));
  CHECK(copy->public_key()->type() == KeyType::ed25519);
  CHECK(verify_chain(*copy, {}, eds("ed-root"), kNow).ok());
}

// An Ed25519 key under an ECDSA or RSA CA, and an ECDSA key under an Ed25519
// CA: whichever of the key and the signature is Ed25519 makes the
// certificate one the library parses itself.
TEST_CASE("X.509: mixed Ed25519 / ECDSA / RSA certificates") {
  const Certificate by_ec = ed("ed-by-ec");
  CHECK(subject(by_ec) == "O=ipsec test, CN=mixed.example.com");
  CHECK(to_hex(by_ec.issuer_der()) == to_hex(ed("ec-int").subject_der()));
  CHECK(by_ec.public_key()->type() == KeyType::ed25519);
  REQUIRE(by_ec.subject_alt_name_count() == 1);
  CHECK(text(by_ec.subject_alt_name(0).value) == "mixed.example.com");
  CHECK(by_ec.not_before() == k2024);
  CHECK(by_ec.not_after() == k2034);

  CHECK(subject(ed("ed-by-rsa")) == "O=ipsec test, CN=rsa.example.com");
  CHECK(ed("ed-by-rsa").public_key()->type() == KeyType::ed25519);
  CHECK(ed("ed-by-rsa-pss").public_key()->type() == KeyType::ed25519);

  const Certificate ec_int = ed("ec-int-by-ed");
  CHECK(subject(ec_int) == "O=ipsec test, CN=ECDSA CA under Ed25519");
  CHECK(ec_int.is_ca());
  CHECK(ec_int.not_after() == k2040);
  CHECK(ec_int.public_key()->type() == KeyType::ecdsa_p256);
  // Its ECDSA leaf is an ordinary (mbedTLS) certificate.
  const Certificate ec_leaf = ed("ec-leaf-by-ed");
  CHECK(subject(ec_leaf) == "O=ipsec test, CN=ecdsa-under-ed25519.example.com");
  CHECK(to_hex(ec_leaf.issuer_der()) == to_hex(ec_int.subject_der()));
}

TEST_CASE("X.509: malformed Ed25519 certificates fail cleanly") {
  for (const char* name :
       {"ed-leaf", "ed-leaf-rich", "ed-by-ec", "ed-by-rsa-pss", "ec-int-by-ed", "ed-root"}) {
    CAPTURE(std::string(name));
    const Bytes der = ed_fixture(name);
    REQUIRE(Certificate::parse_der(der).ok());
    // Every proper prefix.
    for (size_t n = 0; n < der.size(); ++n) {
      CHECK(Certificate::parse_der(ByteView(der).first(n)).error() == Errc::invalid_certificate);
    }
    // A trailing byte.
    Bytes longer = der;
    longer.push_back(0);
    CHECK(Certificate::parse_der(longer).error() == Errc::invalid_certificate);
  }

  // Every single-bit corruption: parsing and, when it parses, the accessors
  // and a verification must not crash (they may fail or not).
  std::array<char, 512> buf{};
  for (const char* name : {"ed-leaf-rich", "ed-by-ec"}) {
    const Bytes der = ed_fixture(name);
    const auto intermediates = eds("ec-int");
    const auto mixed_anchors = eds("ec-root", "ed-root");
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
        (void)c->is_ca();
        (void)verify_chain(*c, intermediates, mixed_anchors, kNow);
      }
    }
  }

  // Ed448 (RFC 8410 too): neither mbedTLS nor the library implement it.
  CHECK(Certificate::parse_der(ed_fixture("ed448-root")).error() == Errc::unsupported_algorithm);

  const Bytes leaf = ed_fixture("ed-leaf");
  // RFC 5280 4.2: an extension the library does not know, marked critical.
  CHECK(Certificate::parse_der(ed_fixture("ed-critical")).error() == Errc::invalid_certificate);
  // Version v2 (1): only v3 or an absent (v1) version.
  CHECK(Certificate::parse_der(replace_first(leaf, "a003020102", "a003020101")).error() ==
        Errc::invalid_certificate);
  // The TBSCertificate's signature algorithm (the first AlgorithmIdentifier)
  // differs from the outer one (RFC 5280 4.1.1.2): Ed448 inside.
  CHECK(Certificate::parse_der(replace_first(leaf, "300506032b6570", "300506032b6571")).error() ==
        Errc::invalid_certificate);
  // An Ed448 subject key (RFC 8410 SubjectPublicKeyInfo, the first
  // "302a3005...") signed with Ed25519: the library has no Ed448.
  CHECK(Certificate::parse_der(replace_first(leaf, "302a300506032b6570", "302a300506032b6571")).error() ==
        Errc::unsupported_algorithm);
  // Ed448 for both signature algorithms: nothing the library implements.
  {
    Bytes ed448 = replace_first(leaf, "300506032b6570", "300506032b6571");
    const size_t outer = leaf.size() - 67 - 7;  // AlgorithmIdentifier, then BIT STRING {0, 64 octets}
    ed448 = replace_first(ed448, "300506032b6570", "300506032b6571", outer);
    CHECK(Certificate::parse_der(ed448).error() == Errc::unsupported_algorithm);
  }
  // Validity: month 13, day 32, a fraction-free time without 'Z'.
  CHECK(Certificate::parse_der(replace_first(leaf, "170d3234303130313030", "170d3234313330313030")).error() ==
        Errc::invalid_certificate);
  CHECK(Certificate::parse_der(replace_first(leaf, "170d3234303130313030", "170d3234303133323030")).error() ==
        Errc::invalid_certificate);
  CHECK(Certificate::parse_der(replace_first(leaf, "3030303030305a", "30303030303030")).error() ==
        Errc::invalid_certificate);
  // basicConstraints' critical BOOLEAN must be 0x00 or 0xff (X.690 11.1).
  CHECK(Certificate::parse_der(replace_first(leaf, "0603551d130101ff", "0603551d13010101")).error() ==
        Errc::invalid_certificate);
  // A signature BIT STRING with unused bits (its initial octet, 67 octets
  // from the end).
  CHECK(Certificate::parse_der(replace_first(leaf, "034100", "034101", leaf.size() - 67)).error() ==
        Errc::invalid_certificate);
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

// ---- verify_chain with Ed25519 certificates ---------------------------------------
// mbedTLS can neither hold nor check them: the library validates the whole
// path itself when one can be on it.

TEST_CASE("verify_chain: valid Ed25519 and mixed chains") {
  const auto ed_root = eds("ed-root");
  CHECK(verify_chain(ed("ed-leaf"), {}, ed_root, kNow).ok());
  CHECK(verify_chain(ed("ed-leaf-rich"), {}, ed_root, kNow).ok());
  CHECK(verify_chain(ed("ed-root"), {}, ed_root, kNow).ok());  // a self-signed anchor
  // Root -> intermediate (pathlen:0) -> leaf.
  CHECK(verify_chain(ed("ed-leaf-int"), eds("ed-int"), ed_root, kNow).ok());
  // An intermediate may itself be the trust anchor.
  CHECK(verify_chain(ed("ed-leaf-int"), {}, eds("ed-int"), kNow).ok());
  CHECK(verify_chain(ed("ed-leaf-deep"), {}, eds("ed-int-sub"), kNow).ok());
  // Several trust anchors, the right one among them (the first has the
  // very same subject Name, another key).
  CHECK(verify_chain(ed("ed-leaf"), {}, eds("ed-other-root", "ec-root", "ed-root"), kNow).ok());

  // ECDSA root -> ECDSA intermediate -> Ed25519 leaf (ecdsa-with-SHA256).
  const Status by_ec = verify_chain(ed("ed-by-ec"), eds("ec-int"), eds("ec-root"), kNow);
  CHECK_MESSAGE(by_ec.ok(), err(by_ec));
  CHECK(verify_chain(ed("ed-by-ec"), {}, eds("ec-int"), kNow).ok());
  // RSA root -> Ed25519 leaves (sha384WithRSAEncryption, RSASSA-PSS).
  const Status by_rsa = verify_chain(ed("ed-by-rsa"), {}, eds("rsa-root"), kNow);
  CHECK_MESSAGE(by_rsa.ok(), err(by_rsa));
  const Status by_pss = verify_chain(ed("ed-by-rsa-pss"), {}, eds("rsa-root"), kNow);
  CHECK_MESSAGE(by_pss.ok(), err(by_pss));
  // Ed25519 root -> ECDSA intermediate (an Ed25519 signature) -> ECDSA
  // leaf: the leaf is an mbedTLS certificate, its issuer is not.
  const Status under_ed = verify_chain(ed("ec-leaf-by-ed"), eds("ec-int-by-ed"), ed_root, kNow);
  CHECK_MESSAGE(under_ed.ok(), err(under_ed));
  // ... and with that intermediate as the (own) trust anchor.
  CHECK(verify_chain(ed("ec-leaf-by-ed"), {}, eds("ec-int-by-ed"), kNow).ok());
  CHECK(verify_chain(ed("ec-leaf-by-ed"), {}, eds("ec-root", "ec-int-by-ed"), kNow).ok());

  // A self-signed leaf (not a CA) that is itself the trust anchor.
  CHECK(verify_chain(ed("ed-self"), {}, eds("ed-self"), kNow).ok());
  CHECK(verify_chain(ed("ed-self"), {}, eds("ed-self"), k2034 + 1) == Errc::certificate_expired);
  CHECK(verify_chain(ed("ed-self"), {}, ed_root, kNow) == Errc::untrusted_certificate);
}

TEST_CASE("verify_chain: Ed25519 validity at the given time only") {
  const auto root = eds("ed-root");
  CHECK(verify_chain(ed("ed-leaf-expired"), {}, root, kNow) == Errc::certificate_expired);
  CHECK(verify_chain(ed("ed-leaf-future"), {}, root, kNow) == Errc::certificate_not_yet_valid);
  CHECK(verify_chain(ed("ed-leaf-expired"), {}, root, k2020 + 86400).ok());
  CHECK(verify_chain(ed("ed-leaf-future"), {}, root, k2035 + 86400).ok());

  // RFC 5280 4.1.2.5: notBefore and notAfter are both inside the period.
  const Certificate leaf = ed("ed-leaf");
  CHECK(verify_chain(leaf, {}, root, k2024).ok());
  CHECK(verify_chain(leaf, {}, root, k2024 - 1) == Errc::certificate_not_yet_valid);
  CHECK(verify_chain(leaf, {}, root, k2034).ok());
  CHECK(verify_chain(leaf, {}, root, k2034 + 1) == Errc::certificate_expired);
  // The CAs' periods count too, intermediates and anchors alike.
  CHECK(verify_chain(ed("ed-leaf-rich"), {}, root, k2040).ok());
  CHECK(verify_chain(ed("ed-leaf-rich"), {}, root, k2040 + 1) == Errc::certificate_expired);
  CHECK(verify_chain(ed("ed-leaf-rich"), {}, root, k2020) == Errc::certificate_not_yet_valid);
  CHECK(verify_chain(ed("ed-by-ec"), eds("ec-int"), eds("ec-root"), k2040 + 1) == Errc::certificate_expired);
  CHECK(verify_chain(ed("ed-by-ec"), eds("ec-int"), eds("ec-root"), k2000) ==
        Errc::certificate_not_yet_valid);
  // A path problem outranks a validity problem.
  CHECK(verify_chain(ed("ed-leaf-expired"), {}, eds("ed-other-root"), kNow) == Errc::untrusted_certificate);
}

TEST_CASE("verify_chain: untrusted Ed25519 paths") {
  const auto root = eds("ed-root");
  // The wrong anchor: an unrelated CA, or one with the root's very subject
  // Name but another key.
  CHECK(verify_chain(ed("ed-leaf"), {}, eds("ed-other-root"), kNow) == Errc::untrusted_certificate);
  CHECK(verify_chain(ed("ed-leaf"), {}, eds("ec-root", "rsa-root"), kNow) == Errc::untrusted_certificate);
  CHECK(verify_chain(ed("ed-leaf"), {}, certs("ec-root"), kNow) == Errc::untrusted_certificate);
  CHECK(verify_chain(ed("ed-by-ec"), eds("ec-int"), root, kNow) == Errc::untrusted_certificate);
  CHECK(verify_chain(ed("ec-leaf-by-ed"), eds("ec-int-by-ed"), eds("ed-other-root"), kNow) ==
        Errc::untrusted_certificate);
  // No trust anchors at all.
  CHECK(verify_chain(ed("ed-leaf"), eds("ed-int"), {}, kNow) == Errc::untrusted_certificate);
  // Missing intermediate.
  CHECK(verify_chain(ed("ed-leaf-int"), {}, root, kNow) == Errc::untrusted_certificate);
  CHECK(verify_chain(ed("ec-leaf-by-ed"), {}, root, kNow) == Errc::untrusted_certificate);

  // A bad signature: generate-ed25519.sh flipped the last bit of ed-leaf's
  // Ed25519 signature; the certificate still parses.
  auto bad = Certificate::parse_der(ed_fixture("ed-leaf-badsig"));
  REQUIRE_MESSAGE(bad.ok(), err(bad.status()));
  CHECK(to_hex(bad->subject_der()) == to_hex(ed("ed-leaf").subject_der()));
  CHECK(verify_chain(*bad, {}, root, kNow) == Errc::untrusted_certificate);
  // The same with an ECDSA signature over an Ed25519 leaf (the last octet,
  // inside the s value), and an Ed25519 signature over an ECDSA CA.
  Bytes der = ed_fixture("ed-by-ec");
  der.back() ^= 0x01;
  auto tampered = Certificate::parse_der(der);
  REQUIRE(tampered.ok());
  CHECK(verify_chain(*tampered, eds("ec-int"), eds("ec-root"), kNow) == Errc::untrusted_certificate);
  der = ed_fixture("ec-int-by-ed");
  der.back() ^= 0x01;
  tampered = Certificate::parse_der(der);
  REQUIRE(tampered.ok());
  std::vector<Certificate> tampered_int;
  tampered_int.push_back(std::move(*tampered));
  CHECK(verify_chain(ed("ec-leaf-by-ed"), tampered_int, root, kNow) == Errc::untrusted_certificate);
  // ... and a changed signed octet (the serial number's last) under a good
  // signature: 30 82 LL LL 30 82 LL LL a0 03 02 01 02 02 02 20 [xx].
  Bytes serial = ed_fixture("ed-leaf");
  REQUIRE(serial.size() > 16);
  REQUIRE(to_hex(ByteView(serial).subspan(8, 7)) == "a0030201020202");
  serial[16] ^= 0x01;
  auto reserialed = Certificate::parse_der(serial);
  REQUIRE(reserialed.ok());
  CHECK(verify_chain(*reserialed, {}, root, kNow) == Errc::untrusted_certificate);

  // Issued by a certificate that is not a CA (basicConstraints cA FALSE).
  CHECK(verify_chain(ed("ed-by-leaf"), eds("ed-leaf"), root, kNow) == Errc::untrusted_certificate);
  CHECK(verify_chain(ed("ed-by-leaf"), {}, eds("ed-leaf"), kNow) == Errc::untrusted_certificate);
  // A CA whose keyUsage lacks keyCertSign (RFC 5280 4.2.1.3); the CA
  // certificate itself is fine.
  CHECK(verify_chain(ed("ed-ca-nocertsign"), {}, root, kNow).ok());
  CHECK(verify_chain(ed("ed-by-nocertsign"), eds("ed-ca-nocertsign"), root, kNow) ==
        Errc::untrusted_certificate);
  // pathLenConstraint 0 on ed-int: a CA below it breaks it (RFC 5280
  // 4.2.1.9), whether ed-int is an intermediate or the anchor.
  CHECK(verify_chain(ed("ed-leaf-deep"), eds("ed-int-sub", "ed-int"), root, kNow) ==
        Errc::untrusted_certificate);
  CHECK(verify_chain(ed("ed-leaf-deep"), eds("ed-int-sub"), eds("ed-int"), kNow) ==
        Errc::untrusted_certificate);
  CHECK(verify_chain(ed("ed-int-sub"), eds("ed-int"), root, kNow).ok());
}

TEST_CASE("verify_chain: Ed25519 intermediates in any order, with unrelated extras") {
  const auto root = eds("ed-root");
  const Certificate leaf = ed("ed-leaf-int");
  CHECK(verify_chain(leaf, eds("ed-int-sub", "ed-int"), root, kNow).ok());
  CHECK(verify_chain(leaf, eds("ec-int", "ed-leaf", "ed-other-root", "ed-int"), root, kNow).ok());
  CHECK(verify_chain(ed("ec-leaf-by-ed"), eds("ed-int", "ec-int", "ec-int-by-ed"), root, kNow).ok());
  // Mixed in with the mbedTLS fixtures of generate.sh.
  CHECK(verify_chain(leaf, certs("ec-int", "rsa-int", "ec-leaf"), root, kNow) == Errc::untrusted_certificate);
  std::vector<Certificate> mixed = certs("ec-int", "rsa-int");
  mixed.push_back(ed("ed-int"));
  CHECK(verify_chain(leaf, mixed, root, kNow).ok());
  // An mbedTLS chain with Ed25519 anchors beside its own: verified by
  // mbedTLS as before (the Ed25519 anchor cannot be on its path).
  std::vector<Certificate> anchors = eds("ed-root");
  anchors.push_back(cert("ec-root"));
  CHECK(verify_chain(cert("ec-leaf"), certs("ec-int"), anchors, kNow).ok());
  CHECK(verify_chain(cert("ec-leaf"), certs("ec-int"), root, kNow) == Errc::untrusted_certificate);
  CHECK(verify_chain(cert("ec-leaf-expired"), certs("ec-int"), anchors, kNow) == Errc::certificate_expired);
  // An Ed25519 intermediate given with an mbedTLS chain: validated by the
  // library, with the same answers.
  CHECK(verify_chain(cert("ec-leaf"), certs("ec-int"), certs("ec-root"), kNow).ok());
  std::vector<Certificate> with_ed = certs("ec-int");
  with_ed.push_back(ed("ed-int"));
  CHECK(verify_chain(cert("ec-leaf"), with_ed, certs("ec-root"), kNow).ok());
  CHECK(verify_chain(cert("ec-leaf"), with_ed, certs("ec-root"), k2034 + 1) == Errc::certificate_expired);
  CHECK(verify_chain(cert("rsa-leaf"), with_ed, certs("rsa-root"), kNow) == Errc::untrusted_certificate);
  with_ed.push_back(cert("rsa-int"));
  const Status rsa = verify_chain(cert("rsa-leaf"), with_ed, certs("rsa-root"), kNow);
  CHECK_MESSAGE(rsa.ok(), err(rsa));  // RSASSA-PSS and PKCS#1 v1.5 links
  with_ed.push_back(cert("ec-int-a"));
  with_ed.push_back(cert("ec-int-b"));
  CHECK(verify_chain(cert("ec-leaf-deep"), with_ed, certs("ec-root"), kNow).ok());
  with_ed.push_back(cert("ec-leaf"));
  CHECK(verify_chain(cert("ec-by-leaf"), with_ed, certs("ec-root"), kNow) == Errc::untrusted_certificate);
}

TEST_CASE("verify_chain: Ed25519 limits and empty certificates") {
  std::vector<Certificate> nine;
  for (int i = 0; i < 9; ++i) nine.push_back(ed("ed-int"));
  CHECK(verify_chain(ed("ed-leaf-int"), nine, eds("ed-root"), kNow) == Errc::limit_exceeded);
  nine.pop_back();
  CHECK(verify_chain(ed("ed-leaf-int"), nine, eds("ed-root"), kNow).ok());
  // A self-signed CA and eight copies of it, which all issue each other:
  // every ordering is a candidate path, each signature is checked once, and
  // no path reaches the anchor (the same subject Name, another key).
  std::vector<Certificate> roots;
  for (int i = 0; i < 8; ++i) roots.push_back(ed("ed-other-root"));
  CHECK(verify_chain(ed("ed-other-root"), roots, eds("ed-root"), kNow) == Errc::untrusted_certificate);
  CHECK(verify_chain(ed("ed-leaf"), roots, eds("ed-root"), kNow).ok());
  CHECK(verify_chain(ed("ed-leaf"), roots, eds("ed-other-root"), kNow) == Errc::untrusted_certificate);

  std::vector<Certificate> with_empty;
  with_empty.emplace_back();
  CHECK(verify_chain(Certificate(), eds("ed-int"), eds("ed-root"), kNow) == Errc::invalid_argument);
  CHECK(verify_chain(ed("ed-leaf"), with_empty, eds("ed-root"), kNow) == Errc::invalid_argument);
  CHECK(verify_chain(ed("ed-leaf"), eds("ed-int"), with_empty, kNow) == Errc::invalid_argument);
}
