#include <pybind11/stl.h>

#include "bindings.h"
#include "cardionets/cardionets.h"
#include "cardionets/isa.h"

namespace py = pybind11;

namespace cardionets::python {

void register_core(py::module_& m) {
  m.def("version", &cardionets::version, "Version of the C++ library.");
  m.def("build_info", &cardionets::build_info, "Compiler, build type and flags of the C++ library.");
  m.def("compiled_isa", &cardionets::compiled_isa, "Instruction sets the library's baseline was compiled for.");
  m.def("cpu_features", &cardionets::cpu_features, "Instruction sets this CPU supports.");
  m.def("num_threads", &cardionets::num_threads, "Threads used by native parallel loops.");
  m.def("set_num_threads", &cardionets::set_num_threads, py::arg("n"),
        "Set the threads used by native parallel loops.");
  m.def("isa", [] { return std::string(cardionets::isa_name(cardionets::active_isa())); },
        "The instruction-set path the native hot loops run (avx512, avx2 or scalar); raises NativeError "
        "when CARDIONETS_ISA names a path this CPU cannot run.");
  m.def("set_isa", &cardionets::set_isa, py::arg("name"),
        "Force an instruction-set path ('avx512', 'avx2', 'scalar', or 'auto' for the best supported); "
        "raises NativeError with the reasons when this CPU cannot run it.");
  m.def("isa_report", [] {
    const cardionets::IsaReport r = cardionets::isa_report();
    py::list paths;
    for (const auto& [name, reasons] : r.paths) {
      py::dict d;
      d["path"] = name;
      d["active"] = name == r.active;
      d["reasons"] = reasons;
      paths.append(d);
    }
    py::dict out;
    out["active"] = r.active.empty() ? py::object(py::none()) : py::object(py::str(r.active));
    out["chosen_by"] = r.chosen_by;
    out["error"] = r.error.empty() ? py::object(py::none()) : py::object(utf8_message(r.error));
    out["paths"] = paths;
    return out;
  }, "Every instruction-set path with why it is not in use: {'active', 'chosen_by', 'error', 'paths': "
     "[{'path', 'active', 'reasons'}]}.");
}

}  // namespace cardionets::python
