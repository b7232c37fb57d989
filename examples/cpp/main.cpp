// screen_ecg: score one WFDB ECG record with an exported CardioNets screening model, no Python.
//
//   screen_ecg MODEL.pt2 RECORD.hea [--n-crops K]
//
// 1. read the record with the native WFDB reader (cardionets/wfdb.h), leads put in the standard
//    order (cardionets::dsp::kStandardLeads: I, II, III, aVR, aVL, aVF, V1-V6) by name;
// 2. preprocess with the C++ DSP library (cardionets/dsp.h) as the model's preprocessing spec says:
//    MODEL.pt2.preprocess.txt, written by the exporter (by default 250 Hz, 0.67-40 Hz order-5
//    zero-phase Butterworth, 3 evaluation crops of 2250 samples, each standardised), plus quality
//    flags. The package takes a fixed number of crops (--n-crops, when given, must agree): a
//    record exactly one crop long gives one crop, which is repeated (the model averages over
//    crops, so this is the one-crop evaluation); a shorter one is refused (too_short);
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
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cardionets/dsp.h"
#include "cardionets/wfdb.h"

namespace {

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
    const char* lead = cardionets::dsp::kStandardLeads[i];
    int found = -1;
    for (size_t j = 0; j < rec.header.signals.size(); ++j)
      if (lower(rec.header.signals[j].description) == lower(lead)) found = static_cast<int>(j);
    if (found < 0) throw cardionets::Error(path + ": lead " + lead + " not found (needs the 12 standard leads)");
    std::copy_n(rec.signal.begin() + found * n, n, x.begin() + i * n);
  }
  return x;
}

// The preprocessing spec the package was exported for: MODEL.pt2.preprocess.txt, written by the
// exporter from cardionets.preprocess.PreprocessSpec ("key value" lines: fs, highpass_hz,
// lowpass_hz, order, crop_len, n_crops, standardize, leads). Every field is required, so the
// values the model was trained with are the values used here (no second copy in this program).
cardionets::dsp::PreprocessConfig read_spec(const std::string& pkg) {
  const std::string file = pkg + ".preprocess.txt";
  std::ifstream in(file);
  if (!in) throw cardionets::Error(file + ": missing (export the model again with `cardionets export --format aoti`)");
  cardionets::dsp::PreprocessConfig cfg;
  std::string line;
  std::vector<std::string> seen;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    if (!(ls >> key)) continue;
    seen.push_back(key);
    bool ok = true;
    if (key == "fs") ok = static_cast<bool>(ls >> cfg.fs_out);
    else if (key == "highpass_hz") ok = static_cast<bool>(ls >> cfg.highpass_hz);
    else if (key == "lowpass_hz") ok = static_cast<bool>(ls >> cfg.lowpass_hz);
    else if (key == "order") ok = static_cast<bool>(ls >> cfg.order);
    else if (key == "crop_len") ok = static_cast<bool>(ls >> cfg.crop_len);
    else if (key == "n_crops") ok = static_cast<bool>(ls >> cfg.n_crops);
    else if (key == "standardize") {
      std::string mode;
      ok = static_cast<bool>(ls >> mode) && (mode == "crop" || mode == "lead");
      cfg.per_lead = mode == "lead";
    } else if (key == "leads") {
      for (const char* lead : cardionets::dsp::kStandardLeads) {
        std::string name;
        ok = ok && static_cast<bool>(ls >> name) && name == lead;
      }
    }
    if (!ok) throw cardionets::Error(file + ": bad value in line '" + line + "'");
  }
  for (const char* key : {"fs", "highpass_hz", "lowpass_hz", "order", "crop_len", "n_crops", "standardize", "leads"})
    if (std::find(seen.begin(), seen.end(), key) == seen.end()) throw cardionets::Error(file + ": no " + key);
  if (cfg.crop_len < 1 || cfg.n_crops < 1 || cfg.n_crops > 64 || cfg.order < 1 || cfg.order > 12)
    throw cardionets::Error(file + ": crop_len, n_crops or order out of range");
  return cfg;
}

int64_t parse_crops(const char* s) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 1 || v > 64)
    throw cardionets::Error(std::string("--n-crops: expected a whole number in [1, 64], got '") + s + "'");
  return v;
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
  if (argc != 3 && argc != 5) {
    std::fprintf(stderr, "usage: %s MODEL.pt2 RECORD.hea [--n-crops K]\n", argv[0]);
    return 1;
  }
  const std::string pkg = argv[1], hea = argv[2];
  try {
    int64_t cli_crops = -1;
    if (argc == 5) {
      if (std::string(argv[3]) != "--n-crops") throw cardionets::Error(std::string("unknown option ") + argv[3]);
      cli_crops = parse_crops(argv[4]);
    }
    const cardionets::dsp::PreprocessConfig cfg = read_spec(pkg);
    const int64_t n_crops = cfg.n_crops;
    if (cli_crops > 0 && cli_crops != n_crops)
      throw cardionets::Error(pkg + " takes " + std::to_string(n_crops) + " crops (" + pkg +
                              ".preprocess.txt), not --n-crops " + std::to_string(cli_crops));
    const auto rec = cardionets::wfdb::read_record(hea);
    const auto x = standard_leads(rec, hea);
    const cardionets::dsp::Preprocessor pre(rec.header.fs, cfg);
    // Exactly n_crops crops, whatever the record's length (run_fixed_crops never writes past them).
    std::vector<float> crops(static_cast<size_t>(n_crops * 12 * cfg.crop_len));
    const uint32_t flags = pre.run_fixed_crops(x.data(), rec.n_samples, crops.data());
    if (flags & cardionets::dsp::kFatalFlags) {
      std::printf("{\"record\": \"%s\", \"quality_flags\": %u, \"error\": \"quality: %s\"}\n", json_escape(hea).c_str(),
                  flags, json_escape(cardionets::dsp::describe_flags(flags)).c_str());
      return 2;
    }
    at::Tensor input = at::from_blob(crops.data(), {1, n_crops, 12, cfg.crop_len}, at::kFloat).clone();
    torch::inductor::AOTIModelPackageLoader loader(pkg);
    std::vector<at::Tensor> out = loader.run({input});
    if (out.size() < 2 || out[0].dim() != 2 || out[1].dim() != 2 || out[0].size(0) != 1 || out[1].size(0) != 1)
      throw cardionets::Error(pkg + ": expected two outputs [1, P] and [1, D] (phenotypes, probabilities)");
    std::vector<std::string> phen, prob;
    read_names(pkg + ".names.txt", phen, prob);
    std::printf("{\"record\": \"%s\", \"quality_flags\": %u, \"quality\": \"%s\", \"n_crops\": %lld, ",
                json_escape(hea).c_str(), flags, json_escape(cardionets::dsp::describe_flags(flags)).c_str(),
                static_cast<long long>(pre.crops_per_record(rec.n_samples)));
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
