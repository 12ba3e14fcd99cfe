// SPDX-License-Identifier: Apache-2.0
// Signature keys for IKEv2 authentication (RFC 7296 section 2.15, RFC 7427):
// RSA and ECDSA over mbedTLS, Ed25519 over libsodium.
//
// mbedTLS 2.28 knows nothing of Ed25519, so the two RFC 8410 containers
// (PKCS#8 private keys, section 7, and SubjectPublicKeyInfo, section 4) are
// parsed here with ByteReader. Everything else is handed to mbedTLS as DER,
// after the outer DER element has been checked to span the input exactly
// (mbedTLS silently ignores bytes after it).
//
// Policy decisions, documented once:
//  * RSA keys must have 2048..8192 bits, for signing *and* for verifying.
//    NIST SP 800-131A rev. 2 disallows generating signatures with shorter
//    keys and keeps verifying with them only as "legacy use"; strongSwan
//    still accepts them. We refuse them for verification too: a 1024-bit
//    key offers about 80-bit security, too little to authenticate a peer
//    today, and mbedTLS's default X.509 profile applies the same 2048-bit
//    floor to certificates, so keys and certificates agree. 8192 bits is
//    limits::kMaxSignatureSize.
//  * Only the curves of IKEv2's ECDSA methods (RFC 4754) are accepted:
//    P-256, P-384 and P-521, as named curves (RFC 5480 section 2.1.1).
//  * Ed25519 is PureEdDSA over the whole message (RFC 8032 section 5.1,
//    RFC 8420 section 2: the "Identity" hash).
//  * Encrypted private keys (PKCS#8 EncryptedPrivateKeyInfo, or legacy PEM
//    with "Proc-Type: 4,ENCRYPTED") are refused with unsupported_algorithm:
//    the library takes no passwords.
//
// Thread safety: a key may be shared between threads. The only operation
// that touches mbedTLS state is RSA signing (mbedTLS 2.28 reads the padding
// mode and hash from the RSA context), which a per-key mutex serialises.
#include "ipsec/crypto/signature.hpp"

#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>

#include "ipsec/bytes/reader.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/wire/der.hpp"

namespace ipsec::crypto {

namespace detail {

struct KeyImpl {
  KeyImpl() noexcept { mbedtls_pk_init(&pk); }
  ~KeyImpl() {
    mbedtls_pk_free(&pk);  // frees the MPIs zeroized and zeroizes the context
    secure_zero(ed_secret);
  }
  KeyImpl(const KeyImpl&) = delete;
  KeyImpl& operator=(const KeyImpl&) = delete;

  KeyType type = KeyType::rsa;
  bool has_private = false;
  // RSA and ECDSA keys.
  mbedtls_pk_context pk{};
  // Ed25519 keys, in libsodium's layout: secret = seed || public.
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> ed_public{};
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> ed_secret{};
  // The DER SubjectPublicKeyInfo of the (public half of the) key.
  ByteBuffer spki;
  // Serialises RSA signing, which sets the padding mode in the context.
  std::mutex rsa_sign_mutex;
};

void KeyImplDeleter::operator()(KeyImpl* p) const noexcept { delete p; }

}  // namespace detail

namespace {

using detail::KeyImpl;
using detail::KeyImplPtr;

constexpr size_t kMinRsaBits = 2048;
constexpr size_t kMaxRsaBits = limits::kMaxSignatureSize * 8;
constexpr size_t kEd25519SignatureSize = crypto_sign_BYTES;
// RFC 5280 SubjectPublicKeyInfo of an RSA-8192 key is about 1.1 KB.
constexpr size_t kMaxSpkiSize = 2048;

// ---- DER (wire/der.hpp reads the elements) -------------------------------------

// Object identifier contents (without tag and length).
constexpr uint8_t kOidEd25519[] = {0x2b, 0x65, 0x70};  // 1.3.101.112, RFC 8410 section 3
constexpr uint8_t kOidRsaEncryption[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
constexpr uint8_t kOidEcPublicKey[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};  // RFC 5480 2.1.1
constexpr uint8_t kOidP256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr uint8_t kOidP384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
constexpr uint8_t kOidP521[] = {0x2b, 0x81, 0x04, 0x00, 0x23};

[[nodiscard]] bool oid_is(const wire::DerElement& oid, ByteView want) noexcept {
  return oid.tag == wire::der_tag::kOid && equal_bytes(oid.value, want);
}

// Where a key's DER goes: to the Ed25519 parser here, to mbedTLS, or nowhere.
enum class Route : uint8_t { ed25519, backend, unsupported };

// route_algorithm: by the AlgorithmIdentifier of a PKCS#8 or
// SubjectPublicKeyInfo (RFC 5280 4.1.1.2).
[[nodiscard]] Route route_algorithm(ByteView algorithm_identifier) noexcept {
  ByteReader a(algorithm_identifier);
  wire::DerElement oid;
  if (!wire::read_der_tagged(a, wire::der_tag::kOid, &oid))
    return Route::backend;  // mbedTLS reports the error
  if (oid_is(oid, kOidEd25519)) return Route::ed25519;
  if (oid_is(oid, kOidRsaEncryption)) return Route::backend;
  if (oid_is(oid, kOidEcPublicKey)) {
    // ECParameters: only a namedCurve, and only an IKEv2 ECDSA curve.
    wire::DerElement curve;
    if (!wire::read_der(a, &curve)) return Route::backend;
    if (oid_is(curve, kOidP256) || oid_is(curve, kOidP384) || oid_is(curve, kOidP521)) {
      return Route::backend;
    }
    return Route::unsupported;
  }
  // Ed448, X25519, X448, DSA, RSASSA-PSS-only keys (RFC 4055), ...
  return Route::unsupported;
}

// route_private: PKCS#8 PrivateKeyInfo (RFC 5208 section 5) starts with an
// INTEGER then an AlgorithmIdentifier; PKCS#1 RSAPrivateKey (RFC 8017 A.1.2)
// has an INTEGER second, SEC1 ECPrivateKey (RFC 5915 section 3) an OCTET
// STRING; EncryptedPrivateKeyInfo (RFC 5208 section 6) starts with a
// SEQUENCE.
[[nodiscard]] Route route_private(const wire::DerElement& outer) noexcept {
  ByteReader r(outer.value);
  wire::DerElement first;
  wire::DerElement second;
  if (!wire::read_der(r, &first)) return Route::backend;
  if (first.tag == wire::der_tag::kSequence) return Route::unsupported;  // encrypted
  if (!wire::read_der(r, &second) || second.tag != wire::der_tag::kSequence) return Route::backend;
  return route_algorithm(second.value);
}

// route_public: SubjectPublicKeyInfo (RFC 5280 4.1) starts with the
// AlgorithmIdentifier; anything else (PKCS#1 RSAPublicKey) goes to mbedTLS.
[[nodiscard]] Route route_public(const wire::DerElement& outer) noexcept {
  ByteReader r(outer.value);
  wire::DerElement first;
  if (!wire::read_der(r, &first) || first.tag != wire::der_tag::kSequence) return Route::backend;
  return route_algorithm(first.value);
}

// ---- helpers -----------------------------------------------------------------

// A non-null pointer for possibly empty views: C APIs get (ptr, 0), never
// (nullptr, 0), which some of them treat as an error.
[[nodiscard]] const uint8_t* data_of(ByteView v) noexcept {
  static constexpr uint8_t kEmpty = 0;
  return v.empty() ? &kEmpty : v.data();
}

// rng_callback: the injected Rng as mbedTLS's f_rng.
int rng_callback(void* rng, unsigned char* out, size_t len) noexcept {
  static_cast<Rng*>(rng)->fill(MutableByteView(out, len));
  return 0;
}

[[nodiscard]] Result<KeyImplPtr> new_impl() noexcept {
  KeyImplPtr p(new (std::nothrow) KeyImpl);
  if (!p) return Errc::out_of_memory;
  return p;
}

[[nodiscard]] mbedtls_md_type_t md_of(SignatureScheme s) noexcept {
  switch (s) {
    case SignatureScheme::rsa_pkcs1_sha1: return MBEDTLS_MD_SHA1;
    case SignatureScheme::ecdsa_sha256:
    case SignatureScheme::rsa_pkcs1_sha256:
    case SignatureScheme::rsa_pss_sha256: return MBEDTLS_MD_SHA256;
    case SignatureScheme::ecdsa_sha384:
    case SignatureScheme::rsa_pkcs1_sha384:
    case SignatureScheme::rsa_pss_sha384: return MBEDTLS_MD_SHA384;
    case SignatureScheme::ecdsa_sha512:
    case SignatureScheme::rsa_pkcs1_sha512:
    case SignatureScheme::rsa_pss_sha512: return MBEDTLS_MD_SHA512;
    case SignatureScheme::ed25519: break;
  }
  return MBEDTLS_MD_NONE;
}

[[nodiscard]] constexpr bool is_pss(SignatureScheme s) noexcept {
  return s == SignatureScheme::rsa_pss_sha256 || s == SignatureScheme::rsa_pss_sha384 ||
         s == SignatureScheme::rsa_pss_sha512;
}

struct Digest {
  std::array<uint8_t, MBEDTLS_MD_MAX_SIZE> bytes{};
  unsigned size = 0;
};

// digest: the message hash that RSA and ECDSA sign (the message is public,
// so the digest needs no zeroing).
[[nodiscard]] Status digest(mbedtls_md_type_t md, ByteView message, Digest* out) noexcept {
  const mbedtls_md_info_t* info = mbedtls_md_info_from_type(md);
  if (info == nullptr) return Errc::unsupported_algorithm;
  if (mbedtls_md(info, data_of(message), message.size(), out->bytes.data()) != 0) {
    return Errc::crypto_backend_failure;
  }
  out->size = mbedtls_md_get_size(info);
  return Status::success();
}

// map_pk_error: an mbedTLS PK parse error as an Errc. mbedTLS adds a
// low-level code (ASN.1, ...) to the high-level one; only the latter is
// looked at.
[[nodiscard]] Errc map_pk_error(int rc) noexcept {
  const int high = -((-rc) & 0xff80);
  switch (high) {
    case MBEDTLS_ERR_PK_UNKNOWN_PK_ALG:
    case MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE:
    case MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE:
    case MBEDTLS_ERR_PK_PASSWORD_REQUIRED: return Errc::unsupported_algorithm;
    case MBEDTLS_ERR_PK_ALLOC_FAILED: return Errc::out_of_memory;
    default: return Errc::invalid_key;
  }
}

// finish_backend_key: type and size policy for an mbedTLS key, then its
// SubjectPublicKeyInfo. check_pair: verify that the private and public
// halves belong together (a corrupted key file is caught here, not by
// peers rejecting our signatures).
[[nodiscard]] Status finish_backend_key(KeyImpl& k, bool has_private, bool check_pair) noexcept {
  switch (mbedtls_pk_get_type(&k.pk)) {
    case MBEDTLS_PK_RSA: {
      const size_t bits = mbedtls_pk_get_bitlen(&k.pk);
      if (bits > kMaxRsaBits) return Errc::limit_exceeded;
      if (bits < kMinRsaBits) return Errc::unsupported_algorithm;
      k.type = KeyType::rsa;
      break;
    }
    case MBEDTLS_PK_ECKEY:
      switch (mbedtls_pk_ec(k.pk)->grp.id) {
        case MBEDTLS_ECP_DP_SECP256R1: k.type = KeyType::ecdsa_p256; break;
        case MBEDTLS_ECP_DP_SECP384R1: k.type = KeyType::ecdsa_p384; break;
        case MBEDTLS_ECP_DP_SECP521R1: k.type = KeyType::ecdsa_p521; break;
        default: return Errc::unsupported_algorithm;  // secp256k1, brainpool, ...
      }
      break;
    default: return Errc::unsupported_algorithm;  // ECDH-only keys, ...
  }
  k.has_private = has_private;
  if (check_pair && mbedtls_pk_check_pair(&k.pk, &k.pk) != 0) return Errc::invalid_key;

  // mbedtls_pk_write_pubkey_der writes backwards from the end of the buffer.
  std::array<uint8_t, kMaxSpkiSize> buf{};
  const int n = mbedtls_pk_write_pubkey_der(&k.pk, buf.data(), buf.size());
  if (n <= 0) return Errc::crypto_backend_failure;
  auto spki = ByteBuffer::copy_of(ByteView(buf).last(static_cast<size_t>(n)));
  if (!spki) return spki.status();
  k.spki = std::move(*spki);
  return Status::success();
}

// ---- Ed25519 (RFC 8410) ----------------------------------------------------------

// The fixed SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410 section
// 4): SEQUENCE { SEQUENCE { OID 1.3.101.112 } BIT STRING (0 unused bits) }.
constexpr uint8_t kEd25519SpkiPrefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                          0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

[[nodiscard]] Status set_ed25519_public(KeyImpl& k, ByteView pub) noexcept {
  std::array<uint8_t, sizeof kEd25519SpkiPrefix + crypto_sign_PUBLICKEYBYTES> spki{};
  std::memcpy(spki.data(), kEd25519SpkiPrefix, sizeof kEd25519SpkiPrefix);
  std::memcpy(spki.data() + sizeof kEd25519SpkiPrefix, pub.data(), crypto_sign_PUBLICKEYBYTES);
  auto buf = ByteBuffer::copy_of(spki);
  if (!buf) return buf.status();
  k.spki = std::move(*buf);
  std::memcpy(k.ed_public.data(), pub.data(), crypto_sign_PUBLICKEYBYTES);
  k.type = KeyType::ed25519;
  return Status::success();
}

// set_ed25519_seed: derive the key pair from the 32-octet private key
// (RFC 8032 section 5.1.5).
[[nodiscard]] Status set_ed25519_seed(KeyImpl& k, ByteView seed) noexcept {
  if (sodium_init() < 0) return Errc::crypto_backend_failure;
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pub{};
  if (crypto_sign_seed_keypair(pub.data(), k.ed_secret.data(), seed.data()) != 0) {
    return Errc::crypto_backend_failure;
  }
  k.has_private = true;
  return set_ed25519_public(k, pub);
}

// parse_ed25519_pkcs8: OneAsymmetricKey (RFC 5958 section 2) holding an
// Ed25519 CurvePrivateKey (RFC 8410 section 7):
//   SEQUENCE { INTEGER v1(0)|v2(1), SEQUENCE { OID 1.3.101.112 },
//              OCTET STRING { OCTET STRING (32) },
//              [0] attributes OPTIONAL, [1] publicKey OPTIONAL (v2 only) }
[[nodiscard]] Status parse_ed25519_pkcs8(const wire::DerElement& outer, KeyImpl& k) noexcept {
  ByteReader r(outer.value, outer.value_offset);
  wire::DerElement version;
  wire::DerElement algorithm;
  wire::DerElement private_key;
  if (!wire::read_der_tagged(r, wire::der_tag::kInteger, &version) ||
      !wire::read_der_tagged(r, wire::der_tag::kSequence, &algorithm) ||
      !wire::read_der_tagged(r, wire::der_tag::kOctetString, &private_key)) {
    return Status(Errc::invalid_key, r.status().offset(), "pkcs8");
  }
  if (version.value.size() != 1 || version.value[0] > 1) {
    return Status(Errc::invalid_key, version.value_offset, "pkcs8 version");
  }
  const bool v2 = version.value[0] == 1;

  // RFC 8410 section 3: the parameters MUST be absent.
  ByteReader alg(algorithm.value, algorithm.value_offset);
  wire::DerElement oid;
  if (!wire::read_der_tagged(alg, wire::der_tag::kOid, &oid) || !alg.expect_end().ok()) {
    return Status(Errc::invalid_key, alg.status().offset(), "pkcs8 algorithm");
  }

  ByteReader inner(private_key.value, private_key.value_offset);
  wire::DerElement seed;
  if (!wire::read_der_tagged(inner, wire::der_tag::kOctetString, &seed) || !inner.expect_end().ok() ||
      seed.value.size() != crypto_sign_SEEDBYTES) {
    return Status(Errc::invalid_key, private_key.value_offset, "ed25519 private key");
  }

  uint8_t next = 0;
  if (!r.empty() && r.peek_u8(&next) && next == wire::der_tag::kContext0) {
    wire::DerElement ignored;
    if (!wire::read_der(r, &ignored))
      return Status(Errc::invalid_key, r.status().offset(), "pkcs8 attributes");
  }
  ByteView stated_public;
  if (!r.empty() && r.peek_u8(&next) && next == wire::der_tag::kContext1Primitive) {
    wire::DerElement pub;
    // RFC 5958: the version is v2 exactly when publicKey is present; a BIT
    // STRING with no unused bits around the 32-octet key.
    if (!v2 || !wire::read_der(r, &pub) || pub.value.size() != 1 + crypto_sign_PUBLICKEYBYTES ||
        pub.value[0] != 0) {
      return Status(Errc::invalid_key, r.offset(), "pkcs8 public key");
    }
    stated_public = pub.value.subspan(1);
  }
  if (!r.expect_end().ok()) return Status(Errc::invalid_key, r.status().offset(), "pkcs8");

  IPSEC_TRY(set_ed25519_seed(k, seed.value));
  // A public key that does not belong to the private key is a corrupted
  // file; signing with it would produce signatures nobody can verify.
  if (!stated_public.empty() && !equal_bytes(stated_public, k.ed_public)) {
    return Status(Errc::invalid_key, Status::kNoOffset, "pkcs8 public key");
  }
  return Status::success();
}

// parse_ed25519_spki: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING }
// with the 32-octet encoded point (RFC 8410 section 4).
[[nodiscard]] Status parse_ed25519_spki(const wire::DerElement& outer, KeyImpl& k) noexcept {
  ByteReader r(outer.value, outer.value_offset);
  wire::DerElement algorithm;
  wire::DerElement key;
  if (!wire::read_der_tagged(r, wire::der_tag::kSequence, &algorithm) ||
      !wire::read_der_tagged(r, wire::der_tag::kBitString, &key) || !r.expect_end().ok()) {
    return Status(Errc::invalid_key, r.status().offset(), "spki");
  }
  ByteReader alg(algorithm.value, algorithm.value_offset);
  wire::DerElement oid;
  if (!wire::read_der_tagged(alg, wire::der_tag::kOid, &oid) || !alg.expect_end().ok()) {
    return Status(Errc::invalid_key, alg.status().offset(), "spki algorithm");
  }
  if (key.value.size() != 1 + crypto_sign_PUBLICKEYBYTES || key.value[0] != 0) {
    return Status(Errc::invalid_key, key.value_offset, "ed25519 public key");
  }
  const ByteView point = key.value.subspan(1);
  if (sodium_init() < 0) return Errc::crypto_backend_failure;
  // Reject non-canonical, small-order and off-subgroup points now, rather
  // than failing every verification later.
  if (crypto_core_ed25519_is_valid_point(point.data()) != 1) {
    return Status(Errc::invalid_key, key.value_offset + 1, "ed25519 public key");
  }
  return set_ed25519_public(k, point);
}

// ---- PEM -------------------------------------------------------------------------

struct PemLabel {
  const char* begin;
  const char* end;
};

// PemBlock: the DER inside one PEM block (RFC 7468), decoded by mbedTLS and
// zeroized when dropped.
class PemBlock {
 public:
  PemBlock() noexcept { mbedtls_pem_init(&ctx_); }
  ~PemBlock() { mbedtls_pem_free(&ctx_); }
  PemBlock(const PemBlock&) = delete;
  PemBlock& operator=(const PemBlock&) = delete;

  // read: 0, or an MBEDTLS_ERR_PEM_ code. text must be NUL-terminated.
  int read(const PemLabel& label, const uint8_t* text) noexcept {
    size_t used = 0;
    return mbedtls_pem_read_buffer(&ctx_, label.begin, label.end, text, nullptr, 0, &used);
  }
  [[nodiscard]] ByteView der() const noexcept { return {ctx_.buf, ctx_.buflen}; }

 private:
  mbedtls_pem_context ctx_{};
};

// A DER key starts with a SEQUENCE; anything else is taken for PEM text
// (which may have explanatory text before the block, RFC 7468 section 2).
[[nodiscard]] bool looks_like_der(ByteView input) noexcept { return input[0] == wire::der_tag::kSequence; }

constexpr PemLabel kPrivateLabels[] = {
    {"-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----"},          // PKCS#8
    {"-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----"},  // PKCS#1
    {"-----BEGIN EC PRIVATE KEY-----", "-----END EC PRIVATE KEY-----"},    // SEC1
};
constexpr PemLabel kEncryptedPrivateLabel = {"-----BEGIN ENCRYPTED PRIVATE KEY-----",
                                             "-----END ENCRYPTED PRIVATE KEY-----"};
constexpr PemLabel kPublicLabels[] = {
    {"-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"},          // SubjectPublicKeyInfo
    {"-----BEGIN RSA PUBLIC KEY-----", "-----END RSA PUBLIC KEY-----"},  // PKCS#1 RSAPublicKey
};

// ---- parsing -----------------------------------------------------------------------

[[nodiscard]] Result<KeyImplPtr> parse_private_der(ByteView der) noexcept {
  wire::DerElement outer;
  if (!wire::read_single_der(der, &outer) || outer.tag != wire::der_tag::kSequence) return Errc::invalid_key;
  auto impl = new_impl();
  if (!impl) return impl.status();
  KeyImpl& k = **impl;
  switch (route_private(outer)) {
    case Route::unsupported: return Errc::unsupported_algorithm;
    case Route::ed25519: IPSEC_TRY(parse_ed25519_pkcs8(outer, k)); break;
    case Route::backend: {
      const int rc = mbedtls_pk_parse_key(&k.pk, der.data(), der.size(), nullptr, 0);
      if (rc != 0) return map_pk_error(rc);
      IPSEC_TRY(finish_backend_key(k, true, true));
      break;
    }
  }
  return impl;
}

[[nodiscard]] Result<KeyImplPtr> parse_public_der(ByteView der) noexcept {
  wire::DerElement outer;
  if (!wire::read_single_der(der, &outer) || outer.tag != wire::der_tag::kSequence) return Errc::invalid_key;
  auto impl = new_impl();
  if (!impl) return impl.status();
  KeyImpl& k = **impl;
  switch (route_public(outer)) {
    case Route::unsupported: return Errc::unsupported_algorithm;
    case Route::ed25519: IPSEC_TRY(parse_ed25519_spki(outer, k)); break;
    case Route::backend: {
      const int rc = mbedtls_pk_parse_public_key(&k.pk, der.data(), der.size());
      if (rc != 0) return map_pk_error(rc);
      IPSEC_TRY(finish_backend_key(k, false, false));
      break;
    }
  }
  return impl;
}

}  // namespace

// ---- PublicKey -------------------------------------------------------------------

PublicKey::PublicKey() noexcept = default;
PublicKey::PublicKey(PublicKey&&) noexcept = default;
PublicKey& PublicKey::operator=(PublicKey&&) noexcept = default;
PublicKey::~PublicKey() = default;
PublicKey::PublicKey(detail::KeyImplPtr impl) noexcept : impl_(std::move(impl)) {}

Result<PublicKey> PublicKey::parse(ByteView pem_or_der) noexcept {
  // Public key files are no larger than private ones.
  if (pem_or_der.size() > limits::kMaxPrivateKeyFileSize) return Errc::limit_exceeded;
  if (pem_or_der.empty()) return Errc::invalid_key;
  if (looks_like_der(pem_or_der)) {
    auto impl = parse_public_der(pem_or_der);
    if (!impl) return impl.status();
    return PublicKey(std::move(*impl));
  }
  // mbedtls_pem_read_buffer needs NUL-terminated text.
  auto text = ByteBuffer::allocate(pem_or_der.size() + 1);
  if (!text) return text.status();
  std::memcpy(text->mutable_view().data(), pem_or_der.data(), pem_or_der.size());
  for (const PemLabel& label : kPublicLabels) {
    PemBlock pem;
    const int rc = pem.read(label, text->view().data());
    if (rc == MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT) continue;
    if (rc != 0) return Errc::invalid_key;
    auto impl = parse_public_der(pem.der());
    if (!impl) return impl.status();
    return PublicKey(std::move(*impl));
  }
  return Errc::invalid_key;
}

Result<PublicKey> PublicKey::clone() const noexcept {
  if (!impl_) return PublicKey();
  return parse(impl_->spki.view());
}

// An empty (default-constructed or moved-from) key reports type rsa and 0
// bits, and every operation on it fails with invalid_key.
KeyType PublicKey::type() const noexcept { return impl_ ? impl_->type : KeyType::rsa; }

namespace {

size_t key_bits(const KeyImpl* k) noexcept {
  if (k == nullptr) return 0;
  switch (k->type) {
    case KeyType::rsa: return mbedtls_pk_get_bitlen(&k->pk);
    case KeyType::ecdsa_p256: return 256;
    case KeyType::ecdsa_p384: return 384;
    case KeyType::ecdsa_p521: return 521;
    case KeyType::ed25519: return 256;  // the encoded key size (RFC 8032 5.1.5)
  }
  return 0;
}

size_t max_signature_size_of(const KeyImpl* k) noexcept {
  if (k == nullptr) return 0;
  switch (k->type) {
    case KeyType::rsa: return mbedtls_pk_get_len(&k->pk);
    case KeyType::ecdsa_p256:
    case KeyType::ecdsa_p384:
    case KeyType::ecdsa_p521: return MBEDTLS_ECDSA_MAX_SIG_LEN(key_bits(k));
    case KeyType::ed25519: return kEd25519SignatureSize;
  }
  return 0;
}

}  // namespace

size_t PublicKey::bits() const noexcept { return key_bits(impl_.get()); }

ByteView PublicKey::spki_der() const noexcept { return impl_ ? impl_->spki.view() : ByteView(); }

Status PublicKey::verify(SignatureScheme scheme, ByteView message, ByteView signature) const noexcept {
  if (!impl_) return Errc::invalid_key;
  KeyImpl& k = *impl_;
  if (!scheme_fits(scheme, k.type)) return Errc::key_type_mismatch;
  if (signature.empty() || signature.size() > max_signature_size_of(&k)) return Errc::invalid_length;

  if (k.type == KeyType::ed25519) {
    if (signature.size() != kEd25519SignatureSize) return Errc::invalid_length;
    if (crypto_sign_verify_detached(signature.data(), data_of(message), message.size(), k.ed_public.data()) !=
        0) {
      return Errc::bad_signature;
    }
    return Status::success();
  }

  const mbedtls_md_type_t md = md_of(scheme);
  Digest h;
  IPSEC_TRY(digest(md, message, &h));

  if (k.type == KeyType::rsa) {
    // RFC 8017 8.1.2 / 8.2.2 step 1: the signature is exactly k octets.
    if (signature.size() != mbedtls_pk_get_len(&k.pk)) return Errc::invalid_length;
    mbedtls_rsa_context* rsa = mbedtls_pk_rsa(k.pk);
    // Both calls take every parameter explicitly (public-key mode ignores
    // the padding stored in the context), so verification needs no lock.
    const int rc = is_pss(scheme)
                       // MGF1 with the message hash, salt as long as the hash
                       // (RFC 8017 9.1, RFC 7427 section 3).
                       ? mbedtls_rsa_rsassa_pss_verify_ext(rsa, nullptr, nullptr, MBEDTLS_RSA_PUBLIC, md,
                                                           h.size, h.bytes.data(), md,
                                                           static_cast<int>(h.size), signature.data())
                       : mbedtls_rsa_rsassa_pkcs1_v15_verify(rsa, nullptr, nullptr, MBEDTLS_RSA_PUBLIC, md,
                                                             h.size, h.bytes.data(), signature.data());
    return rc == 0 ? Status::success() : Status(Errc::bad_signature);
  }

  // ECDSA: the DER Ecdsa-Sig-Value (RFC 3279 2.2.3, RFC 7427 section 3).
  // mbedTLS verifies on a copy of the key, so no lock is needed.
  if (mbedtls_pk_verify(&k.pk, md, h.bytes.data(), h.size, signature.data(), signature.size()) != 0) {
    return Errc::bad_signature;
  }
  return Status::success();
}

// ---- PrivateKey ------------------------------------------------------------------

PrivateKey::PrivateKey() noexcept = default;
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;  // ~KeyImpl zeroes the key material
PrivateKey::PrivateKey(detail::KeyImplPtr impl) noexcept : impl_(std::move(impl)) {}

Result<PrivateKey> PrivateKey::parse(ByteView pem_or_der) noexcept {
  if (pem_or_der.size() > limits::kMaxPrivateKeyFileSize) return Errc::limit_exceeded;
  if (pem_or_der.empty()) return Errc::invalid_key;
  if (looks_like_der(pem_or_der)) {
    auto impl = parse_private_der(pem_or_der);
    if (!impl) return impl.status();
    return PrivateKey(std::move(*impl));
  }
  // mbedtls_pem_read_buffer needs NUL-terminated text; the copy holds the
  // key, so it is a SecretBytes (zeroed when dropped), like the decoded DER
  // (mbedtls_pem_free zeroizes it).
  auto text = SecretBytes::allocate(pem_or_der.size() + 1);
  if (!text) return text.status();
  std::memcpy(text->mutable_view().data(), pem_or_der.data(), pem_or_der.size());
  for (const PemLabel& label : kPrivateLabels) {
    PemBlock pem;
    const int rc = pem.read(label, text->view().data());
    if (rc == MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT) continue;
    // "Proc-Type: 4,ENCRYPTED" (RFC 1421) blocks ask for a password.
    if (rc == MBEDTLS_ERR_PEM_PASSWORD_REQUIRED) return Errc::unsupported_algorithm;
    if (rc != 0) return Errc::invalid_key;
    auto impl = parse_private_der(pem.der());
    if (!impl) return impl.status();
    return PrivateKey(std::move(*impl));
  }
  PemBlock encrypted;
  if (encrypted.read(kEncryptedPrivateLabel, text->view().data()) !=
      MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT) {
    return Errc::unsupported_algorithm;
  }
  return Errc::invalid_key;
}

Result<PrivateKey> PrivateKey::generate(KeyType type, Rng& rng, unsigned rsa_bits) noexcept {
  auto impl = new_impl();
  if (!impl) return impl.status();
  KeyImpl& k = **impl;
  switch (type) {
    case KeyType::ed25519: {
      std::array<uint8_t, crypto_sign_SEEDBYTES> seed{};
      rng.fill(seed);
      const Status st = set_ed25519_seed(k, seed);
      secure_zero(seed);
      IPSEC_TRY(st);
      return PrivateKey(std::move(*impl));
    }
    case KeyType::ecdsa_p256:
    case KeyType::ecdsa_p384:
    case KeyType::ecdsa_p521: {
      const mbedtls_ecp_group_id grp = type == KeyType::ecdsa_p256   ? MBEDTLS_ECP_DP_SECP256R1
                                       : type == KeyType::ecdsa_p384 ? MBEDTLS_ECP_DP_SECP384R1
                                                                     : MBEDTLS_ECP_DP_SECP521R1;
      if (mbedtls_pk_setup(&k.pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
          mbedtls_ecp_gen_key(grp, mbedtls_pk_ec(k.pk), rng_callback, &rng) != 0) {
        return Errc::crypto_backend_failure;
      }
      break;
    }
    case KeyType::rsa:
      // mbedTLS wants an even size; the policy range is 2048..8192.
      if (rsa_bits < kMinRsaBits || rsa_bits > kMaxRsaBits || rsa_bits % 2 != 0) {
        return Errc::invalid_argument;
      }
      if (mbedtls_pk_setup(&k.pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) != 0 ||
          mbedtls_rsa_gen_key(mbedtls_pk_rsa(k.pk), rng_callback, &rng, rsa_bits, 65537) != 0) {
        return Errc::crypto_backend_failure;
      }
      break;
    default: return Errc::invalid_argument;
  }
  IPSEC_TRY(finish_backend_key(k, true, false));
  return PrivateKey(std::move(*impl));
}

KeyType PrivateKey::type() const noexcept { return impl_ ? impl_->type : KeyType::rsa; }

size_t PrivateKey::bits() const noexcept { return key_bits(impl_.get()); }

size_t PrivateKey::max_signature_size() const noexcept { return max_signature_size_of(impl_.get()); }

Result<PublicKey> PrivateKey::public_key() const noexcept {
  if (!impl_) return Errc::invalid_key;
  return PublicKey::parse(impl_->spki.view());
}

Result<size_t> PrivateKey::sign(SignatureScheme scheme, ByteView message, Rng& rng,
                                MutableByteView out) const noexcept {
  if (!impl_ || !impl_->has_private) return Errc::invalid_key;
  KeyImpl& k = *impl_;
  if (!scheme_fits(scheme, k.type)) return Errc::key_type_mismatch;

  if (k.type == KeyType::ed25519) {
    // PureEdDSA over the whole message (RFC 8032 5.1.6); deterministic.
    if (out.size() < kEd25519SignatureSize) return Errc::buffer_too_small;
    unsigned long long len = 0;
    if (crypto_sign_detached(out.data(), &len, data_of(message), message.size(), k.ed_secret.data()) != 0) {
      return Errc::crypto_backend_failure;
    }
    return static_cast<size_t>(len);
  }

  const mbedtls_md_type_t md = md_of(scheme);
  Digest h;
  IPSEC_TRY(digest(md, message, &h));

  if (k.type == KeyType::rsa) {
    const size_t len = mbedtls_pk_get_len(&k.pk);
    if (out.size() < len) return Errc::buffer_too_small;
    mbedtls_rsa_context* rsa = mbedtls_pk_rsa(k.pk);
    // mbedTLS 2.28 takes the padding (and, for PSS, the hash for M' and
    // MGF1) from the context, so set it and sign under the key's lock.
    const std::lock_guard<std::mutex> lock(k.rsa_sign_mutex);
    int rc = 0;
    if (is_pss(scheme)) {
      // RFC 8017 9.1: MGF1 with the same hash, salt as long as the hash.
      mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V21, md);
      rc = mbedtls_rsa_rsassa_pss_sign_ext(rsa, rng_callback, &rng, md, h.size, h.bytes.data(),
                                           static_cast<int>(h.size), out.data());
    } else {
      mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V15, MBEDTLS_MD_NONE);
      // rng blinds the private-key operation; the signature is deterministic.
      rc = mbedtls_rsa_rsassa_pkcs1_v15_sign(rsa, rng_callback, &rng, MBEDTLS_RSA_PRIVATE, md, h.size,
                                             h.bytes.data(), out.data());
    }
    if (rc != 0) return Errc::crypto_backend_failure;
    return len;
  }

  // ECDSA: k from RFC 6979 (MBEDTLS_ECDSA_DETERMINISTIC), rng only blinds
  // the scalar multiplication. mbedTLS signs on a copy of the key.
  std::array<uint8_t, MBEDTLS_ECDSA_MAX_LEN> sig{};
  size_t len = 0;
  if (mbedtls_pk_sign(&k.pk, md, h.bytes.data(), h.size, sig.data(), &len, rng_callback, &rng) != 0) {
    return Errc::crypto_backend_failure;
  }
  if (!copy_bytes(out, ByteView(sig).first(len))) return Errc::buffer_too_small;
  return len;
}

}  // namespace ipsec::crypto
