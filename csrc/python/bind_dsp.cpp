// Python bindings of the DSP library (cardionets/dsp.h). Used through cardionets.dsp, which
// checks and converts arrays first; these functions still check shapes and never read out of
// bounds. Long loops release the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "bindings.h"
#include "cardionets/core.h"
#include "cardionets/dsp.h"

namespace py = pybind11;

namespace cardionets::python {

namespace {
using F32 = py::array_t<float, py::array::c_style | py::array::forcecast>;
using F64 = py::array_t<double, py::array::c_style | py::array::forcecast>;
namespace dsp = cardionets::dsp;

std::vector<py::ssize_t> shape_of(const py::array& a) { return {a.shape(), a.shape() + a.ndim()}; }

int64_t rows_of(const py::array& a) {
  int64_t rows = 1;
  for (py::ssize_t d = 0; d + 1 < a.ndim(); ++d) rows *= a.shape(d);
  return rows;
}

void need_time_axis(const py::array& a, const char* what) {
  if (a.ndim() < 1 || a.shape(a.ndim() - 1) < 1)
    throw Error(std::string(what) + ": need an array whose last axis is time with at least one sample");
}

std::vector<dsp::Section> sos_from(const F64& sos) {
  if (sos.ndim() != 2 || sos.shape(1) != 6 || sos.shape(0) < 1)
    throw Error("sos must have shape [n_sections, 6]");
  std::vector<dsp::Section> out(static_cast<size_t>(sos.shape(0)));
  auto r = sos.unchecked<2>();
  for (py::ssize_t i = 0; i < sos.shape(0); ++i)
    for (int j = 0; j < 6; ++j) out[static_cast<size_t>(i)][static_cast<size_t>(j)] = r(i, j);
  return out;
}

F64 sos_to(const std::vector<dsp::Section>& sos) {
  F64 out({static_cast<py::ssize_t>(sos.size()), py::ssize_t{6}});
  auto w = out.mutable_unchecked<2>();
  for (size_t i = 0; i < sos.size(); ++i)
    for (int j = 0; j < 6; ++j) w(static_cast<py::ssize_t>(i), j) = sos[i][static_cast<size_t>(j)];
  return out;
}
}  // namespace

void register_dsp(py::module_& m) {
  py::class_<dsp::QualityConfig>(m, "QualityConfig", "Thresholds of the per-record quality check.")
      .def(py::init<>())
      .def_readwrite("flat_std_mv", &dsp::QualityConfig::flat_std_mv)
      .def_readwrite("max_ptp_mv", &dsp::QualityConfig::max_ptp_mv)
      .def_readwrite("clip_seconds", &dsp::QualityConfig::clip_seconds)
      .def_readwrite("clip_min_run", &dsp::QualityConfig::clip_min_run)
      .def_readwrite("min_seconds", &dsp::QualityConfig::min_seconds)
      .def_readwrite("min_fs", &dsp::QualityConfig::min_fs)
      .def_readwrite("max_fs", &dsp::QualityConfig::max_fs)
      .def_readwrite("max_ratio_term", &dsp::QualityConfig::max_ratio_term);
  py::class_<dsp::PreprocessConfig>(m, "PreprocessConfig", "Settings of the fused ECG pipeline.")
      .def(py::init<>())
      .def_readwrite("fs_out", &dsp::PreprocessConfig::fs_out)
      .def_readwrite("highpass_hz", &dsp::PreprocessConfig::highpass_hz)
      .def_readwrite("lowpass_hz", &dsp::PreprocessConfig::lowpass_hz)
      .def_readwrite("order", &dsp::PreprocessConfig::order)
      .def_readwrite("crop_len", &dsp::PreprocessConfig::crop_len)
      .def_readwrite("n_crops", &dsp::PreprocessConfig::n_crops)
      .def_readwrite("random_crops", &dsp::PreprocessConfig::random_crops)
      .def_readwrite("seed", &dsp::PreprocessConfig::seed)
      .def_readwrite("per_lead", &dsp::PreprocessConfig::per_lead)
      .def_readwrite("quality", &dsp::PreprocessConfig::quality);

  m.def("dsp_kaiser_window", &dsp::kaiser_window, py::arg("n"), py::arg("beta"));
  m.def("dsp_firwin_lowpass", &dsp::firwin_lowpass, py::arg("numtaps"), py::arg("cutoff"), py::arg("beta"));
  m.def("dsp_resample_filter", [](int64_t up, int64_t down) {
    const dsp::ResampleFilter f = dsp::design_resample(up, down, 5.0);
    return py::make_tuple(f.up, f.down, f.h, f.n_pre_remove);
  }, py::arg("up"), py::arg("down"), "(up, down, taps, n_pre_remove) of resample_poly's filter.");
  m.def("dsp_butter_sos", [](int order, double cutoff, double fs, bool highpass) {
    return sos_to(dsp::butter_sos(order, cutoff, fs, highpass));
  }, py::arg("order"), py::arg("cutoff_hz"), py::arg("fs"), py::arg("highpass"));
  m.def("dsp_sosfilt_zi", [](const F64& sos) {
    const auto zi = dsp::sosfilt_zi(sos_from(sos));
    F64 out({static_cast<py::ssize_t>(zi.size()), py::ssize_t{2}});
    auto w = out.mutable_unchecked<2>();
    for (size_t i = 0; i < zi.size(); ++i) {
      w(static_cast<py::ssize_t>(i), 0) = zi[i][0];
      w(static_cast<py::ssize_t>(i), 1) = zi[i][1];
    }
    return out;
  }, py::arg("sos"));
  m.def("dsp_resample", [](const F32& x, double fs_in, double fs_out, int threads) {
    need_time_axis(x, "resample");
    const dsp::Ratio r = dsp::resample_ratio(fs_in, fs_out);
    const dsp::ResampleFilter f = dsp::design_resample(r.up, r.down, 5.0);
    const int64_t n = x.shape(x.ndim() - 1), rows = rows_of(x);
    auto shape = shape_of(x);
    shape.back() = f.output_length(n);
    F32 out(shape);
    const float* src = x.data();
    float* dst = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      dsp::resample_rows(src, rows, n, f, dst, threads);
    }
    return out;
  }, py::arg("x"), py::arg("fs_in"), py::arg("fs_out"), py::arg("threads") = 0);
  m.def("dsp_sosfiltfilt", [](const F64& sos_arr, const F32& x, int threads) {
    need_time_axis(x, "sosfiltfilt");
    const auto sos = sos_from(sos_arr);
    const int64_t n = x.shape(x.ndim() - 1), rows = rows_of(x);
    F32 out(shape_of(x));
    const float* src = x.data();
    float* dst = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      dsp::sosfiltfilt_rows(sos, src, rows, n, dst, threads);
    }
    return out;
  }, py::arg("sos"), py::arg("x"), py::arg("threads") = 0);
  m.def("dsp_crop_starts", &dsp::crop_starts, py::arg("n"), py::arg("crop_len"), py::arg("n_crops"),
        py::arg("random") = false, py::arg("seed") = 0, py::arg("record") = 0);
  m.def("dsp_standardize", [](const F32& x, bool per_lead) {
    if (x.ndim() < 2) throw Error("standardize: need an array [..., leads, samples]");
    const int64_t leads = x.shape(x.ndim() - 2), n = x.shape(x.ndim() - 1);
    int64_t items = 1;
    for (py::ssize_t d = 0; d + 2 < x.ndim(); ++d) items *= x.shape(d);
    F32 out(shape_of(x));
    float* dst = out.mutable_data();
    std::copy(x.data(), x.data() + x.size(), dst);
    {
      py::gil_scoped_release nogil;
      for (int64_t i = 0; i < items; ++i) dsp::standardize(dst + i * leads * n, leads, n, per_lead);
    }
    return out;
  }, py::arg("x"), py::arg("per_lead") = false);
  m.def("dsp_quality_flags", [](const F32& x, double fs, const dsp::QualityConfig& cfg) {
    if (x.ndim() != 3) throw Error("quality_flags: need an array [records, leads, samples]");
    const int64_t N = x.shape(0), L = x.shape(1), n = x.shape(2);
    py::array_t<uint32_t> flags(N);
    uint32_t* f = flags.mutable_data();
    const float* src = x.data();
    {
      py::gil_scoped_release nogil;
      for (int64_t r = 0; r < N; ++r) f[r] = dsp::quality_flags(src + r * L * n, L, n, fs, cfg);
    }
    return flags;
  }, py::arg("x"), py::arg("fs"), py::arg("config") = dsp::QualityConfig{});
  m.def("dsp_describe_flags", &dsp::describe_flags, py::arg("flags"));
  m.def("dsp_standard_leads", [] {
    std::vector<std::string> leads(std::begin(dsp::kStandardLeads), std::end(dsp::kStandardLeads));
    return leads;
  }, "The lead order of every model input (cardionets/dsp.h kStandardLeads).");
  m.def("dsp_flag_table", []() {
    py::list out;
    for (const auto& f : dsp::flag_table()) out.append(py::make_tuple(f.bit, f.name, f.fatal, f.meaning));
    return out;
  });
  m.attr("dsp_fatal_flags") = dsp::kFatalFlags;
  m.def("dsp_preprocess_batch", [](const F32& x, double fs, const dsp::PreprocessConfig& cfg, int threads,
                                    py::object out_obj) {
    if (x.ndim() != 3 || x.shape(1) != 12)
      throw Error("preprocess_batch: need an array [records, 12, samples] in standard lead order");
    const int64_t N = x.shape(0), n = x.shape(2);
    const dsp::Preprocessor pre(fs, cfg);
    const int64_t crops = pre.crops_per_record(n);
    const std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(N), static_cast<py::ssize_t>(crops),
                                         py::ssize_t{12}, static_cast<py::ssize_t>(cfg.crop_len)};
    py::array_t<float> out;
    if (out_obj.is_none()) {
      out = py::array_t<float>(shape);
    } else {
      // A caller-owned buffer (reused across batches: no page faults for fresh output memory).
      if (!py::isinstance<py::array_t<float>>(out_obj))
        throw Error("preprocess_batch: out must be a float32 numpy array");
      out = out_obj.cast<py::array_t<float>>();
      if (!(out.flags() & py::array::c_style) || !out.writeable() || out.ndim() != 4 ||
          !std::equal(shape.begin(), shape.end(), out.shape()))
        throw Error("preprocess_batch: out must be a writeable C-contiguous float32 array of shape [" +
                    std::to_string(N) + ", " + std::to_string(crops) + ", 12, " + std::to_string(cfg.crop_len) + "]");
    }
    py::array_t<uint32_t> flags(N);
    const float* src = x.data();
    float* dst = out.mutable_data();
    uint32_t* f = flags.mutable_data();
    {
      py::gil_scoped_release nogil;
      dsp::preprocess_batch(src, N, n, fs, cfg, dst, f, threads);
    }
    return py::make_tuple(out, flags);
  }, py::arg("x"), py::arg("fs"), py::arg("config"), py::arg("threads") = 0, py::arg("out") = py::none());
  m.def("dsp_filter_record", [](const F32& x, double fs, const dsp::PreprocessConfig& cfg) {
    if (x.ndim() != 2 || x.shape(0) != 12) throw Error("filter: need an array [12, samples]");
    const dsp::Preprocessor pre(fs, cfg);
    const int64_t n = x.shape(1);
    F32 out({py::ssize_t{12}, static_cast<py::ssize_t>(pre.resampled_length(n))});
    const float* src = x.data();
    float* dst = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      pre.filter(src, n, dst);
    }
    return out;
  }, py::arg("x"), py::arg("fs"), py::arg("config"), "Resample + band-pass of one [12, T] record.");
}

}  // namespace cardionets::python
