// SPDX-License-Identifier: Apache-2.0
#include "ipsec/esp/sa.hpp"

#include <algorithm>
#include <bit>
#include <new>

namespace ipsec::esp {
namespace detail {

Status check_config(const SaConfig& c) noexcept {
  // RFC 4303 2.1, RFC 4302 2.4: SPI 0 is reserved for local use and is never
  // sent (over UDP it would read as the RFC 3948 non-ESP marker).
  if (c.spi == 0) return Status(Errc::invalid_argument, Status::kNoOffset, "spi 0");
  if (c.replay_window > limits::kMaxReplayWindow)
    return Status(Errc::invalid_argument, Status::kNoOffset, "replay_window");
  if (c.mode == Mode::tunnel) {
    if (!c.tunnel) return Status(Errc::invalid_argument, Status::kNoOffset, "tunnel endpoints");
    if (c.tunnel->local.family() != c.tunnel->remote.family()) {
      return Status(Errc::invalid_argument, Status::kNoOffset, "tunnel address families");
    }
  }
  if (c.protocol == SecurityProtocol::ah) {
    // RFC 4302: integrity only; RFC 3948 encapsulates ESP only.
    if (c.integ == crypto::IntegId::none)
      return Status(Errc::invalid_argument, Status::kNoOffset, "AH integrity");
    if (c.udp) return Status(Errc::invalid_argument, Status::kNoOffset, "AH over UDP");
    if (c.tfc_pad_to != 0) return Status(Errc::invalid_argument, Status::kNoOffset, "AH TFC padding");
    return Status::success();
  }
  const auto info = crypto::encr_info(c.encr);
  if (!info) return Errc::unsupported_algorithm;
  // RFC 4303 3.2: a combined-mode algorithm brings its own integrity; every
  // other cipher is used with one (confidentiality-only ESP is not offered,
  // RFC 8221 section 5).
  if (info->aead && c.integ != crypto::IntegId::none) {
    return Status(Errc::invalid_argument, Status::kNoOffset, "integrity with an AEAD");
  }
  if (!info->aead && c.integ == crypto::IntegId::none) {
    return Status(Errc::invalid_argument, Status::kNoOffset, "ESP without integrity");
  }
  if (c.tfc_pad_to != 0 && c.mode != Mode::tunnel) {
    // The inner IP header tells the receiver where TFC padding starts; in
    // transport mode nothing would.
    return Status(Errc::invalid_argument, Status::kNoOffset, "TFC padding outside tunnel mode");
  }
  return Status::success();
}

Result<Transforms> make_transforms(const SaConfig& c, crypto::Provider& provider) noexcept {
  IPSEC_TRY(check_config(c));
  Transforms t;
  if (c.integ != crypto::IntegId::none) {
    auto integ = provider.make_integrity(c.integ, c.integ_key);
    if (!integ) return integ.status();
    t.integ = std::move(*integ);
    t.icv_size = static_cast<uint8_t>(t.integ->icv_size());
  }
  if (c.protocol == SecurityProtocol::ah) return t;
  const auto info = *crypto::encr_info(c.encr);
  t.encr = c.encr;
  t.iv_size = info.iv_size;
  t.align = static_cast<uint8_t>(std::max<unsigned>(info.block_size, 4));
  if (!std::has_single_bit(unsigned{t.align})) return Errc::unsupported_algorithm;  // esp_pad_size masks
  if (info.aead) {
    auto aead = provider.make_aead(c.encr, c.encr_key_bits, c.encr_keymat);
    if (!aead) return aead.status();
    t.aead = std::move(*aead);
    t.icv_size = static_cast<uint8_t>(t.aead->icv_size());
    t.gmac = c.encr == crypto::EncrId::null_auth_aes_gmac;
  } else {
    auto cipher = provider.make_cipher(c.encr, c.encr_key_bits, c.encr_keymat);
    if (!cipher) return cipher.status();
    t.cipher = std::move(*cipher);
  }
  return t;
}

}  // namespace detail

Result<std::unique_ptr<OutboundSa>> OutboundSa::create(const SaConfig& config,
                                                       crypto::Provider& provider) noexcept {
  auto t = detail::make_transforms(config, provider);
  if (!t) return t.status();
  std::unique_ptr<OutboundSa> sa(new (std::nothrow) OutboundSa(config, std::move(*t)));
  if (!sa) return Errc::out_of_memory;
  return sa;
}

Result<std::unique_ptr<InboundSa>> InboundSa::create(const SaConfig& config,
                                                     crypto::Provider& provider) noexcept {
  auto t = detail::make_transforms(config, provider);
  if (!t) return t.status();
  auto w = ReplayWindow::make(config.replay_window, config.esn);
  if (!w) return w.status();
  std::unique_ptr<InboundSa> sa(new (std::nothrow) InboundSa(config, std::move(*t), std::move(*w)));
  if (!sa) return Errc::out_of_memory;
  return sa;
}

}  // namespace ipsec::esp
