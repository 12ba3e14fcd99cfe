// SPDX-License-Identifier: Apache-2.0
// natt_bench: what NAT traversal costs on the receive path. A UDP port 4500
// socket hands the host a datagram payload that may be ESP, IKE or a
// keepalive (RFC 3948); the host classifies it (wire::classify_udp4500) and
// passes the ESP packet to esp::open_esp. Against that, plain decapsulation:
// open_esp on the same packets, with no classification. The ratio of the two
// is what the classifier adds. benchmarks/README.md "ESP datapath" has the
// figures; benchmarks/natt_ratios.py pairs the two and prints the ratios.
//
//   udp4500_decap/<suite>/<outer>/<size>   copy the next UDP payload from the pool,
//                                          classify_udp4500, open_esp on the ESP message
//   esp_only_decap/<suite>/<outer>/<size>  the same copy, open_esp on the same octets
//
// <outer> is udp4 (ESP-in-UDP over IPv4, IPv4 inner packets) or udp6 (IPv6);
// <size> is the inner packet in octets (a UDP datagram). The pool holds the
// UDP payloads of packets sealed by esp::seal with UDP encapsulation, sealed
// again with later sequence numbers (PauseTiming) each time it runs out, as
// in esp_bench.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/packet_buffer.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/esp/esp.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/wire/ip_header.hpp"
#include "ipsec/wire/natt.hpp"

namespace {

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::IpAddress;
using ipsec::PacketBuffer;
using ipsec::Status;
using ipsec::crypto::EncrId;

constexpr std::array<size_t, 3> kPacketSizes = {64, 576, 1400};
constexpr size_t kHeadroom = 128;
constexpr size_t kTailroom = 512;
static_assert(kHeadroom >= ipsec::limits::kEspMaxHeadroom && kTailroom >= ipsec::limits::kEspMaxTailroom);
constexpr size_t kPoolPackets = 1024;

struct Suite {
  const char* name;
  EncrId encr;
  uint16_t key_bits;
};
constexpr Suite kAes256Gcm{"aes256gcm16", EncrId::aes_gcm_16, 256};

ipsec::crypto::Provider& provider() {
  static ipsec::crypto::DefaultProvider p;
  return p;
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 31 * i);
  return v;
}

// inner_packet: a UDP datagram of `size` octets in all, IPv4 (with its
// header checksum) or IPv6.
std::vector<uint8_t> inner_packet(bool v6, size_t size) {
  std::vector<uint8_t> p = pattern(size, 0x5a);
  const size_t ip = v6 ? ipsec::wire::Ipv6Header::kSize : ipsec::wire::Ipv4Header::kMinSize;
  std::fill_n(p.begin(), ip + 8, uint8_t{0});
  const auto udp_length = static_cast<uint16_t>(size - ip);
  const std::span<uint8_t> s(p);
  if (v6) {
    p[0] = 0x60;
    ipsec::store_be16(s.subspan<4, 2>(), udp_length);
    p[6] = 17;
    p[7] = 64;
    const IpAddress src = IpAddress::parse("2001:db8:1::1").value();
    const IpAddress dst = IpAddress::parse("2001:db8:2::1").value();
    std::copy(src.bytes().begin(), src.bytes().end(), p.begin() + 8);
    std::copy(dst.bytes().begin(), dst.bytes().end(), p.begin() + 24);
  } else {
    p[0] = 0x45;
    ipsec::store_be16(s.subspan<2, 2>(), static_cast<uint16_t>(size));
    p[8] = 64;
    p[9] = 17;
    const std::array<uint8_t, 8> addresses = {10, 1, 1, 1, 10, 2, 2, 2};
    std::copy(addresses.begin(), addresses.end(), p.begin() + 12);
    ipsec::store_be16(s.subspan<10, 2>(), ipsec::wire::internet_checksum(ByteView(p).first(ip)));
  }
  ipsec::store_be16(s.subspan(ip).first<2>(), 12345);
  ipsec::store_be16(s.subspan(ip + 2).first<2>(), 53);
  ipsec::store_be16(s.subspan(ip + 4).first<2>(), udp_length);
  return p;
}

// Fixture: an outbound SA with UDP encapsulation and its inbound twin, one
// receive buffer, and the pool of UDP payloads (ESP packets).
class Fixture {
 public:
  Status init(const Suite& suite, bool v6, size_t size) {
    const auto encr = ipsec::crypto::encr_info(suite.encr);
    if (!encr) return Errc::unsupported_algorithm;
    const std::vector<uint8_t> key = pattern(encr->keymat_size(suite.key_bits), 0x11);
    ipsec::esp::SaConfig config;
    config.spi = 0x01020304;
    config.encr = suite.encr;
    config.encr_key_bits = suite.key_bits;
    config.encr_keymat = key;
    config.mode = ipsec::esp::Mode::tunnel;
    ipsec::esp::TunnelConfig t;
    t.local = IpAddress::parse(v6 ? "2001:db8::1" : "192.0.2.1").value();
    t.remote = IpAddress::parse(v6 ? "2001:db8::2" : "198.51.100.2").value();
    config.tunnel = t;
    config.udp = ipsec::esp::UdpEncapsulation{};
    auto out = ipsec::esp::OutboundSa::create(config, provider());
    if (!out) return out.status();
    auto in = ipsec::esp::InboundSa::create(config, provider());
    if (!in) return in.status();
    out_ = std::move(*out);
    in_ = std::move(*in);
    inner_ = inner_packet(v6, size);
    seal_storage_.assign(kHeadroom + size + kTailroom, 0);
    storage_.assign(kHeadroom + size + kTailroom, 0);

    // One round trip: the payload classifies as ESP and opens to the packet.
    auto payload = seal_one();
    if (!payload) return payload.status();
    payload_size_ = payload->size();
    load_wire_from(*payload);
    auto c = ipsec::wire::classify_udp4500(ByteView(storage_).subspan(kHeadroom, payload_size_));
    if (!c) return c.status();
    if (c->kind != ipsec::wire::NattKind::esp) return Errc::unexpected_protocol;
    auto pb = PacketBuffer::over(storage_, kHeadroom + c->message_offset, c->message.size());
    if (!pb) return pb.status();
    auto opened = ipsec::esp::open_esp(*in_, *pb);
    if (!opened) return opened.status();
    if (!ipsec::equal_bytes(pb->data(), inner_)) return Errc::integrity_check_failed;

    pool_.assign(kPoolPackets * payload_size_, 0);
    return Status::success();
  }

  // refill: seal the pool again with the next sequence numbers.
  Status refill() noexcept {
    for (size_t k = 0; k < kPoolPackets; ++k) {
      auto payload = seal_one();
      if (!payload) return payload.status();
      if (payload->size() != payload_size_) return Errc::invalid_length;
      std::memcpy(pool_.data() + k * payload_size_, payload->data(), payload_size_);
    }
    return Status::success();
  }

  // load_wire: pooled payload k, where the socket read put it.
  void load_wire(size_t k) noexcept {
    std::memcpy(storage_.data() + kHeadroom, pool_.data() + k * payload_size_, payload_size_);
  }
  [[nodiscard]] ByteView payload() const noexcept {
    return ByteView(storage_).subspan(kHeadroom, payload_size_);
  }
  [[nodiscard]] std::vector<uint8_t>& storage() noexcept { return storage_; }
  ipsec::esp::InboundSa& in() noexcept { return *in_; }
  void keep() {
    benchmark::DoNotOptimize(storage_.data());
    benchmark::ClobberMemory();
  }

 private:
  // seal_one: the inner packet sealed; the UDP payload (from the ESP header on).
  ipsec::Result<ByteView> seal_one() noexcept {
    std::copy(inner_.begin(), inner_.end(), seal_storage_.begin() + kHeadroom);
    auto pb = PacketBuffer::over(seal_storage_, kHeadroom, inner_.size());
    if (!pb) return pb.status();
    auto sealed = ipsec::esp::seal(*out_, *pb);
    if (!sealed) return sealed.status();
    return ByteView(pb->data()).subspan(sealed->esp_offset);
  }
  void load_wire_from(ByteView payload) noexcept {
    std::memcpy(storage_.data() + kHeadroom, payload.data(), payload.size());
  }

  std::unique_ptr<ipsec::esp::OutboundSa> out_;
  std::unique_ptr<ipsec::esp::InboundSa> in_;
  std::vector<uint8_t> inner_;
  std::vector<uint8_t> seal_storage_;
  std::vector<uint8_t> storage_;
  size_t payload_size_ = 0;
  std::vector<uint8_t> pool_;
};

using ipsec::bench::fail;

// decap: `classify` selects classify_udp4500 + open_esp or open_esp alone;
// everything else is shared.
void bm_decap(benchmark::State& state, Suite suite, bool v6, size_t size, bool classify) {
  Fixture f;
  if (const Status s = f.init(suite, v6, size); !s.ok()) return fail(state, "init", s);
  if (const Status s = f.refill(); !s.ok()) return fail(state, "refill", s);
  size_t k = 0;
  for (auto _ : state) {
    if (k == kPoolPackets) {
      state.PauseTiming();
      const Status s = f.refill();
      state.ResumeTiming();
      if (!s.ok()) {
        fail(state, "refill", s);
        break;
      }
      k = 0;
    }
    f.load_wire(k++);
    size_t offset = kHeadroom;
    size_t length = f.payload().size();
    if (classify) {
      auto c = ipsec::wire::classify_udp4500(f.payload());
      if (!c || c->kind != ipsec::wire::NattKind::esp) {
        fail(state, "classify_udp4500", c ? Status(Errc::unexpected_protocol) : c.status());
        break;
      }
      offset += c->message_offset;
      length = c->message.size();
    }
    auto pb = PacketBuffer::over(f.storage(), offset, length);
    if (!pb) {
      fail(state, "buffer", pb.status());
      break;
    }
    auto opened = ipsec::esp::open_esp(f.in(), *pb);
    if (!opened) {
      fail(state, "open_esp", opened.status());
      break;
    }
    f.keep();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}

bool register_all() {
  for (const bool v6 : {false, true}) {
    for (const size_t size : kPacketSizes) {
      const std::string suffix =
          std::string(kAes256Gcm.name) + (v6 ? "/udp6/" : "/udp4/") + std::to_string(size);
      benchmark::RegisterBenchmark(("udp4500_decap/" + suffix).c_str(),
                                   [=](benchmark::State& s) { bm_decap(s, kAes256Gcm, v6, size, true); });
      benchmark::RegisterBenchmark(("esp_only_decap/" + suffix).c_str(),
                                   [=](benchmark::State& s) { bm_decap(s, kAes256Gcm, v6, size, false); });
    }
  }
  return true;
}

[[maybe_unused]] const bool registered = register_all();

}  // namespace

BENCHMARK_MAIN();
