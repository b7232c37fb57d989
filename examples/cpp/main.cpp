// screen_ecg: score one WFDB ECG record with an exported CardioNets screening model, no Python.
//
//   screen_ecg MODEL.pt2 RECORD.hea [--n-crops 3]
//
// 1. read the record with the native WFDB reader (cardionets/wfdb.h), leads put in the standard
//    order I, II, III, aVR, aVL, aVF, V1-V6 by name;
// 2. preprocess with the C++ DSP library (cardionets/dsp.h): 250 Hz, 0.67-40 Hz zero-phase
//    Butterworth, evaluation crops of 2250 samples, standardised, quality flags;
// 3. run the AOTInductor package (`cardionets export --format aoti`) through libtorch's
//    torch::inductor::AOTIModelPackageLoader;
// 4. print one JSON object: record, quality flags, phenotypes {name: value}, probabilities {name: p}.
//    Output names come from MODEL.pt2.names.txt ("phenotypes NAME" / "probabilities NAME" lines),
//    written beside the package by the exporter.
//
// Exit codes: 0 scored, 2 unusable record (fatal quality flags; JSON with "error"), 1 other errors.
#include <ATen/ATen.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cardionets/dsp.h"
#include "cardionets/wfdb.h"

namespace {

const char* kStandard[12] = {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

// [12][n] in standard lead order, or throws naming the missing lead.
std::vector<float> standard_leads(const cardionets::wfdb::Record& rec, const std::string& path) {
  const int64_t n = rec.n_samples;
  std::vector<float> x(12 * n);
  for (int i = 0; i < 12; ++i) {
    int found = -1;
    for (size_t j = 0; j < rec.header.signals.size(); ++j)
      if (lower(rec.header.signals[j].description) == lower(kStandard[i])) found = static_cast<int>(j);
    if (found < 0) throw cardionets::Error(path + ": lead " + kStandard[i] + " not found (needs the 12 standard leads)");
    std::copy_n(rec.signal.begin() + found * n, n, x.begin() + i * n);
  }
  return x;
}

void read_names(const std::string& file, std::vector<std::string>& phen, std::vector<std::string>& prob) {
  std::ifstream in(file);
  std::string kind, name;
  while (in >> kind >> name) (kind == "phenotypes" ? phen : prob).push_back(name);
}

void print_block(const char* key, const at::Tensor& t, const std::vector<std::string>& names) {
  std::printf("\"%s\": {", key);
  auto a = t.contiguous();
  const float* p = a.data_ptr<float>();
  for (int64_t j = 0; j < a.size(1); ++j) {
    std::string name = j < static_cast<int64_t>(names.size()) ? names[j] : std::string(key) + "_" + std::to_string(j);
    std::printf("%s\"%s\": %.9g", j ? ", " : "", json_escape(name).c_str(), p[j]);
  }
  std::printf("}");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.pt2 RECORD.hea [--n-crops K]\n", argv[0]);
    return 1;
  }
  const std::string pkg = argv[1], hea = argv[2];
  int n_crops = 3;
  for (int i = 3; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--n-crops") n_crops = std::stoi(argv[i + 1]);
  try {
    const auto rec = cardionets::wfdb::read_record(hea);
    const auto x = standard_leads(rec, hea);
    cardionets::dsp::PreprocessConfig cfg;
    cfg.n_crops = n_crops;
    const cardionets::dsp::Preprocessor pre(rec.header.fs, cfg);
    const int64_t k = pre.crops_per_record(rec.n_samples);
    std::vector<float> crops(std::max<int64_t>(k, 1) * 12 * cfg.crop_len);
    const uint32_t flags = pre.run(x.data(), rec.n_samples, crops.data());
    if (flags & cardionets::dsp::kFatalFlags) {
      std::printf("{\"record\": \"%s\", \"quality_flags\": %u, \"error\": \"quality: %s\"}\n", json_escape(hea).c_str(),
                  flags, json_escape(cardionets::dsp::describe_flags(flags)).c_str());
      return 2;
    }
    at::Tensor input = at::from_blob(crops.data(), {1, k, 12, cfg.crop_len}, at::kFloat).clone();
    torch::inductor::AOTIModelPackageLoader loader(pkg);
    std::vector<at::Tensor> out = loader.run({input});
    std::vector<std::string> phen, prob;
    read_names(pkg + ".names.txt", phen, prob);
    std::printf("{\"record\": \"%s\", \"quality_flags\": %u, \"quality\": \"%s\", ", json_escape(hea).c_str(), flags,
                json_escape(cardionets::dsp::describe_flags(flags)).c_str());
    print_block("phenotypes", out.at(0), phen);
    std::printf(", ");
    print_block("probabilities", out.at(1), prob);
    std::printf("}\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "screen_ecg: %s\n", e.what());
    return 1;
  }
  return 0;
}
