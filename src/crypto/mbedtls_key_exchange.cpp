// SPDX-License-Identifier: Apache-2.0
// mbedTLS backend for the IKEv2 key exchanges: MODP groups 14, 15 and 16
// (RFC 3526), the NIST ECP groups 19, 20 and 21 (RFC 5903), brainpoolP256r1
// (group 28, RFC 6954) and Curve25519/Curve448 (groups 31 and 32, RFC 8031).
//
// Randomness. Private values are drawn from the injected Rng only, in one
// fill() per attempt, so a SeededRng reproduces them (and an X25519 key made
// here from a seed equals the one SodiumProvider makes from it). Nothing else
// draws randomness: mbedtls_ecp_mul gets no f_rng, so it blinds its
// coordinates with its internal generator seeded from the scalar (mbedTLS
// 2.28, MBEDTLS_ECP_NO_INTERNAL_RNG unset); the MODP exponent is ephemeral
// and used for one exponentiation of a validated peer value, where base
// blinding would triple the cost and defend against nothing (a timing
// attack needs many exponentiations with the same exponent).
//
// Memory. Everything that depends on the key is allocated when the object is
// made; shared_secret() allocates only its output and mbedTLS's bignum
// temporaries (control plane). Every mbedtls_mpi holding a private value or
// an intermediate of one is released with mbedtls_mpi_free, which zeroes the
// limbs; the byte buffers they are read from are FixedSecret.
#include <mbedtls/bignum.h>
#include <mbedtls/dhm.h>
#include <mbedtls/ecp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#include "ipsec/core/secret.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/suites.hpp"

namespace ipsec::crypto {
namespace {

constexpr const char* kBackend = "mbedtls";

// Attempts at drawing a private value before giving up. A draw is rejected
// only when it falls outside the valid range: for MODP when it is 0 or 1
// (probability 2^-319 or less), for brainpoolP256r1 when it is >= n (about
// 1 in 3, the worst of our curves), so 64 failures in a row mean a broken
// Rng (one that returns a constant), not bad luck.
constexpr int kMaxDraws = 64;

// check: an mbedTLS return code as a Status. Allocation failures keep their
// meaning; anything else is the backend's fault, never the peer's (callers
// map the peer-caused codes before they get here).
Status check(int rc) noexcept {
  if (rc == 0) return Status::success();
  if (rc == MBEDTLS_ERR_MPI_ALLOC_FAILED || rc == MBEDTLS_ERR_ECP_ALLOC_FAILED) return Errc::out_of_memory;
  return Errc::crypto_backend_failure;
}

// RAII holders: init on construction, free (which zeroes) on destruction.
class Mpi {
 public:
  Mpi() noexcept { mbedtls_mpi_init(&v_); }
  ~Mpi() { mbedtls_mpi_free(&v_); }
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;
  [[nodiscard]] mbedtls_mpi* get() noexcept { return &v_; }
  [[nodiscard]] const mbedtls_mpi* get() const noexcept { return &v_; }

 private:
  mbedtls_mpi v_{};
};

class EcPoint {
 public:
  EcPoint() noexcept { mbedtls_ecp_point_init(&v_); }
  ~EcPoint() { mbedtls_ecp_point_free(&v_); }
  EcPoint(const EcPoint&) = delete;
  EcPoint& operator=(const EcPoint&) = delete;
  [[nodiscard]] mbedtls_ecp_point* get() noexcept { return &v_; }

 private:
  mbedtls_ecp_point v_{};
};

// ---- MODP (RFC 3526) ----------------------------------------------------------

// The RFC 3526 primes as mbedTLS ships them (checked against the formula
// p = 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + c) of RFC 3526 when this
// file was written); the generator is 2 for all three.
constexpr uint8_t kModp2048[] = MBEDTLS_DHM_RFC3526_MODP_2048_P_BIN;
constexpr uint8_t kModp3072[] = MBEDTLS_DHM_RFC3526_MODP_3072_P_BIN;
constexpr uint8_t kModp4096[] = MBEDTLS_DHM_RFC3526_MODP_4096_P_BIN;
static_assert(sizeof kModp2048 == 256 && sizeof kModp3072 == 384 && sizeof kModp4096 == 512);

struct ModpParams {
  KeGroup group;
  ByteView prime;
  // exponent_size: the length in bytes of a fresh private exponent. RFC 3526
  // section 8 estimates the strength of groups 14/15/16 at 110-160, 130-210
  // and 150-240 bits and asks for an exponent of twice that; NIST SP 800-56A
  // Rev. 3 section 5.6.1.1.4 asks for at least 2 * s bits with s = 112, 128
  // and 152 for these groups (its Appendix D). We take RFC 3526's upper
  // estimate, 320, 420 and 480 bits, rounded up to whole bytes: it satisfies
  // both, and costs about 6 to 8 times less than a full-length exponent (the
  // exponentiation time grows linearly with the exponent).
  size_t exponent_size;
};

[[nodiscard]] const ModpParams* modp_params(KeGroup group) noexcept {
  static constexpr ModpParams k2048{KeGroup::modp2048, ByteView(kModp2048), 40};
  static constexpr ModpParams k3072{KeGroup::modp3072, ByteView(kModp3072), 53};
  static constexpr ModpParams k4096{KeGroup::modp4096, ByteView(kModp4096), 60};
  switch (group) {
    case KeGroup::modp2048: return &k2048;
    case KeGroup::modp3072: return &k3072;
    case KeGroup::modp4096: return &k4096;
    default: return nullptr;
  }
}

class MbedtlsModp final : public KeyExchange {
 public:
  explicit MbedtlsModp(const ModpParams& params) noexcept : params_(params) {}

  // init: take x (big-endian, 1 to prime-length bytes) and compute g^x.
  // invalid_key unless 2 <= x <= p - 2 and g^x is itself a valid public
  // value (it is 1 when x is the subgroup order q = (p - 1) / 2).
  Status init(ByteView exponent) noexcept {
    const size_t len = params_.prime.size();
    if (exponent.empty() || exponent.size() > len) return Errc::invalid_key;
    IPSEC_TRY(check(mbedtls_mpi_read_binary(p_.get(), params_.prime.data(), len)));
    IPSEC_TRY(check(mbedtls_mpi_sub_int(p_minus_1_.get(), p_.get(), 1)));
    IPSEC_TRY(check(mbedtls_mpi_read_binary(x_.get(), exponent.data(), exponent.size())));
    if (!in_open_range(*x_.get())) return Errc::invalid_key;

    Mpi g, gx;
    IPSEC_TRY(check(mbedtls_mpi_lset(g.get(), 2)));
    IPSEC_TRY(check(mbedtls_mpi_exp_mod(gx.get(), g.get(), x_.get(), p_.get(), rr_.get())));
    if (!in_open_range(*gx.get())) return Errc::invalid_key;
    // RFC 7296 section 3.4: the KE data is g^x, zero-padded on the left to
    // the length of the prime.
    return check(mbedtls_mpi_write_binary(gx.get(), public_.data(), len));
  }

  // generate: a random exponent of params_.exponent_size bytes.
  Status generate(Rng& rng) noexcept {
    FixedSecret<64> draw;
    IPSEC_TRY(draw.resize(params_.exponent_size));
    for (int i = 0; i < kMaxDraws; ++i) {
      rng.fill(draw.mutable_view());
      const Status st = init(draw.view());
      if (st.code() != Errc::invalid_key) return st;
    }
    return Errc::crypto_backend_failure;
  }

  KeGroup group() const noexcept override { return params_.group; }
  const char* backend() const noexcept override { return kBackend; }
  ByteView public_value() const noexcept override { return ByteView(public_).first(params_.prime.size()); }

  Result<SecretBytes> shared_secret(ByteView peer) noexcept override {
    const size_t len = params_.prime.size();
    if (peer.size() != len) return Errc::invalid_length;
    Mpi y;
    IPSEC_TRY(check(mbedtls_mpi_read_binary(y.get(), peer.data(), peer.size())));
    // RFC 6989 section 2.1: reject y <= 1 and y >= p - 1. For the RFC 3526
    // safe primes p = 2q + 1 that is the whole check: every other element
    // has order q or 2q, so y^x leaks nothing about x through a small
    // subgroup (RFC 6989 section 2.2 applies to the RFC 5114 groups only).
    if (!in_open_range(*y.get())) return Errc::invalid_public_value;

    Mpi k;
    IPSEC_TRY(check(mbedtls_mpi_exp_mod(k.get(), y.get(), x_.get(), p_.get(), rr_.get())));

    // RFC 7296 section 2.14: g^ir is the full prime length, zero-padded.
    auto out = SecretBytes::allocate(len);
    if (!out) return out.status();
    IPSEC_TRY(check(mbedtls_mpi_write_binary(k.get(), out->mutable_view().data(), len)));
    return out;
  }

 private:
  // in_open_range: 1 < a < p - 1.
  [[nodiscard]] bool in_open_range(const mbedtls_mpi& a) const noexcept {
    return mbedtls_mpi_cmp_int(&a, 1) > 0 && mbedtls_mpi_cmp_mpi(&a, p_minus_1_.get()) < 0;
  }

  const ModpParams& params_;
  Mpi p_, p_minus_1_;
  Mpi x_;   // the private exponent
  Mpi rr_;  // R^2 mod p, cached by mbedtls_mpi_exp_mod (not secret)
  std::array<uint8_t, 512> public_{};
};

// ---- Elliptic curves (RFC 5903, RFC 6954, RFC 8031) ----------------------------

[[nodiscard]] bool ec_group_id(KeGroup group, mbedtls_ecp_group_id* id) noexcept {
  switch (group) {
    case KeGroup::ecp256: *id = MBEDTLS_ECP_DP_SECP256R1; return true;
    case KeGroup::ecp384: *id = MBEDTLS_ECP_DP_SECP384R1; return true;
    case KeGroup::ecp521: *id = MBEDTLS_ECP_DP_SECP521R1; return true;
    case KeGroup::brainpool256: *id = MBEDTLS_ECP_DP_BP256R1; return true;
    case KeGroup::curve25519: *id = MBEDTLS_ECP_DP_CURVE25519; return true;
    case KeGroup::curve448: *id = MBEDTLS_ECP_DP_CURVE448; return true;
    default: return false;
  }
}

// Short Weierstrass curves (x | y public values, scalar in 1..n-1) and the
// Montgomery curves of RFC 7748 (u-coordinate, clamped scalar) in one class:
// they share the group, the scalar and mbedtls_ecp_mul, and differ only in
// encoding and validation.
class MbedtlsEc final : public KeyExchange {
 public:
  explicit MbedtlsEc(KeGroup group) noexcept : group_(group) { mbedtls_ecp_group_init(&grp_); }
  ~MbedtlsEc() override {
    mbedtls_ecp_group_free(&grp_);
    // d_ zeroes itself (mbedtls_mpi_free); the public value is not secret.
  }
  MbedtlsEc(const MbedtlsEc&) = delete;
  MbedtlsEc& operator=(const MbedtlsEc&) = delete;

  // load: the curve parameters and the sizes derived from them.
  Status load(mbedtls_ecp_group_id id) noexcept {
    IPSEC_TRY(check(mbedtls_ecp_group_load(&grp_, id)));
    montgomery_ = mbedtls_ecp_get_type(&grp_) == MBEDTLS_ECP_TYPE_MONTGOMERY;
    field_size_ = (grp_.pbits + 7) / 8;
    // Weierstrass: the scalar is an integer mod n, as long as n. Montgomery:
    // RFC 7748 section 5 scalars are as long as a u-coordinate.
    scalar_size_ = montgomery_ ? field_size_ : mbedtls_mpi_size(&grp_.N);
    // The wire sizes are fixed by the IANA group; a mismatch would be a bug
    // in this table or in mbedTLS.
    const auto info = ke_group_info(group_);
    if (!info || info->shared_size != field_size_ ||
        info->public_size != (montgomery_ ? field_size_ : 2 * field_size_) || scalar_size_ > kMaxScalar) {
      return Errc::crypto_backend_failure;
    }
    return Status::success();
  }

  // init: take the private scalar and compute the public value.
  // Weierstrass: big-endian, exactly as long as n, 1 <= d <= n - 1
  // (RFC 5903 section 8 prints its test scalars that way). Montgomery: the
  // RFC 7748 scalar bytes, clamped as decodeScalar25519/448 do (section 5).
  Status init(ByteView scalar) noexcept {
    if (scalar.size() != scalar_size_) return Errc::invalid_key;
    if (montgomery_) {
      FixedSecret<kMaxScalar> k;
      IPSEC_TRY(k.assign(scalar));
      MutableByteView b = k.mutable_view();
      if (group_ == KeGroup::curve25519) {
        b[0] &= 248;
        b[31] &= 127;
        b[31] |= 64;
      } else {
        b[0] &= 252;
        b[55] |= 128;
      }
      IPSEC_TRY(check(mbedtls_mpi_read_binary_le(d_.get(), b.data(), b.size())));
    } else {
      IPSEC_TRY(check(mbedtls_mpi_read_binary(d_.get(), scalar.data(), scalar.size())));
    }
    // Weierstrass: 1 <= d < n. Montgomery: the clamping above already gives
    // what mbedTLS checks (low bits clear, top bit set).
    const int rc = mbedtls_ecp_check_privkey(&grp_, d_.get());
    if (rc == MBEDTLS_ERR_ECP_INVALID_KEY) return Errc::invalid_key;
    IPSEC_TRY(check(rc));

    EcPoint q;
    IPSEC_TRY(check(mbedtls_ecp_mul(&grp_, q.get(), d_.get(), &grp_.G, nullptr, nullptr)));
    if (montgomery_) {
      // RFC 7748 section 5 / RFC 8031 section 3: the little-endian u.
      return check(mbedtls_mpi_write_binary_le(&q.get()->X, public_.data(), field_size_));
    }
    // RFC 5903 section 7 / RFC 6954 section 3: x | y, each zero-padded on
    // the left to the field size, without SEC 1's 0x04 prefix.
    IPSEC_TRY(check(mbedtls_mpi_write_binary(&q.get()->X, public_.data(), field_size_)));
    return check(mbedtls_mpi_write_binary(&q.get()->Y, public_.data() + field_size_, field_size_));
  }

  // generate: a uniformly random scalar. Weierstrass: rejection sampling in
  // [1, n - 1] on bitlen(n)-bit draws (FIPS 186-4 B.4.2, NIST SP 800-56A
  // Rev. 3 section 5.6.1.2.2). Montgomery: random bytes then clamping
  // (RFC 7748 section 6).
  Status generate(Rng& rng) noexcept {
    FixedSecret<kMaxScalar> draw;
    IPSEC_TRY(draw.resize(scalar_size_));
    const size_t excess_bits = montgomery_ ? 0 : scalar_size_ * 8 - mbedtls_mpi_bitlen(&grp_.N);
    for (int i = 0; i < kMaxDraws; ++i) {
      rng.fill(draw.mutable_view());
      draw.mutable_view()[0] &= static_cast<uint8_t>(0xff >> excess_bits);
      const Status st = init(draw.view());
      if (st.code() != Errc::invalid_key) return st;
    }
    return Errc::crypto_backend_failure;
  }

  KeGroup group() const noexcept override { return group_; }
  const char* backend() const noexcept override { return kBackend; }
  ByteView public_value() const noexcept override {
    return ByteView(public_).first(montgomery_ ? field_size_ : 2 * field_size_);
  }

  Result<SecretBytes> shared_secret(ByteView peer) noexcept override {
    EcPoint q;
    IPSEC_TRY(montgomery_ ? read_u(peer, q) : read_xy(peer, q));
    // Weierstrass (RFC 6989 section 2.3, RFC 5903 section 7): 0 <= x, y < p
    // and y^2 = x^3 + ax + b; the identity has no x | y encoding (Z = 1 is
    // set above). Montgomery: mbedTLS rejects 0, 1, p - 1 and, on
    // Curve25519, the two points of order 8 (the small-order inputs of
    // RFC 7748 section 6); the all-zero check below catches the rest.
    const int rc = mbedtls_ecp_check_pubkey(&grp_, q.get());
    if (rc == MBEDTLS_ERR_ECP_INVALID_KEY) return Errc::invalid_public_value;
    IPSEC_TRY(check(rc));

    EcPoint r;
    const int mul = mbedtls_ecp_mul(&grp_, r.get(), d_.get(), q.get(), nullptr, nullptr);
    if (mul == MBEDTLS_ERR_ECP_INVALID_KEY) return Errc::invalid_public_value;
    IPSEC_TRY(check(mul));
    // The prime-order curves cannot reach the identity from a valid point
    // and 0 < d < n; checked anyway, it costs nothing.
    if (!montgomery_ && mbedtls_ecp_is_zero(r.get()) != 0) return Errc::invalid_public_value;

    auto out = SecretBytes::allocate(field_size_);
    if (!out) return out.status();
    MutableByteView s = out->mutable_view();
    if (!montgomery_) {
      // RFC 5903 section 7, RFC 6954 section 3: g^ir is the x coordinate.
      IPSEC_TRY(check(mbedtls_mpi_write_binary(&r.get()->X, s.data(), s.size())));
      return out;
    }
    IPSEC_TRY(check(mbedtls_mpi_write_binary_le(&r.get()->X, s.data(), s.size())));
    // RFC 8031 section 2.3 (MUST), RFC 7748 section 6.1: an all-zero output
    // means a small-order peer value. Tested without branching on the bytes.
    uint8_t any = 0;
    for (uint8_t b : s) any = static_cast<uint8_t>(any | b);
    if (any == 0) return Errc::invalid_public_value;
    return out;
  }

 private:
  static constexpr size_t kMaxScalar = 66;  // P-521

  // read_xy: RFC 5903 section 7 x | y into an affine point.
  Status read_xy(ByteView peer, EcPoint& q) noexcept {
    if (peer.size() != 2 * field_size_) return Errc::invalid_length;
    mbedtls_ecp_point* pt = q.get();
    IPSEC_TRY(check(mbedtls_mpi_read_binary(&pt->X, peer.data(), field_size_)));
    IPSEC_TRY(check(mbedtls_mpi_read_binary(&pt->Y, peer.data() + field_size_, field_size_)));
    return check(mbedtls_mpi_lset(&pt->Z, 1));
  }

  // read_u: an RFC 7748 u-coordinate. Section 5: X25519 masks the top bit of
  // the last byte, and non-canonical values (p to 2^255 - 1, or to
  // 2^448 - 1) are accepted and reduced mod p, as libsodium does.
  Status read_u(ByteView peer, EcPoint& q) noexcept {
    if (peer.size() != field_size_) return Errc::invalid_length;
    std::array<uint8_t, kMaxScalar> u{};
    for (size_t i = 0; i < field_size_; ++i) u[i] = peer[i];
    if (group_ == KeGroup::curve25519) u[31] &= 127;
    mbedtls_ecp_point* pt = q.get();
    Mpi raw;
    IPSEC_TRY(check(mbedtls_mpi_read_binary_le(raw.get(), u.data(), field_size_)));
    IPSEC_TRY(check(mbedtls_mpi_mod_mpi(&pt->X, raw.get(), &grp_.P)));
    return check(mbedtls_mpi_lset(&pt->Z, 1));
  }

  KeGroup group_;
  mbedtls_ecp_group grp_{};
  Mpi d_;  // the private scalar
  bool montgomery_ = false;
  size_t field_size_ = 0;
  size_t scalar_size_ = 0;
  std::array<uint8_t, 132> public_{};  // up to P-521's 2 * 66
};

// ---- construction ----------------------------------------------------------------

// The keyed object, or the Status of the step that failed. Private values
// passed in are not kept: init() copies what it needs into mbedTLS bignums.
template <typename T, typename Setup>
[[nodiscard]] Result<std::unique_ptr<KeyExchange>> build(T* raw, Setup&& setup) noexcept {
  std::unique_ptr<T> obj(raw);
  if (!obj) return Errc::out_of_memory;
  IPSEC_TRY(setup(*obj));
  return std::unique_ptr<KeyExchange>(std::move(obj));
}

}  // namespace

Result<std::unique_ptr<KeyExchange>> MbedtlsProvider::make_key_exchange(KeGroup group, Rng& rng) noexcept {
  if (const ModpParams* params = modp_params(group)) {
    return build(new (std::nothrow) MbedtlsModp(*params), [&](MbedtlsModp& ke) { return ke.generate(rng); });
  }
  mbedtls_ecp_group_id id{};
  if (!ec_group_id(group, &id)) return Errc::unsupported_algorithm;
  return build(new (std::nothrow) MbedtlsEc(group), [&](MbedtlsEc& ke) -> Status {
    IPSEC_TRY(ke.load(id));
    return ke.generate(rng);
  });
}

Result<std::unique_ptr<KeyExchange>> MbedtlsProvider::import_key_exchange(KeGroup group,
                                                                          ByteView private_value) noexcept {
  if (const ModpParams* params = modp_params(group)) {
    return build(new (std::nothrow) MbedtlsModp(*params),
                 [&](MbedtlsModp& ke) { return ke.init(private_value); });
  }
  mbedtls_ecp_group_id id{};
  if (!ec_group_id(group, &id)) return Errc::unsupported_algorithm;
  return build(new (std::nothrow) MbedtlsEc(group), [&](MbedtlsEc& ke) -> Status {
    IPSEC_TRY(ke.load(id));
    return ke.init(private_value);
  });
}

}  // namespace ipsec::crypto
