// SPDX-License-Identifier: Apache-2.0
// One-line summaries of IKEv2 messages for logs and test failures, in the
// notation IKE implementations commonly log:
//
//   IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) ]
//   IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]
//   IKE_AUTH request 1 [ EF(2/3) ]
//
// An SK payload that has been opened is replaced by its inner payloads; an
// unopened one prints as SK. Written into a fixed buffer: no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "ipsec/wire/ike_enums.hpp"
#include "ipsec/wire/ike_header.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/ike_payloads.hpp"

namespace ipsec::wire {

class MessageSummary {
 public:
  static constexpr size_t kCapacity = 512;

  [[nodiscard]] std::string_view view() const noexcept { return {text_.data(), size_}; }
  // truncated: the summary did not fit and ends with "...".
  [[nodiscard]] bool truncated() const noexcept { return truncated_; }

  void append(std::string_view s) noexcept {
    for (char c : s) {
      if (size_ + 4 > kCapacity) {  // keep room for "..."
        if (!truncated_) {
          for (char d : std::string_view("...")) text_[size_++] = d;
          truncated_ = true;
        }
        return;
      }
      text_[size_++] = c;
    }
  }
  void append_number(uint64_t v) noexcept {
    std::array<char, 20> digits{};
    size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    std::array<char, 20> out{};
    for (size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    append(std::string_view(out.data(), n));
  }

 private:
  std::array<char, kCapacity> text_{};
  size_t size_ = 0;
  bool truncated_ = false;
};

namespace detail {

inline std::string_view eap_type_name(uint8_t type) noexcept {
  switch (type) {
    case 1: return "ID";
    case 2: return "NTF";
    case 3: return "NAK";
    case 4: return "MD5";
    case 6: return "GTC";
    case 13: return "TLS";
    case 18: return "SIM";
    case 21: return "TTLS";
    case 23: return "AKA";
    case 25: return "PEAP";
    case 26: return "MSCHAPV2";
    case 50: return "AKA'";
    default: return {};
  }
}

inline void append_payload(MessageSummary& s, const PayloadView& p) noexcept {
  if (!p.understood) {
    s.append("U(");
    s.append_number(static_cast<uint8_t>(p.type));
    s.append(")");
    return;
  }
  switch (p.type) {
    case PayloadType::notify: {
      s.append("N(");
      auto n = decode_notify(p);
      const std::string_view name = n ? short_name(n->type) : std::string_view("?");
      if (n && name == "unknown") {
        s.append_number(static_cast<uint16_t>(n->type));
      } else {
        s.append(name);
      }
      s.append(")");
      return;
    }
    case PayloadType::cp: {
      auto cp = decode_cp(p);
      s.append(cp ? short_name(cp->type) : std::string_view("CP"));
      return;
    }
    case PayloadType::eap: {
      auto eap = decode_eap(p);
      s.append("EAP");
      if (!eap) return;
      s.append("/");
      s.append(to_string(eap->code));
      if (eap->type != 0) {
        s.append("/");
        const std::string_view t = eap_type_name(eap->type);
        if (t.empty()) {
          s.append_number(eap->type);
        } else {
          s.append(t);
        }
      }
      return;
    }
    case PayloadType::skf: {
      auto f = decode_skf(p);
      s.append("EF(");
      if (f) {
        s.append_number(f->number);
        s.append("/");
        s.append_number(f->total);
      }
      s.append(")");
      return;
    }
    default: s.append(to_string(p.type)); return;
  }
}

}  // namespace detail

// summarize: the one-line form of a header and its payloads (outer, and
// inner ones once opened; `opened` says an SK payload was opened even if it
// held no payloads, as in an INFORMATIONAL liveness check).
[[nodiscard]] inline MessageSummary summarize(const IkeHeader& h, std::span<const PayloadView> payloads,
                                              bool opened = false) noexcept {
  MessageSummary s;
  const std::string_view exchange = to_string(h.exchange);
  if (exchange == "unknown") {
    s.append("EXCHANGE(");
    s.append_number(static_cast<uint8_t>(h.exchange));
    s.append(")");
  } else {
    s.append(exchange);
  }
  s.append(h.response() ? " response " : " request ");
  s.append_number(h.message_id);
  s.append(" [");
  for (const PayloadView& p : payloads) opened = opened || p.encrypted;
  for (const PayloadView& p : payloads) {
    if (opened && !p.encrypted && p.type == PayloadType::sk) continue;
    s.append(" ");
    detail::append_payload(s, p);
  }
  s.append(" ]");
  return s;
}

[[nodiscard]] inline MessageSummary summarize(const ParsedMessage& m) noexcept {
  return summarize(m.header, m.payloads(), m.decrypted);
}

}  // namespace ipsec::wire
