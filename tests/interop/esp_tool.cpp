// SPDX-License-Identifier: Apache-2.0
// esp_tool: ESP/AH on packets in pcap files, through the public API only,
// so that independent implementations (Scapy, tshark) can check our packets
// and we theirs (tests/interop/esp_interop.py).
//
//   esp_tool seal [options] IN.pcap OUT.pcap   plaintext IP packets -> protected datagrams
//   esp_tool open [options] IN.pcap OUT.pcap   protected datagrams -> decapsulated packets
//   esp_tool natt-udp [options] ITEM... IN.pcap OUT.txt
//       what a UDP port 4500 socket sends (RFC 3948), one datagram per ITEM:
//       --esp seals the next packet of IN.pcap (needs --udp; the whole IP |
//       UDP | ESP datagram is written), --ike HEX frames an IKE message
//       behind the non-ESP marker, --keepalive is a NAT-keepalive (both
//       written as UDP payloads). Every payload is run through
//       classify_udp4500, which must see what was sent. OUT.txt has a line
//       per item: "esp OFFSET HEX" (the datagram; the UDP payload starts at
//       OFFSET), "ike 0 HEX" or "keepalive 0 HEX" (the payload).
//   esp_tool tcp-stream [options] [--prefix] ITEM... IN.pcap OUT.bin
//       one direction of an RFC 8229 TCP stream: "IKETCP" with --prefix,
//       then the ITEMs (--esp: the ESP packet of the next packet of IN.pcap
//       sealed; --ike HEX), length-framed by the encoders. TcpStreamDecoder
//       must read the stream back as the same messages. OUT.bin: the stream.
//
// Options:
//   --proto esp|ah            security protocol (esp)
//   --mode tunnel|transport   (tunnel)
//   --spi N                   SPI, decimal or 0x-hex (required)
//   --encr NAME|ID            ESP encryption: IANA id or name, e.g. 20,
//                             aes_gcm_16, ENCR_AES_GCM_16 (aes_gcm_16)
//   --encr-bits N             Key Length attribute (0 for none) (256)
//   --encr-key HEX            key || salt
//   --integ NAME|ID           integrity: id or name, e.g. 12, hmac_sha2_256_128 (none)
//   --integ-key HEX
//   --esn                     Extended Sequence Numbers
//   --seq N                   seal: the first sequence number sent; open: the
//                             first expected (the window's top is N - 1) (1)
//   --local ADDR --remote ADDR  tunnel endpoints (outer source, destination of seal)
//   --udp SPORT:DPORT         UDP encapsulation (RFC 3948), seal's ports
//   --replay-window N         inbound anti-replay window (default of the library)
//   --tfc N                   seal, ESP tunnel mode: TFC-pad inner packets to N octets
//   --provider default|sodium|mbedtls  (default)
//
// pcap: classic libpcap files, either byte order, micro- or nanosecond
// timestamps. Input link types: raw IP (101, 12, 14), IPv4 (228), IPv6
// (229), Ethernet (1, IPv4/IPv6 frames only) and Linux cooked (113).
// Output: link type 101 (raw IP), little-endian, microseconds.
//
// open reports every packet on stderr ("packet N: ok seq=S" or
// "packet N: <error> ..."), writes the packets that opened, and exits 1 when
// any did not. natt-udp and tcp-stream exit 1 when a seal fails or the
// classifier or decoder disagrees with what was sent. Exit 2: usage or file
// errors.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipsec/core/ip.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/esp/esp.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/wire/natt.hpp"
#include "ipsec/wire/tcp_framing.hpp"

namespace {

using Bytes = std::vector<uint8_t>;
using ipsec::ByteView;
using ipsec::IpAddress;

// ---- pcap ---------------------------------------------------------------------------------

struct Packet {
  uint32_t ts_sec = 0;
  uint32_t ts_usec = 0;
  Bytes data;  // the IP packet
};

constexpr uint32_t kMagicMicro = 0xa1b2c3d4u;
constexpr uint32_t kMagicNano = 0xa1b23c4du;
constexpr uint32_t kLinktypeEthernet = 1;
constexpr uint32_t kLinktypeRaw = 101;

uint32_t get32(const uint8_t* p, bool swap) {
  const uint32_t le = uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
  const uint32_t be = uint32_t{p[3]} | uint32_t{p[2]} << 8 | uint32_t{p[1]} << 16 | uint32_t{p[0]} << 24;
  return swap ? be : le;
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}

bool read_file(const char* path, std::vector<uint8_t>* out) {
  FILE* f = std::fopen(path, "rb");
  if (!f) return false;
  std::array<uint8_t, 65536> chunk;
  size_t n = 0;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), f)) > 0)
    out->insert(out->end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
  const bool ok = std::ferror(f) == 0;
  std::fclose(f);
  return ok;
}

// ip_from_frame: the IP packet inside a captured frame of `linktype`, or
// nullopt when the frame carries something else.
std::optional<Bytes> ip_from_frame(uint32_t linktype, ByteView frame) {
  size_t skip = 0;
  switch (linktype) {
    case kLinktypeRaw:
    case 12:
    case 14:
    case 228:
    case 229: skip = 0; break;
    case kLinktypeEthernet: {
      if (frame.size() < 14) return std::nullopt;
      size_t off = 12;
      uint16_t type = static_cast<uint16_t>(frame[off] << 8 | frame[off + 1]);
      while ((type == 0x8100 || type == 0x88a8) && frame.size() >= off + 6) {  // VLAN tags
        off += 4;
        type = static_cast<uint16_t>(frame[off] << 8 | frame[off + 1]);
      }
      if (type != 0x0800 && type != 0x86dd) return std::nullopt;
      skip = off + 2;
      break;
    }
    case 113: {  // Linux cooked capture (SLL)
      if (frame.size() < 16) return std::nullopt;
      const uint16_t type = static_cast<uint16_t>(frame[14] << 8 | frame[15]);
      if (type != 0x0800 && type != 0x86dd) return std::nullopt;
      skip = 16;
      break;
    }
    default: return std::nullopt;
  }
  if (frame.size() <= skip) return std::nullopt;
  const uint8_t version = frame[skip] >> 4;
  if (version != 4 && version != 6) return std::nullopt;
  return Bytes(frame.begin() + static_cast<std::ptrdiff_t>(skip), frame.end());
}

bool read_pcap(const char* path, std::vector<Packet>* packets) {
  std::vector<uint8_t> file;
  if (!read_file(path, &file)) {
    std::fprintf(stderr, "esp_tool: cannot read %s\n", path);
    return false;
  }
  if (file.size() < 24) {
    std::fprintf(stderr, "esp_tool: %s: not a pcap file (too short)\n", path);
    return false;
  }
  const uint32_t magic_le = get32(file.data(), false);
  bool swap = false, nano = false;
  if (magic_le == kMagicMicro || magic_le == kMagicNano) {
    nano = magic_le == kMagicNano;
  } else if (get32(file.data(), true) == kMagicMicro || get32(file.data(), true) == kMagicNano) {
    swap = true;
    nano = get32(file.data(), true) == kMagicNano;
  } else {
    std::fprintf(stderr, "esp_tool: %s: not a classic pcap file (pcapng is not supported)\n", path);
    return false;
  }
  const uint32_t linktype = get32(file.data() + 20, swap) & 0x0fffffffu;
  size_t off = 24;
  size_t index = 0;
  while (off < file.size()) {
    if (file.size() - off < 16) {
      std::fprintf(stderr, "esp_tool: %s: truncated record header\n", path);
      return false;
    }
    Packet p;
    p.ts_sec = get32(file.data() + off, swap);
    p.ts_usec = get32(file.data() + off + 4, swap);
    if (nano) p.ts_usec /= 1000;
    const uint32_t caplen = get32(file.data() + off + 8, swap);
    const uint32_t origlen = get32(file.data() + off + 12, swap);
    off += 16;
    if (file.size() - off < caplen) {
      std::fprintf(stderr, "esp_tool: %s: truncated record %zu\n", path, index + 1);
      return false;
    }
    if (caplen != origlen) {
      std::fprintf(stderr, "esp_tool: %s: record %zu was captured truncated\n", path, index + 1);
      return false;
    }
    auto ip = ip_from_frame(linktype, ByteView(file).subspan(off, caplen));
    if (!ip) {
      std::fprintf(stderr, "esp_tool: %s: record %zu (link type %u) is not an IP packet\n", path, index + 1,
                   linktype);
      return false;
    }
    p.data = std::move(*ip);
    packets->push_back(std::move(p));
    off += caplen;
    ++index;
  }
  return true;
}

bool write_pcap(const char* path, const std::vector<Packet>& packets) {
  std::vector<uint8_t> out;
  put32(out, kMagicMicro);
  put16(out, 2);  // version 2.4
  put16(out, 4);
  put32(out, 0);  // thiszone
  put32(out, 0);  // sigfigs
  put32(out, 262144);
  put32(out, kLinktypeRaw);
  for (const Packet& p : packets) {
    put32(out, p.ts_sec);
    put32(out, p.ts_usec);
    put32(out, static_cast<uint32_t>(p.data.size()));
    put32(out, static_cast<uint32_t>(p.data.size()));
    out.insert(out.end(), p.data.begin(), p.data.end());
  }
  FILE* f = std::fopen(path, "wb");
  if (!f) {
    std::fprintf(stderr, "esp_tool: cannot write %s\n", path);
    return false;
  }
  const bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) std::fprintf(stderr, "esp_tool: error writing %s\n", path);
  return ok && closed;
}

// ---- options ------------------------------------------------------------------------------

bool parse_u64(std::string_view s, uint64_t* v) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v, base);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_hex(std::string_view s, Bytes* out) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  out->clear();
  int hi = -1;
  for (char ch : s) {
    if (ch == ':' || ch == ' ' || ch == '_') continue;
    int v = -1;
    if (ch >= '0' && ch <= '9') v = ch - '0';
    if (ch >= 'a' && ch <= 'f') v = ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') v = ch - 'A' + 10;
    if (v < 0) return false;
    if (hi < 0) {
      hi = v;
    } else {
      out->push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return hi < 0;
}

// same_name: `arg` names `canonical` (ENCR_AES_GCM_16) case-insensitively,
// with or without its ENCR_/AUTH_ prefix, '-' for '_'.
bool same_name(std::string_view arg, std::string_view canonical) {
  auto norm = [](std::string_view s) {
    std::string r;
    for (char c : s) r.push_back(c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
    return r;
  };
  const std::string a = norm(arg), c = norm(canonical);
  if (a == c) return true;
  for (std::string_view prefix : {"ENCR_", "AUTH_"}) {
    if (c.starts_with(prefix) && a == c.substr(prefix.size())) return true;
  }
  return false;
}

template <typename Id>
bool parse_id(std::string_view s, Id* id) {
  uint64_t v = 0;
  if (parse_u64(s, &v) && v <= 0xffff) {
    *id = static_cast<Id>(v);
    return true;
  }
  for (uint32_t i = 0; i < 64; ++i) {
    const auto candidate = static_cast<Id>(i);
    if (ipsec::crypto::to_string(candidate) != "unknown" &&
        same_name(s, ipsec::crypto::to_string(candidate))) {
      *id = candidate;
      return true;
    }
  }
  return false;
}

enum class Command : uint8_t { seal, open, natt_udp, tcp_stream };

// Item: one message of natt-udp / tcp-stream, in command-line order.
struct Item {
  ipsec::wire::NattKind kind = ipsec::wire::NattKind::esp;
  Bytes ike;  // the IKE message (kind ike)
};

struct Options {
  Command command = Command::seal;
  bool seal = true;  // outbound SA (seal, natt-udp, tcp-stream)
  std::vector<Item> items;
  bool prefix = false;  // tcp-stream: start with "IKETCP"
  ipsec::esp::SaConfig config;
  Bytes encr_key, integ_key;
  uint64_t first_seq = 1;
  std::optional<IpAddress> local, remote;
  std::string provider = "default";
  const char* in = nullptr;
  const char* out = nullptr;
};

void usage() {
  std::fputs(
      "usage: esp_tool seal|open [--proto esp|ah] [--mode tunnel|transport] --spi N\n"
      "         [--encr NAME|ID] [--encr-bits N] [--encr-key HEX] [--integ NAME|ID] [--integ-key HEX]\n"
      "         [--esn] [--seq N] [--local ADDR --remote ADDR] [--udp SPORT:DPORT]\n"
      "         [--replay-window N] [--tfc N] [--provider default|sodium|mbedtls] IN.pcap OUT.pcap\n"
      "       esp_tool natt-udp [options] (--esp|--ike HEX|--keepalive)... IN.pcap OUT.txt\n"
      "       esp_tool tcp-stream [options] [--prefix] (--esp|--ike HEX)... IN.pcap OUT.bin\n",
      stderr);
}

bool parse_options(int argc, char** argv, Options* o) {
  if (argc < 2) return false;
  const std::string_view cmd = argv[1];
  if (cmd == "seal") {
    o->command = Command::seal;
  } else if (cmd == "open") {
    o->command = Command::open;
    o->seal = false;
  } else if (cmd == "natt-udp") {
    o->command = Command::natt_udp;
  } else if (cmd == "tcp-stream") {
    o->command = Command::tcp_stream;
  } else {
    std::fprintf(stderr, "esp_tool: unknown command %s\n", argv[1]);
    return false;
  }
  ipsec::esp::SaConfig& c = o->config;
  c.encr = ipsec::crypto::EncrId::aes_gcm_16;
  c.encr_key_bits = 256;
  bool have_spi = false;
  std::vector<const char*> positional;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--esn") {
      c.esn = true;
      continue;
    }
    const bool framing = o->command == Command::natt_udp || o->command == Command::tcp_stream;
    if (framing && a == "--esp") {
      o->items.push_back(Item{ipsec::wire::NattKind::esp, {}});
      continue;
    }
    if (o->command == Command::natt_udp && a == "--keepalive") {
      o->items.push_back(Item{ipsec::wire::NattKind::keepalive, {}});
      continue;
    }
    if (o->command == Command::tcp_stream && a == "--prefix") {
      o->prefix = true;
      continue;
    }
    if (!a.starts_with("--")) {
      positional.push_back(argv[i]);
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "esp_tool: %s needs a value\n", argv[i]);
      return false;
    }
    const std::string_view v = argv[++i];
    uint64_t n = 0;
    bool ok = true;
    if (a == "--proto") {
      if (v == "esp") {
        c.protocol = ipsec::esp::SecurityProtocol::esp;
      } else if (v == "ah") {
        c.protocol = ipsec::esp::SecurityProtocol::ah;
        c.encr = ipsec::crypto::EncrId::null;  // AH has no encryption
        c.encr_key_bits = 0;
      } else {
        ok = false;
      }
    } else if (a == "--mode") {
      if (v == "tunnel") {
        c.mode = ipsec::esp::Mode::tunnel;
      } else if (v == "transport") {
        c.mode = ipsec::esp::Mode::transport;
      } else {
        ok = false;
      }
    } else if (a == "--spi") {
      ok = parse_u64(v, &n) && n <= 0xffffffffu;
      c.spi = static_cast<uint32_t>(n);
      have_spi = ok;
    } else if (a == "--encr") {
      ok = parse_id(v, &c.encr);
    } else if (a == "--encr-bits") {
      ok = parse_u64(v, &n) && n <= 0xffff;
      c.encr_key_bits = static_cast<uint16_t>(n);
    } else if (a == "--encr-key") {
      ok = parse_hex(v, &o->encr_key);
    } else if (a == "--integ") {
      ok = parse_id(v, &c.integ);
    } else if (a == "--integ-key") {
      ok = parse_hex(v, &o->integ_key);
    } else if (a == "--seq") {
      ok = parse_u64(v, &o->first_seq) && o->first_seq >= 1;
    } else if (a == "--local" || a == "--remote") {
      auto addr = IpAddress::parse(v);
      ok = addr.ok();
      if (ok) (a == "--local" ? o->local : o->remote) = *addr;
    } else if (a == "--udp") {
      const size_t colon = v.find(':');
      uint64_t sport = 0, dport = 0;
      ok = colon != std::string_view::npos && parse_u64(v.substr(0, colon), &sport) &&
           parse_u64(v.substr(colon + 1), &dport) && sport <= 0xffff && dport <= 0xffff;
      c.udp = ipsec::esp::UdpEncapsulation{static_cast<uint16_t>(sport), static_cast<uint16_t>(dport)};
    } else if (a == "--replay-window") {
      ok = parse_u64(v, &n) && n <= 0xffffffffu;
      c.replay_window = static_cast<uint32_t>(n);
    } else if (a == "--tfc") {
      ok = parse_u64(v, &n) && n <= 0xffff;
      c.tfc_pad_to = static_cast<uint16_t>(n);
    } else if (framing && a == "--ike") {
      Item item{ipsec::wire::NattKind::ike, {}};
      ok = parse_hex(v, &item.ike);
      o->items.push_back(std::move(item));
    } else if (a == "--provider") {
      o->provider = std::string(v);
      ok = v == "default" || v == "sodium" || v == "mbedtls";
    } else {
      std::fprintf(stderr, "esp_tool: unknown option %s\n", argv[i - 1]);
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "esp_tool: bad value for %s: %s\n", argv[i - 1], argv[i]);
      return false;
    }
  }
  if (!have_spi) {
    std::fputs("esp_tool: --spi is required\n", stderr);
    return false;
  }
  if (positional.size() != 2) {
    std::fputs("esp_tool: need IN.pcap and OUT.pcap\n", stderr);
    return false;
  }
  if (o->command == Command::natt_udp && !c.udp) {
    std::fputs("esp_tool: natt-udp needs --udp\n", stderr);
    return false;
  }
  if ((o->command == Command::natt_udp || o->command == Command::tcp_stream) &&
      c.protocol != ipsec::esp::SecurityProtocol::esp) {
    std::fputs("esp_tool: natt-udp and tcp-stream carry ESP only\n", stderr);
    return false;
  }
  o->in = positional[0];
  o->out = positional[1];
  if (c.mode == ipsec::esp::Mode::tunnel) {
    if (!o->local || !o->remote) {
      std::fputs("esp_tool: tunnel mode needs --local and --remote\n", stderr);
      return false;
    }
    ipsec::esp::TunnelConfig t;
    // Inbound, the SA's "local" end is the outer destination: keep the
    // command line's meaning (seal's source and destination) and swap.
    t.local = o->seal ? *o->local : *o->remote;
    t.remote = o->seal ? *o->remote : *o->local;
    c.tunnel = t;
  }
  if (c.udp && !o->seal) {
    std::swap(c.udp->local_port, c.udp->remote_port);
  }
  c.encr_keymat = o->encr_key;
  c.integ_key = o->integ_key;
  return true;
}

std::unique_ptr<ipsec::crypto::Provider> make_provider(const std::string& name) {
  if (name == "sodium") return std::make_unique<ipsec::crypto::SodiumProvider>();
  if (name == "mbedtls") return std::make_unique<ipsec::crypto::MbedtlsProvider>();
  return std::make_unique<ipsec::crypto::DefaultProvider>();
}

void print_status(const char* what, const ipsec::Status& s) {
  const std::string_view name = s.name();
  std::fprintf(stderr, "%s: %.*s", what, static_cast<int>(name.size()), name.data());
  if (s.has_offset()) std::fprintf(stderr, " at offset %u", s.offset());
  if (*s.field()) std::fprintf(stderr, " (%s)", s.field());
  std::fputc('\n', stderr);
}

// A host buffer: headroom | packet | tailroom (with room for TFC padding).
struct Buffer {
  std::vector<uint8_t> storage;
  ipsec::PacketBuffer pb;
  Buffer(ByteView packet, size_t tfc) {
    const size_t headroom = ipsec::limits::kEspMaxHeadroom + 64;
    storage.resize(headroom + packet.size() + ipsec::limits::kEspMaxTailroom + 64 + tfc);
    std::copy(packet.begin(), packet.end(), storage.begin() + static_cast<std::ptrdiff_t>(headroom));
    auto p = ipsec::PacketBuffer::over(storage, headroom, packet.size());
    if (p) pb = *p;
  }
};

// ---- NAT traversal framing (RFC 3948, RFC 8229) -------------------------------------------

std::string hex(ByteView b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * b.size());
  for (const uint8_t v : b) {
    s.push_back(kDigits[v >> 4]);
    s.push_back(kDigits[v & 15]);
  }
  return s;
}

bool write_bytes(const char* path, ByteView bytes) {
  FILE* f = std::fopen(path, "wb");
  if (!f) {
    std::fprintf(stderr, "esp_tool: cannot write %s\n", path);
    return false;
  }
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) std::fprintf(stderr, "esp_tool: error writing %s\n", path);
  return ok && closed;
}

// Sealer: the --esp items: seals the input packets one after the other.
class Sealer {
 public:
  Sealer(const Options& o, std::vector<Packet> packets) : o_(o), packets_(std::move(packets)) {}

  bool init() {
    provider_ = make_provider(o_.provider);
    auto sa = ipsec::esp::OutboundSa::create(o_.config, *provider_);
    if (!sa) {
      print_status("esp_tool: outbound SA", sa.status());
      return false;
    }
    sa_ = std::move(*sa);
    sa_->set_sequence(o_.first_seq - 1);
    return true;
  }

  // next: the next input packet sealed (the whole datagram) and where its
  // ESP header starts; nullopt (reported) when there is none or seal fails.
  std::optional<std::pair<Bytes, size_t>> next() {
    if (next_ == packets_.size()) {
      std::fputs("esp_tool: more --esp items than packets in the input\n", stderr);
      return std::nullopt;
    }
    const size_t i = next_++;
    Buffer buf(packets_[i].data, o_.config.tfc_pad_to);
    auto r = ipsec::esp::seal(*sa_, buf.pb);
    if (!r) {
      std::fprintf(stderr, "packet %zu: ", i + 1);
      print_status("seal", r.status());
      return std::nullopt;
    }
    std::fprintf(stderr, "packet %zu: ok seq=%llu esp_offset=%zu size=%zu\n", i + 1,
                 static_cast<unsigned long long>(r->sequence), r->esp_offset, buf.pb.size());
    return std::make_pair(Bytes(buf.pb.data().begin(), buf.pb.data().end()), r->esp_offset);
  }

  // all_used: every input packet became an --esp item.
  [[nodiscard]] bool all_used() const {
    if (next_ == packets_.size()) return true;
    std::fprintf(stderr, "esp_tool: %zu input packets but %zu --esp items\n", packets_.size(), next_);
    return false;
  }

 private:
  const Options& o_;
  std::vector<Packet> packets_;
  std::unique_ptr<ipsec::crypto::Provider> provider_;
  std::unique_ptr<ipsec::esp::OutboundSa> sa_;
  size_t next_ = 0;
};

// check_classified: classify_udp4500 saw what was sent.
bool check_classified(size_t index, ByteView payload, ipsec::wire::NattKind kind, ByteView message) {
  auto c = ipsec::wire::classify_udp4500(payload);
  if (!c) {
    std::fprintf(stderr, "item %zu: ", index + 1);
    print_status("classify_udp4500", c.status());
    return false;
  }
  const bool same_view =
      c->message.size() == message.size() && (message.empty() || ipsec::equal_bytes(c->message, message));
  if (c->kind != kind || !same_view) {
    const std::string_view got = ipsec::wire::to_string(c->kind), want = ipsec::wire::to_string(kind);
    std::fprintf(stderr, "item %zu: classify_udp4500 says %.*s (%zu octets), sent %.*s (%zu octets)\n",
                 index + 1, static_cast<int>(got.size()), got.data(), c->message.size(),
                 static_cast<int>(want.size()), want.data(), message.size());
    return false;
  }
  return true;
}

int run_natt_udp(const Options& o, std::vector<Packet> packets) {
  Sealer sealer(o, std::move(packets));
  if (!sealer.init()) return 2;
  std::string out;
  bool ok = true;
  for (size_t i = 0; i < o.items.size(); ++i) {
    const Item& item = o.items[i];
    std::string_view name = ipsec::wire::to_string(item.kind);
    switch (item.kind) {
      case ipsec::wire::NattKind::esp: {
        auto sealed = sealer.next();
        if (!sealed) return 1;
        const auto& [datagram, esp_offset] = *sealed;
        const ByteView payload = ByteView(datagram).subspan(esp_offset);
        ok = check_classified(i, payload, item.kind, payload) && ok;
        out += std::string(name) + " " + std::to_string(esp_offset) + " " + hex(datagram) + "\n";
        break;
      }
      case ipsec::wire::NattKind::ike: {
        Bytes payload(ipsec::wire::kNonEspMarkerSize + item.ike.size());
        ipsec::ByteWriter w(payload);
        ipsec::wire::frame_ike_udp4500(w, item.ike);
        if (!w.ok() || w.size() != payload.size()) {
          std::fprintf(stderr, "item %zu: ", i + 1);
          print_status("frame_ike_udp4500", w.status());
          return 1;
        }
        ok = check_classified(i, payload, item.kind, item.ike) && ok;
        out += std::string(name) + " 0 " + hex(payload) + "\n";
        break;
      }
      case ipsec::wire::NattKind::keepalive: {
        const ByteView payload = ipsec::wire::nat_keepalive();
        ok = check_classified(i, payload, item.kind, {}) && ok;
        out += std::string(name) + " 0 " + hex(payload) + "\n";
        break;
      }
    }
  }
  if (!sealer.all_used()) return 2;
  if (!write_bytes(o.out, ByteView(reinterpret_cast<const uint8_t*>(out.data()), out.size()))) return 2;
  std::fprintf(stderr, "esp_tool: natt-udp: %zu datagrams%s\n", o.items.size(),
               ok ? "" : " (the classifier disagreed)");
  return ok ? 0 : 1;
}

int run_tcp_stream(const Options& o, std::vector<Packet> packets) {
  Sealer sealer(o, std::move(packets));
  if (!sealer.init()) return 2;
  // Messages as sent: kind and body (the ESP packet, or the IKE message).
  std::vector<std::pair<ipsec::wire::NattKind, Bytes>> sent;
  for (const Item& item : o.items) {
    if (item.kind == ipsec::wire::NattKind::esp) {
      auto sealed = sealer.next();
      if (!sealed) return 1;
      const auto& [datagram, esp_offset] = *sealed;
      sent.emplace_back(item.kind,
                        Bytes(datagram.begin() + static_cast<std::ptrdiff_t>(esp_offset), datagram.end()));
    } else {
      sent.emplace_back(item.kind, item.ike);
    }
  }
  if (!sealer.all_used()) return 2;
  size_t total = o.prefix ? ipsec::wire::kTcpStreamPrefix.size() : 0;
  for (const auto& [kind, body] : sent) {
    total += ipsec::wire::kTcpLengthSize + body.size() +
             (kind == ipsec::wire::NattKind::ike ? ipsec::wire::kNonEspMarkerSize : 0);
  }
  Bytes stream(total);
  ipsec::ByteWriter w(stream);
  if (o.prefix) ipsec::wire::encode_tcp_prefix(w);
  for (const auto& [kind, body] : sent) {
    if (kind == ipsec::wire::NattKind::ike) {
      ipsec::wire::encode_tcp_ike(w, body);
    } else {
      ipsec::wire::encode_tcp_esp(w, body);
    }
  }
  if (!w.ok() || w.size() != total) {
    print_status("esp_tool: tcp-stream encoder",
                 w.ok() ? ipsec::Status(ipsec::Errc::invalid_length) : w.status());
    return 1;
  }

  // The decoder must read back what was sent, whole and one octet at a time.
  bool ok = true;
  for (const size_t chunk : {stream.size(), size_t{1}}) {
    auto d = ipsec::wire::TcpStreamDecoder::make(o.prefix);
    if (!d) {
      print_status("esp_tool: TcpStreamDecoder", d.status());
      return 2;
    }
    size_t got = 0;
    for (size_t at = 0; at < stream.size() && ok; at += chunk) {
      ByteView input = ByteView(stream).subspan(at, std::min(chunk, stream.size() - at));
      while (ok) {
        auto m = d->next(&input);
        if (!m) {
          print_status("esp_tool: TcpStreamDecoder", m.status());
          ok = false;
        } else if (!*m) {
          break;
        } else if (got >= sent.size() || (*m)->kind != sent[got].first ||
                   !ipsec::equal_bytes((*m)->message, sent[got].second)) {
          std::fprintf(stderr, "esp_tool: TcpStreamDecoder: message %zu differs (chunks of %zu)\n", got + 1,
                       chunk);
          ok = false;
        } else {
          ++got;
        }
      }
    }
    if (ok && (got != sent.size() || d->consumed() != stream.size())) {
      std::fprintf(stderr, "esp_tool: TcpStreamDecoder: %zu of %zu messages (chunks of %zu)\n", got,
                   sent.size(), chunk);
      ok = false;
    }
  }
  if (!write_bytes(o.out, stream)) return 2;
  size_t ike = 0;
  for (const auto& m : sent) ike += m.first == ipsec::wire::NattKind::ike;
  std::fprintf(stderr, "esp_tool: tcp-stream: %zu octets, %zu IKE and %zu ESP messages%s\n", stream.size(),
               ike, sent.size() - ike, ok ? "" : " (the decoder disagreed)");
  return ok ? 0 : 1;
}

int run(const Options& o) {
  std::vector<Packet> packets;
  if (!read_pcap(o.in, &packets)) return 2;
  if (o.command == Command::natt_udp) return run_natt_udp(o, std::move(packets));
  if (o.command == Command::tcp_stream) return run_tcp_stream(o, std::move(packets));
  auto provider = make_provider(o.provider);
  std::vector<Packet> out;
  int failures = 0;
  if (o.seal) {
    auto sa = ipsec::esp::OutboundSa::create(o.config, *provider);
    if (!sa) {
      print_status("esp_tool: outbound SA", sa.status());
      return 2;
    }
    (*sa)->set_sequence(o.first_seq - 1);
    for (size_t i = 0; i < packets.size(); ++i) {
      Buffer buf(packets[i].data, o.config.tfc_pad_to);
      auto r = ipsec::esp::seal(**sa, buf.pb);
      if (!r) {
        std::fprintf(stderr, "packet %zu: ", i + 1);
        print_status("seal", r.status());
        ++failures;
        continue;
      }
      std::fprintf(stderr, "packet %zu: ok seq=%llu esp_offset=%zu size=%zu\n", i + 1,
                   static_cast<unsigned long long>(r->sequence), r->esp_offset, buf.pb.size());
      Packet p = packets[i];
      p.data.assign(buf.pb.data().begin(), buf.pb.data().end());
      out.push_back(std::move(p));
    }
  } else {
    auto sa = ipsec::esp::InboundSa::create(o.config, *provider);
    if (!sa) {
      print_status("esp_tool: inbound SA", sa.status());
      return 2;
    }
    if (o.first_seq > 1) (void)(*sa)->mutable_window().commit(o.first_seq - 1);
    for (size_t i = 0; i < packets.size(); ++i) {
      Buffer buf(packets[i].data, o.config.tfc_pad_to);
      auto r = ipsec::esp::open(**sa, buf.pb);
      if (!r) {
        std::fprintf(stderr, "packet %zu: ", i + 1);
        print_status("open", r.status());
        ++failures;
        continue;
      }
      std::fprintf(stderr, "packet %zu: ok seq=%llu next_header=%u size=%zu\n", i + 1,
                   static_cast<unsigned long long>(r->sequence), r->next_header, buf.pb.size());
      Packet p = packets[i];
      p.data.assign(buf.pb.data().begin(), buf.pb.data().end());
      out.push_back(std::move(p));
    }
  }
  if (!write_pcap(o.out, out)) return 2;
  std::fprintf(stderr, "esp_tool: %s %zu of %zu packets\n", o.seal ? "sealed" : "opened", out.size(),
               packets.size());
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, &o)) {
    usage();
    return 2;
  }
  return run(o);
}
