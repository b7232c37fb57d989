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

// The kind of a native reader error, for batch results that carry errors as values:
// "unsupported" (a valid record to read with another reader), "limit" (a resource limit),
// "invalid" (anything else: malformed, lying or unreadable input).
const char* error_kind(const std::exception_ptr& p) {
  try {
    std::rethrow_exception(p);
  } catch (const cardionets::Unsupported&) {
    return "unsupported";
  } catch (const cardionets::LimitExceeded&) {
    return "limit";
  } catch (...) {
    return "invalid";
  }
}

wf::Limits wfdb_limits(int64_t max_signal_bytes, int64_t max_samples) {
  wf::Limits lim;
  if (max_signal_bytes > 0) lim.max_signal_bytes = max_signal_bytes;
  if (max_samples > 0) lim.max_samples = max_samples;
  return lim;
}
}  // namespace

void register_io(py::module_& m) {
  const wf::Limits dflt;
  m.attr("wfdb_default_limits") = py::dict(py::arg("max_header_bytes") = dflt.max_header_bytes,
                                           py::arg("max_signal_bytes") = dflt.max_signal_bytes,
                                           py::arg("max_samples") = dflt.max_samples);
  const cardionets::xli::Limits xdflt;
  m.attr("xli_default_limits") =
      py::dict(py::arg("max_output_bytes") = xdflt.max_output_bytes, py::arg("max_leads") = xdflt.max_leads);
  m.def("wfdb_read_header", [](const std::string& path) { return header_dict(wf::read_header(path)); },
        py::arg("header_path"), "Parse a WFDB header (.hea) into a dict.");
  m.def("wfdb_read", [](const std::string& path, int64_t max_signal_bytes, int64_t max_samples) {
    wf::Record rec;
    {
      py::gil_scoped_release nogil;
      rec = wf::read_record(path, wfdb_limits(max_signal_bytes, max_samples));
    }
    return record_dict(std::move(rec));
  }, py::arg("header_path"), py::arg("max_signal_bytes") = 0, py::arg("max_samples") = 0,
        "Read a WFDB record: dict with 'signal' float32 [n_signals, n_samples] in mV (NaN for invalid "
        "samples), 'fs', 'names', 'units', 'comments', ... Limits (0: the defaults in wfdb_default_limits): "
        "max_signal_bytes over all signal files of the record, max_samples = n_signals x n_samples. Raises "
        "cardionets.errors.NativeUnsupported for valid records this reader does not decode (read them with "
        "`wfdb`), NativeLimitExceeded above a limit, NativeError for anything malformed.");
  m.def("wfdb_read_many", [](const std::vector<std::string>& paths, int threads, int64_t max_signal_bytes,
                             int64_t max_samples) {
    std::vector<wf::Record> recs(paths.size());
    std::vector<std::string> errors(paths.size());
    std::vector<const char*> kinds(paths.size(), nullptr);
    const wf::Limits lim = wfdb_limits(max_signal_bytes, max_samples);
    {
      py::gil_scoped_release nogil;
      parallel_for(static_cast<int64_t>(paths.size()), 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const size_t u = static_cast<size_t>(i);
          try {
            recs[u] = wf::read_record(paths[u], lim);
          } catch (const std::exception& ex) {
            errors[u] = ex.what();
            kinds[u] = error_kind(std::current_exception());
          }
        }
      }, threads);
    }
    py::list out;
    for (size_t i = 0; i < paths.size(); ++i) {
      if (kinds[i]) {
        py::dict d;
        d["error"] = utf8_message(errors[i]);
        d["error_kind"] = kinds[i];
        out.append(d);
      } else {
        out.append(record_dict(std::move(recs[i])));
      }
    }
    return out;
  }, py::arg("header_paths"), py::arg("threads") = 0, py::arg("max_signal_bytes") = 0, py::arg("max_samples") = 0,
        "Read many WFDB records in parallel (GIL released); a failed record gives {'error': message, "
        "'error_kind': 'unsupported' | 'limit' | 'invalid'}.");
  m.def("xli_decode", [](const py::bytes& blob, const std::string& source, bool limb_residuals,
                         int64_t max_output_bytes) {
    const std::string data = blob;
    cardionets::xli::Limits lim;
    if (max_output_bytes > 0) lim.max_output_bytes = max_output_bytes;
    std::vector<std::vector<int16_t>> leads;
    {
      py::gil_scoped_release nogil;
      leads = cardionets::xli::decode(reinterpret_cast<const uint8_t*>(data.data()), data.size(), source, lim);
      if (limb_residuals) cardionets::xli::reconstruct_limb_leads(leads);
    }
    py::list out;
    for (const auto& l : leads) out.append(py::array_t<int16_t>(static_cast<py::ssize_t>(l.size()), l.data()));
    return out;
  }, py::arg("data"), py::arg("source") = "XLI data", py::arg("limb_residuals") = true,
        py::arg("max_output_bytes") = 0,
        "Decode Philips Sierra XLI-compressed waveforms: one int16 array per lead (limb leads reconstructed). "
        "max_output_bytes (0: the default in xli_default_limits) bounds the decompressed size.");
}

}  // namespace cardionets::python
