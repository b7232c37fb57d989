#include <pybind11/stl.h>

#include "bindings.h"
#include "cardionets/cardionets.h"

namespace py = pybind11;

namespace cardionets::python {

void register_core(py::module_& m) {
  m.def("version", &cardionets::version, "Version of the C++ library.");
  m.def("build_info", &cardionets::build_info, "Compiler, build type and flags of the C++ library.");
  m.def("compiled_isa", &cardionets::compiled_isa, "Instruction sets the library was compiled for.");
  m.def("cpu_features", &cardionets::cpu_features, "Instruction sets this CPU supports.");
  m.def("num_threads", &cardionets::num_threads, "Threads used by native parallel loops.");
  m.def("set_num_threads", &cardionets::set_num_threads, py::arg("n"),
        "Set the threads used by native parallel loops.");
}

}  // namespace cardionets::python
