// SPDX-License-Identifier: Apache-2.0
// sa_bench: the security databases (sa/) on the packet path. The SAD lookup
// by SPI with 10^3 to 10^6 installed inbound SAs, the SPD first-match lookup
// with 10 to 100,000 policies, and the whole datapath (Datapath::outbound /
// inbound: SPD + SAD + ESP) beside plain esp::seal / esp::open on the same
// SAs and buffers, in the same process. benchmarks/README.md "Security
// databases" has the figures; benchmarks/sa_ratios.py turns a JSON run into
// the tables.
//
//   sa_create/<suite>                 InboundSa::create + destroy (heap octets per SA as counters)
//   sad_lookup/<n>                    Sad::inbound(spi) over a shuffled array of the n installed SPIs
//   sad_lookup_chain/<n>              the same, each SPI waiting for the previous result (latency)
//   sad_lookup_burst16/<n>            16 lookups, then the 16 entries used together
//   floor_lookup/<n>, floor_chain/<n> the memory floor: one load at a random index of an array of
//                                     n pointers (independent, dependent)
//   floor_slot_lookup/<n>, floor_slot_chain/<n>   one load of a random 16-octet slot of an array
//                                     as large as the Sad's table (its footprint, no hashing)
//   epoch_enter                       EpochDomain::enter + leaving the ReadSection
//   spd_lookup/<shape>/<n>            Spd::lookup(outbound) of packets hitting random PROTECT policies
//   spd_linear/<shape>/<n>            first-match scan of the same policies (n <= 1000)
//   dp_outbound/<suite>/<sas>/<spread>/<size>   restore the inner header, Datapath::outbound
//   esp_seal/<suite>/<sas>/<spread>/<size>      the same restore, esp::seal on the policy's SA
//   dp_inbound/<suite>/<sas>/<spread>/<size>    copy a sealed packet from the pool, Datapath::inbound
//   esp_open/<suite>/<sas>/<spread>/<size>      the same copy, esp::open on the packet's SA
//
// <shape>: `site` (every PROTECT policy a /24 <-> /24 pair, 3 tuples) or
// `mixed` (remote prefixes /16, /18, ... /32 in turn: 11 tuples); both have
// two BYPASS policies (IKE, UDP 500 and 4500 from the gateway) and a DISCARD
// one (a single host) in front of the n PROTECT ones. <spread>: `random`
// (each packet belongs to a uniformly random policy/SA of <sas>) or `one`
// (every packet to the first). The SAD and datapath fixtures are built once
// per process (the 10^6 SAD takes a few seconds and about 1.2 GB) and kept.
#include <benchmark/benchmark.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/packet_buffer.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/time.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/esp/esp.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/sa/datapath.hpp"
#include "ipsec/sa/epoch.hpp"
#include "ipsec/sa/sad.hpp"
#include "ipsec/sa/selector.hpp"
#include "ipsec/sa/spd.hpp"
#include "ipsec/wire/ip_header.hpp"

namespace {

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::IpAddress;
using ipsec::PacketBuffer;
using ipsec::Status;
using ipsec::Timestamp;
using ipsec::crypto::EncrId;
using ipsec::sa::AddressRange;
using ipsec::sa::Direction;
using ipsec::sa::PacketSelectors;
using ipsec::sa::Policy;
using ipsec::sa::PolicyAction;
using ipsec::sa::Selector;

constexpr size_t kHeadroom = 128;
constexpr size_t kTailroom = 512;
static_assert(kHeadroom >= ipsec::limits::kEspMaxHeadroom && kTailroom >= ipsec::limits::kEspMaxTailroom);

struct Suite {
  const char* name;
  EncrId encr;
  uint16_t key_bits;
};

// DefaultProvider: libsodium for AES-256-GCM-16 and ChaCha20-Poly1305,
// mbedTLS for AES-128-GCM-16.
constexpr Suite kAes256Gcm = {"aes256gcm16", EncrId::aes_gcm_16, 256};
constexpr Suite kAes128Gcm = {"aes128gcm16", EncrId::aes_gcm_16, 128};
constexpr Suite kChacha = {"chacha20poly1305", EncrId::chacha20_poly1305, 0};
constexpr Suite kCreateSuites[] = {kAes128Gcm, kAes256Gcm, kChacha};
// The SAs of the SAD lookup benchmarks: the cheapest AES-GCM to create and
// to keep (sa_create: libsodium's AES-256-GCM state is smaller than
// mbedTLS's AES-128-GCM context and its separately allocated key schedule).
constexpr Suite kSadSuite = kAes256Gcm;

ipsec::crypto::Provider& provider() {
  static ipsec::crypto::DefaultProvider p;
  return p;
}

// heap_in_use: octets malloc has handed out and not taken back (arenas and
// mmapped chunks, allocator headers included): what the process pays.
size_t heap_in_use() {
#if defined(__GLIBC__)
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
#else
  return 0;
#endif
}

// rss: resident set size from /proc/self/statm (0 where there is none).
size_t rss() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

std::vector<uint8_t> key_for(const Suite& suite, uint32_t seed) {
  const auto info = ipsec::crypto::encr_info(suite.encr);
  std::vector<uint8_t> k(info ? info->keymat_size(suite.key_bits) : 0);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(seed * 131 + 17 * i + 1);
  return k;
}

IpAddress v4(uint32_t a) {
  return IpAddress::v4({static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16),
                        static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a)});
}
AddressRange prefix4(uint32_t base, unsigned length) {
  const uint32_t host = length == 32 ? 0 : (0xffffffffu >> length);
  return AddressRange{v4(base & ~host), v4((base & ~host) | host)};
}

constexpr uint32_t kGateway = 0xc0000201;      // 192.0.2.1, this gateway
constexpr uint32_t kPeerGateway = 0xc6336402;  // 198.51.100.2
constexpr uint32_t kDiscardHost = 0xcb007142;  // 203.0.113.66
constexpr uint32_t kLocalBase = 0x0a000000;    // 10.0.<i % 256>.0/24, the local LANs
constexpr uint32_t kRemoteBase = 0x64000000;   // 100.0.0.0 upwards, the remote LANs

ipsec::esp::TunnelConfig tunnel(uint32_t local, uint32_t remote) {
  ipsec::esp::TunnelConfig t;
  t.local = v4(local);
  t.remote = v4(remote);
  return t;
}

using ipsec::bench::fail;

// ---- SA creation and memory ------------------------------------------------

ipsec::esp::SaConfig inbound_config(const Suite& suite, uint32_t spi, const std::vector<uint8_t>& key) {
  ipsec::esp::SaConfig c;
  c.spi = spi;
  c.encr = suite.encr;
  c.encr_key_bits = suite.key_bits;
  c.encr_keymat = key;
  c.mode = ipsec::esp::Mode::tunnel;
  c.tunnel = tunnel(kGateway, kPeerGateway);
  return c;
}

void bm_sa_create(benchmark::State& state, Suite suite) {
  const std::vector<uint8_t> key = key_for(suite, 7);
  const ipsec::esp::SaConfig config = inbound_config(suite, 0x1000, key);
  // Heap octets per SA: 1024 of them alive at once.
  constexpr size_t kHeld = 1024;
  std::vector<std::unique_ptr<ipsec::esp::InboundSa>> held;
  held.reserve(kHeld);
  const size_t before = heap_in_use();
  for (size_t i = 0; i < kHeld; ++i) {
    auto sa = ipsec::esp::InboundSa::create(config, provider());
    if (!sa) return fail(state, "create", sa.status());
    held.push_back(std::move(*sa));
  }
  const double per_sa = static_cast<double>(heap_in_use() - before) / kHeld;
  state.SetLabel(held.front()->transforms().aead->backend());
  held.clear();
  for (auto _ : state) {
    auto sa = ipsec::esp::InboundSa::create(config, provider());
    if (!sa) {
      fail(state, "create", sa.status());
      break;
    }
    benchmark::DoNotOptimize(sa->get());
  }
  state.counters["heap_B"] = per_sa;
  state.counters["sizeof_InboundSa"] = sizeof(ipsec::esp::InboundSa);
}

// ---- SAD lookup ------------------------------------------------------------

// The Sad's inbound table: 16-octet slots (SPI, entry pointer), a power of
// two at least twice max_inbound (sa/sad.hpp); the floor_slot benchmarks use
// an array of that size.
constexpr size_t sad_table_slots(size_t max_inbound) {
  size_t c = 16;
  while (c < 2 * max_inbound) c *= 2;
  return c;
}

// SadFixture: n inbound SAs installed in a Sad with max_inbound = n, each
// created and installed in turn (as a host does), SPIs from
// Sad::allocate_spi. Every entry's binding carries one selector (the child
// SA's traffic). Beside it, the memory floors: what any table of n SAs must
// at least cost.
struct SadFixture {
  ipsec::sa::EpochDomain epochs{1};
  std::unique_ptr<ipsec::sa::Sad> sad;
  std::vector<uint32_t> spis;  // the installed SPIs, shuffled
  // floor_*: one pointer per SA (n words, the entries' addresses), visited in
  // a shuffled order of all n.
  std::vector<uintptr_t> floor;
  std::vector<uint32_t> floor_order;
  // floor_slot_*: 16-octet slots, as many as the Sad's table has, n of them
  // (distinct, uniformly spread) visited in a shuffled order.
  struct Slot {
    uint64_t key;
    uintptr_t value;
  };
  std::vector<Slot> slots;
  std::vector<uint32_t> slot_order;
  double esp_sa_bytes = 0, entry_bytes = 0, table_bytes = 0, total_bytes = 0, rss_bytes = 0;
  double build_seconds = 0;
  Status status;
};

std::unique_ptr<SadFixture> build_sad(size_t n) {
  auto f = std::make_unique<SadFixture>();
  const auto start = std::chrono::steady_clock::now();
  ipsec::crypto::SeededRng rng(uint64_t{42});
  const size_t heap0 = heap_in_use(), rss0 = rss();
  ipsec::sa::SadConfig config;
  config.max_inbound = n;
  config.max_reqids = 2;
  auto sad = ipsec::sa::Sad::create(config, f->epochs);
  if (!sad) {
    f->status = sad.status();
    return f;
  }
  f->sad = std::move(*sad);
  const size_t heap1 = heap_in_use();
  f->table_bytes = static_cast<double>(heap1 - heap0) / static_cast<double>(n);

  std::vector<uint32_t> allocated(n);
  for (size_t k = 0; k < n; ++k) {
    auto spi = f->sad->allocate_spi(rng);
    if (!spi) {
      f->status = spi.status();
      return f;
    }
    allocated[k] = *spi;
  }

  const std::vector<uint8_t> key = key_for(kSadSuite, 3);
  const size_t heap2 = heap_in_use();
  // The split of one SA's heap into the ESP SA and the SAD's entry, from the
  // first SAs (every SA allocates the same).
  constexpr size_t kSampled = 4096;
  size_t esp_bytes = 0, entry_bytes = 0, sampled = 0;
  for (size_t k = 0; k < n; ++k) {
    const bool sample = k < kSampled;
    const size_t a = sample ? heap_in_use() : 0;
    auto sa = ipsec::esp::InboundSa::create(inbound_config(kSadSuite, allocated[k], key), provider());
    if (!sa) {
      f->status = sa.status();
      return f;
    }
    const size_t b = sample ? heap_in_use() : 0;
    ipsec::sa::SaBinding binding;
    binding.reqid = 1;
    const uint32_t lan = static_cast<uint32_t>(k % 65536);
    Selector selector;
    selector.local = prefix4(kLocalBase | (lan & 0xff) << 8, 24);
    selector.remote = prefix4(kRemoteBase + (lan << 8), 24);
    binding.selectors.push_back(selector);
    if (Status s = f->sad->install_inbound(std::move(*sa), std::move(binding), Timestamp{}); !s.ok()) {
      f->status = s;
      return f;
    }
    if (sample) {
      const size_t c = heap_in_use();
      esp_bytes += b - a;
      entry_bytes += c - b;
      ++sampled;
    }
  }
  const size_t heap3 = heap_in_use(), rss3 = rss();
  f->esp_sa_bytes = static_cast<double>(esp_bytes) / static_cast<double>(sampled);
  f->entry_bytes = static_cast<double>(entry_bytes) / static_cast<double>(sampled);
  f->total_bytes = static_cast<double>(heap3 - heap2 + heap1 - heap0) / static_cast<double>(n);
  f->rss_bytes = static_cast<double>(rss3 - rss0) / static_cast<double>(n);

  std::mt19937_64 random(n);
  f->spis = allocated;
  std::shuffle(f->spis.begin(), f->spis.end(), random);

  // Every SPI is found, and is the entry it should be; SPIs never
  // allocated are not.
  {
    const ipsec::sa::ReadSection rs = f->epochs.enter(0);
    for (const uint32_t spi : f->spis) {
      const ipsec::sa::InboundEntry* e = f->sad->inbound(spi, rs);
      if (e == nullptr || e->spi != spi) {
        f->status = Status(Errc::unknown_spi, Status::kNoOffset, "lookup");
        return f;
      }
    }
    std::vector<uint32_t> sorted = allocated;
    std::sort(sorted.begin(), sorted.end());
    for (size_t k = 0; k < 4096; ++k) {
      const auto spi = static_cast<uint32_t>(random());
      if (spi < ipsec::sa::Sad::kMinSpi || std::binary_search(sorted.begin(), sorted.end(), spi)) continue;
      if (f->sad->inbound(spi, rs) != nullptr) {
        f->status = Status(Errc::invalid_argument, Status::kNoOffset, "absent spi found");
        return f;
      }
    }
  }

  // The floors.
  f->floor.reserve(n);
  f->sad->for_each_inbound(
      [&](const ipsec::sa::InboundEntry& e) { f->floor.push_back(reinterpret_cast<uintptr_t>(&e)); });
  if (f->floor.size() != n) {
    f->status = Status(Errc::invalid_length, Status::kNoOffset, "for_each_inbound");
    return f;
  }
  f->floor_order.resize(n);
  for (size_t k = 0; k < n; ++k) f->floor_order[k] = static_cast<uint32_t>(k);
  std::shuffle(f->floor_order.begin(), f->floor_order.end(), random);
  const size_t capacity = sad_table_slots(n);
  f->slots.resize(capacity);
  for (size_t k = 0; k < capacity; ++k) f->slots[k] = {random() | 1, f->floor[k % n]};
  std::vector<uint32_t> all(capacity);
  for (size_t k = 0; k < capacity; ++k) all[k] = static_cast<uint32_t>(k);
  std::shuffle(all.begin(), all.end(), random);
  f->slot_order.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
  f->build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return f;
}

// sad_fixture: built once per size, kept for the rest of the process.
SadFixture* sad_fixture(benchmark::State& state, size_t n) {
  static std::map<size_t, std::unique_ptr<SadFixture>> fixtures;
  auto& f = fixtures[n];
  if (!f) f = build_sad(n);
  if (!f->status.ok()) {
    fail(state, "build", f->status);
    return nullptr;
  }
  state.counters["esp_sa_B"] = f->esp_sa_bytes;
  state.counters["sad_entry_B"] = f->entry_bytes;
  state.counters["sad_table_B"] = f->table_bytes;
  state.counters["heap_B_per_sa"] = f->total_bytes;
  state.counters["rss_B_per_sa"] = f->rss_bytes;
  state.counters["table_slots"] = static_cast<double>(sad_table_slots(n));
  state.counters["build_s"] = f->build_seconds;
  return f.get();
}

// Independent lookups: the CPU overlaps consecutive ones (throughput).
void bm_sad_lookup(benchmark::State& state, size_t n) {
  SadFixture* f = sad_fixture(state, n);
  if (f == nullptr) return;
  const ipsec::sa::ReadSection rs = f->epochs.enter(0);
  const uint32_t* spis = f->spis.data();
  size_t j = 0;
  for (auto _ : state) {
    const ipsec::sa::InboundEntry* e = f->sad->inbound(spis[j], rs);
    benchmark::DoNotOptimize(e);
    if (++j == n) j = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

// Dependent lookups: the next SPI waits for the entry pointer just found
// (it is or'ed with `e == nullptr`, always 0), so the figure is the latency
// of one lookup. The entry itself is not read, as Sad::inbound does not.
void bm_sad_lookup_chain(benchmark::State& state, size_t n) {
  SadFixture* f = sad_fixture(state, n);
  if (f == nullptr) return;
  const ipsec::sa::ReadSection rs = f->epochs.enter(0);
  const uint32_t* spis = f->spis.data();
  uint32_t spi = spis[0];
  size_t j = 0;
  for (auto _ : state) {
    const ipsec::sa::InboundEntry* e = f->sad->inbound(spi, rs);
    if (++j == n) j = 0;
    spi = spis[j] | static_cast<uint32_t>(e == nullptr);
  }
  benchmark::DoNotOptimize(spi);
  state.SetItemsProcessed(state.iterations());
}

// 16 lookups, then the 16 entries used together (each SA pointer read), as
// a datapath handling a burst would: slot and entry per packet.
void bm_sad_lookup_burst(benchmark::State& state, size_t n) {
  constexpr size_t kBurst = 16;
  SadFixture* f = sad_fixture(state, n);
  if (f == nullptr) return;
  const ipsec::sa::ReadSection rs = f->epochs.enter(0);
  const uint32_t* spis = f->spis.data();
  const size_t bursts = n / kBurst;
  size_t b = 0;
  std::array<const ipsec::sa::InboundEntry*, kBurst> found{};
  for (auto _ : state) {
    const uint32_t* burst = spis + b * kBurst;
    for (size_t i = 0; i < kBurst; ++i) found[i] = f->sad->inbound(burst[i], rs);
    uintptr_t sum = 0;
    for (const ipsec::sa::InboundEntry* e : found) sum += reinterpret_cast<uintptr_t>(e->sa.get());
    benchmark::DoNotOptimize(sum);
    if (++b == bursts) b = 0;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBurst));
}

// The floors: the same loops with the lookup replaced by one load at a
// precomputed random index: of a pointer in an array of n (floor_*, the
// least memory any table of n SAs needs), or of a 16-octet slot in an
// array as large as the Sad's table (floor_slot_*: the Sad's footprint
// with no hashing, probing or key compare).
void bm_floor_lookup(benchmark::State& state, size_t n) {
  SadFixture* f = sad_fixture(state, n);
  if (f == nullptr) return;
  const uintptr_t* pointers = f->floor.data();
  const uint32_t* order = f->floor_order.data();
  // The values are summed: DoNotOptimize on the element itself would let
  // the compiler pass its address to the empty asm and load nothing.
  uintptr_t sum = 0;
  size_t j = 0;
  for (auto _ : state) {
    sum += pointers[order[j]];
    if (++j == n) j = 0;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

void bm_floor_chain(benchmark::State& state, size_t n) {
  SadFixture* f = sad_fixture(state, n);
  if (f == nullptr) return;
  const uintptr_t* pointers = f->floor.data();
  const uint32_t* order = f->floor_order.data();
  uint32_t k = order[0];
  size_t j = 0;
  for (auto _ : state) {
    const uintptr_t v = pointers[k];
    if (++j == n) j = 0;
    k = order[j] ^ static_cast<uint32_t>(v == 0);  // n is even: stays below n
  }
  benchmark::DoNotOptimize(k);
  state.SetItemsProcessed(state.iterations());
}

void bm_floor_slot_lookup(benchmark::State& state, size_t n) {
  SadFixture* f = sad_fixture(state, n);
  if (f == nullptr) return;
  const SadFixture::Slot* slots = f->slots.data();
  const uint32_t* order = f->slot_order.data();
  uintptr_t sum = 0;
  size_t j = 0;
  for (auto _ : state) {
    const SadFixture::Slot& s = slots[order[j]];
    sum += s.key != 0 ? s.value : 0;
    if (++j == n) j = 0;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

void bm_floor_slot_chain(benchmark::State& state, size_t n) {
  SadFixture* f = sad_fixture(state, n);
  if (f == nullptr) return;
  const SadFixture::Slot* slots = f->slots.data();
  const uint32_t* order = f->slot_order.data();
  uint32_t k = order[0];
  size_t j = 0;
  for (auto _ : state) {
    const SadFixture::Slot& s = slots[k];
    const uintptr_t v = s.key != 0 ? s.value : 0;
    if (++j == n) j = 0;
    k = order[j] ^ static_cast<uint32_t>(v == 0);  // the table size is even
  }
  benchmark::DoNotOptimize(k);
  state.SetItemsProcessed(state.iterations());
}

void bm_epoch_enter(benchmark::State& state) {
  ipsec::sa::EpochDomain epochs(1);
  for (auto _ : state) {
    const ipsec::sa::ReadSection rs = epochs.enter(0);
    benchmark::DoNotOptimize(&rs);
  }
}

// ---- SPD lookup ------------------------------------------------------------

enum class Shape : uint8_t { site, mixed };

const char* shape_name(Shape s) { return s == Shape::site ? "site" : "mixed"; }

struct SpdFixture {
  std::vector<Policy> policies;
  std::unique_ptr<ipsec::sa::Spd> spd;
  std::vector<PacketSelectors> packets;  // kPackets, each hitting a random PROTECT policy
  std::vector<uint32_t> expected;        // its policy's index
  Status status;
};
constexpr size_t kPackets = 65536;
constexpr size_t kSpecialPolicies = 3;

std::unique_ptr<SpdFixture> build_spd(Shape shape, size_t n) {
  auto f = std::make_unique<SpdFixture>();
  // In front: IKE from this gateway passes (UDP 500 and 4500), one host is
  // blocked. RFC 4301 4.4.1: the IKE bypass comes first.
  for (uint16_t port : {uint16_t{500}, uint16_t{4500}}) {
    Policy p;
    p.id = port == 500 ? 1 : 2;
    p.selector.local = AddressRange::single(v4(kGateway));
    p.selector.protocol = 17;
    p.selector.local_port = ipsec::sa::PortRange::single(port);
    p.action = PolicyAction::bypass;
    f->policies.push_back(p);
  }
  {
    Policy p;
    p.id = 3;
    p.selector.remote = AddressRange::single(v4(kDiscardHost));
    p.action = PolicyAction::discard;
    f->policies.push_back(p);
  }
  // The PROTECT policies: local LAN 10.0.<i % 256>.0/24; remote a distinct
  // /24 each (site), or prefixes of /16, /18, ... /32 in turn, disjoint,
  // allocated upwards from 100.0.0.0 (mixed).
  std::vector<std::pair<uint32_t, uint32_t>> remote_span;  // first, size
  uint64_t cursor = kRemoteBase;
  for (size_t i = 0; i < n; ++i) {
    unsigned length = 24;
    uint32_t base = kRemoteBase + static_cast<uint32_t>(i << 8);
    if (shape == Shape::mixed) {
      length = 16 + 2 * static_cast<unsigned>(i % 9);
      const uint64_t block = uint64_t{1} << (32 - length);
      cursor = (cursor + block - 1) / block * block;
      base = static_cast<uint32_t>(cursor);
      cursor += block;
    }
    Policy p;
    p.id = static_cast<uint32_t>(kSpecialPolicies + 1 + i);
    p.selector.local = prefix4(kLocalBase | static_cast<uint32_t>(i & 0xff) << 8, 24);
    p.selector.remote = prefix4(base, length);
    p.action = PolicyAction::protect;
    p.reqid = static_cast<uint32_t>(i + 1);
    p.sa.tunnel_local = v4(kGateway);
    p.sa.tunnel_remote = v4(kPeerGateway);
    f->policies.push_back(p);
    remote_span.emplace_back(base, static_cast<uint32_t>((uint64_t{1} << (32 - length)) - 1));
  }
  if (cursor > 0xc0000000u) {
    f->status = Status(Errc::limit_exceeded, Status::kNoOffset, "address space");
    return f;
  }
  auto spd = ipsec::sa::Spd::build(f->policies);
  if (!spd) {
    f->status = spd.status();
    return f;
  }
  f->spd = std::move(*spd);

  std::mt19937_64 random(n * 2 + static_cast<size_t>(shape));
  f->packets.resize(kPackets);
  f->expected.resize(kPackets);
  for (size_t j = 0; j < kPackets; ++j) {
    const size_t i = random() % n;
    PacketSelectors& s = f->packets[j];
    s.source =
        v4(kLocalBase | static_cast<uint32_t>(i & 0xff) << 8 | static_cast<uint32_t>(1 + random() % 254));
    const auto [first, span] = remote_span[i];
    s.destination = v4(first + static_cast<uint32_t>(span == 0 ? 0 : random() % (uint64_t{span} + 1)));
    s.protocol = (random() & 1) != 0 ? 17 : 6;
    s.source_port = static_cast<uint16_t>(1024 + random() % 64000);
    s.destination_port = (random() & 1) != 0 ? 443 : 53;
    f->expected[j] = static_cast<uint32_t>(kSpecialPolicies + i);
  }
  // Every packet finds its policy, and the first 4096 (a random sample) the
  // one a first-match scan finds (all of them: 7 s per SPD in a Debug build).
  for (size_t j = 0; j < kPackets; ++j) {
    const Policy* p = f->spd->lookup(f->packets[j], Direction::outbound);
    if (p == nullptr || p != &f->spd->policies()[f->expected[j]]) {
      f->status = Status(Errc::no_policy, Status::kNoOffset, "spd lookup");
      return f;
    }
    if (n <= 1000 && j < 4096) {
      size_t k = 0;
      while (k < f->policies.size() && !f->policies[k].selector.matches(f->packets[j], Direction::outbound))
        ++k;
      if (k != f->expected[j]) {
        f->status = Status(Errc::no_policy, Status::kNoOffset, "first match");
        return f;
      }
    }
  }
  return f;
}

SpdFixture* spd_fixture(benchmark::State& state, Shape shape, size_t n) {
  static std::map<std::pair<Shape, size_t>, std::unique_ptr<SpdFixture>> fixtures;
  auto& f = fixtures[{shape, n}];
  if (!f) f = build_spd(shape, n);
  if (!f->status.ok()) {
    fail(state, "build", f->status);
    return nullptr;
  }
  state.counters["policies"] = static_cast<double>(f->policies.size());
  state.counters["tuples"] = static_cast<double>(f->spd->tuple_count());
  state.counters["scan"] = static_cast<double>(f->spd->scan_count());
  return f.get();
}

void bm_spd_lookup(benchmark::State& state, Shape shape, size_t n) {
  SpdFixture* f = spd_fixture(state, shape, n);
  if (f == nullptr) return;
  const PacketSelectors* packets = f->packets.data();
  size_t j = 0;
  for (auto _ : state) {
    const Policy* p = f->spd->lookup(packets[j], Direction::outbound);
    benchmark::DoNotOptimize(p);
    j = (j + 1) & (kPackets - 1);
  }
  state.SetItemsProcessed(state.iterations());
}

void bm_spd_linear(benchmark::State& state, Shape shape, size_t n) {
  SpdFixture* f = spd_fixture(state, shape, n);
  if (f == nullptr) return;
  const PacketSelectors* packets = f->packets.data();
  const Policy* policies = f->policies.data();
  const size_t count = f->policies.size();
  size_t j = 0;
  for (auto _ : state) {
    size_t k = 0;
    while (k < count && !policies[k].selector.matches(packets[j], Direction::outbound)) ++k;
    benchmark::DoNotOptimize(k);
    j = (j + 1) & (kPackets - 1);
  }
  state.SetItemsProcessed(state.iterations());
}

// ---- The full datapath -----------------------------------------------------

// DpFixture: a Datapath with n PROTECT policies (the `site` shape, behind
// the same bypass and discard ones) in both directions, and per policy an
// outbound SA (its reqid) and an inbound SA (an SPI from the SAD), both
// AES-256-GCM-16 tunnel mode over IPv4, the inbound one bound to the
// policy's selector. The peer's side: an outbound SA per inbound one, with
// its keys, sealing the packets inbound opens.
struct DpFixture {
  std::unique_ptr<ipsec::sa::Datapath> dp;
  std::vector<ipsec::esp::OutboundSa*> out;  // by policy, owned by the SAD
  std::vector<ipsec::esp::InboundSa*> in;
  std::vector<std::unique_ptr<ipsec::esp::OutboundSa>> peer;  // seals what `in` opens
  size_t size = 0;
  std::vector<std::array<uint8_t, 28>> out_header, in_header;  // inner IPv4 + UDP headers by policy
  std::vector<uint8_t> storage;
  PacketBuffer pb;
  // The inbound pool: sealed packets, each of a policy's peer SA.
  static constexpr size_t kPool = 1024;
  std::vector<uint8_t> pool;
  std::vector<uint32_t> pool_sa;
  size_t wire_offset = 0, wire_size = 0;
  // The outbound order of policies.
  static constexpr size_t kOrder = 4096;
  std::vector<uint32_t> order_random, order_one;
  std::mt19937_64 random{99};
  Status status;

  std::array<uint8_t, 28> header(uint32_t src, uint32_t dst) const {
    std::array<uint8_t, 28> h{};
    h[0] = 0x45;
    ipsec::store_be16(std::span<uint8_t>(h).subspan<2, 2>(), static_cast<uint16_t>(size));
    h[4] = 0x12;
    h[5] = 0x34;
    h[6] = 0x40;
    h[8] = 64;
    h[9] = 17;
    ipsec::store_be32(std::span<uint8_t>(h).subspan<12, 4>(), src);
    ipsec::store_be32(std::span<uint8_t>(h).subspan<16, 4>(), dst);
    ipsec::store_be16(std::span<uint8_t>(h).subspan<10, 2>(),
                      ipsec::wire::internet_checksum(ByteView(h).first(20)));
    ipsec::store_be16(std::span<uint8_t>(h).subspan<20, 2>(), 12345);
    ipsec::store_be16(std::span<uint8_t>(h).subspan<22, 2>(), 53);
    ipsec::store_be16(std::span<uint8_t>(h).subspan<24, 2>(), static_cast<uint16_t>(size - 20));
    return h;
  }

  // load_inner: policy k's inner header where the host read the packet
  // (seal encrypted the previous one in place; the crypto does not care
  // what the payload octets are).
  void load_inner(const std::array<uint8_t, 28>& h) noexcept {
    std::memcpy(storage.data() + kHeadroom, h.data(), h.size());
    pb = PacketBuffer::over(storage, kHeadroom, size).value();
  }
  void load_wire(size_t k) noexcept {
    std::memcpy(storage.data() + wire_offset, pool.data() + k * wire_size, wire_size);
    pb = PacketBuffer::over(storage, wire_offset, wire_size).value();
  }

  // refill: seal the pool again (later sequence numbers), each packet for
  // a policy drawn from `order`.
  Status refill(bool one) noexcept {
    for (size_t k = 0; k < kPool; ++k) {
      const uint32_t i = one ? 0 : static_cast<uint32_t>(random() % out.size());
      pool_sa[k] = i;
      load_inner(in_header[i]);
      auto sealed = ipsec::esp::seal(*peer[i], pb);
      if (!sealed) return sealed.status();
      if (wire_size == 0) {
        wire_offset = pb.offset();
        wire_size = pb.size();
        pool.assign(kPool * wire_size, 0);
      }
      if (pb.offset() != wire_offset || pb.size() != wire_size) return Errc::invalid_length;
      std::memcpy(pool.data() + k * wire_size, pb.data().data(), wire_size);
    }
    return Status::success();
  }
};

std::unique_ptr<DpFixture> build_dp(const Suite& suite, size_t n, size_t size) {
  auto f = std::make_unique<DpFixture>();
  f->size = size;
  auto fail_with = [&](Status s) {
    f->status = s;
    return std::move(f);
  };
  ipsec::crypto::SeededRng rng(uint64_t{7});
  ipsec::sa::DatapathConfig config;
  config.workers = 1;
  config.sad.max_inbound = n + 1024;
  config.sad.max_reqids = static_cast<uint32_t>(n + 2);
  auto dp = ipsec::sa::Datapath::create(config);
  if (!dp) return fail_with(dp.status());
  f->dp = std::move(*dp);
  auto spd = build_spd(Shape::site, n);
  if (!spd->status.ok()) return fail_with(spd->status);
  for (Direction d : {Direction::outbound, Direction::inbound}) {
    if (Status s = f->dp->set_policies(d, spd->policies); !s.ok()) return fail_with(s);
  }
  for (size_t i = 0; i < n; ++i) {
    const Policy& policy = spd->policies[kSpecialPolicies + i];
    const uint32_t local = kLocalBase | static_cast<uint32_t>(i & 0xff) << 8 | 7;
    const uint32_t remote = kRemoteBase + static_cast<uint32_t>(i << 8) + 9;
    f->out_header.push_back(f->header(local, remote));
    f->in_header.push_back(f->header(remote, local));

    const std::vector<uint8_t> out_key = key_for(suite, static_cast<uint32_t>(2 * i));
    ipsec::esp::SaConfig oc = inbound_config(suite, static_cast<uint32_t>(0x10000 + i), out_key);
    auto out = ipsec::esp::OutboundSa::create(oc, provider());
    if (!out) return fail_with(out.status());
    f->out.push_back(out->get());
    ipsec::sa::SaBinding ob;
    ob.reqid = policy.reqid;
    ob.selectors.push_back(policy.selector);
    if (Status s = f->dp->sad().install_outbound(std::move(*out), std::move(ob), Timestamp{}); !s.ok()) {
      return fail_with(s);
    }

    auto spi = f->dp->sad().allocate_spi(rng);
    if (!spi) return fail_with(spi.status());
    const std::vector<uint8_t> in_key = key_for(suite, static_cast<uint32_t>(2 * i + 1));
    ipsec::esp::SaConfig ic = inbound_config(suite, *spi, in_key);
    auto in = ipsec::esp::InboundSa::create(ic, provider());
    if (!in) return fail_with(in.status());
    ic.tunnel = tunnel(kPeerGateway, kGateway);
    auto peer = ipsec::esp::OutboundSa::create(ic, provider());
    if (!peer) return fail_with(peer.status());
    f->in.push_back(in->get());
    f->peer.push_back(std::move(*peer));
    ipsec::sa::SaBinding ib;
    ib.reqid = policy.reqid;
    ib.selectors.push_back(policy.selector);
    if (Status s = f->dp->sad().install_inbound(std::move(*in), std::move(ib), Timestamp{}); !s.ok()) {
      return fail_with(s);
    }
  }
  f->storage.assign(kHeadroom + size + kTailroom, 0);
  f->pool_sa.resize(DpFixture::kPool);
  for (size_t k = 0; k < DpFixture::kOrder; ++k) {
    f->order_random.push_back(static_cast<uint32_t>(f->random() % n));
    f->order_one.push_back(0);
  }

  // Round trips: every policy's packet goes out through the datapath, and
  // the peer's packets come in through it, to the right SA, intact.
  const ipsec::sa::ReadSection rs = f->dp->enter(0);
  for (size_t i = 0; i < n; ++i) {
    f->load_inner(f->out_header[i]);
    const ipsec::sa::DatapathResult r = f->dp->outbound(rs, f->pb);
    if (r.verdict != ipsec::sa::Verdict::send) return fail_with(r.status.ok() ? Errc::no_policy : r.status);
    if (r.spi != f->out[i]->spi())
      return fail_with(Status(Errc::invalid_argument, Status::kNoOffset, "out spi"));
  }
  if (Status s = f->refill(false); !s.ok()) return fail_with(s);
  for (size_t k = 0; k < DpFixture::kPool; ++k) {
    f->load_wire(k);
    const ipsec::sa::DatapathResult r = f->dp->inbound(rs, f->pb);
    if (r.verdict != ipsec::sa::Verdict::deliver)
      return fail_with(r.status.ok() ? Errc::unknown_spi : r.status);
    if (r.spi != f->in[f->pool_sa[k]]->spi() || f->pb.size() != size ||
        !std::equal(f->in_header[f->pool_sa[k]].begin(), f->in_header[f->pool_sa[k]].end(),
                    f->pb.data().begin())) {
      return fail_with(Status(Errc::integrity_check_failed, Status::kNoOffset, "inbound round trip"));
    }
  }
  return f;
}

DpFixture* dp_fixture(benchmark::State& state, const Suite& suite, size_t n, size_t size) {
  static std::map<std::pair<size_t, size_t>, std::unique_ptr<DpFixture>> fixtures;
  auto& f = fixtures[{n, size}];
  if (!f) f = build_dp(suite, n, size);
  if (!f->status.ok()) {
    fail(state, "build", f->status);
    return nullptr;
  }
  state.SetLabel(f->out.front()->transforms().aead->backend());
  return f.get();
}

void bm_outbound(benchmark::State& state, Suite suite, size_t n, bool one, size_t size, bool datapath) {
  DpFixture* f = dp_fixture(state, suite, n, size);
  if (f == nullptr) return;
  const ipsec::sa::ReadSection rs = f->dp->enter(0);
  const uint32_t* order = one ? f->order_one.data() : f->order_random.data();
  size_t j = 0;
  for (auto _ : state) {
    const uint32_t i = order[j];
    j = (j + 1) & (DpFixture::kOrder - 1);
    f->load_inner(f->out_header[i]);
    if (datapath) {
      const ipsec::sa::DatapathResult r = f->dp->outbound(rs, f->pb);
      if (r.verdict != ipsec::sa::Verdict::send) {
        fail(state, "outbound", r.status);
        break;
      }
    } else {
      auto sealed = ipsec::esp::seal(*f->out[i], f->pb);
      if (!sealed) {
        fail(state, "seal", sealed.status());
        break;
      }
    }
    benchmark::DoNotOptimize(f->storage.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}

void bm_inbound(benchmark::State& state, Suite suite, size_t n, bool one, size_t size, bool datapath) {
  DpFixture* f = dp_fixture(state, suite, n, size);
  if (f == nullptr) return;
  if (Status s = f->refill(one); !s.ok()) return fail(state, "refill", s);
  const ipsec::sa::ReadSection rs = f->dp->enter(0);
  size_t k = 0;
  for (auto _ : state) {
    if (k == DpFixture::kPool) {
      state.PauseTiming();
      const Status s = f->refill(one);
      state.ResumeTiming();
      if (!s.ok()) {
        fail(state, "refill", s);
        break;
      }
      k = 0;
    }
    const uint32_t i = f->pool_sa[k];
    f->load_wire(k++);
    if (datapath) {
      const ipsec::sa::DatapathResult r = f->dp->inbound(rs, f->pb);
      if (r.verdict != ipsec::sa::Verdict::deliver) {
        fail(state, "inbound", r.status);
        break;
      }
    } else {
      auto opened = ipsec::esp::open(*f->in[i], f->pb);
      if (!opened) {
        fail(state, "open", opened.status());
        break;
      }
    }
    benchmark::DoNotOptimize(f->storage.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}

// ---- Registration ----------------------------------------------------------

template <typename Fn>
void add(const std::string& name, Fn&& fn) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn));
}

bool register_all() {
  for (const Suite& suite : kCreateSuites) {
    add(std::string("sa_create/") + suite.name, [=](benchmark::State& s) { bm_sa_create(s, suite); });
  }
  add("epoch_enter", [](benchmark::State& s) { bm_epoch_enter(s); });
  for (const size_t n : {size_t{1000}, size_t{100000}, size_t{1000000}}) {
    std::string suffix = "/";
    suffix += std::to_string(n);
    add("sad_lookup" + suffix, [=](benchmark::State& s) { bm_sad_lookup(s, n); });
    add("sad_lookup_chain" + suffix, [=](benchmark::State& s) { bm_sad_lookup_chain(s, n); });
    add("sad_lookup_burst16" + suffix, [=](benchmark::State& s) { bm_sad_lookup_burst(s, n); });
    add("floor_lookup" + suffix, [=](benchmark::State& s) { bm_floor_lookup(s, n); });
    add("floor_chain" + suffix, [=](benchmark::State& s) { bm_floor_chain(s, n); });
    add("floor_slot_lookup" + suffix, [=](benchmark::State& s) { bm_floor_slot_lookup(s, n); });
    add("floor_slot_chain" + suffix, [=](benchmark::State& s) { bm_floor_slot_chain(s, n); });
  }
  for (const Shape shape : {Shape::site, Shape::mixed}) {
    for (const size_t n : {size_t{10}, size_t{1000}, size_t{100000}}) {
      const std::string suffix = std::string("/") + shape_name(shape) + "/" + std::to_string(n);
      add("spd_lookup" + suffix, [=](benchmark::State& s) { bm_spd_lookup(s, shape, n); });
      if (n <= 1000) add("spd_linear" + suffix, [=](benchmark::State& s) { bm_spd_linear(s, shape, n); });
    }
  }
  constexpr size_t kDpSas = 1000;
  for (const size_t size : {size_t{64}, size_t{1400}}) {
    for (const bool one : {false, true}) {
      const std::string suffix = std::string("/") + kAes256Gcm.name + "/" + std::to_string(kDpSas) + "/" +
                                 (one ? "one" : "random") + "/" + std::to_string(size);
      const Suite suite = kAes256Gcm;
      add("dp_outbound" + suffix,
          [=](benchmark::State& s) { bm_outbound(s, suite, kDpSas, one, size, true); });
      add("esp_seal" + suffix, [=](benchmark::State& s) { bm_outbound(s, suite, kDpSas, one, size, false); });
      add("dp_inbound" + suffix, [=](benchmark::State& s) { bm_inbound(s, suite, kDpSas, one, size, true); });
      add("esp_open" + suffix, [=](benchmark::State& s) { bm_inbound(s, suite, kDpSas, one, size, false); });
    }
  }
  return true;
}

[[maybe_unused]] const bool registered = register_all();

}  // namespace

BENCHMARK_MAIN();
