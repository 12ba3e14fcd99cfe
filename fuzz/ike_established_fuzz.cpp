// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the IKEv2 engine (ike/engine.hpp) after a real handshake,
// fed arbitrary *protected* messages: payload chains from the input that
// the harness encrypts with the IKE SA's keys (EngineConfig::export_keys,
// the ike_sa_keys event), so they pass the ICV and reach the established
// state's handlers (CREATE_CHILD_SA, INFORMATIONAL, rekeys, collisions,
// windows), interleaved with timers and the host's requests so that the
// engine's own exchanges are outstanding when they arrive.
//
// Per input, from scratch (no state crosses inputs: every finding
// reproduces from its file): two engines (PSK, DefaultProvider, SeededRng
// with fixed seeds, virtual time) run IKE_SA_INIT and IKE_AUTH by direct
// delivery; the one under test keeps going, its peer is dropped and the
// harness speaks for it.
//
// Input: two configuration octets, then records (at most kMaxRecords):
//   c0 bit 0: the engine under test initiated (else it responded)
//      bit 1: IKE SA with AES-CBC-128 + HMAC-SHA2-256-128 (else AES-GCM-16-256)
//      bit 2: its window_size is 4 (else 1)
//      bit 3: child SAs with PFS (x25519 in the ESP proposals)
//      bit 4: lifetimes: child soft/hard 40/80 s, IKE rekey 100 s, DPD 30 s
//      bit 5: its fragment_size is 300 (its messages go as SKF fragments)
//      bit 6: a NAT in front of the initiator (port 4500, RFC 7296 2.23)
//      bit 7: a second child config (reqid 2), created after IKE_AUTH, and
//             at most 4 child SAs per IKE SA (max_child_sas_per_ike_sa)
//   c1 bits 0-2: the host's SpiAllocator refuses after that many SPIs (0: never)
//      bit 3: ESP with AES-CBC-128 + HMAC-SHA2-256-128
//      bit 4: transport mode
//      bit 5: reauthentication every 150 s
//      bit 6: the peer announced a window of 4
//      bit 7: tfc_padding off (ESP_TFC_PADDING_NOT_SUPPORTED)
// Each record starts with an op octet; op % 4:
//   0, 1: a message from the peer:
//         exch | flags | mid | first | length (2, big endian) | payload chain
//     exch  bits 0-1 and 6-7: the exchange (kExchanges, mostly
//           INFORMATIONAL and CREATE_CHILD_SA); bits 2-3: the path (0 the
//           IKE SA's, 1 another remote port, 2 another remote address, 3
//           the other port of 500/4500); bits 4-5: SK (0), or SKF in 2
//           fragments (1), 3 fragments (2), 2 fragments last first (3)
//     flags bit 0: a response; bit 1: the I flag wrong; bit 2: child SPIs
//           in Notify and Delete payloads are fixed up (each 4-octet SPI
//           v names, by v % (2n + 1) over the n installed children, the
//           outbound SPI of one, the inbound SPI of one, or stays v); bit
//           3: one octet of the ICV flipped; bits 4-5: which IKE SA's keys
//           (0 the newest, 1 the one before, 2 the first, 3 the second);
//           bit 6: delivered twice; bit 7: the mid octet is the Message ID
//     mid   requests: the peer's next Message ID + mid % 8 (7: one less);
//           responses: the ID of the (mid % 8)-th latest request the
//           engine sent on that IKE SA
//     first the chain's first payload type (0 with an empty chain: SK {})
//   2: timers: step (1): 0 jumps to next_timeout(), else time advances by
//      step^2 x 4 ms; then on_timer
//   3: a host request: which (1) | arg (1), which % 9: rekey_child,
//      close_child, create_child, rekey_ike, check_liveness, close,
//      reauthenticate, on_sa_event, acquire; child SAs and IKE SAs are
//      picked by arg among those the events reported (one past the end:
//      an unknown one)
// At the end every IKE SA the events named is closed and the timers run dry.
//
// Invariants (abort with a message):
//  - every datagram the engine sends parses, and every protected one opens
//    with the exported keys of its IKE SA (the export is right);
//  - child SAs: an inbound install for an SPI reserved from the host's
//    allocator and not installed, the outbound after it, child_sa_delete
//    only for an installed one; installs minus deletes equal
//    child_sa_count() after every call; no event names an IKE SA after
//    its ike_sa_down;
//  - ike_sa_count() is bounded by the IKE SAs whose keys were made plus the
//    IKE_SA_INITs the engine started;
//  - on_timer leaves no deadline at or before `now` (timer_once), and a few
//    more calls at that time clear it (timer: else a host re-arming its
//    timer from next_timeout() would spin);
//  - closing every IKE SA deletes every child SA; then the timers run dry
//    and leave no IKE SA, and every reserved child SPI was installed or
//    released.
// IPSEC_FUZZ_RELAX=<id>[,<id>...] turns the invariants of those ids
// (child_count, spi, down_event, ike_count, timer_once, timer, drain,
// export) into reports on stderr, to fuzz on past a known bug.
//
// Seeds: IPSEC_FUZZ_IKE_ESTABLISHED_SEEDS=<dir> writes the seed corpus into
// <dir> on the first input, runs each seed, and exits:
//   export IPSEC_FUZZ_IKE_ESTABLISHED_SEEDS=fuzz/corpus/ike_established
//   build/fuzz/fuzz/fuzz_ike_established -runs=1
// IPSEC_FUZZ_IKE_ESTABLISHED_TRACE=1 prints what each input did, and
// IPSEC_FUZZ_LOG=1 the engine's log lines.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipsec/bytes/endian.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/ike/engine.hpp"
#include "ipsec/ike/proposal.hpp"
#include "ipsec/ike/traffic_selectors.hpp"
#include "ipsec/sa/pad.hpp"
#include "ipsec/wire/ike_builder.hpp"
#include "ipsec/wire/ike_fragment.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/ike_sk.hpp"
#include "ipsec/wire/natt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

using namespace ipsec;

namespace {

using Bytes = std::vector<uint8_t>;
using ike::EventKind;
using wire::ExchangeType;
using wire::NotifyType;
using wire::PayloadType;

// ---------------------------------------------------------------------------
// Invariants.

bool relaxed(const char* id) {
  static const std::string list = [] {
    const char* v = std::getenv("IPSEC_FUZZ_RELAX");
    return std::string(v != nullptr ? v : "");
  }();
  if (list.empty()) return false;
  size_t at = 0;
  while (at <= list.size()) {
    const size_t comma = std::min(list.find(',', at), list.size());
    if (list.compare(at, comma - at, id) == 0) return true;
    at = comma + 1;
  }
  return false;
}

void require(bool ok, const char* id, const char* what) {
  if (ok) return;
  if (!relaxed(id)) {
    std::fprintf(stderr, "ike_established_fuzz: invariant violated [%s]: %s\n", id, what);
    std::abort();
  }
  // Relaxed: reported once per process.
  static std::set<std::string> reported;
  if (reported.insert(what).second)
    std::fprintf(stderr, "ike_established_fuzz: invariant violated [%s] (relaxed): %s\n", id, what);
}

bool tracing() {
  static const bool on = std::getenv("IPSEC_FUZZ_IKE_ESTABLISHED_TRACE") != nullptr;
  return on;
}

crypto::Provider& provider() {
  static crypto::DefaultProvider p;
  return p;
}

constexpr uint64_t kSeedA = 0xe57a;  // the initiator's engine
constexpr uint64_t kSeedB = 0xe57b;  // the responder's
constexpr uint64_t kHarnessSeed = 0xe57c;
constexpr size_t kMaxRecords = 64;
constexpr uint16_t kNattPort = 4500;
constexpr uint16_t kNatPortOffset = 40000;
constexpr uint32_t kPadEntry = 7;
constexpr size_t kSmallFragmentSize = 300;
constexpr Timestamp kStart = Timestamp::from_nanoseconds(1'000'000'000);
constexpr std::string_view kPsk = "correct horse battery staple";
const IpAddress kAddressA = IpAddress::parse("192.0.2.1").value();
const IpAddress kAddressB = IpAddress::parse("198.51.100.2").value();
const IpAddress kNatPublic = IpAddress::parse("203.0.113.5").value();
const IpAddress kElsewhere = IpAddress::parse("203.0.113.77").value();

// Exchanges of fuzzed messages: mostly the two of an established IKE SA.
constexpr std::array<uint8_t, 16> kExchanges = {37, 36, 37, 36, 37, 36, 35, 34,
                                                37, 36, 43, 44, 37, 36, 0,  255};

namespace op {
constexpr uint8_t kTimer = 2;
constexpr uint8_t kApi = 3;
}  // namespace op

namespace flag {
constexpr uint8_t kResponse = 0x01;
constexpr uint8_t kWrongI = 0x02;
constexpr uint8_t kFixSpis = 0x04;
constexpr uint8_t kCorrupt = 0x08;
constexpr uint8_t kKeysShift = 4;
constexpr uint8_t kTwice = 0x40;
constexpr uint8_t kRawMid = 0x80;
}  // namespace flag

namespace api {
enum : uint8_t {
  rekey_child,
  close_child,
  create_child,
  rekey_ike,
  check_liveness,
  close,
  reauthenticate,
  sa_event,
  acquire,
  count
};
}  // namespace api

struct Options {
  bool engine_initiator = false;
  bool ike_cbc = false;
  bool window4 = false;
  bool pfs = false;
  bool lifetimes = false;
  bool small_fragments = false;
  bool nat = false;
  bool two_children = false;
  unsigned spi_limit = 0;
  bool esp_cbc = false;
  bool transport = false;
  bool reauth = false;
  bool peer_window4 = false;
  bool no_tfc = false;

  static Options of(uint8_t c0, uint8_t c1) {
    Options o;
    o.engine_initiator = (c0 & 0x01) != 0;
    o.ike_cbc = (c0 & 0x02) != 0;
    o.window4 = (c0 & 0x04) != 0;
    o.pfs = (c0 & 0x08) != 0;
    o.lifetimes = (c0 & 0x10) != 0;
    o.small_fragments = (c0 & 0x20) != 0;
    o.nat = (c0 & 0x40) != 0;
    o.two_children = (c0 & 0x80) != 0;
    o.spi_limit = c1 & 0x07u;
    o.esp_cbc = (c1 & 0x08) != 0;
    o.transport = (c1 & 0x10) != 0;
    o.reauth = (c1 & 0x20) != 0;
    o.peer_window4 = (c1 & 0x40) != 0;
    o.no_tfc = (c1 & 0x80) != 0;
    return o;
  }
  [[nodiscard]] std::string ike_proposals() const {
    return ike_cbc ? "aes128-sha256-x25519" : "aes256gcm16-prfsha256-x25519";
  }
  [[nodiscard]] std::string esp_proposals() const {
    std::string p = esp_cbc ? "aes128-sha256" : "aes256gcm16";
    return pfs ? p + "-x25519" : p;
  }
  [[nodiscard]] size_t children() const { return two_children ? 2 : 1; }
};

// The subnet of side a (the initiator) or b behind child config i.
std::string subnet(bool a, size_t i) {
  static const char* const kNets[2][2] = {{"10.2.0.0/16", "10.12.0.0/16"}, {"10.1.0.0/16", "10.11.0.0/16"}};
  return kNets[a ? 1 : 0][i];
}

ike::TsRange range_of(const std::string& prefix) {
  ike::TsRange r;
  r.addresses = sa::AddressRange::of(IpPrefix::parse(prefix).value());
  return r;
}

// CountingSpis: the host's SpiAllocator, keeping the books: every SPI the
// engine reserves is installed or released, once.
class CountingSpis final : public ike::SpiAllocator {
 public:
  explicit CountingSpis(unsigned limit) : limit_(limit) {}
  [[nodiscard]] Result<uint32_t> allocate() override {
    if (limit_ != 0 && allocated_ >= limit_) return Errc::limit_exceeded;
    ++allocated_;
    const uint32_t spi = next_++;
    reserved.insert(spi);
    return spi;
  }
  void release(uint32_t spi) override {
    require(reserved.erase(spi) == 1, "spi", "SpiAllocator::release of an SPI the engine does not hold");
  }
  std::set<uint32_t> reserved;  // allocated, not yet released or installed

 private:
  unsigned limit_;
  unsigned allocated_ = 0;
  uint32_t next_ = 0x5000;
};

class StderrLog final : public ike::LogSink {
 public:
  explicit StderrLog(const char* prefix) : prefix_(prefix) {}
  void log(ike::LogLevel, std::string_view line) override {
    std::fprintf(stderr, "%s %.*s\n", prefix_, static_cast<int>(line.size()), line.data());
  }

 private:
  const char* prefix_;
};

// Side: one engine with what it owns. `a` is the initiator of the handshake.
struct Side {
  sa::Pad pad;
  std::unique_ptr<crypto::SeededRng> rng;
  std::unique_ptr<StderrLog> log;
  std::unique_ptr<ike::IkeEngine> engine;
};

std::unique_ptr<Side> make_side(bool a, const Options& o, bool under_test, ike::SpiAllocator* spis) {
  auto side = std::make_unique<Side>();
  side->rng = std::make_unique<crypto::SeededRng>(a ? kSeedA : kSeedB);
  const std::string self = a ? "a" : "b", other = a ? "b" : "a";

  ike::Connection c;
  c.name = "tunnel";
  std::vector<sa::Selector> allowed;
  for (size_t i = 0; i < o.children(); ++i) {
    const ike::TsRange local = range_of(subnet(a, i)), remote = range_of(subnet(!a, i));
    sa::Selector sel;
    sel.local = local.addresses;
    sel.remote = remote.addresses;
    allowed.push_back(sel);
    ike::ChildConfig cc;
    cc.proposals = ike::parse_proposals(o.esp_proposals(), wire::ProtocolId::esp).value();
    cc.local_ts = {local};
    cc.remote_ts = {remote};
    cc.mode = o.transport ? esp::Mode::transport : esp::Mode::tunnel;
    cc.reqid = static_cast<uint32_t>(i + 1);
    cc.tfc_padding = !o.no_tfc;
    if (under_test && o.lifetimes) {
      cc.lifetime.soft = std::chrono::seconds(40);
      cc.lifetime.hard = std::chrono::seconds(80);
    }
    c.children.push_back(std::move(cc));
  }
  sa::PadEntryConfig pc;
  pc.id = kPadEntry;
  pc.auth = sa::AuthMethodSet().allow(wire::AuthMethod::shared_key_mic);
  pc.psk = as_bytes(kPsk);
  pc.children = allowed;
  auto entry = sa::PadEntry::make(sa::IdPattern::parse("fqdn:" + other + ".example.test").value(), pc);
  require(entry.ok() && side->pad.add(std::move(*entry)).ok(), "setup", "PAD entry");

  c.local_address = a ? kAddressA : kAddressB;
  // Behind a NAT the initiator's address is not known in advance.
  if (a || !o.nat) c.remote_address = a ? kAddressB : kAddressA;
  c.local_id = ike::Identity::parse("fqdn:" + self + ".example.test").value();
  c.local_auth = ike::LocalAuth::psk;
  c.peer = kPadEntry;
  c.ike_proposals = ike::parse_proposals(o.ike_proposals(), wire::ProtocolId::ike).value();
  if (under_test && o.lifetimes) {
    c.ike_lifetime.rekey = std::chrono::seconds(100);
    c.dpd_delay = std::chrono::seconds(30);
  }
  if (under_test && o.reauth) c.ike_lifetime.reauth = std::chrono::seconds(150);

  ike::EngineConfig config;
  config.connections.push_back(std::move(c));
  config.pad = &side->pad;
  config.window_size = under_test ? (o.window4 ? 4 : 1) : (o.peer_window4 ? 4 : 1);
  config.export_keys = under_test;
  config.spi_allocator = spis;
  if (under_test && o.small_fragments) config.fragment_size = kSmallFragmentSize;
  if (under_test && o.two_children) config.max_child_sas_per_ike_sa = 4;
  if (std::getenv("IPSEC_FUZZ_LOG") != nullptr) {
    side->log = std::make_unique<StderrLog>(under_test ? "[engine]" : "[peer]");
    config.log = side->log.get();
    config.log_level = ike::LogLevel::debug;
  }
  auto engine = ike::IkeEngine::create(std::move(config), provider(), *side->rng);
  require(engine.ok(), "setup", "IkeEngine::create");
  side->engine = std::move(*engine);
  return side;
}

bool natt(const ike::Path& p) { return p.local.port == kNattPort || p.remote.port == kNattPort; }

// ---------------------------------------------------------------------------
// What the harness knows of the engine under test.

// KeySet: one IKE SA's keys, from its ike_sa_keys event.
struct KeySet {
  uint64_t handle = 0;
  uint64_t spi_i = 0, spi_r = 0;
  bool engine_initiator = false;                 // of this IKE SA
  std::optional<wire::SkTransform> to_engine;    // the peer's sending keys
  std::optional<wire::SkTransform> from_engine;  // to open what the engine sends
  uint32_t peer_next_mid = 0;                    // the peer's next request
  std::vector<uint32_t> engine_mids;             // the engine's requests, latest last
};

struct ChildRec {
  uint32_t inbound = 0, outbound = 0;
  uint64_t ike_sa = 0;
  bool outbound_installed = false;
};

struct Sent {
  ike::Path path;
  Bytes bytes;
};

struct Target;

class EngineSink final : public ike::Sink {
 public:
  explicit EngineSink(Target& t) : t_(t) {}
  void send(const ike::OutDatagram& d) override {
    sent.push_back({d.path, Bytes(d.bytes.begin(), d.bytes.end())});
  }
  void on_event(const ike::Event& e) override;
  std::vector<Sent> sent;

 private:
  Target& t_;
};

class PeerSink final : public ike::Sink {
 public:
  void send(const ike::OutDatagram& d) override {
    sent.push_back({d.path, Bytes(d.bytes.begin(), d.bytes.end())});
  }
  void on_event(const ike::Event& e) override { up = up || e.kind == EventKind::ike_sa_up; }
  std::vector<Sent> sent;
  bool up = false;
};

struct Target {
  Options opt;
  Timestamp now = kStart;
  CountingSpis spis;
  std::unique_ptr<Side> self;
  EngineSink sink;
  crypto::SeededRng rng{kHarnessSeed};
  std::vector<std::unique_ptr<KeySet>> keys;  // in the order exported
  std::vector<uint64_t> live;                 // IKE SAs the events named, not down
  std::set<uint64_t> gone;                    // ike_sa_down reported
  std::vector<ChildRec> children;             // installed, in install order
  std::set<uint64_t> inits;                   // SPIi of IKE_SA_INIT requests the engine sent
  ike::Path path;                             // where the peer's messages come from (engine's view)
  size_t events = 0, datagrams_in = 0, datagrams_out = 0;

  explicit Target(const Options& o) : opt(o), spis(o.spi_limit), sink(*this) {}
  ike::IkeEngine& engine() { return *self->engine; }

  KeySet* keys_by_spis(uint64_t spi_i, uint64_t spi_r) {
    for (auto& k : keys) {
      if (k->spi_i == spi_i && k->spi_r == spi_r) return k.get();
    }
    return nullptr;
  }
  ChildRec* child(uint32_t inbound) {
    for (ChildRec& c : children) {
      if (c.inbound == inbound) return &c;
    }
    return nullptr;
  }
  void add_live(uint64_t handle) {
    if (std::find(live.begin(), live.end(), handle) == live.end()) live.push_back(handle);
  }
};

void EngineSink::on_event(const ike::Event& e) {
  Target& t = t_;
  ++t.events;
  if (tracing()) {
    std::fprintf(stderr, "  event %016llx %s %.*s\n", static_cast<unsigned long long>(e.ike_sa),
                 std::string(ike::to_string(e.kind)).c_str(), static_cast<int>(e.detail.size()),
                 e.detail.data());
  }
  require(t.gone.count(e.ike_sa) == 0, "down_event", "an event names an IKE SA after its ike_sa_down");
  switch (e.kind) {
    case EventKind::ike_sa_up: t.add_live(e.ike_sa); break;
    case EventKind::ike_sa_down:
      t.gone.insert(e.ike_sa);
      std::erase(t.live, e.ike_sa);
      for (const ChildRec& c : t.children) {
        require(c.ike_sa != e.ike_sa, "child_count",
                "ike_sa_down before the child_sa_delete of its children");
      }
      break;
    case EventKind::ike_sa_rekeyed:
      t.add_live(e.ike_sa);
      // 2.18: the children move to the new IKE SA.
      for (ChildRec& c : t.children) {
        if (c.ike_sa == e.previous_ike_sa) c.ike_sa = e.ike_sa;
      }
      break;
    case EventKind::ike_sa_keys: {
      require(e.ike_keys != nullptr, "export", "ike_sa_keys without keys");
      if (e.ike_keys == nullptr) break;
      const ike::IkeKeys& k = *e.ike_keys;
      auto ks = std::make_unique<KeySet>();
      ks->handle = e.ike_sa;
      ks->spi_i = k.spi_i;
      ks->spi_r = k.spi_r;
      ks->engine_initiator = e.ike_sa == k.spi_i;
      require(e.ike_sa == k.spi_i || e.ike_sa == k.spi_r, "export", "ike_sa_keys: the handle is neither SPI");
      auto to_r = wire::SkTransform::make(provider(), k.encr, k.encr_key_bits, k.integ, k.sk_ei, k.sk_ai);
      auto to_i = wire::SkTransform::make(provider(), k.encr, k.encr_key_bits, k.integ, k.sk_er, k.sk_ar);
      require(to_r.ok() && to_i.ok(), "export", "ike_sa_keys: the keys make no SK transform");
      if (!to_r.ok() || !to_i.ok()) break;
      if (ks->engine_initiator) {
        ks->from_engine.emplace(std::move(*to_r));
        ks->to_engine.emplace(std::move(*to_i));
      } else {
        ks->from_engine.emplace(std::move(*to_i));
        ks->to_engine.emplace(std::move(*to_r));
      }
      t.keys.push_back(std::move(ks));
      t.add_live(e.ike_sa);
      break;
    }
    case EventKind::child_sa_install: {
      require(e.child != nullptr, "child_count", "child_sa_install without a child");
      if (e.child == nullptr) break;
      const uint32_t spi = e.child->inbound_spi;
      if (e.direction == sa::Direction::inbound) {
        require(t.child(spi) == nullptr, "child_count", "inbound child SA installed twice");
        require(t.spis.reserved.erase(spi) == 1, "spi", "child SA installed with an SPI not reserved");
        t.children.push_back(ChildRec{spi, e.child->outbound_spi, e.ike_sa, false});
      } else {
        ChildRec* c = t.child(spi);
        require(c != nullptr && !c->outbound_installed, "child_count",
                "outbound child SA installed without its inbound, or twice");
        if (c != nullptr) c->outbound_installed = true;
      }
      break;
    }
    case EventKind::child_sa_up:
      require(e.child != nullptr && t.child(e.child->inbound_spi) != nullptr, "child_count",
              "child_sa_up for a child SA not installed");
      break;
    case EventKind::child_sa_delete: {
      require(e.child != nullptr, "child_count", "child_sa_delete without a child");
      if (e.child == nullptr) break;
      const uint32_t spi = e.child->inbound_spi;
      const size_t before = t.children.size();
      std::erase_if(t.children, [&](const ChildRec& c) { return c.inbound == spi; });
      require(t.children.size() + 1 == before, "child_count", "child_sa_delete for a child SA not installed");
      break;
    }
    case EventKind::child_sa_failed:
    case EventKind::proposal_mismatch:
    case EventKind::authentication_failed:
    case EventKind::peer_address_changed: break;
  }
}

// check_sent: everything the engine sent since the last call parses, and
// opens with the exported keys of its IKE SA; its requests' IDs are noted.
void check_sent(Target& t, std::vector<Sent>* forward = nullptr) {
  std::vector<Sent> sent = std::move(t.sink.sent);
  t.sink.sent.clear();
  for (Sent& d : sent) {
    ++t.datagrams_out;
    ByteView m(d.bytes);
    if (natt(d.path)) {
      require(m.size() >= wire::kNonEspMarkerSize && load_be32(m.first<4>()) == 0, "export",
              "a datagram to port 4500 without the non-ESP marker");
      m = m.subspan(std::min(m.size(), wire::kNonEspMarkerSize));
    }
    wire::ParsedMessage pm;
    require(wire::parse_message(m, &pm).ok(), "export", "the engine sent a message that does not parse");
    const wire::IkeHeader& h = pm.header;
    if (h.exchange == ExchangeType::ike_sa_init) {
      if (!h.response()) t.inits.insert(h.spi_i);
    } else if (KeySet* k = t.keys_by_spis(h.spi_i, h.spi_r)) {
      const wire::PayloadView* p = pm.protected_payload();
      require(p != nullptr, "export", "an unprotected message on an IKE SA with keys");
      Bytes copy(m.begin(), m.end());
      wire::ParsedMessage again;
      bool opened = wire::parse_message(copy, &again).ok();
      if (opened && p != nullptr && p->type == PayloadType::sk) {
        opened = wire::open_protected_message(*k->from_engine, copy, again).ok();
      } else if (opened && p != nullptr) {
        opened = wire::open_fragment(*k->from_engine, copy, again).ok();
      }
      require(opened, "export", "a message the engine sent does not open with its exported keys");
      if (!h.response() &&
          std::find(k->engine_mids.begin(), k->engine_mids.end(), h.message_id) == k->engine_mids.end()) {
        k->engine_mids.push_back(h.message_id);
        if (k->engine_mids.size() > 16) k->engine_mids.erase(k->engine_mids.begin());
      }
    }
    if (forward != nullptr) forward->push_back(std::move(d));
  }
}

// check_state: the books after every call into the engine.
void check_state(Target& t) {
  require(t.children.size() == t.engine().child_sa_count(), "child_count",
          "installs minus deletes differ from child_sa_count()");
  require(t.engine().ike_sa_count() <= t.keys.size() + t.inits.size() && t.engine().ike_sa_count() <= 256,
          "ike_count", "more IKE SAs than were keyed or initiated");
}

// note_peer_request: a request of the peer reached the engine: the next
// one gets a higher ID.
void note_peer_request(Target& t, ByteView message) {
  auto h = wire::parse_ike_header(message);
  if (!h || h->response() || h->exchange == ExchangeType::ike_sa_init) return;
  KeySet* k = t.keys_by_spis(h->spi_i, h->spi_r);
  if (k != nullptr && h->message_id >= k->peer_next_mid && h->message_id - k->peer_next_mid < 64)
    k->peer_next_mid = h->message_id + 1;
}

void deliver(Target& t, const ike::Path& path, Bytes datagram) {
  ++t.datagrams_in;
  t.engine().receive(t.now, path, datagram, t.sink);
  check_sent(t);
  check_state(t);
}

// ---------------------------------------------------------------------------
// The handshake, by direct delivery (a NAT in front of the initiator when
// opt.nat rewrites its address and ports, as ike_sim.hpp's link does).

ike::Path arriving(const ike::Path& sent, bool from_a, bool nat) {
  ike::Path p{sent.remote, sent.local};
  if (nat && from_a) {
    p.remote.address = kNatPublic;
    p.remote.port = static_cast<uint16_t>(sent.local.port + kNatPortOffset);
  } else if (nat && sent.remote.address == kNatPublic) {
    p.local.address = kAddressA;
    p.local.port = static_cast<uint16_t>(sent.remote.port - kNatPortOffset);
  }
  return p;
}

bool handshake(Target& t) {
  const Options& o = t.opt;
  const bool a_is_engine = o.engine_initiator;
  t.self = make_side(a_is_engine, o, true, &t.spis);
  std::unique_ptr<Side> peer = make_side(!a_is_engine, o, false, nullptr);
  PeerSink peer_sink;
  ike::IkeEngine& a = a_is_engine ? t.engine() : *peer->engine;
  ike::Sink& a_sink = a_is_engine ? static_cast<ike::Sink&>(t.sink) : peer_sink;
  // Both arms of a's and a_sink's conditionals are lvalues: no temporary is bound.
  // cppcheck-suppress danglingTempReference
  require(a.initiate("tunnel", t.now, a_sink).ok(), "setup", "initiate");
  for (int round = 0; round < 32; ++round) {
    std::vector<Sent> to_peer;
    check_sent(t, &to_peer);
    for (Sent& d : to_peer) {
      peer->engine->receive(t.now, arriving(d.path, a_is_engine, o.nat), d.bytes, peer_sink);
    }
    std::vector<Sent> to_engine = std::move(peer_sink.sent);
    peer_sink.sent.clear();
    if (to_peer.empty() && to_engine.empty()) break;
    for (Sent& d : to_engine) {
      const ike::Path p = arriving(d.path, !a_is_engine, o.nat);
      t.path = p;
      Bytes copy = d.bytes;
      t.engine().receive(t.now, p, d.bytes, t.sink);
      note_peer_request(t, natt(p) ? ByteView(copy).subspan(wire::kNonEspMarkerSize) : ByteView(copy));
    }
  }
  check_state(t);
  return peer_sink.up && t.engine().established_count() == 1 && !t.keys.empty();
}

// ---------------------------------------------------------------------------
// Records.

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  [[nodiscard]] bool done() const { return at_ >= size_; }
  uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
  size_t u16() {
    const size_t hi = u8();
    return hi << 8 | u8();
  }
  ByteView take(size_t n) {
    n = std::min(n, size_ - std::min(at_, size_));
    const ByteView v(data_ + at_, n);
    at_ += n;
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

// fix_spi: the fixup of one 4-octet child SPI in a fuzzed chain.
void fix_spi(const Target& t, uint8_t* at) {
  const std::span<uint8_t, 4> v(at, 4);
  const size_t n = t.children.size();
  const uint32_t x = load_be32(v);
  const size_t pick = x % (2 * n + 1);
  if (pick < n) store_be32(v, t.children[pick].outbound);
  if (pick >= n && pick < 2 * n) store_be32(v, t.children[pick - n].inbound);
}

void fix_spis(const Target& t, Bytes& chain, uint8_t first) {
  wire::ParsedMessage pm;
  (void)wire::parse_payload_chain(static_cast<PayloadType>(first), chain, 0, true, &pm);
  for (const wire::PayloadView& p : pm.payloads()) {
    if (p.body.size() < 4 || (p.type != PayloadType::notify && p.type != PayloadType::del)) continue;
    const auto at = static_cast<size_t>(p.body.data() - chain.data());
    if (at + p.body.size() > chain.size() || chain[at + 1] != 4) continue;  // SPI Size
    if (p.type == PayloadType::notify) {
      if (p.body.size() >= 8) fix_spi(t, &chain[at + 4]);
      continue;
    }
    const size_t count = load_be16(std::span<const uint8_t, 2>(&chain[at + 2], 2));
    for (size_t i = 0; i < count && at + 8 + 4 * i <= at + p.body.size(); ++i)
      fix_spi(t, &chain[at + 4 + 4 * i]);
  }
}

KeySet* pick_keys(Target& t, unsigned which) {
  if (t.keys.empty()) return nullptr;
  const size_t n = t.keys.size();
  switch (which) {
    case 0: return t.keys[n - 1].get();
    case 1: return t.keys[n >= 2 ? n - 2 : 0].get();
    case 2: return t.keys[0].get();
    default: return t.keys[n >= 2 ? 1 : 0].get();
  }
}

ike::Path path_variant(const Target& t, unsigned v) {
  ike::Path p = t.path;
  switch (v) {
    case 1: p.remote.port = static_cast<uint16_t>(p.remote.port + 1); break;
    case 2: p.remote.address = kElsewhere; break;
    case 3: {
      const uint16_t port = natt(p) ? 500 : kNattPort;
      p.local.port = port;
      p.remote.port = port;
      break;
    }
    default: break;
  }
  return p;
}

void message(Target& t, Reader& in) {
  const uint8_t exch = in.u8(), flags = in.u8(), mid_sel = in.u8(), first = in.u8();
  const size_t length = in.u16();
  const ByteView body = in.take(length);
  KeySet* k = pick_keys(t, (flags >> flag::kKeysShift) & 3u);
  if (k == nullptr) return;
  Bytes chain(body.begin(), body.end());
  if ((flags & flag::kFixSpis) != 0) fix_spis(t, chain, first);

  const bool response = (flags & flag::kResponse) != 0;
  wire::IkeHeader h;
  h.spi_i = k->spi_i;
  h.spi_r = k->spi_r;
  h.exchange = static_cast<ExchangeType>(kExchanges[(exch & 3u) | ((exch >> 4) & 0x0cu)]);
  const bool i_flag = !k->engine_initiator != ((flags & flag::kWrongI) != 0);
  h.flags = static_cast<uint8_t>((i_flag ? wire::ike_flag::kInitiator : 0) |
                                 (response ? wire::ike_flag::kResponse : 0));
  if ((flags & flag::kRawMid) != 0) {
    h.message_id = mid_sel;
  } else if (!response) {
    const unsigned d = mid_sel % 8u;
    h.message_id = d == 7 ? k->peer_next_mid - 1 : k->peer_next_mid + d;
  } else {
    const size_t back = mid_sel % 8u;
    h.message_id = back < k->engine_mids.size() ? k->engine_mids[k->engine_mids.size() - 1 - back] : 0;
  }

  std::vector<Bytes> messages;
  static Bytes storage(limits::kMaxIkeMessageSize);
  const unsigned fragments = (exch >> 4) & 3u;
  wire::SkTransform& keys = *k->to_engine;
  if (fragments != 0 && !chain.empty() && first != 0) {
    const size_t parts = fragments == 2 ? 3 : 2;
    const size_t per = (chain.size() + parts - 1) / parts;
    const size_t block = keys.block_size();
    const size_t max = wire::kIkeHeaderSize + wire::kSkfHeaderSize + keys.iv_size() + keys.icv_size() +
                       (per + 1 + block - 1) / block * block;
    auto f = wire::Fragmenter::make(h, static_cast<PayloadType>(first), chain, keys, max);
    if (f) {
      for (uint16_t n = 1; n <= f->count(); ++n) {
        auto m = f->build(n, keys, t.rng, storage);
        if (m) messages.emplace_back(m->begin(), m->end());
      }
    }
    if (fragments == 3) std::reverse(messages.begin(), messages.end());
  }
  if (messages.empty()) {
    auto m = wire::build_protected_message(h, static_cast<PayloadType>(first), chain, keys, t.rng, storage);
    if (!m) return;  // too long
    messages.emplace_back(m->begin(), m->end());
  }
  if ((flags & flag::kCorrupt) != 0) messages.back().back() ^= 0x01;

  const ike::Path path = path_variant(t, (exch >> 2) & 3u);
  if (tracing()) {
    std::fprintf(stderr, "message %s %s mid %u on %016llx, %zu octets of payloads, %zu datagram(s)\n",
                 std::string(to_string(h.exchange)).c_str(), response ? "response" : "request", h.message_id,
                 static_cast<unsigned long long>(k->handle), chain.size(), messages.size());
  }
  const uint32_t mid = h.message_id;
  for (const Bytes& m : messages) {
    Bytes datagram;
    if (natt(path)) datagram.assign(wire::kNonEspMarkerSize, 0);
    datagram.insert(datagram.end(), m.begin(), m.end());
    for (int i = 0; i < ((flags & flag::kTwice) != 0 ? 2 : 1); ++i) deliver(t, path, datagram);
  }
  // The keys may be gone (the vector only grows: k stays valid).
  if (!response && mid >= k->peer_next_mid && mid - k->peer_next_mid < 8) k->peer_next_mid = mid + 1;
}

void timer(Target& t, Reader& in) {
  const uint8_t step = in.u8();
  if (step == 0) {
    const std::optional<Timestamp> next = t.engine().next_timeout();
    t.now = next && *next > t.now ? *next : t.now + std::chrono::seconds(1);
  } else {
    t.now = t.now + std::chrono::milliseconds(4 * int64_t{step} * step);
  }
  if (tracing())
    std::fprintf(stderr, "timer at %.3f s\n", std::chrono::duration<double>(t.now - kStart).count());
  t.engine().on_timer(t.now, t.sink);
  check_sent(t);
  check_state(t);
  std::optional<Timestamp> next = t.engine().next_timeout();
  if (!next || *next > t.now) return;
  require(false, "timer_once", "on_timer left a deadline at or before now");
  // A host re-arms its timer from next_timeout(): it calls again at once.
  for (int i = 0; i < 4 && next && *next <= t.now; ++i) {
    t.engine().on_timer(t.now, t.sink);
    check_sent(t);
    check_state(t);
    next = t.engine().next_timeout();
  }
  require(!next || *next > t.now, "timer", "on_timer keeps a deadline at or before now (a host would spin)");
}

uint64_t pick_ike(const Target& t, uint8_t arg) {
  const size_t i = arg % (t.live.size() + 1);
  return i < t.live.size() ? t.live[i] : 0x0123456789abcdefULL;
}
const ChildRec* pick_child(const Target& t, uint8_t arg) {
  const size_t i = arg % (t.children.size() + 1);
  return i < t.children.size() ? &t.children[i] : nullptr;
}

void host(Target& t, Reader& in) {
  const uint8_t which = in.u8() % api::count, arg = in.u8();
  ike::IkeEngine& e = t.engine();
  const ChildRec* c = pick_child(t, arg);
  const uint32_t spi = c != nullptr ? c->inbound : 0x00abcdefu;
  Status st;
  switch (which) {
    case api::rekey_child: st = e.rekey_child(spi, t.now, t.sink); break;
    case api::close_child: st = e.close_child(spi, t.now, t.sink); break;
    case api::create_child: st = e.create_child(pick_ike(t, arg & 15u), arg >> 6, t.now, t.sink); break;
    case api::rekey_ike: st = e.rekey_ike(pick_ike(t, arg), t.now, t.sink); break;
    case api::check_liveness: st = e.check_liveness(pick_ike(t, arg), t.now, t.sink); break;
    case api::close: st = e.close(pick_ike(t, arg), t.now, t.sink); break;
    case api::reauthenticate: st = e.reauthenticate(pick_ike(t, arg), t.now, t.sink); break;
    case api::sa_event: {
      sa::SaEvent ev;
      ev.kind = (arg & 0x40) != 0 ? sa::SaEventKind::expired : sa::SaEventKind::rekey_needed;
      ev.direction = (arg & 0x80) != 0 ? sa::Direction::outbound : sa::Direction::inbound;
      ev.spi = c == nullptr ? spi : ev.direction == sa::Direction::inbound ? c->inbound : c->outbound;
      ev.reqid = 1 + ((arg >> 4) & 1u);
      e.on_sa_event(ev, t.now, t.sink);
      break;
    }
    case api::acquire: st = e.acquire(1 + arg % 3u, t.now, t.sink); break;
    default: break;
  }
  if (tracing())
    std::fprintf(stderr, "host request %u (%u): %s\n", which, arg, std::string(st.name()).c_str());
  check_sent(t);
  check_state(t);
}

// finish: close every IKE SA the events named, then run the timers dry.
void finish(Target& t) {
  const std::vector<uint64_t> handles = t.live;
  for (uint64_t h : handles) {
    (void)t.engine().close(h, t.now, t.sink);
    check_sent(t);
    check_state(t);
  }
  require(t.children.empty() && t.engine().child_sa_count() == 0, "drain",
          "closing every IKE SA leaves child SAs installed");
  const size_t bound = 16 * (t.engine().ike_sa_count() + 1);
  for (size_t i = 0; i < bound; ++i) {
    const std::optional<Timestamp> next = t.engine().next_timeout();
    if (!next) break;
    // A deadline in the past (a [timer] finding, when relaxed) must not
    // stop the clock.
    t.now = *next > t.now ? *next : t.now + std::chrono::seconds(1);
    t.engine().on_timer(t.now, t.sink);
    check_sent(t);
    check_state(t);
    // Whatever came up meanwhile (a reauthentication, a DPD restart) goes too.
    const std::vector<uint64_t> more = t.live;
    for (uint64_t h : more) (void)t.engine().close(h, t.now, t.sink);
    check_sent(t);
  }
  require(!t.engine().next_timeout().has_value(), "drain", "the timers do not run dry");
  require(t.engine().ike_sa_count() == 0, "drain", "IKE SAs outlive close() and their timers");
  require(t.children.empty() && t.engine().child_sa_count() == 0, "drain", "child SAs outlive their IKE SA");
  require(t.spis.reserved.empty(), "spi", "a reserved child SPI was neither installed nor released");
}

// What the last input did, for the seed writer's report.
struct Summary {
  uint64_t child_rekeys = 0, ike_rekeys = 0, collisions = 0, dropped = 0;
  size_t key_sets = 0, events = 0;
};
Summary g_last;

int run(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Reader in(data, size);
  const uint8_t c0 = in.u8(), c1 = in.u8();
  Target t(Options::of(c0, c1));
  if (tracing()) std::fprintf(stderr, "config %02x %02x\n", c0, c1);
  if (!handshake(t)) {
    // Every configuration makes an IKE SA; a handshake that fails is a bug
    // of the engine, not of the input.
    require(false, "setup", "the handshake does not complete");
    return 0;
  }
  for (size_t n = 0; n < kMaxRecords && !in.done(); ++n) {
    const uint8_t o = in.u8();
    switch (o % 4u) {
      case op::kTimer: timer(t, in); break;
      case op::kApi: host(t, in); break;
      default: message(t, in); break;
    }
  }
  {
    const ike::EngineStats& st = t.engine().stats();
    g_last = Summary{st.child_rekeys, st.ike_rekeys, st.collisions, st.dropped, t.keys.size(), t.events};
  }
  finish(t);
  if (tracing()) {
    const ike::EngineStats& s = t.engine().stats();
    std::fprintf(stderr,
                 "done: %zu datagrams in, %zu out, %zu events; received %llu dropped %llu child_rekeys %llu "
                 "ike_rekeys %llu collisions %llu, %zu key sets\n",
                 t.datagrams_in, t.datagrams_out, t.events, static_cast<unsigned long long>(s.received),
                 static_cast<unsigned long long>(s.dropped), static_cast<unsigned long long>(s.child_rekeys),
                 static_cast<unsigned long long>(s.ike_rekeys), static_cast<unsigned long long>(s.collisions),
                 t.keys.size());
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Seeds (IPSEC_FUZZ_IKE_ESTABLISHED_SEEDS): valid sequences for a few
// configurations, built with the wire builders.

struct Chain {
  PayloadType first = PayloadType::none;
  Bytes bytes;
};

template <typename Fill>
Chain make_chain(Fill fill) {
  Bytes buf(4096);
  wire::ChainBuilder b(buf);
  fill(b.payloads());
  auto r = b.finish();
  require(r.ok(), "seed", "build a chain");
  return {b.first_type(), Bytes(r->begin(), r->end())};
}

constexpr uint8_t kInfo = 0;   // kExchanges[0]: INFORMATIONAL
constexpr uint8_t kChild = 1;  // kExchanges[1]: CREATE_CHILD_SA

class Input {
 public:
  Input(uint8_t c0, uint8_t c1) : b_{c0, c1} {}
  // request, response: a message from the peer (exch: kInfo or kChild,
  // with fragment and path bits; flags: the flag:: bits beyond kResponse).
  Input& request(uint8_t exch, const Chain& c, uint8_t flags = 0, uint8_t mid = 0) {
    return message(exch, flags, mid, c);
  }
  Input& response(uint8_t exch, const Chain& c, uint8_t flags = 0, uint8_t back = 0) {
    return message(exch, static_cast<uint8_t>(flags | flag::kResponse), back, c);
  }
  Input& timer(uint8_t step) {
    b_.insert(b_.end(), {op::kTimer, step});
    return *this;
  }
  Input& host(uint8_t which, uint8_t arg = 0) {
    b_.insert(b_.end(), {op::kApi, which, arg});
    return *this;
  }
  [[nodiscard]] const Bytes& bytes() const { return b_; }

 private:
  Input& message(uint8_t exch, uint8_t flags, uint8_t mid, const Chain& c) {
    b_.insert(b_.end(), {0, exch, flags, mid, static_cast<uint8_t>(c.first),
                         static_cast<uint8_t>(c.bytes.size() >> 8), static_cast<uint8_t>(c.bytes.size())});
    b_.insert(b_.end(), c.bytes.begin(), c.bytes.end());
    return *this;
  }
  Bytes b_;
};

// Chains: what the peer of configuration `o` sends.
class Chains {
 public:
  explicit Chains(const Options& o) : o_(o) {
    crypto::SeededRng rng(0x5eed);
    ke_ = provider().make_key_exchange(crypto::KeGroup::curve25519, rng).value();
    esp_ = ike::parse_proposals(o.esp_proposals(), wire::ProtocolId::esp).value().front().transforms;
    ike_ = ike::parse_proposals(o.ike_proposals(), wire::ProtocolId::ike).value().front().transforms;
    nonce_.assign(32, 0x4e);
    // The engine under test is side a when it initiated.
    for (size_t i = 0; i < 2; ++i) {
      engine_[i] = range_of(subnet(o.engine_initiator, i));
      peer_[i] = range_of(subnet(!o.engine_initiator, i));
    }
  }
  // child: SA, Nonce, [KE], TSi, TSr of a CREATE_CHILD_SA request of the
  // peer (rekey: N(REKEY_SA) for the child SPI fixed up from 0) or of the
  // response to the engine's.
  [[nodiscard]] Chain child(bool request, size_t config = 0, bool rekey = false) const {
    return make_chain([&](wire::PayloadChainWriter& w) {
      static const std::array<uint8_t, 4> kZero{};
      if (rekey) w.add_notify(wire::NotifyPayload{wire::ProtocolId::esp, NotifyType::rekey_sa, kZero, {}});
      if (o_.transport) w.add_notify(NotifyType::use_transport_mode);
      const wire::Proposal p{1, wire::ProtocolId::esp, kChildSpi, esp_};
      w.add_sa(std::span<const wire::Proposal>(&p, 1));
      w.add_nonce(nonce_);
      if (o_.pfs) w.add_ke({ke_->group(), ke_->public_value()});
      const wire::TrafficSelector tsi = ike::to_wire(request ? peer_[config] : engine_[config]);
      const wire::TrafficSelector tsr = ike::to_wire(request ? engine_[config] : peer_[config]);
      w.add_ts(PayloadType::ts_i, std::span<const wire::TrafficSelector>(&tsi, 1));
      w.add_ts(PayloadType::ts_r, std::span<const wire::TrafficSelector>(&tsr, 1));
    });
  }
  // ike_rekey: SA (IKE, a new SPI), Nonce, KE: a request or its answer.
  [[nodiscard]] Chain ike_rekey() const {
    return make_chain([&](wire::PayloadChainWriter& w) {
      const wire::Proposal p{1, wire::ProtocolId::ike, kIkeSpi, ike_};
      w.add_sa(std::span<const wire::Proposal>(&p, 1));
      w.add_nonce(nonce_);
      w.add_ke({ke_->group(), ke_->public_value()});
    });
  }
  // delete_child: Delete(ESP) of the SPI fixed up from `pick`.
  [[nodiscard]] static Chain delete_child(uint32_t pick = 0) {
    std::array<uint8_t, 4> spi{};
    store_be32(spi, pick);
    return make_chain([&](wire::PayloadChainWriter& w) {
      w.add_delete(wire::DeletePayload{wire::ProtocolId::esp, 4, 1, spi});
    });
  }
  [[nodiscard]] static Chain delete_ike() {
    return make_chain([&](wire::PayloadChainWriter& w) {
      w.add_delete(wire::DeletePayload{wire::ProtocolId::ike, 0, 0, {}});
    });
  }
  [[nodiscard]] static Chain notify(NotifyType type, ByteView data = {}) {
    return make_chain([&](wire::PayloadChainWriter& w) { w.add_notify(type, data); });
  }
  [[nodiscard]] static Chain empty() { return {}; }
  [[nodiscard]] ByteView ke_value() const { return ke_->public_value(); }

 private:
  static constexpr std::array<uint8_t, 4> kChildSpi = {0xc1, 0x1d, 0x5a, 0x01};
  static constexpr std::array<uint8_t, 8> kIkeSpi = {0x1e, 0x2e, 0x3e, 0x4e, 0x5e, 0x6e, 0x7e, 0x8e};
  Options o_;
  std::unique_ptr<crypto::KeyExchange> ke_;
  std::vector<wire::Transform> esp_, ike_;
  Bytes nonce_;
  ike::TsRange engine_[2], peer_[2];
};

void write_seeds(const std::string& dir) {
  // (c0, c1): responder/GCM/window 1; initiator/GCM; responder/CBC/window 4
  // (and a peer window of 4); initiator/CBC/PFS with ESP-CBC and transport
  // mode; initiator behind a NAT/PFS/window 4; responder/PFS/two child
  // configs; responder with lifetimes and fragments.
  const std::array<std::pair<uint8_t, uint8_t>, 7> configs = {
      {{0x00, 0x00}, {0x01, 0x00}, {0x06, 0x40}, {0x0b, 0x18}, {0x4d, 0x40}, {0x88, 0x00}, {0x30, 0x00}}};
  std::vector<std::pair<std::string, Input>> seeds;
  for (const auto& [c0, c1] : configs) {
    const Options o = Options::of(c0, c1);
    const Chains c(o);
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "-%02x%02x", c0, c1);
    auto add = [&](const char* name, const Input& in) { seeds.emplace_back(std::string(name) + suffix, in); };
    std::array<uint8_t, 4> window{};
    store_be32(window, 4);
    const std::array<uint8_t, 2> x25519 = {0, 31};
    const uint8_t fix = flag::kFixSpis;
    const uint8_t previous = 1u << flag::kKeysShift;  // the keys of the IKE SA before the newest
    const uint8_t fragments = 0x10;                   // exch: SKF, 2 fragments

    add("info-empty", Input(c0, c1).request(kInfo, c.empty()).request(kInfo, c.empty(), flag::kTwice));
    add("info-retransmit", Input(c0, c1).request(kInfo, c.empty()).request(kInfo, c.empty(), 0, 7));
    add("delete-child", Input(c0, c1).request(kInfo, c.delete_child(), fix));
    add("delete-ike", Input(c0, c1).request(kInfo, c.delete_ike()));
    add("auth-failed", Input(c0, c1).request(kInfo, c.notify(NotifyType::authentication_failed)));
    add("window", Input(c0, c1)
                      .request(kInfo, c.notify(NotifyType::set_window_size, window))
                      .host(api::rekey_child)
                      .host(api::check_liveness)
                      .host(api::create_child)
                      .response(kInfo, c.empty(), 0, 1)
                      .response(kChild, c.child(false), 0, 0)
                      .response(kChild, c.child(false), 0, 2));
    add("create-child", Input(c0, c1).request(kChild, c.child(true)).request(kInfo, c.delete_child(1), fix));
    add("create-child-fragments", Input(c0, c1).request(kChild | fragments, c.child(true)));
    add("rekey-child", Input(c0, c1)
                           .request(kChild, c.child(true, 0, true), fix)
                           .request(kInfo, c.delete_child(0), fix)
                           .timer(0));
    add("rekey-child-no-delete",
        Input(c0, c1).request(kChild, c.child(true, 0, true), fix).timer(0).timer(0));
    add("rekey-ike", Input(c0, c1)
                         .request(kChild, c.ike_rekey())
                         .request(kInfo, c.delete_ike(), previous)
                         .request(kInfo, c.empty())
                         .host(api::rekey_child));
    add("our-rekey-child", Input(c0, c1)
                               .host(api::rekey_child)
                               .response(kChild, c.child(false))
                               .response(kInfo, c.delete_child(0), fix));
    add("our-rekey-ike", Input(c0, c1)
                             .host(api::rekey_ike)
                             .response(kChild, c.ike_rekey())
                             .response(kInfo, c.empty(), previous)
                             .request(kInfo, c.empty())
                             .host(api::rekey_child));
    add("our-create-child", Input(c0, c1).host(api::create_child).response(kChild, c.child(false)));
    add("our-liveness", Input(c0, c1).host(api::check_liveness).response(kInfo, c.empty()));
    add("our-close-child",
        Input(c0, c1).host(api::close_child).response(kInfo, c.delete_child(0), fix).timer(200));
    add("our-close", Input(c0, c1).host(api::close).response(kInfo, c.empty()));
    add("collision-child", Input(c0, c1)
                               .host(api::rekey_child)
                               .request(kChild, c.child(true, 0, true), fix)
                               .response(kChild, c.child(false))
                               .timer(0)
                               .timer(0));
    // The peer's rekey made the newest IKE SA: the answer to ours goes on
    // the one before.
    add("collision-ike", Input(c0, c1)
                             .host(api::rekey_ike)
                             .request(kChild, c.ike_rekey())
                             .response(kChild, c.ike_rekey(), previous)
                             .timer(0)
                             .timer(0));
    add("refused", Input(c0, c1)
                       .host(api::rekey_child)
                       .response(kChild, c.notify(NotifyType::temporary_failure))
                       .timer(0)
                       .response(kChild, c.notify(NotifyType::child_sa_not_found))
                       .timer(0)
                       .response(kChild, c.notify(NotifyType::invalid_ke_payload, x25519))
                       .response(kChild, c.child(false)));
    add("refused-ike", Input(c0, c1)
                           .host(api::rekey_ike)
                           .response(kChild, c.notify(NotifyType::temporary_failure))
                           .timer(0)
                           .response(kChild, c.notify(NotifyType::invalid_ke_payload, x25519))
                           .response(kChild, c.ike_rekey()));
    add("timers", Input(c0, c1).timer(0).timer(0).response(kInfo, c.empty()).timer(0).timer(0).timer(255));
    add("moved", Input(c0, c1)
                     .request(kInfo, c.empty(), 0, 0)
                     .request(kInfo | 0x04, c.empty())
                     .host(api::rekey_child));
    // 2.8.2: the peer finished its colliding IKE rekey and deletes the old
    // IKE SA while ours is out.
    add("collision-ike-peer-first", Input(c0, c1)
                                        .host(api::rekey_ike)
                                        .request(kChild, c.ike_rekey())
                                        .request(kInfo, c.delete_ike(), previous)
                                        .request(kInfo, c.empty()));
    // 2.25.1: the peer rekeyed the child first and refuses ours.
    add("collision-child-refused", Input(c0, c1)
                                       .host(api::rekey_child)
                                       .request(kChild, c.child(true, 0, true), fix)
                                       .response(kChild, c.notify(NotifyType::temporary_failure))
                                       .request(kInfo, c.delete_child(0), fix));
    add("collision-ike-refused", Input(c0, c1)
                                     .host(api::rekey_ike)
                                     .request(kChild, c.ike_rekey())
                                     .response(kChild, c.notify(NotifyType::temporary_failure), previous));
    {
      Input in(c0, c1);  // TEMPORARY_FAILURE until the engine gives up on the IKE SA
      in.host(api::create_child);
      for (int i = 0; i < 12; ++i) in.response(kChild, c.notify(NotifyType::temporary_failure)).timer(0);
      add("refused-until-give-up", in.response(kInfo, c.empty()));
    }
    {
      Input in(c0, c1);  // more child SAs than max_child_sas_per_ike_sa (4 with two child configs)
      for (int i = 0; i < 5; ++i) in.request(kChild, c.child(true));
      add("many-children", in);
    }
    if (o.pfs) {
      Chain zero = c.child(true);  // a KEi of zeros: a low-order X25519 point (RFC 7748 6.1)
      const auto at =
          std::search(zero.bytes.begin(), zero.bytes.end(), c.ke_value().begin(), c.ke_value().end());
      std::fill_n(at, c.ke_value().size(), uint8_t{0});
      add("create-child-bad-ke", Input(c0, c1).request(kChild, zero));
    }
    if (o.two_children) {
      add("create-second-child", Input(c0, c1).request(kChild, c.child(true, 1)).host(api::rekey_child, 1));
    }
  }
  for (const auto& [name, in] : seeds) {
    const std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    const Bytes& b = in.bytes();
    if (f == nullptr || std::fwrite(b.data(), 1, b.size(), f) != b.size()) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      std::exit(1);
    }
    if (std::fclose(f) != 0) {  // the buffered tail is written here
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      std::exit(1);
    }
    run(b.data(), b.size());  // every seed keeps the invariants
    std::fprintf(stderr,
                 "%-28s %4zu octets: %zu key sets, child rekeys %llu, IKE rekeys %llu, collisions %llu, "
                 "dropped %llu, %zu events\n",
                 name.c_str(), b.size(), g_last.key_sets,
                 static_cast<unsigned long long>(g_last.child_rekeys),
                 static_cast<unsigned long long>(g_last.ike_rekeys),
                 static_cast<unsigned long long>(g_last.collisions),
                 static_cast<unsigned long long>(g_last.dropped), g_last.events);
  }
  std::fprintf(stderr, "wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool seeded = [] {
    if (const char* dir = std::getenv("IPSEC_FUZZ_IKE_ESTABLISHED_SEEDS")) {
      write_seeds(dir);
      std::fflush(stderr);
      std::_Exit(0);  // not exit(): libFuzzer reports a target that exits
    }
    return true;
  }();
  (void)seeded;
  return run(data, size);
}
