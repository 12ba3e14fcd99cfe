// SPDX-License-Identifier: Apache-2.0
// ESP end to end through seal/open beyond round trips: tampering with every
// octet, replay, ESN re-synchronisation (RFC 4303 A3), padding checks, dummy
// packets and TFC padding (RFC 4303 2.4, 2.6, 2.7), the tunnel header policy
// (RFC 4301 8.1 DF, RFC 6040 ECN), sequence number overflow (RFC 4303
// 3.3.3), traffic limits (RFC 4301 4.4.2.1), bursts, concurrency,
// truncation and configuration errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "esp/esp_test_util.hpp"
#include "ipsec/esp/esp.hpp"

using namespace ipsec;
using namespace ipsec::test;
using crypto::EncrId;
using crypto::IntegId;

namespace {

constexpr uint64_t k32 = uint64_t{1} << 32;

std::string suite_name(const Suite& s) {
  return std::string(crypto::to_string(s.encr)) + "/" + std::to_string(s.key_bits) + "+" +
         std::string(crypto::to_string(s.integ));
}

// Keyed: a suite's keys and an SA configuration pointing at them (the
// views stay valid as long as the object lives; it does not move).
struct Keyed {
  Suite suite;
  Bytes encr, integ;
  esp::SaConfig config;

  explicit Keyed(const Suite& s, esp::Mode mode = esp::Mode::tunnel, bool esn = false) : suite(s) {
    encr = test_key(crypto::encr_info(s.encr)->keymat_size(s.key_bits), 0x21);
    if (s.integ != IntegId::none) integ = test_key(crypto::integ_info(s.integ)->key_size, 0x63);
    config = base_config(s, encr, integ);
    config.mode = mode;
    config.esn = esn;
    if (mode == esp::Mode::tunnel) config.tunnel = tunnel4();
  }
  Keyed(const Keyed&) = delete;
  Keyed& operator=(const Keyed&) = delete;
};

const Suite kGcm256{EncrId::aes_gcm_16, 256, IntegId::none};
const Suite kChacha{EncrId::chacha20_poly1305, 0, IntegId::none};
const Suite kCcm8{EncrId::aes_ccm_8, 128, IntegId::none};
const Suite kGmac{EncrId::null_auth_aes_gmac, 128, IntegId::none};
const Suite kCbcSha256{EncrId::aes_cbc, 128, IntegId::hmac_sha2_256_128};
const Suite kCtrXcbc{EncrId::aes_ctr, 256, IntegId::aes_xcbc_96};
const Suite kNullSha1{EncrId::null, 0, IntegId::hmac_sha1_96};
const Suite kAllSuites[] = {kGcm256, kChacha, kCcm8, kGmac, kCbcSha256, kCtrXcbc, kNullSha1};

// seal_bytes: seal `inner` and return the wire bytes (and the info).
struct Sealed {
  Bytes wire;
  esp::SealInfo info;
};
Sealed seal_bytes(esp::OutboundSa& out, const Bytes& inner) {
  HostBuffer buf(inner);
  auto sealed = esp::seal(out, buf.pb);
  REQUIRE_MESSAGE(sealed.ok(), sealed.status().name());
  return {buf.bytes(), *sealed};
}

Result<esp::OpenInfo> open_bytes(esp::InboundSa& in, const Bytes& wire, Bytes* inner = nullptr) {
  HostBuffer buf(wire);
  auto r = esp::open(in, buf.pb);
  if (inner != nullptr) *inner = buf.bytes();
  return r;
}

void fix_ipv4_checksum(Bytes& packet) {
  const size_t ihl = size_t{packet[0] & 0x0fu} * 4;
  packet[10] = 0;
  packet[11] = 0;
  const uint16_t c = wire::internet_checksum(ByteView(packet).first(ihl));
  packet[10] = static_cast<uint8_t>(c >> 8);
  packet[11] = static_cast<uint8_t>(c);
}

uint8_t ecn_of(const Bytes& packet) {
  return (packet[0] >> 4) == 4 ? static_cast<uint8_t>(packet[1] & 3)
                               : static_cast<uint8_t>((packet[1] >> 4) & 3);
}
void set_outer_ecn(Bytes& packet, uint8_t ecn) {
  if ((packet[0] >> 4) == 4) {
    packet[1] = static_cast<uint8_t>((packet[1] & 0xfc) | ecn);
    fix_ipv4_checksum(packet);
  } else {
    packet[1] = static_cast<uint8_t>((packet[1] & 0xcf) | (ecn << 4));
  }
}

}  // namespace

// ---- tampering --------------------------------------------------------------------------------

TEST_CASE("ESP tampering: every octet of ESP header, IV, payload, padding, trailer and ICV is covered") {
  crypto::DefaultProvider provider;
  const Bytes inner = ipv4_udp("10.1.1.1", "10.2.2.2", 37);  // odd size: real padding for the block ciphers
  for (const Suite& suite : kAllSuites) {
    for (bool esn : {false, true}) {
      for (esp::Mode mode : {esp::Mode::tunnel, esp::Mode::transport}) {
        INFO(suite_name(suite) << " esn=" << esn << " tunnel=" << (mode == esp::Mode::tunnel));
        Keyed k(suite, mode, esn);
        auto sas = make_pair(k.config, provider);
        const uint64_t base = esn ? 5 * k32 + 1000 : 1000;
        sas.out->set_sequence(base - 1);
        (void)sas.in->mutable_window().commit(base - 2);  // the receiver has seen the previous one
        const Sealed s = seal_bytes(*sas.out, inner);
        REQUIRE(s.info.sequence == base);
        const size_t esp = s.info.esp_offset;
        // The outer header (tunnel) or the IP header (transport) is not
        // covered by ESP (RFC 4303 3.1): start at the SPI.
        uint64_t want_auth = 0, want_replay = 0, want_malformed = 0;
        for (size_t i = esp; i < s.wire.size(); ++i) {
          for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
            INFO("octet " << i - esp << " of ESP, mask " << int{mask});
            Bytes bad = s.wire;
            bad[i] ^= mask;
            auto r = open_bytes(*sas.in, bad);
            REQUIRE_FALSE(r.ok());
            if (i < esp + 4) {
              CHECK(r.error() == Errc::spi_mismatch);
              ++want_malformed;
            } else if (i < esp + 8) {
              // A changed sequence number: refused by the window when it
              // lands on a seen or too old number, else the ICV fails
              // (the sequence number is part of what it covers).
              const uint32_t low = load_be32(ByteView(bad).subspan(esp + 4).first<4>());
              const auto& w = sas.in->window();
              const bool window_refuses = !w.check(w.infer(low)).ok();
              CHECK(r.error() == (window_refuses ? Errc::replayed : Errc::integrity_check_failed));
              ++(window_refuses ? want_replay : want_auth);
            } else {
              CHECK(r.error() == Errc::integrity_check_failed);
              ++want_auth;
            }
          }
        }
        CHECK(sas.in->counters().auth_failures == want_auth);
        CHECK(sas.in->counters().replay_drops == want_replay);
        CHECK(sas.in->counters().malformed == want_malformed);
        CHECK(sas.in->counters().packets == 0);
        CHECK(sas.in->counters().pad_errors == 0);
        // None of it moved the window: the genuine packet still opens, once.
        Bytes out;
        auto r = open_bytes(*sas.in, s.wire, &out);
        REQUIRE_MESSAGE(r.ok(), r.status().name());
        CHECK(r->sequence == base);
        CHECK(out == inner);
        CHECK(open_bytes(*sas.in, s.wire).error() == Errc::replayed);
        CHECK(sas.in->counters().packets == 1);
        CHECK(sas.in->counters().replay_drops == want_replay + 1);
        CHECK(sas.in->consecutive_auth_failures() == 0);
      }
    }
  }
}

TEST_CASE(
    "ESP replay: an accepted packet is refused the second time, reordered ones within the window pass") {
  crypto::DefaultProvider provider;
  Keyed k(kGcm256);
  k.config.replay_window = 32;
  auto sas = make_pair(k.config, provider);
  const Bytes inner = ipv4_udp("10.1.1.1", "10.2.2.2", 20);
  std::vector<Bytes> sent;
  for (int i = 0; i < 40; ++i) sent.push_back(seal_bytes(*sas.out, inner).wire);  // seq 1..40
  // 40 first, then 9..39 out of order: 9 is 31 behind (inside), 8 is 32 behind (outside).
  REQUIRE(open_bytes(*sas.in, sent[39]).ok());
  for (int i = 38; i >= 8; --i)
    REQUIRE_MESSAGE(open_bytes(*sas.in, sent[static_cast<size_t>(i)]).ok(), "seq " << i + 1);
  CHECK(open_bytes(*sas.in, sent[7]).error() == Errc::replayed);
  for (int i = 8; i < 40; ++i)
    CHECK(open_bytes(*sas.in, sent[static_cast<size_t>(i)]).error() == Errc::replayed);
  CHECK(sas.in->counters().packets == 32);
  CHECK(sas.in->counters().replay_drops == 33);
  CHECK(sas.in->counters().auth_failures == 0);
}

// ---- ESN re-synchronisation (RFC 4303 A3) ------------------------------------------------------

TEST_CASE("ESP ESN re-synchronisation: after the sender jumps 2^32 ahead the receiver recovers") {
  crypto::DefaultProvider provider;
  const Bytes inner = ipv4_udp("10.1.1.1", "10.2.2.2", 50);
  for (const Suite& suite : {kGcm256, kGmac, kCbcSha256}) {
    for (uint32_t threshold : {1u, 3u, 10u}) {
      for (uint64_t jumps : {uint64_t{1}, uint64_t{2}, uint64_t{3}}) {
        INFO(suite_name(suite) << " threshold " << threshold << " jump " << jumps << " x 2^32");
        Keyed k(suite, esp::Mode::tunnel, true);
        k.config.esn_resync_threshold = threshold;
        k.config.esn_resync_attempts = 2;
        auto sas = make_pair(k.config, provider);
        for (int i = 0; i < 5; ++i) REQUIRE(open_bytes(*sas.in, seal_bytes(*sas.out, inner).wire).ok());
        // The sender loses sync: 2^32 * jumps packets vanish.
        sas.out->set_sequence(sas.out->last_sequence() + jumps * k32);
        int failures = 0;
        bool recovered = false;
        for (int i = 0; i < static_cast<int>(threshold) + 5 && !recovered; ++i) {
          const Sealed s = seal_bytes(*sas.out, inner);
          Bytes out;
          auto r = open_bytes(*sas.in, s.wire, &out);
          if (r.ok()) {
            recovered = true;
            CHECK(r->sequence == s.info.sequence);
            CHECK(out == inner);
          } else {
            CHECK(r.error() == Errc::integrity_check_failed);
            ++failures;
          }
        }
        if (jumps <= 2) {
          // Within the attempts: the packet after `threshold` failures
          // is tried with Seqh + 1 .. Seqh + attempts and accepted.
          CHECK(recovered);
          CHECK(failures == static_cast<int>(threshold));
          CHECK(sas.in->window().top() == sas.out->last_sequence());
          CHECK(sas.in->consecutive_auth_failures() == 0);
          // And the SA goes on normally.
          const Sealed next = seal_bytes(*sas.out, inner);
          auto r = open_bytes(*sas.in, next.wire);
          REQUIRE(r.ok());
          CHECK(r->sequence == next.info.sequence);
        } else {
          CHECK_FALSE(recovered);  // 3 subspaces ahead, only 2 attempts
        }
      }
    }
  }
}

TEST_CASE("ESP ESN re-synchronisation: a zero threshold disables it, and SAs without ESN never try") {
  crypto::DefaultProvider provider;
  const Bytes inner = ipv4_udp("10.1.1.1", "10.2.2.2", 50);
  {
    Keyed k(kGcm256, esp::Mode::tunnel, true);
    k.config.esn_resync_threshold = 0;
    auto sas = make_pair(k.config, provider);
    REQUIRE(open_bytes(*sas.in, seal_bytes(*sas.out, inner).wire).ok());
    sas.out->set_sequence(sas.out->last_sequence() + k32);
    for (int i = 0; i < 100; ++i) {
      CHECK(open_bytes(*sas.in, seal_bytes(*sas.out, inner).wire).error() == Errc::integrity_check_failed);
    }
    CHECK(sas.in->counters().auth_failures == 100);
  }
  {
    // Without ESN there is no high-order half to guess: consecutive
    // failures (tampered packets here) never start a re-synchronisation.
    Keyed k(kGcm256, esp::Mode::tunnel, false);
    k.config.esn_resync_threshold = 1;
    auto sas = make_pair(k.config, provider);
    REQUIRE(open_bytes(*sas.in, seal_bytes(*sas.out, inner).wire).ok());
    for (int i = 0; i < 5; ++i) {
      Bytes w = seal_bytes(*sas.out, inner).wire;
      w.back() ^= 1;
      CHECK(open_bytes(*sas.in, w).error() == Errc::integrity_check_failed);
    }
    CHECK_FALSE(sas.in->resync_due());
  }
}

// ---- padding (RFC 4303 2.4) --------------------------------------------------------------------

namespace {

// The ESP body (payload | padding | pad length | next header) of a sealed
// tunnel packet: where it starts and how long it is.
struct BodySpan {
  size_t start = 0;
  size_t size = 0;
};
BodySpan body_of(const Sealed& s, const esp::detail::Transforms& t) {
  const size_t start = s.info.esp_offset + 8 + t.iv_size;
  return {start, s.wire.size() - start - t.icv_size};
}

// reauth_null: recompute the ICV of a NULL-encryption packet after its body
// was edited (RFC 4303 3.3.2: over SPI .. next header, then Seqh with ESN).
void reauth_null(Bytes& wire, const Sealed& s, const Keyed& k, uint64_t seq) {
  crypto::MbedtlsProvider p;
  auto mac = p.make_integrity(k.suite.integ, k.integ);
  REQUIRE(mac.ok());
  const size_t icv = (*mac)->icv_size();
  const size_t esp = s.info.esp_offset;
  Bytes seqh(4);
  store_be32(std::span<uint8_t, 4>(seqh.data(), 4), static_cast<uint32_t>(seq >> 32));
  const ByteView parts[] = {ByteView(wire).subspan(esp, wire.size() - esp - icv), seqh};
  REQUIRE((*mac)
              ->compute(std::span<const ByteView>(parts).first(k.config.esn ? 2 : 1),
                        MutableByteView(wire).last(icv))
              .ok());
}

// reseal_aead: decrypt an AEAD packet's body, let `edit` change it, and
// encrypt it again under the same IV and AAD.
template <typename Edit>
void reseal_aead(Bytes& wire, const Sealed& s, const Keyed& k, Edit edit) {
  crypto::MbedtlsProvider p;
  auto aead = p.make_aead(k.suite.encr, k.suite.key_bits, k.encr);
  REQUIRE(aead.ok());
  const size_t esp = s.info.esp_offset;
  const size_t icv = (*aead)->icv_size();
  MutableByteView w(wire);
  const ByteView aad = ByteView(wire).subspan(esp, 8);
  const ByteView iv = ByteView(wire).subspan(esp + 8, 8);
  const MutableByteView body = w.subspan(esp + 16, wire.size() - esp - 16 - icv);
  REQUIRE((*aead)->open(iv, aad, body, w.last(icv)).ok());
  edit(body);
  REQUIRE((*aead)->seal(iv, aad, body, w.last(icv)).ok());
}

}  // namespace

TEST_CASE("ESP padding: authenticated packets whose padding is not 1, 2, 3, ... are dropped as bad_padding") {
  crypto::DefaultProvider provider;
  // 28 + 0 octets of inner packet: 30 with the trailer, so 2 octets of
  // padding to the 4-octet boundary (RFC 4303 2.4).
  const Bytes inner = ipv4_udp("10.1.1.1", "10.2.2.2", 0);
  SUBCASE("ENCR_NULL + HMAC (edited in the clear, ICV recomputed)") {
    for (bool esn : {false, true}) {
      INFO("esn=" << esn);
      Keyed k(Suite{EncrId::null, 0, IntegId::hmac_sha2_256_128}, esp::Mode::tunnel, esn);
      auto sas = make_pair(k.config, provider);
      // Padding 1, 7 instead of 1, 2; pad length 9 (nine octets of the
      // inner packet taken for padding); pad length 255 (longer than the
      // body); padding 0, 0; and the control, re-authenticated unchanged.
      struct Edit {
        const char* what;
        int edit;
        bool ok;
      };
      const Edit edits[] = {{"1,7", 1, false},
                            {"pad length 9", 2, false},
                            {"pad length 255", 3, false},
                            {"0,0", 4, false},
                            {"unchanged", 0, true}};
      uint64_t pad_errors = 0;
      for (const Edit& e : edits) {
        INFO(e.what);
        const Sealed s = seal_bytes(*sas.out, inner);
        const BodySpan b = body_of(s, sas.out->transforms());
        Bytes bad = s.wire;
        const size_t pl = b.start + b.size - 2;  // pad length octet
        REQUIRE(bad[pl] == 2);
        REQUIRE(bad[pl - 2] == 1);
        REQUIRE(bad[pl - 1] == 2);
        switch (e.edit) {
          case 1: bad[pl - 1] = 7; break;
          case 2: bad[pl] = 9; break;
          case 3: bad[pl] = 255; break;
          case 4: bad[pl - 2] = bad[pl - 1] = 0; break;
          default: break;
        }
        reauth_null(bad, s, k, s.info.sequence);
        auto r = open_bytes(*sas.in, bad);
        if (e.ok) {
          CHECK(r.ok());
          continue;
        }
        CHECK(r.error() == Errc::bad_padding);
        CHECK(sas.in->counters().pad_errors == ++pad_errors);
        // The packet was authentic: its sequence number is used up.
        CHECK(open_bytes(*sas.in, s.wire).error() == Errc::replayed);
      }
      CHECK(sas.in->counters().auth_failures == 0);
      CHECK(sas.in->counters().packets == 1);
    }
  }
  SUBCASE("AES-GCM (decrypted, edited, encrypted again through the crypto API)") {
    Keyed k(Suite{EncrId::aes_gcm_16, 128, IntegId::none});
    auto sas = make_pair(k.config, provider);
    const Sealed s = seal_bytes(*sas.out, inner);
    Bytes bad = s.wire;
    reseal_aead(bad, s, k, [](MutableByteView body) {
      REQUIRE(body[body.size() - 2] == 2);
      body[body.size() - 3] = 0xee;  // second padding octet
    });
    CHECK(open_bytes(*sas.in, bad).error() == Errc::bad_padding);
    CHECK(sas.in->counters().pad_errors == 1);
    // It authenticated, so its sequence number is used up.
    CHECK(open_bytes(*sas.in, s.wire).error() == Errc::replayed);
    const Sealed s2 = seal_bytes(*sas.out, inner);
    Bytes good = s2.wire;
    reseal_aead(good, s2, k, [](MutableByteView) {});
    CHECK(good == s2.wire);  // the crypto API reproduces the packet exactly
    CHECK(open_bytes(*sas.in, good).ok());
  }
}

// ---- dummy packets and TFC padding (RFC 4303 2.6, 2.7) -----------------------------------------

TEST_CASE("ESP dummy packets: seal_dummy produces next header 59, open drops and counts it") {
  crypto::DefaultProvider provider;
  for (const Suite& suite : {kGcm256, kCbcSha256, kChacha}) {
    for (size_t length : {size_t{0}, size_t{1}, size_t{64}, size_t{1000}}) {
      INFO(suite_name(suite) << " length " << length);
      Keyed k(suite);
      auto sas = make_pair(k.config, provider);
      const size_t room = limits::kEspMaxTailroom + length;  // the dummy payload is written in the tailroom
      HostBuffer buf(Bytes{}, limits::kEspMaxHeadroom, room);
      auto sealed = esp::seal_dummy(*sas.out, buf.pb, length);
      REQUIRE_MESSAGE(sealed.ok(), sealed.status().name());
      CHECK(sealed->sequence == 1);
      CHECK(sas.out->counters().dummy_packets == 1);
      CHECK(sas.out->counters().packets == 0);
      const Bytes wire = buf.bytes();
      auto h = wire::Ipv4Header::parse(wire);
      REQUIRE(h.ok());
      CHECK(h->protocol == wire::IpProtocol::esp);
      CHECK(h->checksum_valid());
      CHECK(wire.size() >= 20 + 8 + length + 2);
      auto r = open_bytes(*sas.in, wire);
      CHECK(r.error() == Errc::dummy_packet);
      CHECK(sas.in->counters().dummy_packets == 1);
      CHECK(sas.in->counters().packets == 0);
      CHECK(sas.in->counters().auth_failures == 0);
      // It was authentic: its sequence number is used up.
      CHECK(open_bytes(*sas.in, wire).error() == Errc::replayed);
      // Through the ESP-only entry point too.
      HostBuffer buf2(Bytes{}, limits::kEspMaxHeadroom, room);
      auto sealed2 = esp::seal_dummy(*sas.out, buf2.pb, length);
      REQUIRE(sealed2.ok());
      HostBuffer esp_only(ByteView(buf2.bytes()).subspan(sealed2->esp_offset));
      CHECK(esp::open_esp(*sas.in, esp_only.pb).error() == Errc::dummy_packet);
      CHECK(sas.in->counters().dummy_packets == 2);
      // A real packet after the dummies carries the next sequence number.
      Bytes out;
      auto real = seal_bytes(*sas.out, ipv4_udp("10.1.1.1", "10.2.2.2", 10));
      CHECK(real.info.sequence == 3);
      CHECK(open_bytes(*sas.in, real.wire, &out).ok());
    }
  }
  {  // Only tunnel-mode ESP has dummy packets (the inner header delimits TFC).
    Keyed k(kGcm256, esp::Mode::transport);
    auto sas = make_pair(k.config, provider);
    HostBuffer buf(Bytes{});
    CHECK(esp::seal_dummy(*sas.out, buf.pb, 10).error() == Errc::invalid_argument);
  }
}

TEST_CASE(
    "ESP TFC padding: every inner packet up to tfc_pad_to gives the same size, and comes back unpadded") {
  crypto::DefaultProvider provider;
  for (const Suite& suite : {kGcm256, kCbcSha256, kNullSha1}) {
    for (bool outer6 : {false, true}) {
      INFO(suite_name(suite) << " outer6=" << outer6);
      Keyed k(suite);
      k.config.tfc_pad_to = 300;
      if (outer6) k.config.tunnel = tunnel6();
      auto sas = make_pair(k.config, provider);
      size_t padded_size = 0;
      for (size_t payload : {size_t{0}, size_t{1}, size_t{100}, size_t{243}, size_t{271}, size_t{272}}) {
        for (bool inner6 : {false, true}) {
          const Bytes inner = inner6 ? ipv6_udp("2001:db8:1::1", "2001:db8:2::1", payload)
                                     : ipv4_udp("10.1.1.1", "10.2.2.2", payload);
          INFO("inner " << inner.size());
          const Sealed s = seal_bytes(*sas.out, inner);
          if (inner.size() <= 300) {
            if (padded_size == 0) padded_size = s.wire.size();
            CHECK(s.wire.size() == padded_size);  // the length reveals nothing
          } else {
            CHECK(s.wire.size() > padded_size);
          }
          Bytes out;
          auto r = open_bytes(*sas.in, s.wire, &out);
          REQUIRE_MESSAGE(r.ok(), r.status().name());
          CHECK(out == inner);
          CHECK(r->next_header == (inner6 ? 41 : 4));
        }
      }
      CHECK(sas.in->counters().bytes == sas.out->counters().bytes);  // inner octets, not padded ones
    }
  }
}

// ---- tunnel header policy -----------------------------------------------------------------------

TEST_CASE("ESP tunnel: outer TTL / hop limit from the config, DF copy/set/clear, DSCP copy on/off") {
  crypto::DefaultProvider provider;
  for (bool outer6 : {false, true}) {
    for (esp::DfPolicy df : {esp::DfPolicy::copy, esp::DfPolicy::set, esp::DfPolicy::clear}) {
      for (bool copy_dscp : {true, false}) {
        INFO("outer6=" << outer6 << " df=" << int(df) << " copy_dscp=" << copy_dscp);
        Keyed k(kGcm256);
        k.config.tunnel = outer6 ? tunnel6() : tunnel4();
        k.config.tunnel->hop_limit = 17;
        k.config.tunnel->df = df;
        k.config.tunnel->copy_dscp = copy_dscp;
        auto sas = make_pair(k.config, provider);
        struct Inner {
          Bytes packet;
          bool df;
        };
        const Inner inners[] = {
            {ipv4_udp("10.1.1.1", "10.2.2.2", 30, 0xb8, true), true},      // EF, DF set
            {ipv4_udp("10.1.1.1", "10.2.2.2", 30, 0x28, false), false},    // AF11, DF clear
            {ipv6_udp("2001:db8:1::1", "2001:db8:2::1", 30, 0xb8), true},  // IPv6: never fragmented en route
        };
        for (const Inner& in : inners) {
          const uint8_t inner_tos =
              (in.packet[0] >> 4) == 4
                  ? in.packet[1]
                  : static_cast<uint8_t>(((in.packet[0] & 0x0f) << 4) | (in.packet[1] >> 4));
          const Sealed s = seal_bytes(*sas.out, in.packet);
          const uint8_t want_tos = copy_dscp ? inner_tos : static_cast<uint8_t>(inner_tos & 3);
          if (!outer6) {
            auto h = wire::Ipv4Header::parse(s.wire);
            REQUIRE(h.ok());
            CHECK(h->ttl == 17);
            CHECK(h->tos == want_tos);
            const bool want_df = df == esp::DfPolicy::set || (df == esp::DfPolicy::copy && in.df);
            CHECK(h->dont_fragment == want_df);
            CHECK_FALSE(h->more_fragments);
            CHECK(h->checksum_valid());
          } else {
            auto h = wire::Ipv6Header::parse(s.wire);
            REQUIRE(h.ok());
            CHECK(h->hop_limit == 17);
            CHECK(h->traffic_class == want_tos);
            CHECK(h->flow_label == 0);
          }
          Bytes out;
          REQUIRE(open_bytes(*sas.in, s.wire, &out).ok());
          CHECK(out == in.packet);  // the inner TTL, DSCP and DF are untouched
        }
      }
    }
  }
}

TEST_CASE("ESP tunnel: ECN is copied on encapsulation (RFC 6040 4.1 normal mode)") {
  crypto::DefaultProvider provider;
  for (bool outer6 : {false, true}) {
    for (bool copy_dscp : {true, false}) {
      Keyed k(kChacha);
      k.config.tunnel = outer6 ? tunnel6() : tunnel4();
      k.config.tunnel->copy_dscp = copy_dscp;
      auto sas = make_pair(k.config, provider);
      for (uint8_t ecn = 0; ecn < 4; ++ecn) {
        for (bool inner6 : {false, true}) {
          INFO("outer6=" << outer6 << " copy_dscp=" << copy_dscp << " ecn=" << int{ecn}
                         << " inner6=" << inner6);
          const uint8_t tos = static_cast<uint8_t>(0x60 | ecn);
          const Bytes inner = inner6 ? ipv6_udp("2001:db8:1::1", "2001:db8:2::1", 8, tos)
                                     : ipv4_udp("10.1.1.1", "10.2.2.2", 8, tos);
          const Sealed s = seal_bytes(*sas.out, inner);
          CHECK(ecn_of(s.wire) == ecn);
          Bytes out;
          REQUIRE(open_bytes(*sas.in, s.wire, &out).ok());
          CHECK(out == inner);
        }
      }
    }
  }
}

TEST_CASE(
    "ESP tunnel: the RFC 6040 section 4.2 decapsulation table, with the inner IPv4 checksum kept valid") {
  // RFC 6040 figure 4, by codepoint (Not-ECT 0, ECT(1) 1, ECT(0) 2, CE 3):
  // rows the arriving inner header, columns the arriving outer header; -1
  // is <drop>.
  constexpr int kTable[4][4] = {
      /* inner Not-ECT */ {0, 0, 0, -1},
      /* inner ECT(1)  */ {1, 1, 1, 3},
      /* inner ECT(0)  */ {2, 1, 2, 3},
      /* inner CE      */ {3, 3, 3, 3},
  };
  crypto::DefaultProvider provider;
  for (bool outer6 : {false, true}) {
    for (bool inner6 : {false, true}) {
      for (bool esp_only : {false, true}) {
        Keyed k(kGcm256);
        k.config.tunnel = outer6 ? tunnel6() : tunnel4();
        auto sas = make_pair(k.config, provider);
        uint64_t drops = 0;
        for (uint8_t in_ecn = 0; in_ecn < 4; ++in_ecn) {
          for (uint8_t out_ecn = 0; out_ecn < 4; ++out_ecn) {
            INFO("outer6=" << outer6 << " inner6=" << inner6 << " open_esp=" << esp_only << " inner "
                           << int{in_ecn} << " outer " << int{out_ecn});
            const uint8_t tos = static_cast<uint8_t>(0x88 | in_ecn);
            const Bytes inner = inner6 ? ipv6_udp("2001:db8:1::1", "2001:db8:2::1", 40, tos)
                                       : ipv4_udp("10.1.1.1", "10.2.2.2", 40, tos);
            const Sealed s = seal_bytes(*sas.out, inner);
            Bytes wire = s.wire;
            set_outer_ecn(wire, out_ecn);  // a router on the way marked the outer header
            Result<esp::OpenInfo> r = Errc::invalid_argument;
            Bytes out;
            if (esp_only) {
              HostBuffer buf(ByteView(wire).subspan(s.info.esp_offset));
              r = esp::open_esp(*sas.in, buf.pb, out_ecn);
              out = buf.bytes();
            } else {
              r = open_bytes(*sas.in, wire, &out);
            }
            const int want = kTable[in_ecn][out_ecn];
            if (want < 0) {
              CHECK(r.error() == Errc::ecn_mismatch);
              CHECK(sas.in->counters().malformed == ++drops);
              continue;
            }
            REQUIRE_MESSAGE(r.ok(), r.status().name());
            CHECK(ecn_of(out) == want);
            // Everything but the ECN field is as sent, and an IPv4 inner
            // header still checksums.
            Bytes expect = inner;
            if (inner6) {
              expect[1] = static_cast<uint8_t>((expect[1] & 0xcf) | (want << 4));
            } else {
              expect[1] = static_cast<uint8_t>((expect[1] & 0xfc) | want);
              fix_ipv4_checksum(expect);
              CHECK(wire::Ipv4Header::parse(out)->checksum_valid());
            }
            CHECK(to_hex(out) == to_hex(expect));
          }
        }
      }
    }
  }
}

TEST_CASE("ESP tunnel: the outer IPv4 identification changes per packet, the checksum is valid") {
  crypto::DefaultProvider provider;
  Keyed k(kGcm256);
  auto sas = make_pair(k.config, provider);
  std::set<uint16_t> ids;
  for (int i = 0; i < 200; ++i) {
    const Sealed s = seal_bytes(*sas.out, ipv4_udp("10.1.1.1", "10.2.2.2", static_cast<size_t>(i)));
    auto h = wire::Ipv4Header::parse(s.wire);
    REQUIRE(h.ok());
    CHECK(h->checksum_valid());
    CHECK(h->total_length == s.wire.size());
    ids.insert(h->identification);
  }
  CHECK(ids.size() == 200);
  HostBuffer dummy(Bytes{});
  REQUIRE(esp::seal_dummy(*sas.out, dummy.pb, 20).ok());
  auto h = wire::Ipv4Header::parse(dummy.bytes());
  REQUIRE(h.ok());
  CHECK_FALSE(ids.contains(h->identification));
}

// ---- sequence numbers and limits ---------------------------------------------------------------

TEST_CASE("ESP sequence overflow: without ESN the SA stops at 2^32 - 1, with ESN it goes on to 2^64 - 1") {
  crypto::DefaultProvider provider;
  const Bytes inner = ipv4_udp("10.1.1.1", "10.2.2.2", 16);
  SUBCASE("32-bit") {
    Keyed k(kGcm256);
    auto sas = make_pair(k.config, provider);
    sas.out->set_sequence(0xfffffffe);
    (void)sas.in->mutable_window().commit(0xfffffffd);
    const Sealed s = seal_bytes(*sas.out, inner);
    CHECK(s.info.sequence == 0xffffffffu);
    CHECK(open_bytes(*sas.in, s.wire).ok());
    // RFC 4303 3.3.3: the counter must not cycle; the SA must be rekeyed.
    for (int i = 0; i < 3; ++i) {
      HostBuffer buf(inner);
      CHECK(esp::seal(*sas.out, buf.pb).error() == Errc::sequence_overflow);
      CHECK(buf.bytes() == inner);  // the packet is left as it was
    }
    HostBuffer dummy(Bytes{});
    CHECK(esp::seal_dummy(*sas.out, dummy.pb, 4).error() == Errc::sequence_overflow);
    sas.out->set_sequence(0xffffffff);
    HostBuffer buf(inner);
    CHECK(esp::seal(*sas.out, buf.pb).error() == Errc::sequence_overflow);
    CHECK(sas.out->last_sequence() == 0xffffffffu);
  }
  SUBCASE("ESN") {
    Keyed k(kCbcSha256, esp::Mode::tunnel, true);
    auto sas = make_pair(k.config, provider);
    sas.out->set_sequence(0xffffffff);
    (void)sas.in->mutable_window().commit(0xffffffff);
    for (uint64_t want = k32; want < k32 + 3; ++want) {
      const Sealed s = seal_bytes(*sas.out, inner);
      CHECK(s.info.sequence == want);
      CHECK(load_be32(ByteView(s.wire).subspan(24).first<4>()) == static_cast<uint32_t>(want));
      auto r = open_bytes(*sas.in, s.wire);
      REQUIRE_MESSAGE(r.ok(), r.status().name());
      CHECK(r->sequence == want);
    }
    sas.out->set_sequence(~uint64_t{0} - 1);
    CHECK(seal_bytes(*sas.out, inner).info.sequence == ~uint64_t{0});
    HostBuffer buf(inner);
    CHECK(esp::seal(*sas.out, buf.pb).error() == Errc::sequence_overflow);
  }
}

TEST_CASE("ESP traffic limits: the soft limit is reported once, the hard one stops both sides") {
  crypto::DefaultProvider provider;
  const Bytes inner = ipv4_udp("10.1.1.1", "10.2.2.2", 72);  // 100 octets
  REQUIRE(inner.size() == 100);
  struct LimitCase {
    const char* what;
    esp::TrafficLimits limits;
    int allowed;  // packets sealed / opened before the hard limit
    int soft_at;  // 1-based packet that crosses the soft limit
  };
  const LimitCase cases[] = {
      {"packets", {0, 0, 3, 5}, 5, 3},
      {"bytes", {250, 500, 0, 0}, 5, 3},  // the 3rd packet takes the count to 300 >= 250
      {"bytes, exact", {300, 400, 0, 0}, 4, 3},
      {"mixed", {0, 350, 2, 0}, 4, 2},  // the 4th packet reaches 400 >= 350: no 5th
  };
  for (const LimitCase& c : cases) {
    INFO(c.what);
    Keyed k(kGcm256);
    k.config.limits = c.limits;
    auto sas = make_pair(k.config, provider);
    // A second outbound SA without limits, same keys, to feed the inbound
    // one past its limit.
    Keyed unlimited(kGcm256);
    auto spare = make_pair(unlimited.config, provider);
    std::vector<Bytes> sent;
    for (int i = 1; i <= c.allowed; ++i) {
      const Sealed s = seal_bytes(*sas.out, inner);
      CHECK(s.info.soft_limit_reached == (i == c.soft_at));
      sent.push_back(s.wire);
    }
    HostBuffer refused(inner);
    CHECK(esp::seal(*sas.out, refused.pb).error() == Errc::lifetime_expired);
    HostBuffer dummy(Bytes{});
    CHECK(esp::seal_dummy(*sas.out, dummy.pb, 4).error() == Errc::lifetime_expired);
    CHECK(sas.out->counters().packets == static_cast<uint64_t>(c.allowed));
    for (int i = 1; i <= c.allowed; ++i) {
      auto r = open_bytes(*sas.in, sent[static_cast<size_t>(i - 1)]);
      REQUIRE_MESSAGE(r.ok(), r.status().name());
      CHECK(r->soft_limit_reached == (i == c.soft_at));
    }
    spare.out->set_sequence(sas.out->last_sequence());
    const Sealed extra = seal_bytes(*spare.out, inner);
    CHECK(open_bytes(*sas.in, extra.wire).error() == Errc::lifetime_expired);
    HostBuffer esp_only(ByteView(extra.wire).subspan(extra.info.esp_offset));
    CHECK(esp::open_esp(*sas.in, esp_only.pb).error() == Errc::lifetime_expired);
    CHECK(sas.in->counters().packets == static_cast<uint64_t>(c.allowed));
  }
}

// ---- bursts -------------------------------------------------------------------------------------

TEST_CASE("ESP seal_burst / open_burst give the same results as single calls") {
  crypto::DefaultProvider provider;
  for (const Suite& suite : {kGcm256, kCbcSha256, kChacha, kGmac}) {
    INFO(suite_name(suite));
    Keyed k(suite);
    k.config.limits.hard_packets = 7;  // the burst runs into it
    auto single = make_pair(k.config, provider);
    auto burst = make_pair(k.config, provider);
    constexpr size_t kN = 9;
    std::vector<Bytes> inners;
    for (size_t i = 0; i < kN; ++i) {
      inners.push_back(i % 3 == 0 ? ipv6_udp("2001:db8:1::1", "2001:db8:2::1", 10 * i)
                                  : ipv4_udp("10.1.1.1", "10.2.2.2", 10 * i));
    }
    inners[4] = Bytes{0x10, 0x20};  // not an IP packet: an error in the middle
    // Single calls.
    std::vector<Bytes> single_wire;
    std::vector<esp::SealResult> single_results(kN);
    for (size_t i = 0; i < kN; ++i) {
      HostBuffer buf(inners[i]);
      auto r = esp::seal(*single.out, buf.pb);
      single_results[i].status = r.status();
      if (r) single_results[i].info = *r;
      single_wire.push_back(buf.bytes());
    }
    // One burst.
    std::vector<std::unique_ptr<HostBuffer>> bufs;
    std::vector<PacketBuffer> pbs;
    for (const Bytes& in : inners) {
      bufs.push_back(std::make_unique<HostBuffer>(in));
      pbs.push_back(bufs.back()->pb);
    }
    std::vector<esp::SealResult> results(kN);
    esp::seal_burst(*burst.out, pbs, results);
    size_t ok = 0;
    for (size_t i = 0; i < kN; ++i) {
      INFO("packet " << i);
      CHECK(results[i].status.code() == single_results[i].status.code());
      CHECK(results[i].info.sequence == single_results[i].info.sequence);
      CHECK(results[i].info.esp_offset == single_results[i].info.esp_offset);
      CHECK(results[i].info.soft_limit_reached == single_results[i].info.soft_limit_reached);
      const Bytes w(pbs[i].data().begin(), pbs[i].data().end());
      if (results[i].status.ok()) {
        ++ok;
        CHECK(to_hex(w) == to_hex(single_wire[i]));  // deterministic: same keys, same sequence numbers
      }
    }
    CHECK(ok == 7);
    CHECK(results[4].status == Errc::unexpected_protocol);
    CHECK(results[8].status == Errc::lifetime_expired);
    // Open: one of them tampered, one duplicated.
    std::vector<Bytes> to_open;
    for (size_t i = 0; i < kN; ++i) {
      if (single_results[i].status.ok()) to_open.push_back(single_wire[i]);
    }
    to_open[2].back() ^= 1;
    to_open.push_back(to_open[0]);
    std::vector<esp::OpenResult> single_open(to_open.size());
    std::vector<Bytes> single_out;
    for (size_t i = 0; i < to_open.size(); ++i) {
      HostBuffer buf(to_open[i]);
      auto r = esp::open(*single.in, buf.pb);
      single_open[i].status = r.status();
      if (r) single_open[i].info = *r;
      single_out.push_back(buf.bytes());
    }
    std::vector<std::unique_ptr<HostBuffer>> obufs;
    std::vector<PacketBuffer> opbs;
    for (const Bytes& w : to_open) {
      obufs.push_back(std::make_unique<HostBuffer>(w));
      opbs.push_back(obufs.back()->pb);
    }
    std::vector<esp::OpenResult> oresults(to_open.size() + 2);  // more results than packets is allowed
    esp::open_burst(*burst.in, opbs, oresults);
    for (size_t i = 0; i < to_open.size(); ++i) {
      INFO("open " << i);
      CHECK(oresults[i].status.code() == single_open[i].status.code());
      CHECK(oresults[i].info.sequence == single_open[i].info.sequence);
      CHECK(oresults[i].info.next_header == single_open[i].info.next_header);
      if (oresults[i].status.ok()) {
        CHECK(Bytes(opbs[i].data().begin(), opbs[i].data().end()) == single_out[i]);
      }
    }
    CHECK(oresults[2].status == Errc::integrity_check_failed);
    CHECK(oresults[to_open.size() - 1].status == Errc::replayed);
    CHECK(burst.in->counters().packets == single.in->counters().packets);
    CHECK(burst.in->counters().auth_failures == 1);
    CHECK(burst.in->counters().replay_drops == 1);
  }
}

TEST_CASE("ESP bursts over different SAs give the results of single calls") {
  // One burst mixes every suite, both modes, ESN (GMAC with ESN goes one by
  // one), UDP encapsulation and AH; each SA pair is created twice (single
  // calls, burst) from the same keys so the bytes must match exactly.
  crypto::DefaultProvider provider;
  struct Variant {
    Suite suite;
    esp::Mode mode;
    bool esn;
    bool udp;
    bool ah;
  };
  std::vector<Variant> variants;
  for (const Suite& suite : kAllSuites) {
    variants.push_back({suite, esp::Mode::tunnel, false, false, false});
    variants.push_back({suite, esp::Mode::transport, true, false, false});
    variants.push_back({suite, esp::Mode::tunnel, true, true, false});
  }
  variants.push_back(
      {Suite{EncrId::null, 0, IntegId::hmac_sha2_256_128}, esp::Mode::tunnel, false, false, true});
  std::vector<std::unique_ptr<Keyed>> keyed;
  std::vector<SaPair> single, burst;
  for (size_t v = 0; v < variants.size(); ++v) {
    keyed.push_back(std::make_unique<Keyed>(variants[v].suite, variants[v].mode, variants[v].esn));
    esp::SaConfig& c = keyed.back()->config;
    c.spi = static_cast<uint32_t>(0x1000 + v);
    if (variants[v].udp) c.udp = esp::UdpEncapsulation{};
    if (variants[v].ah) {
      c.protocol = esp::SecurityProtocol::ah;
      c.encr = EncrId::null;
      c.encr_keymat = {};
    }
    if (variants[v].esn) {
      // Start near the 2^32 boundary so that Seqh matters.
      single.push_back(make_pair(c, provider));
      burst.push_back(make_pair(c, provider));
      for (SaPair* p : {&single.back(), &burst.back()}) {
        p->out->set_sequence(0xfffffff0u);
        (void)p->in->mutable_window().commit(0xffffffefu);
      }
    } else {
      single.push_back(make_pair(c, provider));
      burst.push_back(make_pair(c, provider));
    }
  }
  // 3 packets per SA, interleaved; one non-IP packet and one null SA.
  const size_t n_sa = variants.size();
  const size_t n = 3 * n_sa + 2;
  std::vector<Bytes> inners;
  std::vector<size_t> sa_of;
  for (size_t i = 0; i < 3 * n_sa; ++i) {
    sa_of.push_back(i % n_sa);
    inners.push_back(i % 2 == 0 ? ipv4_udp("10.1.1.1", "10.2.2.2", 7 * i + 1)
                                : ipv6_udp("2001:db8:1::1", "2001:db8:2::1", 7 * i + 1));
  }
  inners.push_back(Bytes{0x10, 0x20});
  sa_of.push_back(0);
  inners.push_back(ipv4_udp("10.1.1.1", "10.2.2.2", 40));
  sa_of.push_back(SIZE_MAX);  // null SA
  std::vector<Bytes> single_wire(n);
  std::vector<esp::SealResult> single_results(n);
  for (size_t i = 0; i < n; ++i) {
    if (sa_of[i] == SIZE_MAX) continue;
    HostBuffer buf(inners[i]);
    auto r = esp::seal(*single[sa_of[i]].out, buf.pb);
    single_results[i].status = r.status();
    if (r) single_results[i].info = *r;
    single_wire[i] = buf.bytes();
  }
  std::vector<std::unique_ptr<HostBuffer>> bufs;
  std::vector<PacketBuffer> pbs;
  std::vector<esp::OutboundSa*> out_sas;
  for (size_t i = 0; i < n; ++i) {
    bufs.push_back(std::make_unique<HostBuffer>(inners[i]));
    pbs.push_back(bufs.back()->pb);
    out_sas.push_back(sa_of[i] == SIZE_MAX ? nullptr : burst[sa_of[i]].out.get());
  }
  std::vector<esp::SealResult> results(n);
  esp::seal_burst(out_sas, pbs, results);
  for (size_t i = 0; i + 1 < n; ++i) {
    INFO("packet " << i << " sa " << sa_of[i]);
    CHECK(results[i].status.code() == single_results[i].status.code());
    CHECK(results[i].info.sequence == single_results[i].info.sequence);
    CHECK(results[i].info.esp_offset == single_results[i].info.esp_offset);
    if (results[i].status.ok())
      CHECK(to_hex(Bytes(pbs[i].data().begin(), pbs[i].data().end())) == to_hex(single_wire[i]));
  }
  CHECK(results[n - 2].status == Errc::unexpected_protocol);
  CHECK(results[n - 1].status == Errc::invalid_argument);
  // Open in reverse order (a window of 32 keeps them all), one tampered, one
  // duplicated inside the burst.
  std::vector<Bytes> wire;
  std::vector<esp::InboundSa*> in_sas;
  for (size_t k = 3 * n_sa; k-- > 0;) {
    REQUIRE(results[k].status.ok());
    wire.push_back(single_wire[k]);
    in_sas.push_back(burst[sa_of[k]].in.get());
  }
  wire[1].back() ^= 1;
  wire.push_back(wire[0]);
  in_sas.push_back(in_sas[0]);
  std::vector<std::unique_ptr<HostBuffer>> obufs;
  std::vector<PacketBuffer> opbs;
  for (const Bytes& w : wire) {
    obufs.push_back(std::make_unique<HostBuffer>(w));
    opbs.push_back(obufs.back()->pb);
  }
  std::vector<esp::OpenResult> oresults(wire.size());
  esp::open_burst(in_sas, opbs, oresults);
  for (size_t i = 0; i < wire.size(); ++i) {
    INFO("open " << i);
    if (i == 1) {
      CHECK(oresults[i].status == Errc::integrity_check_failed);
    } else if (i + 1 == wire.size()) {
      CHECK(oresults[i].status == Errc::replayed);
    } else {
      REQUIRE(oresults[i].status.ok());
      const size_t k = 3 * n_sa - 1 - i;
      CHECK(Bytes(opbs[i].data().begin(), opbs[i].data().end()) == inners[k]);
      CHECK(oresults[i].info.sequence == results[k].info.sequence);
    }
  }
  // open_esp_burst: tunnel-mode ESP from the ESP header on.
  Keyed k1(kGcm256), k2(kCbcSha256);
  k2.config.spi = 0x2222;
  auto p1 = make_pair(k1.config, provider);
  auto p2 = make_pair(k2.config, provider);
  std::vector<Bytes> esp_only;
  std::vector<esp::InboundSa*> esp_sas;
  for (size_t i = 0; i < 6; ++i) {
    SaPair& p = i % 2 == 0 ? p1 : p2;
    HostBuffer buf(ipv4_udp("10.1.1.1", "10.2.2.2", 100 + i, /*tos=*/0x01));  // ECT(1)
    auto r = esp::seal(*p.out, buf.pb);
    REQUIRE(r.ok());
    const Bytes all = buf.bytes();
    esp_only.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(r->esp_offset), all.end());
    esp_sas.push_back(p.in.get());
  }
  std::vector<std::unique_ptr<HostBuffer>> ebufs;
  std::vector<PacketBuffer> epbs;
  for (const Bytes& w : esp_only) {
    ebufs.push_back(std::make_unique<HostBuffer>(w));
    epbs.push_back(ebufs.back()->pb);
  }
  const uint8_t ce[] = {0, 3};  // packet 1 arrives with CE: RFC 6040 sets CE inside
  std::vector<esp::OpenResult> eresults(6);
  esp::open_esp_burst(esp_sas, epbs, eresults, ce);
  for (size_t i = 0; i < 6; ++i) {
    INFO("esp " << i);
    REQUIRE(eresults[i].status.ok());
    CHECK((epbs[i].data()[1] & 0x03) == (i == 1 ? 3 : 1));
  }
}

// ---- concurrency ----------------------------------------------------------------------------------

TEST_CASE("ESP OutboundSa: four threads seal concurrently, every sequence number once, all open") {
  struct Backend {
    const char* name;
    Suite suite;
    crypto::Provider* provider;
  };
  static crypto::SodiumProvider sodium;
  static crypto::MbedtlsProvider mbedtls;
  std::vector<Backend> backends;
  if (crypto::SodiumProvider::aes256gcm_available()) {
    backends.push_back({"AES-256-GCM libsodium", kGcm256, &sodium});
  } else {
    MESSAGE("libsodium AES-256-GCM unavailable on this CPU: skipped");
  }
  backends.push_back({"AES-128-GCM mbedTLS", Suite{EncrId::aes_gcm_16, 128, IntegId::none}, &mbedtls});
  backends.push_back({"AES-CBC + HMAC-SHA2-256 mbedTLS", kCbcSha256, &mbedtls});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  for (const Backend& b : backends) {
    INFO(b.name);
    Keyed k(b.suite, esp::Mode::tunnel, true);
    k.config.replay_window = 4096;
    auto sas = make_pair(k.config, *b.provider);
    struct Packet {
      uint64_t seq;
      Bytes wire;
      Bytes inner;
    };
    std::vector<std::vector<Packet>> per_thread(kThreads);
    std::vector<int> failures(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto& mine = per_thread[static_cast<size_t>(t)];
        mine.reserve(kPerThread);
        for (int i = 0; i < kPerThread; ++i) {
          // Each inner packet says who sent it (source address, payload).
          Bytes inner = ipv4_udp("10.0.0." + std::to_string(t + 1), "10.9.9.9", static_cast<size_t>(i % 200));
          HostBuffer buf(inner);
          auto r = esp::seal(*sas.out, buf.pb);
          if (!r) {
            ++failures[static_cast<size_t>(t)];  // doctest assertions are not thread safe: count
            continue;
          }
          mine.push_back({r->sequence, buf.bytes(), std::move(inner)});
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int f : failures) CHECK(f == 0);
    std::vector<Packet> all;
    for (auto& v : per_thread) {
      for (auto& p : v) all.push_back(std::move(p));
    }
    REQUIRE(all.size() == size_t{kThreads} * kPerThread);
    std::sort(all.begin(), all.end(), [](const Packet& a, const Packet& c) { return a.seq < c.seq; });
    // Every sequence number 1 .. N exactly once.
    for (size_t i = 0; i < all.size(); ++i) REQUIRE(all[i].seq == i + 1);
    CHECK(sas.out->last_sequence() == all.size());
    CHECK(sas.out->counters().packets == all.size());
    // The outer IPv4 identifications are unique as well (N < 2^16).
    std::set<uint16_t> ids;
    for (const Packet& p : all) ids.insert(load_be16(ByteView(p.wire).subspan(4).first<2>()));
    CHECK(ids.size() == all.size());
    // Open them all, in order, on one thread.
    size_t opened = 0;
    for (const Packet& p : all) {
      Bytes out;
      auto r = open_bytes(*sas.in, p.wire, &out);
      if (r.ok() && r->sequence == p.seq && out == p.inner) ++opened;
    }
    CHECK(opened == all.size());
    CHECK(sas.in->counters().auth_failures == 0);
  }
}

TEST_CASE("ESP InboundSa: two threads open the same packets concurrently, each accepted exactly once") {
  // Every packet is offered to both threads (RSS without SPI affinity, or a
  // duplicating network); one thread opens one by one, the other in bursts
  // of 8. Each sequence number must be delivered exactly once in total, the
  // duplicates dropped as replayed, and the counters must add up.
  crypto::DefaultProvider provider;
  for (const Suite& suite : {kGcm256, kCbcSha256}) {
    INFO(suite_name(suite));
    Keyed k(suite, esp::Mode::tunnel, /*esn=*/true);
    k.config.replay_window = 1024;
    auto sas = make_pair(k.config, provider);
    constexpr size_t kPackets = 20000;
    std::vector<Bytes> wire;
    for (size_t i = 0; i < kPackets; ++i) {
      wire.push_back(seal_bytes(*sas.out, ipv4_udp("10.0.0.1", "10.9.9.9", 20 + i % 300)).wire);
    }
    std::vector<std::atomic<int>> accepted(kPackets + 1);
    std::atomic<int> replayed{0}, other{0};
    std::barrier sync(2);
    auto run = [&](bool burst, uint64_t seed) {
      // Shuffled inside windows of 256 so that both threads work on the
      // same numbers at the same time, all within the replay window.
      std::vector<size_t> order(kPackets);
      for (size_t i = 0; i < kPackets; ++i) order[i] = i;
      uint64_t x = seed;
      for (size_t base = 0; base < kPackets; base += 256) {
        const size_t end = std::min(kPackets, base + 256);
        for (size_t i = end - 1; i > base; --i) {
          x = x * 6364136223846793005ULL + 1442695040888963407ULL;
          std::swap(order[i], order[base + (x >> 33) % (i - base + 1)]);
        }
      }
      const size_t step = burst ? 8 : 1;
      for (size_t i = 0; i < kPackets; i += step) {
        // Keep the threads within 256 packets of each other: a packet more
        // than the window behind the top would be inferred into the next ESN
        // subspace and fail authentication (RFC 4303 A2.2), as it should.
        if (i % 256 == 0) sync.arrive_and_wait();
        std::vector<std::unique_ptr<HostBuffer>> bufs;
        std::vector<PacketBuffer> pbs;
        for (size_t j = i; j < std::min(kPackets, i + step); ++j) {
          bufs.push_back(std::make_unique<HostBuffer>(wire[order[j]]));
          pbs.push_back(bufs.back()->pb);
        }
        std::vector<esp::OpenResult> results(pbs.size());
        esp::open_burst(*sas.in, pbs, results);
        for (const esp::OpenResult& r : results) {
          if (r.status.ok()) {
            accepted[r.info.sequence].fetch_add(1);
          } else if (r.status == Errc::replayed) {
            replayed.fetch_add(1);
          } else {
            other.fetch_add(1);
          }
        }
      }
    };
    std::thread a(run, false, 1), b(run, true, 2);
    a.join();
    b.join();
    CHECK(other.load() == 0);
    size_t once = 0;
    for (size_t s = 1; s <= kPackets; ++s) once += accepted[s].load() == 1 ? size_t{1} : size_t{0};
    CHECK(once == kPackets);
    CHECK(replayed.load() == static_cast<int>(kPackets));
    const esp::SaCounters c = sas.in->counters();
    CHECK(c.packets == kPackets);
    CHECK(c.replay_drops == kPackets);
    CHECK(c.auth_failures == 0);
  }
}

// ---- truncation -----------------------------------------------------------------------------------

TEST_CASE("ESP truncation: every prefix of a sealed packet fails cleanly through open and open_esp") {
  crypto::DefaultProvider provider;
  enum Layout { kTunnel4, kTunnel6, kTransport4, kTransport6Udp };
  for (const Suite& suite : kAllSuites) {
    for (bool esn : {false, true}) {
      for (Layout layout : {kTunnel4, kTunnel6, kTransport4, kTransport6Udp}) {
        INFO(suite_name(suite) << " esn=" << esn << " layout=" << int{layout});
        const bool tunnel = layout == kTunnel4 || layout == kTunnel6;
        Keyed k(suite, tunnel ? esp::Mode::tunnel : esp::Mode::transport, esn);
        if (layout == kTunnel6) k.config.tunnel = tunnel6();
        if (layout == kTransport6Udp) k.config.udp = esp::UdpEncapsulation{4500, 4500};
        auto sas = make_pair(k.config, provider);
        const Bytes inner = layout == kTransport6Udp ? ipv6_udp("2001:db8::1", "2001:db8::2", 45)
                                                     : ipv4_udp("10.1.1.1", "10.2.2.2", 45);
        const Sealed s = seal_bytes(*sas.out, inner);
        const size_t esp = s.info.esp_offset;
        const bool outer6 = (s.wire[0] >> 4) == 6;
        for (size_t n = 0; n < s.wire.size(); ++n) {
          INFO("prefix " << n);
          Bytes prefix(s.wire.begin(), s.wire.begin() + static_cast<std::ptrdiff_t>(n));
          CHECK_FALSE(open_bytes(*sas.in, prefix).ok());
          // The same prefix with the outer length fixed up, so that the
          // outer header parses and ESP itself sees the short packet.
          if (n >= esp) {
            if (outer6) {
              store_be16(std::span<uint8_t, 2>(prefix.data() + 4, 2), static_cast<uint16_t>(n - 40));
            } else {
              store_be16(std::span<uint8_t, 2>(prefix.data() + 2, 2), static_cast<uint16_t>(n));
              fix_ipv4_checksum(prefix);
            }
            CHECK_FALSE(open_bytes(*sas.in, prefix).ok());
            if (tunnel) {
              HostBuffer esp_only(ByteView(s.wire).subspan(esp, n - esp));
              CHECK_FALSE(esp::open_esp(*sas.in, esp_only.pb).ok());
            }
          }
        }
        CHECK(sas.in->counters().packets == 0);
        // The whole packet still opens.
        Bytes out;
        CHECK(open_bytes(*sas.in, s.wire, &out).ok());
        CHECK(out == inner);
      }
    }
  }
}

TEST_CASE("ESP open_esp: GMAC with ESN needs 4 octets of headroom, the other transforms none") {
  // RFC 4543 3.3: with ESN the GMAC AAD is SPI | Seqh | Seql | IV | payload;
  // open_esp makes it contiguous in the 4 octets before the SPI.
  crypto::DefaultProvider provider;
  for (const Suite& suite : {kGmac, kGcm256, kCbcSha256}) {
    for (bool esn : {false, true}) {
      INFO(suite_name(suite) << " esn=" << esn);
      Keyed k(suite, esp::Mode::tunnel, esn);
      auto sas = make_pair(k.config, provider);
      const Bytes inner = ipv4_udp("10.1.1.1", "10.2.2.2", 21);
      const Sealed s = seal_bytes(*sas.out, inner);
      const Bytes esp_part(s.wire.begin() + static_cast<std::ptrdiff_t>(s.info.esp_offset), s.wire.end());
      HostBuffer tight(esp_part, 0, 0);
      auto r = esp::open_esp(*sas.in, tight.pb);
      if (suite.encr == EncrId::null_auth_aes_gmac && esn) {
        CHECK(r.error() == Errc::no_headroom);
        CHECK(sas.in->counters().auth_failures == 0);
        HostBuffer roomy(esp_part, 4, 0);
        auto r2 = esp::open_esp(*sas.in, roomy.pb);
        REQUIRE_MESSAGE(r2.ok(), r2.status().name());
        CHECK(roomy.bytes() == inner);
      } else {
        REQUIRE_MESSAGE(r.ok(), r.status().name());
        CHECK(tight.bytes() == inner);
      }
    }
  }
}

// ---- IP length fields ------------------------------------------------------------------------------

TEST_CASE("ESP seal protects the IP packet its length field delimits: link padding is not sent") {
  // A host reading frames off a link gets short packets padded to the
  // minimum frame (RFC 894). ESP protects the IP datagram (RFC 4303 2.3:
  // the Payload Data is the IP packet, tunnel mode, or its payload,
  // transport mode); what follows it in the buffer is not part of it.
  crypto::DefaultProvider provider;
  for (esp::Mode mode : {esp::Mode::tunnel, esp::Mode::transport}) {
    for (bool v6 : {false, true}) {
      INFO("tunnel=" << (mode == esp::Mode::tunnel) << " v6=" << v6);
      Keyed k(kGcm256, mode);
      auto sas = make_pair(k.config, provider);
      const Bytes packet =
          v6 ? ipv6_udp("2001:db8::1", "2001:db8::2", 2) : ipv4_udp("10.1.1.1", "10.2.2.2", 2);
      Bytes framed = packet;
      framed.resize(packet.size() + 17, 0xee);  // link padding
      const Sealed padded = seal_bytes(*sas.out, framed);
      Keyed k2(kGcm256, mode);
      auto ref = make_pair(k2.config, provider);
      const Sealed exact = seal_bytes(*ref.out, packet);
      CHECK(padded.wire.size() == exact.wire.size());
      CHECK(to_hex(padded.wire) == to_hex(exact.wire));  // same keys, same sequence number
      CHECK(sas.out->counters().bytes == packet.size());
      Bytes out;
      auto r = open_bytes(*sas.in, padded.wire, &out);
      REQUIRE_MESSAGE(r.ok(), r.status().name());
      CHECK(to_hex(out) == to_hex(packet));
    }
  }
}

TEST_CASE("ESP seal refuses a packet whose IP length field says more than the buffer holds") {
  crypto::DefaultProvider provider;
  for (esp::Mode mode : {esp::Mode::tunnel, esp::Mode::transport}) {
    for (bool v6 : {false, true}) {
      INFO("tunnel=" << (mode == esp::Mode::tunnel) << " v6=" << v6);
      Keyed k(kGcm256, mode);
      auto sas = make_pair(k.config, provider);
      const Bytes packet =
          v6 ? ipv6_udp("2001:db8::1", "2001:db8::2", 40) : ipv4_udp("10.1.1.1", "10.2.2.2", 40);
      // Cut short: the header is whole, the length field claims 40 more octets.
      const Bytes cut(packet.begin(), packet.end() - 40);
      HostBuffer buf(cut);
      auto r = esp::seal(*sas.out, buf.pb);
      CHECK(r.error() == Errc::truncated);
      // An IPv4 header whose total length is shorter than the header.
      if (!v6) {
        Bytes bogus = packet;
        bogus[2] = 0;
        bogus[3] = 12;
        fix_ipv4_checksum(bogus);
        HostBuffer b2(bogus);
        CHECK(esp::seal(*sas.out, b2.pb).error() == Errc::invalid_length);
      }
      // Shorter than any IP header, and not IP at all.
      HostBuffer tiny(Bytes(packet.begin(), packet.begin() + 8));
      CHECK(esp::seal(*sas.out, tiny.pb).error() == Errc::truncated);
      HostBuffer empty(Bytes{});
      CHECK(esp::seal(*sas.out, empty.pb).error() == Errc::truncated);
      Bytes v5 = packet;
      v5[0] = static_cast<uint8_t>(0x50 | (v5[0] & 0x0f));
      HostBuffer b5(v5);
      CHECK(esp::seal(*sas.out, b5.pb).error() == Errc::unexpected_protocol);
      // Nothing was sent: no sequence number was spent.
      CHECK(sas.out->last_sequence() == 0);
      CHECK(sas.out->counters().packets == 0);
    }
  }
}

TEST_CASE("ESP seal refuses what would not fit (room, IP length fields) before spending a sequence number") {
  crypto::DefaultProvider provider;
  for (esp::Mode mode : {esp::Mode::tunnel, esp::Mode::transport}) {
    for (bool v6 : {false, true}) {
      for (const Suite& suite : {kGcm256, kCbcSha256}) {
        INFO(suite_name(suite) << " tunnel=" << (mode == esp::Mode::tunnel) << " v6=" << v6);
        Keyed k(suite, mode);
        if (mode == esp::Mode::tunnel && v6) k.config.tunnel = tunnel6();
        auto sas = make_pair(k.config, provider);
        const Bytes packet =
            v6 ? ipv6_udp("2001:db8::1", "2001:db8::2", 33) : ipv4_udp("10.1.1.1", "10.2.2.2", 33);
        // Too little headroom, too little tailroom: an error, the packet
        // as it was, no sequence number used.
        for (bool head : {true, false}) {
          INFO("head=" << head);
          HostBuffer buf(packet, head ? 8 : 200, head ? 200 : 8);
          auto r = esp::seal(*sas.out, buf.pb);
          CHECK(r.error() == (head ? Errc::no_headroom : Errc::no_tailroom));
          CHECK(buf.bytes() == packet);
        }
        CHECK(sas.out->last_sequence() == 0);
        // The largest packet the outer length field can describe (IPv4
        // total length, IPv6 payload length: 65535) is refused with
        // invalid_length when ESP would push it past that.
        const size_t udp_payload = v6 ? 0xffff - 8 : 0xffff - 28;
        const Bytes big = v6 ? ipv6_udp("2001:db8::1", "2001:db8::2", udp_payload)
                             : ipv4_udp("10.1.1.1", "10.2.2.2", udp_payload);
        HostBuffer bigbuf(big);
        CHECK(esp::seal(*sas.out, bigbuf.pb).error() == Errc::invalid_length);
        CHECK(bigbuf.bytes() == big);
        CHECK(sas.out->last_sequence() == 0);
        CHECK(sas.out->counters().packets == 0);
        // And one that just fits goes through, with consistent lengths.
        const size_t overhead = esp::detail::kEspHeaderSize + sas.out->transforms().iv_size + 2 +
                                sas.out->transforms().icv_size + 16 +
                                (mode == esp::Mode::tunnel ? (v6 ? 0 : 20) : 0);
        const Bytes fits = v6 ? ipv6_udp("2001:db8::1", "2001:db8::2",
                                         udp_payload - overhead - (mode == esp::Mode::tunnel ? 40 : 0))
                              : ipv4_udp("10.1.1.1", "10.2.2.2", udp_payload - overhead);
        const Sealed s = seal_bytes(*sas.out, fits);
        if ((s.wire[0] >> 4) == 4) {
          CHECK(load_be16(ByteView(s.wire).subspan(2).first<2>()) == s.wire.size());
        } else {
          CHECK(load_be16(ByteView(s.wire).subspan(4).first<2>()) + 40u == s.wire.size());
        }
        Bytes out;
        auto r = open_bytes(*sas.in, s.wire, &out);
        REQUIRE_MESSAGE(r.ok(), r.status().name());
        CHECK(out == fits);
      }
    }
  }
}

TEST_CASE("ESP open ignores link padding after the received datagram") {
  crypto::DefaultProvider provider;
  for (esp::Mode mode : {esp::Mode::tunnel, esp::Mode::transport}) {
    for (bool v6 : {false, true}) {
      for (bool udp : {false, true}) {
        INFO("tunnel=" << (mode == esp::Mode::tunnel) << " v6=" << v6 << " udp=" << udp);
        Keyed k(kCbcSha256, mode);
        if (mode == esp::Mode::tunnel && v6) k.config.tunnel = tunnel6();
        if (udp) k.config.udp = esp::UdpEncapsulation{4500, 4500};
        auto sas = make_pair(k.config, provider);
        const Bytes packet =
            v6 ? ipv6_udp("2001:db8::1", "2001:db8::2", 3) : ipv4_udp("10.1.1.1", "10.2.2.2", 3);
        Bytes wire = seal_bytes(*sas.out, packet).wire;
        wire.resize(wire.size() + 11, 0);
        Bytes out;
        auto r = open_bytes(*sas.in, wire, &out);
        REQUIRE_MESSAGE(r.ok(), r.status().name());
        CHECK(to_hex(out) == to_hex(packet));
      }
    }
  }
}

// ---- configuration errors ---------------------------------------------------------------------------

TEST_CASE("ESP SA configuration errors from OutboundSa::create and InboundSa::create") {
  crypto::DefaultProvider provider;
  const Bytes gcm_key = test_key(36, 1), cbc_key = test_key(16, 2), hmac_key = test_key(32, 3);
  auto gcm = [&] {
    esp::SaConfig c;
    c.spi = 0x1000;
    c.encr = EncrId::aes_gcm_16;
    c.encr_key_bits = 256;
    c.encr_keymat = gcm_key;
    c.tunnel = tunnel4();
    return c;
  };
  struct Bad {
    const char* what;
    esp::SaConfig config;
    Errc want;
  };
  std::vector<Bad> bad;
  {
    auto c = gcm();
    c.spi = 0;  // RFC 4303 2.1: reserved, never sent
    bad.push_back({"SPI 0", c, Errc::invalid_argument});
    c.udp = esp::UdpEncapsulation{};  // and over UDP the RFC 3948 non-ESP marker
    bad.push_back({"SPI 0 over UDP", c, Errc::invalid_argument});
    c.protocol = esp::SecurityProtocol::ah;  // RFC 4302 2.4 alike
    c.udp.reset();
    c.integ = IntegId::hmac_sha2_256_128;
    c.integ_key = hmac_key;
    bad.push_back({"AH SPI 0", c, Errc::invalid_argument});
  }
  {
    auto c = gcm();
    c.tunnel.reset();
    bad.push_back({"tunnel mode without endpoints", c, Errc::invalid_argument});
  }
  {
    auto c = gcm();
    c.tunnel->remote = IpAddress::parse("2001:db8::2").value();
    bad.push_back({"tunnel endpoints of two families", c, Errc::invalid_argument});
  }
  {
    auto c = gcm();
    c.integ = IntegId::hmac_sha2_256_128;
    c.integ_key = hmac_key;
    bad.push_back({"AEAD with integrity", c, Errc::invalid_argument});
  }
  {
    auto c = gcm();
    c.encr = EncrId::aes_cbc;
    c.encr_key_bits = 128;
    c.encr_keymat = cbc_key;
    bad.push_back({"cipher without integrity", c, Errc::invalid_argument});
  }
  {
    auto c = gcm();
    c.encr = EncrId::null;
    c.encr_key_bits = 0;
    c.encr_keymat = {};
    bad.push_back({"ENCR_NULL without integrity", c, Errc::invalid_argument});
  }
  {
    auto c = gcm();
    c.replay_window = 4097;
    bad.push_back({"replay window 4097", c, Errc::invalid_argument});
  }
  {
    auto c = gcm();
    c.protocol = esp::SecurityProtocol::ah;
    c.integ = IntegId::hmac_sha2_256_128;
    c.integ_key = hmac_key;
    c.udp = esp::UdpEncapsulation{};
    bad.push_back({"AH over UDP", c, Errc::invalid_argument});
  }
  {
    auto c = gcm();
    c.protocol = esp::SecurityProtocol::ah;
    bad.push_back({"AH without integrity", c, Errc::invalid_argument});
  }
  {
    auto c = gcm();
    c.mode = esp::Mode::transport;
    c.tfc_pad_to = 200;
    bad.push_back({"TFC padding in transport mode", c, Errc::invalid_argument});
  }
  {
    auto c = gcm();
    c.encr = static_cast<EncrId>(3);  // 3DES: not implemented
    bad.push_back({"unimplemented cipher", c, Errc::unsupported_algorithm});
  }
  {
    auto c = gcm();
    c.encr_keymat = ByteView(gcm_key).first(20);
    bad.push_back({"short key", c, Errc::invalid_key_length});
  }
  for (const Bad& b : bad) {
    INFO(b.what);
    auto out = esp::OutboundSa::create(b.config, provider);
    auto in = esp::InboundSa::create(b.config, provider);
    CHECK_FALSE(out.ok());
    CHECK_FALSE(in.ok());
    CHECK(out.error() == b.want);
    CHECK(in.error() == b.want);
  }
  // The control: the base configuration is fine, window 4096 too.
  auto c = gcm();
  c.replay_window = 4096;
  CHECK(esp::OutboundSa::create(c, provider).ok());
  CHECK(esp::InboundSa::create(c, provider).ok());
  c.replay_window = 0;
  CHECK(esp::InboundSa::create(c, provider).ok());
}
