// SPDX-License-Identifier: Apache-2.0
// ESP (RFC 4303) round trips and framing, every transform family, tunnel
// and transport mode, IPv4 and IPv6, ESN, UDP encapsulation.
#include "ipsec/esp/esp.hpp"

#include <doctest/doctest.h>

#include "esp/esp_test_util.hpp"

using namespace ipsec;
using namespace ipsec::test;
using crypto::EncrId;
using crypto::IntegId;

namespace {

const Suite kSuites[] = {
    {EncrId::aes_gcm_16, 256, IntegId::none},         {EncrId::aes_gcm_8, 128, IntegId::none},
    {EncrId::aes_gcm_12, 192, IntegId::none},         {EncrId::chacha20_poly1305, 0, IntegId::none},
    {EncrId::aes_ccm_16, 128, IntegId::none},         {EncrId::aes_ccm_8, 256, IntegId::none},
    {EncrId::null_auth_aes_gmac, 256, IntegId::none}, {EncrId::aes_cbc, 128, IntegId::hmac_sha2_256_128},
    {EncrId::aes_cbc, 256, IntegId::hmac_sha1_96},    {EncrId::aes_ctr, 192, IntegId::aes_xcbc_96},
    {EncrId::null, 0, IntegId::hmac_sha2_512_256},    {EncrId::aes_cbc, 192, IntegId::aes_cmac_96},
};

std::string suite_name(const Suite& s) {
  return std::string(crypto::to_string(s.encr)) + "/" + std::to_string(s.key_bits) + "+" +
         std::string(crypto::to_string(s.integ));
}

struct Keys {
  Bytes encr, integ;
  explicit Keys(const Suite& s) {
    encr = test_key(crypto::encr_info(s.encr)->keymat_size(s.key_bits), 0x11);
    if (s.integ != IntegId::none) integ = test_key(crypto::integ_info(s.integ)->key_size, 0x77);
  }
};

}  // namespace

TEST_CASE("ESP tunnel mode round-trips every transform, IPv4/IPv6 inside and outside, ESN on and off") {
  crypto::DefaultProvider provider;
  for (const Suite& suite : kSuites) {
    for (bool esn : {false, true}) {
      for (bool outer6 : {false, true}) {
        for (bool inner6 : {false, true}) {
          for (size_t size : {size_t{0}, size_t{1}, size_t{13}, size_t{1372}}) {
            INFO(suite_name(suite) << " esn=" << esn << " outer6=" << outer6 << " inner6=" << inner6
                                   << " size=" << size);
            Keys keys(suite);
            auto config = base_config(suite, keys.encr, keys.integ);
            config.esn = esn;
            config.tunnel = outer6 ? tunnel6() : tunnel4();
            auto sas = make_pair(config, provider);
            if (esn) {  // both ends near the end of the first 2^32 subspace: cross into the second
              sas.out->set_sequence(0xfffffffeULL);
              (void)sas.in->mutable_window().commit(0xfffffffeULL);
            }
            const Bytes inner = inner6 ? ipv6_udp("2001:db8:1::1", "2001:db8:2::1", size, 0xb8)
                                       : ipv4_udp("10.1.1.1", "10.2.2.2", size, 0xb8);
            for (int k = 0; k < 3; ++k) {
              HostBuffer buf(inner);
              auto sealed = esp::seal(*sas.out, buf.pb);
              REQUIRE_MESSAGE(sealed.ok(), sealed.status().name());
              const Bytes wire = buf.bytes();
              // Outer header, then ESP with our SPI and sequence number.
              CHECK((wire[0] >> 4) == (outer6 ? 6 : 4));
              const size_t esp = sealed->esp_offset;
              CHECK(esp == (outer6 ? 40u : 20u));
              CHECK(load_be32(ByteView(wire).subspan(esp).first<4>()) == 0x01020304u);
              CHECK(load_be32(ByteView(wire).subspan(esp + 4).first<4>()) ==
                    static_cast<uint32_t>(sealed->sequence));
              if (!outer6) CHECK(wire::Ipv4Header::parse(wire)->checksum_valid());
              // The payload is not in clear text (but with GMAC/NULL, which do not encrypt).
              const auto info = *crypto::encr_info(suite.encr);
              if (info.confidential && size > 8) {
                CHECK(std::search(wire.begin(), wire.end(), inner.end() - 8, inner.end()) == wire.end());
              }
              auto opened = esp::open(*sas.in, buf.pb);
              REQUIRE_MESSAGE(opened.ok(), opened.status().name());
              CHECK(opened->sequence == sealed->sequence);
              CHECK(opened->next_header == (inner6 ? 41 : 4));
              CHECK(buf.bytes() == inner);
            }
            CHECK(sas.in->counters().packets == 3);
            CHECK(sas.out->counters().packets == 3);
            CHECK(sas.in->counters().bytes == 3 * inner.size());
          }
        }
      }
    }
  }
}

TEST_CASE("ESP transport mode round-trips IPv4 and IPv6 (with extension headers), with and without UDP") {
  crypto::DefaultProvider provider;
  // Hop-by-hop (PadN) then destination options then UDP: ESP goes after
  // hop-by-hop and before the destination options (RFC 4303 3.1.1).
  const Bytes ext = from_hex("3c00 0104 00000000  1100 0104 00000000");
  for (const Suite& suite : {kSuites[0], kSuites[3], kSuites[7], kSuites[6]}) {
    for (bool udp : {false, true}) {
      for (int variant = 0; variant < 3; ++variant) {
        INFO(suite_name(suite) << " udp=" << udp << " variant=" << variant);
        Keys keys(suite);
        auto config = base_config(suite, keys.encr, keys.integ);
        config.mode = esp::Mode::transport;
        if (udp) config.udp = esp::UdpEncapsulation{4500, 4500};
        auto sas = make_pair(config, provider);
        const Bytes packet = variant == 0   ? ipv4_udp("10.1.1.1", "10.2.2.2", 100)
                             : variant == 1 ? ipv6_udp("2001:db8::1", "2001:db8::2", 100)
                                            : ipv6_udp("2001:db8::1", "2001:db8::2", 100, 0, ext, 0);
        HostBuffer buf(packet);
        auto sealed = esp::seal(*sas.out, buf.pb);
        REQUIRE_MESSAGE(sealed.ok(), sealed.status().name());
        const Bytes wire = buf.bytes();
        if (variant == 0) {
          auto h = wire::Ipv4Header::parse(wire);
          REQUIRE(h);
          CHECK(h->protocol == (udp ? wire::IpProtocol::udp : wire::IpProtocol::esp));
          CHECK(h->total_length == wire.size());
          CHECK(h->checksum_valid());
          CHECK(sealed->esp_offset == 20u + (udp ? 8u : 0u));
        } else {
          auto h = wire::Ipv6Header::parse(wire);
          REQUIRE(h);
          CHECK(h->payload_length + 40u == wire.size());
          const size_t kept = variant == 2 ? 48 : 40;
          CHECK(sealed->esp_offset == kept + (udp ? 8u : 0u));
          // The field in front of ESP now says ESP (or UDP).
          const uint8_t nh = variant == 2 ? wire[40] : wire[6];
          CHECK(nh == (udp ? 17 : 50));
          if (udp) {
            // RFC 8200 8.1: the UDP checksum over IPv6 is computed, and verifies.
            CHECK(load_be16(ByteView(wire).subspan(kept + 6).first<2>()) != 0);
          }
        }
        auto opened = esp::open(*sas.in, buf.pb);
        REQUIRE_MESSAGE(opened.ok(), opened.status().name());
        CHECK(buf.bytes() == packet);
      }
    }
  }
}

TEST_CASE("ESP over UDP in tunnel mode: RFC 3948 framing and the ESP-only entry point") {
  crypto::DefaultProvider provider;
  Keys keys(kSuites[0]);
  auto config = base_config(kSuites[0], keys.encr, keys.integ);
  config.tunnel = tunnel4();
  config.udp = esp::UdpEncapsulation{4500, 4501};
  auto sas = make_pair(config, provider);
  const Bytes inner = ipv4_udp("10.1.1.1", "10.2.2.2", 64);
  HostBuffer buf(inner);
  auto sealed = esp::seal(*sas.out, buf.pb);
  REQUIRE(sealed);
  const Bytes wire = buf.bytes();
  CHECK(sealed->esp_offset == 28);
  CHECK(wire[9] == 17);
  CHECK(load_be16(ByteView(wire).subspan(20).first<2>()) == 4500);
  CHECK(load_be16(ByteView(wire).subspan(22).first<2>()) == 4501);
  CHECK(load_be16(ByteView(wire).subspan(24).first<2>()) == wire.size() - 20);
  CHECK(load_be16(ByteView(wire).subspan(26).first<2>()) == 0);  // RFC 3948 3.1.1
  // A host reading from a UDP socket gets only the ESP part.
  HostBuffer esp_only(ByteView(wire).subspan(sealed->esp_offset));
  auto opened = esp::open_esp(*sas.in, esp_only.pb);
  REQUIRE_MESSAGE(opened.ok(), opened.status().name());
  CHECK(esp_only.bytes() == inner);
  // The non-ESP marker (IKE on port 4500) is not ESP.
  Bytes ike = wire;
  std::fill_n(ike.begin() + 28, 4, uint8_t{0});
  HostBuffer ike_buf(ike);
  CHECK(esp::open(*sas.in, ike_buf.pb).error() == Errc::unexpected_protocol);
}

TEST_CASE("ESP transport mode refuses a packet with next header 59, which would read as a dummy") {
  crypto::DefaultProvider provider;
  Keys keys(kSuites[0]);
  auto config = base_config(kSuites[0], keys.encr, keys.integ);
  config.mode = esp::Mode::transport;
  auto sas = make_pair(config, provider);
  Bytes packet = ipv6_udp("2001:db8::1", "2001:db8::2", 0);
  packet[6] = 59;  // RFC 8200 4.7: no next header
  HostBuffer buf(packet);
  auto sealed = esp::seal(*sas.out, buf.pb);
  CHECK(sealed.error() == Errc::unexpected_protocol);
  CHECK(sealed.status().offset() == 6);
  CHECK(sas.out->last_sequence() == 0);  // refused before a sequence number was spent
  CHECK(buf.bytes() == packet);
}
