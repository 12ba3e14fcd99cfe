// SPDX-License-Identifier: Apache-2.0
// KeyExchange (crypto/key_exchange.hpp) through MbedtlsProvider,
// SodiumProvider and DefaultProvider: published known answers (RFC 5903
// section 8, RFC 6932 appendix A.2, RFC 7748 sections 5.2, 6.1 and 6.2), the
// peer-value checks of RFC 6989 / RFC 7748 / RFC 8031, private-value import
// limits and the Rng contract (same seed, same key).
#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipsec/core/secret.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/suites.hpp"
#include "test_util.hpp"

namespace {

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::MutableByteView;
using ipsec::SecretBytes;
using ipsec::crypto::DefaultProvider;
using ipsec::crypto::KeGroup;
using ipsec::crypto::KeyExchange;
using ipsec::crypto::MbedtlsProvider;
using ipsec::crypto::Provider;
using ipsec::crypto::Rng;
using ipsec::crypto::SeededRng;
using ipsec::crypto::SodiumProvider;
using ipsec::crypto::SystemRng;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using ipsec::test::to_hex;

constexpr KeGroup kAllGroups[] = {KeGroup::modp2048,     KeGroup::modp3072,   KeGroup::modp4096,
                                  KeGroup::ecp256,       KeGroup::ecp384,     KeGroup::ecp521,
                                  KeGroup::brainpool256, KeGroup::curve25519, KeGroup::curve448};

std::string group_name(KeGroup g) { return "group " + std::to_string(static_cast<unsigned>(g)); }

std::unique_ptr<KeyExchange> import_ok(Provider& p, KeGroup g, const Bytes& priv) {
  auto ke = p.import_key_exchange(g, priv);
  REQUIRE_MESSAGE(ke.ok(), p.name(), " import ", group_name(g), ": ", std::string(to_string(ke.error())));
  return std::move(*ke);
}

std::unique_ptr<KeyExchange> make_ok(Provider& p, KeGroup g, Rng& rng) {
  auto ke = p.make_key_exchange(g, rng);
  REQUIRE_MESSAGE(ke.ok(), p.name(), " make ", group_name(g), ": ", std::string(to_string(ke.error())));
  return std::move(*ke);
}

// shared_hex: the shared secret as hex, or "error:<name>".
std::string shared_hex(KeyExchange& ke, ByteView peer) {
  auto s = ke.shared_secret(peer);
  if (!s) return "error:" + std::string(to_string(s.error()));
  return to_hex(s->view());
}

Errc shared_error(KeyExchange& ke, ByteView peer) {
  auto s = ke.shared_secret(peer);
  return s ? Errc::ok : s.error();
}

Errc import_error(Provider& p, KeGroup g, const Bytes& priv) {
  auto ke = p.import_key_exchange(g, priv);
  return ke ? Errc::ok : ke.error();
}

std::string lower_hex(std::string_view rfc_text) { return to_hex(from_hex(rfc_text)); }

// Big-endian helpers for boundary values (p - 1, p + y, ...).
Bytes minus_small(Bytes v, unsigned k) {
  for (size_t i = v.size(); i-- > 0 && k != 0;) {
    const unsigned cur = v[i];
    v[i] = static_cast<uint8_t>((cur - k) & 0xff);
    k = cur < k ? 1u : 0u;
  }
  return v;
}

Bytes add_be(const Bytes& a, const Bytes& b) {
  REQUIRE(a.size() == b.size());
  Bytes out(a.size());
  unsigned carry = 0;
  for (size_t i = a.size(); i-- > 0;) {
    const unsigned sum = a[i] + b[i] + carry;
    out[i] = static_cast<uint8_t>(sum & 0xff);
    carry = sum >> 8;
  }
  REQUIRE(carry == 0);
  return out;
}

Bytes shift_right_1(const Bytes& v) {
  Bytes out(v.size());
  unsigned carry = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    out[i] = static_cast<uint8_t>((v[i] >> 1) | (carry << 7));
    carry = v[i] & 1u;
  }
  return out;
}

Bytes small_be(size_t len, uint8_t value) {
  Bytes v(len, 0);
  v.back() = value;
  return v;
}

// ---- Published vectors --------------------------------------------------------------

// RFC 5903 section 8 (groups 19-21) and RFC 6932 appendix A.2
// (brainpoolP256r1, IANA group 28; RFC 6954 section 3 gives IKEv2 the same
// x | y encoding and x-only shared secret as RFC 5903 section 7).
struct EcVector {
  const char* source;
  KeGroup group;
  const char* i;    // initiator private scalar
  const char* gi;   // g^i: x | y
  const char* r;    // responder private scalar
  const char* gr;   // g^r: x | y
  const char* gir;  // x coordinate of g^ir
};

const EcVector kEcVectors[] = {
    {"RFC 5903 section 8.1", KeGroup::ecp256,
     "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433",
     "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180"
     "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
     "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53",
     "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63"
     "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
     "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE"},
    {"RFC 5903 section 8.2", KeGroup::ecp384,
     "099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655"
     "E35B5380 41E649EE 3FAEF896 783AB194",
     "667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6"
     "DE3AC808 ACB4BDB4 C88732AE E95F41AA"
     "9482ED1F C0EEB9CA FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E"
     "EB9FCFF3 C2C947DA E69B4C63 4573A81C",
     "41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942"
     "E0308312 916B8ED2 960E4BD5 5A7448FC",
     "E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D"
     "0D1AC43A 0336DEF9 6FDA41D0 774A3571"
     "DCFBEC7A ACF31964 72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF"
     "F83FA401 42209DFF 5EAAD96D B9E6386C",
     "11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4"
     "D6031355 69B9E9D0 9CF5D4A2 70F59746"},
    // The 521-bit values have a leading zero octet: the padding to 66 octets
    // is checked on both the public values and the shared secret.
    {"RFC 5903 section 8.3", KeGroup::ecp521,
     "0037ADE9 319A89F4 DABDB3EF 411AACCC A5123C61 ACAB57B5 393DCE47 608172A0"
     "95AA85A3 0FE1C295 2C6771D9 37BA9777 F5957B26 39BAB072 462F68C2 7A57382D"
     "4A52",
     "0015417E 84DBF28C 0AD3C278 713349DC 7DF153C8 97A1891B D98BAB43 57C9ECBE"
     "E1E3BF42 E00B8E38 0AEAE57C 2D107564 94188594 2AF5A7F4 601723C4 195D176C"
     "ED3E"
     "017CAE20 B6641D2E EB695786 D8C94614 6239D099 E18E1D5A 514C739D 7CB4A10A"
     "D8A78801 5AC405D7 799DC75E 7B7D5B6C F2261A6A 7F150743 8BF01BEB 6CA3926F"
     "9582",
     "0145BA99 A847AF43 793FDD0E 872E7CDF A16BE30F DC780F97 BCCC3F07 8380201E"
     "9C677D60 0B343757 A3BDBF2A 3163E4C2 F869CCA7 458AA4A4 EFFC311F 5CB15168"
     "5EB9",
     "00D0B397 5AC4B799 F5BEA16D 5E13E9AF 971D5E9B 984C9F39 728B5E57 39735A21"
     "9B97C356 436ADC6E 95BB0352 F6BE64A6 C2912D4E F2D0433C ED2B6171 640012D9"
     "460F"
     "015C6822 6383956E 3BD066E7 97B623C2 7CE0EAC2 F551A10C 2C724D98 52077B87"
     "220B6536 C5C408A1 D2AEBB8E 86D678AE 49CB5709 1F473229 6579AB44 FCD17F0F"
     "C56A",
     "01144C7D 79AE6956 BC8EDB8E 7C787C45 21CB086F A64407F9 7894E5E6 B2D79B04"
     "D1427E73 CA4BAA24 0A347868 59810C06 B3C715A3 A8CC3151 F2BEE417 996D19F3"
     "DDEA"},
    {"RFC 6932 appendix A.2", KeGroup::brainpool256,
     "041EB8B1E2BC681BCE8E39963B2E9FC415B05283313DD1A8BCC055F11AE49699",
     "78028496B5ECAAB3C8B6C12E45DB1E02C9E4D26B4113BC4F015F60C5CCC0D206"
     "A2AE1762A3831C1D20F03F8D1E3C0C39AFE6F09B4D44BBE80CD100987B05F92B",
     "06F5240EACDB9837BC96D48274C8AA834B6C87BA9CC3EEDD81F99A16B8D804D3",
     "8E07E219BA588916C5B06AA30A2F464C2F2ACFC1610A3BE2FB240B635341F0DB"
     "148EA1D7D1E7E54B9555B6C9AC90629C18B63BEE5D7AA6949EBBF47B24FDE40D",
     "05E940915549E9F6A4A75693716E37466ABA79B4BF2919877A16DD2CC2E23708"},
};

// RFC 7748 section 6.1 (X25519) and 6.2 (X448): Alice's and Bob's private
// keys, public keys and the shared secret K.
struct XVector {
  const char* source;
  KeGroup group;
  const char* a;
  const char* a_pub;
  const char* b;
  const char* b_pub;
  const char* k;
};

const XVector kX25519_6_1{"RFC 7748 section 6.1",
                          KeGroup::curve25519,
                          "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
                          "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
                          "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
                          "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
                          "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"};

const XVector kX448_6_2{"RFC 7748 section 6.2",
                        KeGroup::curve448,
                        "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a94197448973910063"
                        "82a6f127ab1d9ac2d8c0a598726b",
                        "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5b"
                        "12da88120d53177f80e532c41fa0",
                        "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120bb5ee8972b0d3e21374c"
                        "9c921b09d1b0366f10b65173992d",
                        "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca706"
                        "dcb57aec3dae07bdc1c67bf33609",
                        "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c"
                        "24403085d59a449a5037514a879d"};

// RFC 7748 section 5.2: one scalar multiplication with an arbitrary u.
struct ScalarMultVector {
  const char* source;
  KeGroup group;
  const char* scalar;
  const char* u;
  const char* out;
};

const ScalarMultVector kScalarMult[] = {
    {"RFC 7748 section 5.2 X25519 #1", KeGroup::curve25519,
     "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
     "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
     "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
    // Its u has the top bit of the last octet set: it must be masked.
    {"RFC 7748 section 5.2 X25519 #2", KeGroup::curve25519,
     "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
     "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
     "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
    {"RFC 7748 section 5.2 X448 #1", KeGroup::curve448,
     "3d262fddf9ec8e88495266fea19a34d28882acef045104d0d1aae121700a779c984c24f8cdd78fbff44943eba368f54b29259a4"
     "f1c600ad3",
     "06fce640fa3487bfda5f6cf2d5263f8aad88334cbd07437f020f08f9814dc031ddbdc38c19c6da2583fa5429db94ada18aa7a7f"
     "b4ef8a086",
     "ce3e4ff95a60dc6697da1db1d85e6afbdf79b50a2412d7546d5f239fe14fbaadeb445fc66a01b0779d98223961111e21766282f"
     "73dd96b6f"},
    {"RFC 7748 section 5.2 X448 #2", KeGroup::curve448,
     "203d494428b8399352665ddca42f9de8fef600908e0d461cb021f8c538345dd77c3e4806e25f46d3315c44e0a5b4371282dd2c8"
     "d5be3095f",
     "0fbcc2f993cd56d3305b0b7d9e55d4c1a8fb5dbb52f8e9a1e9b6201b165d015894e56c4d3570bee52fe205e28a78b91cdfbde71"
     "ce8d157db",
     "884a02576239ff7a2f2f63b2db6a9ff37047ac13568e1e30fe63c4a7ad1b3ee3a5700df34321d62077e63633c575c1c954514e9"
     "9da7c179d"},
};

// RFC 3526 sections 3, 4 and 5: the MODP primes of groups 14, 15 and 16
// (the generator is 2).
const char* const kModp2048 =
    "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74"
    "020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437"
    "4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED"
    "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05"
    "98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB"
    "9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B"
    "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718"
    "3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AACAA68 FFFFFFFF FFFFFFFF";
const char* const kModp3072 =
    "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74"
    "020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437"
    "4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED"
    "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05"
    "98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB"
    "9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B"
    "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718"
    "3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D 04507A33"
    "A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7"
    "ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864"
    "D8760273 3EC86A64 521F2B18 177B200C BBE11757 7A615D6C 770988C0 BAD946E2"
    "08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A93AD2CA FFFFFFFF FFFFFFFF";
const char* const kModp4096 =
    "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74"
    "020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437"
    "4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED"
    "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05"
    "98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB"
    "9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B"
    "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718"
    "3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D 04507A33"
    "A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7"
    "ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864"
    "D8760273 3EC86A64 521F2B18 177B200C BBE11757 7A615D6C 770988C0 BAD946E2"
    "08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7"
    "88719A10 BDBA5B26 99C32718 6AF4E23C 1A946834 B6150BDA 2583E9CA 2AD44CE8"
    "DBBBC2DB 04DE8EF9 2E8EFC14 1FBECAA6 287C5947 4E6BC05D 99B2964F A090C3A2"
    "233BA186 515BE7ED 1F612970 CEE2D7AF B81BDD76 2170481C D0069127 D5B05AA9"
    "93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34063199 FFFFFFFF FFFFFFFF";

struct ModpGroup {
  KeGroup group;
  const char* prime;
};
const ModpGroup kModpGroups[] = {
    {KeGroup::modp2048, kModp2048}, {KeGroup::modp3072, kModp3072}, {KeGroup::modp4096, kModp4096}};

// An Rng that returns only zero bytes: a broken source.
class ZeroRng final : public Rng {
 public:
  void fill(MutableByteView out) noexcept override {
    for (auto& b : out) b = 0;
  }
};

}  // namespace

// ---- Known answers -------------------------------------------------------------------

TEST_CASE("ECP and brainpool known answers (RFC 5903 section 8, RFC 6932 appendix A.2)") {
  MbedtlsProvider mbedtls;
  DefaultProvider def;
  for (Provider* p : {static_cast<Provider*>(&mbedtls), static_cast<Provider*>(&def)}) {
    for (const EcVector& v : kEcVectors) {
      CAPTURE(p->name());
      CAPTURE(v.source);
      auto i = import_ok(*p, v.group, from_hex(v.i));
      auto r = import_ok(*p, v.group, from_hex(v.r));
      CHECK(std::string(i->backend()) == "mbedtls");
      CHECK(i->group() == v.group);
      // The KE payload data is x | y without the SEC 1 0x04 prefix.
      CHECK(to_hex(i->public_value()) == lower_hex(v.gi));
      CHECK(to_hex(r->public_value()) == lower_hex(v.gr));
      // The shared secret is the x coordinate of g^ir alone, from both sides.
      CHECK(shared_hex(*i, from_hex(v.gr)) == lower_hex(v.gir));
      CHECK(shared_hex(*r, from_hex(v.gi)) == lower_hex(v.gir));
    }
  }
}

TEST_CASE("X25519 known answer on every backend (RFC 7748 section 6.1)") {
  MbedtlsProvider mbedtls;
  SodiumProvider sodium;
  DefaultProvider def;
  const XVector& v = kX25519_6_1;
  for (Provider* p :
       {static_cast<Provider*>(&mbedtls), static_cast<Provider*>(&sodium), static_cast<Provider*>(&def)}) {
    CAPTURE(p->name());
    auto alice = import_ok(*p, v.group, from_hex(v.a));
    auto bob = import_ok(*p, v.group, from_hex(v.b));
    CHECK(alice->group() == KeGroup::curve25519);
    CHECK(to_hex(alice->public_value()) == lower_hex(v.a_pub));
    CHECK(to_hex(bob->public_value()) == lower_hex(v.b_pub));
    CHECK(shared_hex(*alice, from_hex(v.b_pub)) == lower_hex(v.k));
    CHECK(shared_hex(*bob, from_hex(v.a_pub)) == lower_hex(v.k));
  }
  // DefaultProvider picks libsodium for Curve25519.
  CHECK(std::string(import_ok(def, v.group, from_hex(v.a))->backend()) == "libsodium");
  CHECK(std::string(import_ok(mbedtls, v.group, from_hex(v.a))->backend()) == "mbedtls");
}

TEST_CASE("X448 known answer (RFC 7748 section 6.2)") {
  MbedtlsProvider mbedtls;
  DefaultProvider def;
  const XVector& v = kX448_6_2;
  for (Provider* p : {static_cast<Provider*>(&mbedtls), static_cast<Provider*>(&def)}) {
    CAPTURE(p->name());
    auto alice = import_ok(*p, v.group, from_hex(v.a));
    auto bob = import_ok(*p, v.group, from_hex(v.b));
    CHECK(std::string(alice->backend()) == "mbedtls");
    CHECK(to_hex(alice->public_value()) == lower_hex(v.a_pub));
    CHECK(to_hex(bob->public_value()) == lower_hex(v.b_pub));
    CHECK(shared_hex(*alice, from_hex(v.b_pub)) == lower_hex(v.k));
    CHECK(shared_hex(*bob, from_hex(v.a_pub)) == lower_hex(v.k));
  }
  SodiumProvider sodium;
  CHECK(import_error(sodium, v.group, from_hex(v.a)) == Errc::unsupported_algorithm);
}

TEST_CASE("X25519 and X448 scalar multiplication known answers (RFC 7748 section 5.2)") {
  MbedtlsProvider mbedtls;
  SodiumProvider sodium;
  for (const ScalarMultVector& v : kScalarMult) {
    CAPTURE(v.source);
    auto ke = import_ok(mbedtls, v.group, from_hex(v.scalar));
    CHECK(shared_hex(*ke, from_hex(v.u)) == lower_hex(v.out));
    if (v.group == KeGroup::curve25519) {
      auto ks = import_ok(sodium, v.group, from_hex(v.scalar));
      CHECK(shared_hex(*ks, from_hex(v.u)) == lower_hex(v.out));
    }
  }
}

// RFC 3526 publishes no Diffie-Hellman test vectors. These values were
// computed once with Python's built-in pow() (an implementation independent
// of mbedTLS) on the group 14 prime above; the exponents were picked so that
// g^i and g^ir both start with a zero octet, to check the left padding of
// RFC 7296 section 3.4 and section 2.14.
TEST_CASE("MODP group 14 computed known answer, with zero-padded values") {
  const Bytes xi = from_hex(
      "293428d2ae945c2e04a997982a309fad0e45d1874760b1200a5e555d2814b37f"
      "f3662478bf2555a7");
  const char* gi =
      "002ccb28fbdf278215a07ef0d7287b1b1cfeb1ec30abb4ae806973ac7bd7840b"
      "d1881228bba86129f6a61cb5326b8f39ffc4094a28d5296291b67c17472d1afa"
      "f7f07f59c1e367e76d17a618ff43c6d5af228fb551f1870650f07efe07b467c9"
      "3413f787cdae3df99337cfc9c1ea64ac7eb0ffd1db996e5d0ef0f4ce1492833a"
      "d7a0a4e26337f8096f3171ea60e156cc6da3b0cb4eb7bb453f93079e59a41f7d"
      "bff98a39cc95ac97b83af6e0b79feb055df549f5998caff678fca5a7243d244d"
      "b24b09b8cc96cf774038047d56ea3a9f37637480213a88236f50a5621b0241d2"
      "d53b68da65c77eb1cfa5396701bcb88ee7c61de54f0e40824642619f07f9d524";
  const Bytes xr = from_hex(
      "f690eb49a9068c7802e9058872501797aef25cd637f2d1baf7e84d63da3c7c8d"
      "a4bb1bff8b724021");
  const char* gr =
      "ae571faa3a25786cda0952d11eac26eaaa8e566dac027ff22dd6f635a7184ea6"
      "6783f6830da221480ff4e47754fb64f3f31cbac9b1d429369fc7f0ef2a0b492a"
      "ede1751eae9587837d0a37cfb2f118f21d48d5e89c6c4b71a1641e05afd73aec"
      "d8db91a420328ddc8fa4a8af2ae9cf07a7290269d75def1fee55218c4f62e137"
      "c531e7c3043cd16b4532fb97874b03befca090aa823dc4417004da62962a1482"
      "b96d0fe81cbcfdd657b4f7486738b971b83437b34de1179e017d6993ce05e69d"
      "ba723419c890203baa2b3a5ca012836b6225616d0fff4c1d7a70f96f3e2f5756"
      "a3227ce0ddd9492024f0ea461f5155c2ffbea116e7ac097c3f151c9954108e72";
  const char* gir =
      "006ac1e253a7b54e4354de4ecd6f91199ad8fff5d78c45c47b68354ffff85c45"
      "c06f202b134e2347bacc033e2ec7269a204fa48a50f7e05e370ca1330a427f68"
      "0650db823ef6770de8c4e12b24519c4b8e34369692bea720c15746ce1f7864b6"
      "52244c762e9ab089e445e531933cca2bd1ffecc435abcbf5280a9fe10136894c"
      "d103d898a8568810c6b16709e34399ad75e2e09d6a0bdd30bede320de4c0ca7c"
      "a128ab5c64d49385790a6f64d2bd915d287366e2806e34f657ee937ce5a9d240"
      "feefbb9ee33f9435107cff431735a8cacb3a5ae3441f37961d378672c0367b97"
      "cf27a7d4c909806efb06f14456e4bb623cd0114d0b744ace4ed777115d8d8975";

  DefaultProvider def;
  auto i = import_ok(def, KeGroup::modp2048, xi);
  auto r = import_ok(def, KeGroup::modp2048, xr);
  CHECK(std::string(i->backend()) == "mbedtls");
  CHECK(i->public_value().size() == 256);
  CHECK(to_hex(i->public_value()) == lower_hex(gi));
  CHECK(to_hex(r->public_value()) == lower_hex(gr));
  CHECK(shared_hex(*i, from_hex(gr)) == lower_hex(gir));
  CHECK(shared_hex(*r, from_hex(gi)) == lower_hex(gir));
}

// ---- Agreement, sizes, determinism --------------------------------------------------

TEST_CASE("every group: two fresh parties agree, sizes follow ke_group_info") {
  MbedtlsProvider mbedtls;
  SystemRng rng;
  for (KeGroup g : kAllGroups) {
    CAPTURE(group_name(g));
    const auto info = ipsec::crypto::ke_group_info(g);
    REQUIRE(info.has_value());
    auto a = make_ok(mbedtls, g, rng);
    auto b = make_ok(mbedtls, g, rng);
    CHECK(a->group() == g);
    CHECK(std::string(a->backend()) == "mbedtls");
    CHECK(a->public_value().size() == info->public_size);
    CHECK(b->public_value().size() == info->public_size);
    CHECK(to_hex(a->public_value()) != to_hex(b->public_value()));
    auto sa = a->shared_secret(b->public_value());
    auto sb = b->shared_secret(a->public_value());
    REQUIRE(sa.ok());
    REQUIRE(sb.ok());
    CHECK(sa->size() == info->shared_size);
    CHECK(ipsec::ct_equal(sa->view(), sb->view()));
    // Blinding is fresh on every call; the result is not.
    auto again = a->shared_secret(b->public_value());
    REQUIRE(again.ok());
    CHECK(ipsec::ct_equal(sa->view(), again->view()));
  }
}

TEST_CASE("SeededRng: same seed, same key; SystemRng: fresh keys") {
  MbedtlsProvider mbedtls;
  for (KeGroup g : kAllGroups) {
    CAPTURE(group_name(g));
    SeededRng s1(42), s2(42), s3(43);
    auto a = make_ok(mbedtls, g, s1);
    auto b = make_ok(mbedtls, g, s2);
    auto c = make_ok(mbedtls, g, s3);
    CHECK(to_hex(a->public_value()) == to_hex(b->public_value()));
    CHECK(to_hex(a->public_value()) != to_hex(c->public_value()));
    // The next draw from the same stream gives another key.
    auto a2 = make_ok(mbedtls, g, s1);
    CHECK(to_hex(a->public_value()) != to_hex(a2->public_value()));

    SystemRng sys;
    auto x = make_ok(mbedtls, g, sys);
    auto y = make_ok(mbedtls, g, sys);
    CHECK(to_hex(x->public_value()) != to_hex(y->public_value()));
  }
}

TEST_CASE("X25519: mbedTLS and libsodium draw the same key from the same seed and interoperate") {
  MbedtlsProvider mbedtls;
  SodiumProvider sodium;
  DefaultProvider def;
  SeededRng r1(7), r2(7), r3(7);
  auto m = make_ok(mbedtls, KeGroup::curve25519, r1);
  auto s = make_ok(sodium, KeGroup::curve25519, r2);
  auto d = make_ok(def, KeGroup::curve25519, r3);
  CHECK(to_hex(m->public_value()) == to_hex(s->public_value()));
  CHECK(to_hex(d->public_value()) == to_hex(s->public_value()));
  CHECK(std::string(d->backend()) == "libsodium");

  SystemRng sys;
  auto a = make_ok(mbedtls, KeGroup::curve25519, sys);
  auto b = make_ok(sodium, KeGroup::curve25519, sys);
  CHECK(shared_hex(*a, b->public_value()) == shared_hex(*b, a->public_value()));
}

TEST_CASE("a broken Rng is reported, not looped on") {
  MbedtlsProvider mbedtls;
  ZeroRng zero;
  // An all-zero draw is never a valid MODP exponent or ECP scalar.
  for (KeGroup g : {KeGroup::modp2048, KeGroup::ecp256, KeGroup::brainpool256}) {
    CAPTURE(group_name(g));
    auto ke = mbedtls.make_key_exchange(g, zero);
    REQUIRE_FALSE(ke.ok());
    CHECK(ke.error() == Errc::crypto_backend_failure);
  }
  // Clamping makes any 32 or 56 octets a valid X25519/X448 scalar (RFC 7748
  // section 5), zero included.
  CHECK(mbedtls.make_key_exchange(KeGroup::curve25519, zero).ok());
  CHECK(mbedtls.make_key_exchange(KeGroup::curve448, zero).ok());
}

TEST_CASE("unsupported groups") {
  MbedtlsProvider mbedtls;
  SodiumProvider sodium;
  DefaultProvider def;
  SystemRng rng;
  const Bytes key(32, 1);
  for (Provider* p :
       {static_cast<Provider*>(&mbedtls), static_cast<Provider*>(&sodium), static_cast<Provider*>(&def)}) {
    for (KeGroup g : {KeGroup::none, KeGroup::modp768, KeGroup::modp1024, KeGroup::modp1536,
                      KeGroup::modp8192, KeGroup::modp2048_s256, KeGroup::ecp224, KeGroup::brainpool384,
                      KeGroup::mlkem768, static_cast<KeGroup>(0xffff)}) {
      CAPTURE(p->name());
      CAPTURE(group_name(g));
      auto made = p->make_key_exchange(g, rng);
      REQUIRE_FALSE(made.ok());
      CHECK(made.error() == Errc::unsupported_algorithm);
      CHECK(import_error(*p, g, key) == Errc::unsupported_algorithm);
    }
  }
  // libsodium has Curve25519 only.
  for (KeGroup g : kAllGroups) {
    if (g == KeGroup::curve25519) continue;
    CAPTURE(group_name(g));
    auto made = sodium.make_key_exchange(g, rng);
    REQUIRE_FALSE(made.ok());
    CHECK(made.error() == Errc::unsupported_algorithm);
  }
}

// ---- Peer value validation ------------------------------------------------------------

TEST_CASE("MODP peer values: RFC 6989 section 2.1 range check and lengths") {
  MbedtlsProvider mbedtls;
  SystemRng rng;
  for (const ModpGroup& m : kModpGroups) {
    CAPTURE(group_name(m.group));
    const Bytes p = from_hex(m.prime);
    const size_t len = p.size();
    auto ke = make_ok(mbedtls, m.group, rng);
    CHECK(ke->public_value().size() == len);

    CHECK(shared_error(*ke, Bytes(len, 0)) == Errc::invalid_public_value);      // 0
    CHECK(shared_error(*ke, small_be(len, 1)) == Errc::invalid_public_value);   // 1
    CHECK(shared_error(*ke, minus_small(p, 1)) == Errc::invalid_public_value);  // p - 1
    CHECK(shared_error(*ke, p) == Errc::invalid_public_value);                  // p
    CHECK(shared_error(*ke, Bytes(len, 0xff)) == Errc::invalid_public_value);   // 2^n - 1 > p
    // The bounds are tight: 2 and p - 2 are acceptable elements.
    CHECK(shared_error(*ke, small_be(len, 2)) == Errc::ok);
    CHECK(shared_error(*ke, minus_small(p, 2)) == Errc::ok);

    // The KE data has exactly the prime's length (RFC 7296 section 3.4),
    // even when the value would fit in fewer octets.
    CHECK(shared_error(*ke, Bytes(len - 1, 0x55)) == Errc::invalid_length);
    CHECK(shared_error(*ke, Bytes(len + 1, 0x55)) == Errc::invalid_length);
    CHECK(shared_error(*ke, small_be(len - 1, 2)) == Errc::invalid_length);
    CHECK(shared_error(*ke, Bytes{}) == Errc::invalid_length);
  }
}

TEST_CASE("ECP and brainpool peer values: on the curve, canonical, right length") {
  MbedtlsProvider mbedtls;
  SystemRng rng;
  for (const EcVector& v : kEcVectors) {
    CAPTURE(v.source);
    auto ke = import_ok(mbedtls, v.group, from_hex(v.i));
    const Bytes good = from_hex(v.gr);
    const size_t len = good.size();
    REQUIRE(shared_error(*ke, good) == Errc::ok);

    Bytes off_curve = good;
    off_curve.back() ^= 1;  // y + 1 or y - 1: not on the curve
    CHECK(shared_error(*ke, off_curve) == Errc::invalid_public_value);
    Bytes swapped(good.begin() + static_cast<std::ptrdiff_t>(len / 2), good.end());
    swapped.insert(swapped.end(), good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len / 2));
    CHECK(shared_error(*ke, swapped) == Errc::invalid_public_value);  // y | x
    // All zero: (0, 0) is not on these curves, and the identity has no
    // x | y encoding at all.
    CHECK(shared_error(*ke, Bytes(len, 0)) == Errc::invalid_public_value);
    CHECK(shared_error(*ke, Bytes(len, 0xff)) == Errc::invalid_public_value);

    // SEC 1 encodings are not KE data (RFC 5903 section 7): neither the
    // uncompressed 0x04 | x | y nor the compressed form.
    Bytes sec1{0x04};
    sec1.insert(sec1.end(), good.begin(), good.end());
    CHECK(shared_error(*ke, sec1) == Errc::invalid_length);
    Bytes compressed{0x02};
    compressed.insert(compressed.end(), good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len / 2));
    CHECK(shared_error(*ke, compressed) == Errc::invalid_length);
    CHECK(shared_error(*ke, Bytes(good.begin(), good.end() - 1)) == Errc::invalid_length);
    CHECK(shared_error(*ke, Bytes{}) == Errc::invalid_length);
  }

  // A coordinate >= p is refused even when it is congruent to a valid one:
  // brainpoolP256r1's p is about 0.66 * 2^256, so y + p of the RFC 6932
  // point still fits in 32 octets.
  const EcVector& bp = kEcVectors[3];
  REQUIRE(bp.group == KeGroup::brainpool256);
  const Bytes p_bp = from_hex("A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377");
  const Bytes gr = from_hex(bp.gr);
  Bytes non_canonical(gr.begin(), gr.begin() + 32);
  const Bytes y_plus_p = add_be(Bytes(gr.begin() + 32, gr.end()), p_bp);
  non_canonical.insert(non_canonical.end(), y_plus_p.begin(), y_plus_p.end());
  auto ke = import_ok(mbedtls, bp.group, from_hex(bp.i));
  CHECK(shared_error(*ke, non_canonical) == Errc::invalid_public_value);

  // A point of the wrong curve: P-256's generator on P-384 sized input is a
  // length error; the P-256 RFC point given to brainpoolP256r1 is off-curve.
  CHECK(shared_error(*ke, from_hex(kEcVectors[0].gr)) == Errc::invalid_public_value);
  auto fresh = make_ok(mbedtls, KeGroup::ecp384, rng);
  CHECK(shared_error(*fresh, from_hex(kEcVectors[0].gr)) == Errc::invalid_length);
}

TEST_CASE("X25519 and X448 low-order and malformed peer values (RFC 7748 sections 5 and 6, RFC 8031 2.3)") {
  MbedtlsProvider mbedtls;
  SodiumProvider sodium;

  // X25519: 0, 1, a point of order 8, p - 1 = 2^255 - 20 (order 2), and
  // p itself (non-canonical 0).
  Bytes p25519(32, 0xff);
  p25519[0] = 0xed;
  p25519[31] = 0x7f;
  Bytes pm1_25519 = p25519;
  pm1_25519[0] = 0xec;
  const Bytes bad25519[] = {
      Bytes(32, 0),
      from_hex("0100000000000000000000000000000000000000000000000000000000000000"),
      from_hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
      pm1_25519,
      p25519,
  };
  for (Provider* p : {static_cast<Provider*>(&mbedtls), static_cast<Provider*>(&sodium)}) {
    CAPTURE(p->name());
    auto ke = import_ok(*p, KeGroup::curve25519, from_hex(kX25519_6_1.a));
    for (const Bytes& u : bad25519) {
      CAPTURE(to_hex(u));
      CHECK(shared_error(*ke, u) == Errc::invalid_public_value);
    }
    CHECK(shared_error(*ke, Bytes(31, 9)) == Errc::invalid_length);
    CHECK(shared_error(*ke, Bytes(33, 9)) == Errc::invalid_length);
    CHECK(shared_error(*ke, Bytes{}) == Errc::invalid_length);

    // Non-canonical but valid encodings of the base point u = 9: with the
    // masked top bit set, and as p + 9 (RFC 7748 section 5 accepts both).
    // X25519(a, 9) is Alice's public value.
    Bytes nine(32, 0);
    nine[0] = 9;
    Bytes nine_high = nine;
    nine_high[31] = 0x80;
    Bytes p_plus_9 = p25519;
    p_plus_9[0] = 0xf6;
    CHECK(shared_hex(*ke, nine) == lower_hex(kX25519_6_1.a_pub));
    CHECK(shared_hex(*ke, nine_high) == lower_hex(kX25519_6_1.a_pub));
    CHECK(shared_hex(*ke, p_plus_9) == lower_hex(kX25519_6_1.a_pub));
  }

  // X448: 0, 1 and p - 1 = 2^448 - 2^224 - 2 (little-endian), and p.
  Bytes p448(56, 0xff);
  p448[28] = 0xfe;
  Bytes pm1_448 = p448;
  pm1_448[0] = 0xfe;
  Bytes one448(56, 0);
  one448[0] = 1;
  auto ke = import_ok(mbedtls, KeGroup::curve448, from_hex(kX448_6_2.a));
  for (const Bytes& u : {Bytes(56, 0), one448, pm1_448, p448}) {
    CAPTURE(to_hex(u));
    CHECK(shared_error(*ke, u) == Errc::invalid_public_value);
  }
  CHECK(shared_error(*ke, Bytes(55, 5)) == Errc::invalid_length);
  CHECK(shared_error(*ke, Bytes(57, 5)) == Errc::invalid_length);
  // u = 5 (the base point) and its non-canonical form p + 5 give Alice's
  // public value.
  Bytes five(56, 0);
  five[0] = 5;
  Bytes p_plus_5(56, 0);
  p_plus_5[0] = 4;
  for (size_t k = 28; k < 56; ++k) p_plus_5[k] = 0xff;
  CHECK(shared_hex(*ke, five) == lower_hex(kX448_6_2.a_pub));
  CHECK(shared_hex(*ke, p_plus_5) == lower_hex(kX448_6_2.a_pub));
}

// ---- Private value import ----------------------------------------------------------------

TEST_CASE("import: ECP scalars must be 1..n-1 and exactly as long as n") {
  MbedtlsProvider mbedtls;
  const Bytes n256 = from_hex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
  const Bytes nbp = from_hex("A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7");

  CHECK(import_error(mbedtls, KeGroup::ecp256, Bytes(32, 0)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::ecp256, n256) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::ecp256, Bytes(32, 0xff)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::ecp256, Bytes(31, 1)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::ecp256, Bytes(33, 1)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::ecp256, Bytes{}) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::brainpool256, nbp) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::brainpool256, Bytes(32, 0xff)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::ecp384, Bytes(48, 0)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::ecp384, Bytes(48, 0xff)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::ecp521, Bytes(66, 0)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::ecp521, Bytes(66, 0xff)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::ecp521, Bytes(65, 1)) == Errc::invalid_key);

  // The bounds are tight: 1 gives the generator, n - 1 its negation.
  const char* g256 =
      "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"
      "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5";
  auto one = import_ok(mbedtls, KeGroup::ecp256, small_be(32, 1));
  CHECK(to_hex(one->public_value()) == lower_hex(g256));
  auto last = import_ok(mbedtls, KeGroup::ecp256, minus_small(n256, 1));
  CHECK(to_hex(last->public_value().first(32)) == lower_hex(g256).substr(0, 64));
  CHECK(import_error(mbedtls, KeGroup::brainpool256, minus_small(nbp, 1)) == Errc::ok);
}

TEST_CASE("import: MODP exponents must be 2..p-2 and not the subgroup order") {
  MbedtlsProvider mbedtls;
  const Bytes p = from_hex(kModp2048);
  CHECK(import_error(mbedtls, KeGroup::modp2048, Bytes{}) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::modp2048, Bytes{0}) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::modp2048, Bytes{1}) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::modp2048, Bytes(40, 0)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::modp2048, minus_small(p, 1)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::modp2048, p) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::modp2048, Bytes(257, 1)) == Errc::invalid_key);
  // g = 2 generates the subgroup of order q = (p - 1) / 2: g^q = 1 is not a
  // value a peer would accept.
  CHECK(import_error(mbedtls, KeGroup::modp2048, shift_right_1(p)) == Errc::invalid_key);

  // 2 is the smallest exponent: g^2 = 4. Short exponents are fine.
  auto two = import_ok(mbedtls, KeGroup::modp2048, Bytes{2});
  CHECK(to_hex(two->public_value()) == to_hex(small_be(256, 4)));
  CHECK(import_error(mbedtls, KeGroup::modp2048, minus_small(p, 2)) == Errc::ok);
}

TEST_CASE("import: X25519 and X448 scalars are exactly 32 and 56 octets") {
  MbedtlsProvider mbedtls;
  SodiumProvider sodium;
  CHECK(import_error(mbedtls, KeGroup::curve25519, Bytes(31, 1)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::curve25519, Bytes(33, 1)) == Errc::invalid_key);
  CHECK(import_error(sodium, KeGroup::curve25519, Bytes(31, 1)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::curve448, Bytes(55, 1)) == Errc::invalid_key);
  CHECK(import_error(mbedtls, KeGroup::curve448, Bytes(57, 1)) == Errc::invalid_key);
  // Clamping (RFC 7748 section 5): scalars that differ only in the clamped
  // bits are the same key, on both backends.
  Bytes a = from_hex(kX25519_6_1.a);
  Bytes a_clamped_bits = a;
  a_clamped_bits[0] ^= 0x07;
  a_clamped_bits[31] ^= 0x80;
  for (Provider* p : {static_cast<Provider*>(&mbedtls), static_cast<Provider*>(&sodium)}) {
    CAPTURE(p->name());
    CHECK(to_hex(import_ok(*p, KeGroup::curve25519, a_clamped_bits)->public_value()) ==
          lower_hex(kX25519_6_1.a_pub));
  }
}
