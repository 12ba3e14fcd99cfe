// SPDX-License-Identifier: Apache-2.0
// Known-answer and negative tests for crypto/prf.hpp: PRF_HMAC_SHA1
// (RFC 2104), PRF_HMAC_SHA2_256/384/512 (RFC 4868), PRF_AES128_XCBC
// (RFC 4434) and PRF_AES128_CMAC (RFC 4615).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto_test_util.hpp"
#include "ipsec/crypto/prf.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"
#include "test_util.hpp"

namespace {

using ipsec::test::ascii;
using ipsec::test::counting;
using ipsec::test::err;
using ipsec::test::is_sodium;
using ipsec::test::NamedProvider;
using ipsec::test::providers;
using ipsec::test::repeat;

using ipsec::ByteView;
using ipsec::Status;
using ipsec::crypto::DefaultProvider;
using ipsec::crypto::MbedtlsProvider;
using ipsec::crypto::Prf;
using ipsec::crypto::PrfId;
using ipsec::crypto::Provider;
using ipsec::crypto::SodiumProvider;
using ipsec::test::Bytes;
using ipsec::test::from_hex;
using ipsec::test::to_hex;

struct Kat {
  std::string source;
  PrfId id;
  Bytes key;
  Bytes data;
  Bytes out;  // the full output, or its leftmost octets where the source truncates
};

const char* const kLargerKeyFirst = "Test Using Larger Than Block-Size Key - Hash Key First";
const char* const kLargerKeyAndData =
    "This is a test using a larger than block-size key and a larger than block-size data. The key needs to "
    "be "
    "hashed before being used by the HMAC algorithm.";

std::vector<Kat> kats() {
  std::vector<Kat> v = {
      // RFC 2202 section 3: test cases 1-7 for HMAC-SHA-1.
      {"RFC 2202 test case 1", PrfId::hmac_sha1, repeat(0x0b, 20), ascii("Hi There"),
       from_hex("b617318655057264e28bc0b6fb378c8ef146be00")},
      {"RFC 2202 test case 2", PrfId::hmac_sha1, ascii("Jefe"), ascii("what do ya want for nothing?"),
       from_hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")},
      {"RFC 2202 test case 3", PrfId::hmac_sha1, repeat(0xaa, 20), repeat(0xdd, 50),
       from_hex("125d7342b9ac11cd91a39af48aa17b4f63f175d3")},
      {"RFC 2202 test case 4", PrfId::hmac_sha1, counting(0x01, 25), repeat(0xcd, 50),
       from_hex("4c9007f4026250c6bc8414f9bf50c86c2d7235da")},
      {"RFC 2202 test case 5", PrfId::hmac_sha1, repeat(0x0c, 20), ascii("Test With Truncation"),
       from_hex("4c1a03424b55e07fe7f27be1d58bb9324a9a5a04")},
      {"RFC 2202 test case 6", PrfId::hmac_sha1, repeat(0xaa, 80), ascii(kLargerKeyFirst),
       from_hex("aa4ae5e15272d00e95705637ce8a3b55ed402112")},
      {"RFC 2202 test case 7", PrfId::hmac_sha1, repeat(0xaa, 80),
       ascii("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"),
       from_hex("e8e99d0f45237d786d6bbaa7965c7808bbff1a91")},

      // RFC 4434 section 4 (AES-XCBC-PRF-128), including the 10- and
      // 18-octet keys normalised per RFC 4434 section 2.
      {"RFC 4434 key length 16", PrfId::aes128_xcbc, counting(0, 16), counting(0, 20),
       from_hex("47f51b4564966215b8985c63055ed308")},
      {"RFC 4434 key length 10", PrfId::aes128_xcbc, counting(0, 10), counting(0, 20),
       from_hex("0fa087af7d866e7653434e602fdde835")},
      {"RFC 4434 key length 18", PrfId::aes128_xcbc, from_hex("000102030405060708090a0b0c0d0e0fedcb"),
       counting(0, 20), from_hex("8cd3c93ae598a9803006ffb67c40e9e4")},
      // RFC 3566 section 4.6 test cases #1-#7: the untruncated AES-XCBC-MAC
      // is AES-XCBC-PRF-128 with a 16-octet key (RFC 4434 section 1).
      {"RFC 3566 test case #1",
       PrfId::aes128_xcbc,
       counting(0, 16),
       {},
       from_hex("75f0251d528ac01c4573dfd584d79f29")},
      {"RFC 3566 test case #2", PrfId::aes128_xcbc, counting(0, 16), counting(0, 3),
       from_hex("5b376580ae2f19afe7219ceef172756f")},
      {"RFC 3566 test case #3", PrfId::aes128_xcbc, counting(0, 16), counting(0, 16),
       from_hex("d2a246fa349b68a79998a4394ff7a263")},
      {"RFC 3566 test case #5", PrfId::aes128_xcbc, counting(0, 16), counting(0, 32),
       from_hex("f54f0ec8d2b9f3d36807734bd5283fd4")},
      {"RFC 3566 test case #6", PrfId::aes128_xcbc, counting(0, 16), counting(0, 34),
       from_hex("becbb3bccdb518a30677d5481fb6b4d8")},
      {"RFC 3566 test case #7", PrfId::aes128_xcbc, counting(0, 16), repeat(0, 1000),
       from_hex("f0dafee895db30253761103b5d84528f")},

      // RFC 4615 section 4 (AES-CMAC-PRF-128), including the 18- and
      // 10-octet keys normalised per RFC 4615 section 3.
      {"RFC 4615 key length 18", PrfId::aes128_cmac, from_hex("000102030405060708090a0b0c0d0e0fedcb"),
       counting(0, 20), from_hex("84a348a4a45d235babfffc0d2b4da09a")},
      {"RFC 4615 key length 16", PrfId::aes128_cmac, counting(0, 16), counting(0, 20),
       from_hex("980ae87b5f4c9c5214f5b6a8455e4c2d")},
      {"RFC 4615 key length 10", PrfId::aes128_cmac, counting(0, 10), counting(0, 20),
       from_hex("290d9e112edb09ee141fcf64c0b72f3d")},
      // RFC 4493 section 4 examples 1-4 (AES-CMAC with a 128-bit key).
      {"RFC 4493 example 1",
       PrfId::aes128_cmac,
       from_hex("2b7e151628aed2a6abf7158809cf4f3c"),
       {},
       from_hex("bb1d6929e95937287fa37d129b756746")},
      {"RFC 4493 example 2", PrfId::aes128_cmac, from_hex("2b7e151628aed2a6abf7158809cf4f3c"),
       from_hex("6bc1bee22e409f96e93d7e117393172a"), from_hex("070a16b46b4d4144f79bdd9dd04a287c")},
      {"RFC 4493 example 3", PrfId::aes128_cmac, from_hex("2b7e151628aed2a6abf7158809cf4f3c"),
       from_hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411"),
       from_hex("dfa66747de9ae63030ca32611497c827")},
      {"RFC 4493 example 4", PrfId::aes128_cmac, from_hex("2b7e151628aed2a6abf7158809cf4f3c"),
       from_hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
                "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"),
       from_hex("51f0bebf7e3b9d92fc49741779363cfe")},
  };

  // RFC 4231 section 4, test cases 1-7 for HMAC-SHA-256/384/512. Test
  // cases 1-4, 6 and 7 are also the PRF test vectors of RFC 4868 section
  // 2.7.1 (PRF-1 to PRF-6); test case 5 prints only the leftmost 128 bits.
  struct Rfc4231 {
    int number;
    Bytes key;
    Bytes data;
    const char* sha256;
    const char* sha384;
    const char* sha512;
  };
  const Rfc4231 rfc4231[] = {
      {1, repeat(0x0b, 20), ascii("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
       "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
       "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
       "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
      {2, ascii("Jefe"), ascii("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
       "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
       "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
       "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
      {3, repeat(0xaa, 20), repeat(0xdd, 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
       "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
       "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
       "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
      {4, counting(0x01, 25), repeat(0xcd, 50),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
       "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
       "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
       "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
      {5, repeat(0x0c, 20), ascii("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b",
       "3abf34c3503b2a23a46efc619baef897", "415fad6271580a531d4179bc891d87a6"},
      {6, repeat(0xaa, 131), ascii(kLargerKeyFirst),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
       "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
       "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
       "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
      {7, repeat(0xaa, 131), ascii(kLargerKeyAndData),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
       "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
       "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
       "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"},
  };
  for (const Rfc4231& c : rfc4231) {
    const std::string name = "RFC 4231 test case " + std::to_string(c.number);
    v.push_back({name + " (SHA-256)", PrfId::hmac_sha2_256, c.key, c.data, from_hex(c.sha256)});
    v.push_back({name + " (SHA-384)", PrfId::hmac_sha2_384, c.key, c.data, from_hex(c.sha384)});
    v.push_back({name + " (SHA-512)", PrfId::hmac_sha2_512, c.key, c.data, from_hex(c.sha512)});
  }
  return v;
}

TEST_CASE("PRF known answers: RFC 2202, RFC 4231 / RFC 4868 2.7.1, RFC 4434, RFC 3566, RFC 4615, RFC 4493") {
  for (const Kat& v : kats()) {
    INFO("vector: " << v.source);
    const auto info = ipsec::crypto::prf_info(v.id);
    REQUIRE(info.has_value());
    for (const NamedProvider& np : providers()) {
      INFO("provider: " << np.name);
      auto made = np.provider->make_prf(v.id, v.key);
      if (is_sodium(*np.provider)) {
        CHECK(err(made.status()) == "unsupported_algorithm");
        continue;
      }
      REQUIRE(made.ok());
      Prf& prf = **made;
      CHECK(prf.id() == v.id);
      REQUIRE(prf.output_size() == info->output_size);
      Bytes out(prf.output_size());
      REQUIRE(err(prf.compute(v.data, out)) == "ok");
      CHECK(to_hex(ByteView(out).first(v.out.size())) == to_hex(v.out));
    }
  }
}

TEST_CASE("PRF over parts: the same output however the input is split") {
  MbedtlsProvider mbedtls;
  for (const Kat& v : kats()) {
    if (v.data.size() > 160) continue;  // keep the quadratic loop short
    INFO("vector: " << v.source);
    auto made = mbedtls.make_prf(v.id, v.key);
    REQUIRE(made.ok());
    Prf& prf = **made;
    const ByteView m(v.data);
    Bytes out(prf.output_size());
    for (size_t i = 0; i <= m.size(); ++i) {
      for (size_t j = i; j <= m.size(); j += 3) {
        const ByteView parts[] = {m.first(i), {}, m.subspan(i, j - i), m.subspan(j)};
        REQUIRE(err(prf.compute(parts, out)) == "ok");
        if (to_hex(ByteView(out).first(v.out.size())) != to_hex(v.out))
          FAIL_CHECK("split at " << i << ", " << j);
      }
    }
  }
}

TEST_CASE("AES PRF key normalisation: RFC 4434 section 2 and RFC 4615 section 3") {
  MbedtlsProvider mbedtls;
  const Bytes msg = counting(0x30, 37);
  auto prf_out = [&](PrfId id, const Bytes& key, const Bytes& data) {
    auto made = mbedtls.make_prf(id, key);
    REQUIRE(made.ok());
    Bytes out(16);
    REQUIRE(err((*made)->compute(data, out)) == "ok");
    return out;
  };
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{10}, size_t{15}, size_t{17}, size_t{18}, size_t{32}, size_t{100}}) {
    INFO("key length: " << n);
    const Bytes key = counting(0x90, n);
    // AES-XCBC-PRF-128: a shorter key is padded with zero bits, a longer
    // one replaced by AES-XCBC-PRF-128(0^128, key).
    Bytes xcbc_key;
    if (n < 16) {
      xcbc_key = key;
      xcbc_key.resize(16, 0);
    } else {
      xcbc_key = prf_out(PrfId::aes128_xcbc, Bytes(16, 0), key);
    }
    CHECK(to_hex(prf_out(PrfId::aes128_xcbc, key, msg)) ==
          to_hex(prf_out(PrfId::aes128_xcbc, xcbc_key, msg)));
    // AES-CMAC-PRF-128: any key that is not 128 bits, shorter or longer, is
    // replaced by AES-CMAC(0^128, key).
    const Bytes cmac_key = prf_out(PrfId::aes128_cmac, Bytes(16, 0), key);
    CHECK(to_hex(prf_out(PrfId::aes128_cmac, key, msg)) ==
          to_hex(prf_out(PrfId::aes128_cmac, cmac_key, msg)));
  }
}

TEST_CASE("PRF output size, buffer errors and unsupported transforms") {
  const PrfId ids[] = {PrfId::hmac_sha1,     PrfId::hmac_sha2_256, PrfId::hmac_sha2_384,
                       PrfId::hmac_sha2_512, PrfId::aes128_xcbc,   PrfId::aes128_cmac};
  for (const NamedProvider& np : providers()) {
    INFO("provider: " << np.name);
    const bool sodium = is_sodium(*np.provider);
    for (PrfId id : ids) {
      INFO("prf: " << std::string(ipsec::crypto::to_string(id)));
      const auto info = ipsec::crypto::prf_info(id);
      // Keys of any length are accepted (RFC 7296 section 2.13: "prf(K, S)"
      // takes keys of any size; the AES PRFs normalise them).
      for (size_t n : {size_t{0}, size_t{1}, size_t{16}, size_t{64}, size_t{65}, size_t{129}, size_t{300}}) {
        auto made = np.provider->make_prf(id, Bytes(n, 0x5c));
        if (sodium) {
          CHECK(err(made.status()) == "unsupported_algorithm");
          continue;
        }
        REQUIRE(made.ok());
        CHECK((*made)->output_size() == info->output_size);
        for (size_t len : {size_t{0}, info->output_size - size_t{1}, info->output_size + size_t{1}}) {
          Bytes out(len);
          CHECK(err((*made)->compute(Bytes{1, 2, 3}, out)) == "invalid_length");
        }
      }
    }
    for (PrfId id : {PrfId::hmac_md5, PrfId::hmac_tiger, PrfId::hmac_streebog_512, static_cast<PrfId>(0),
                     static_cast<PrfId>(1000)}) {
      INFO("id: " << static_cast<int>(id));
      CHECK(err(np.provider->make_prf(id, Bytes(16, 1)).status()) == "unsupported_algorithm");
    }
  }
}

}  // namespace
