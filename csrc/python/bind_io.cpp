// Python bindings of the native WFDB reader (cardionets/wfdb.h), used by cardionets.io.ecg_wfdb.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings.h"
#include "cardionets/parallel.h"
#include "cardionets/wfdb.h"
#include "cardionets/xli.h"

namespace py = pybind11;

namespace cardionets::python {

namespace {
namespace wf = cardionets::wfdb;

py::dict header_dict(const wf::Header& h) {
  py::dict d;
  py::list names, units, formats, gains, baselines, files, adc_res, adc_zero;
  for (const auto& s : h.signals) {
    names.append(s.description);
    units.append(s.units);
    formats.append(s.format);
    gains.append(s.adc_gain);
    baselines.append(s.baseline);
    files.append(s.file_name);
    adc_res.append(s.adc_resolution);
    adc_zero.append(s.adc_zero);
  }
  d["record_name"] = h.record_name;
  d["n_signals"] = h.n_signals;
  d["fs"] = h.fs;
  d["n_samples"] = h.n_samples;
  d["base_time"] = h.base_time;
  d["base_date"] = h.base_date;
  d["names"] = names;
  d["units"] = units;
  d["formats"] = formats;
  d["gains"] = gains;
  d["baselines"] = baselines;
  d["files"] = files;
  d["adc_resolution"] = adc_res;
  d["adc_zero"] = adc_zero;
  d["comments"] = h.comments;
  return d;
}

py::dict record_dict(wf::Record&& rec) {
  py::dict d = header_dict(rec.header);
  const auto nsig = static_cast<py::ssize_t>(rec.header.n_signals), n = static_cast<py::ssize_t>(rec.n_samples);
  auto* holder = new std::vector<float>(std::move(rec.signal));
  py::capsule owner(holder, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  d["signal"] = py::array_t<float>({nsig, n}, holder->data(), owner);
  d["n_samples"] = rec.n_samples;
  return d;
}
}  // namespace

void register_io(py::module_& m) {
  static py::exception<wf::UnsupportedWfdb> unsupported(
      m, "UnsupportedWfdb", py::module_::import("cardionets.errors").attr("NativeError").ptr());
  m.def("wfdb_read_header", [](const std::string& path) { return header_dict(wf::read_header(path)); },
        py::arg("header_path"), "Parse a WFDB header (.hea) into a dict.");
  m.def("wfdb_read", [](const std::string& path) {
    wf::Record rec;
    {
      py::gil_scoped_release nogil;
      rec = wf::read_record(path);
    }
    return record_dict(std::move(rec));
  }, py::arg("header_path"),
        "Read a WFDB record: dict with 'signal' float32 [n_signals, n_samples] in mV (NaN for invalid "
        "samples), 'fs', 'names', 'units', 'comments', ... Raises UnsupportedWfdb for valid records in "
        "formats this reader does not decode.");
  m.def("wfdb_read_many", [](const std::vector<std::string>& paths, int threads) {
    std::vector<wf::Record> recs(paths.size());
    std::vector<std::string> errors(paths.size());
    {
      py::gil_scoped_release nogil;
      parallel_for(static_cast<int64_t>(paths.size()), 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          try {
            recs[static_cast<size_t>(i)] = wf::read_record(paths[static_cast<size_t>(i)]);
          } catch (const std::exception& ex) {
            errors[static_cast<size_t>(i)] = ex.what();
          }
        }
      }, threads);
    }
    py::list out;
    for (size_t i = 0; i < paths.size(); ++i) {
      if (!errors[i].empty()) {
        py::dict d;
        d["error"] = errors[i];
        out.append(d);
      } else {
        out.append(record_dict(std::move(recs[i])));
      }
    }
    return out;
  }, py::arg("header_paths"), py::arg("threads") = 0,
        "Read many WFDB records in parallel (GIL released); a failed record gives {'error': message}.");
  m.def("xli_decode", [](const py::bytes& blob, const std::string& source, bool limb_residuals) {
    const std::string data = blob;
    std::vector<std::vector<int16_t>> leads;
    {
      py::gil_scoped_release nogil;
      leads = cardionets::xli::decode(reinterpret_cast<const uint8_t*>(data.data()), data.size(), source);
      if (limb_residuals) cardionets::xli::reconstruct_limb_leads(leads);
    }
    py::list out;
    for (const auto& l : leads) out.append(py::array_t<int16_t>(static_cast<py::ssize_t>(l.size()), l.data()));
    return out;
  }, py::arg("data"), py::arg("source") = "XLI data", py::arg("limb_residuals") = true,
        "Decode Philips Sierra XLI-compressed waveforms: one int16 array per lead (limb leads reconstructed).");
}

}  // namespace cardionets::python
