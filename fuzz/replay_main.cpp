// SPDX-License-Identifier: Apache-2.0
// A main() for fuzz targets built without libFuzzer: runs every file named
// on the command line (directories are walked), or stdin when none is. Used
// to replay crashes and corpora with any compiler, and by AFL++.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {
std::vector<uint8_t> read_all(FILE* f) {
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  return out;
}
int run_file(const std::filesystem::path& p) {
  FILE* f = std::fopen(p.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot open %s\n", p.c_str());
    return 1;
  }
  const auto data = read_all(f);
  (void)std::fclose(f);  // opened for reading: nothing is lost on close
  LLVMFuzzerTestOneInput(data.data(), data.size());
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    const auto data = read_all(stdin);
    LLVMFuzzerTestOneInput(data.data(), data.size());
    return 0;
  }
  int runs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p)) {
        if (e.is_regular_file()) {
          if (run_file(e.path()) != 0) return 1;
          ++runs;
        }
      }
    } else {
      if (run_file(p) != 0) return 1;
      ++runs;
    }
  }
  std::fprintf(stderr, "replayed %d inputs\n", runs);
  return 0;
}
