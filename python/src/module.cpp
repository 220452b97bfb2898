// The yirage._core extension module: one bind function per C++ area.
#include "bindings.h"

NB_MODULE(_core, m) {
  m.doc() =
      "yirage's C++ core: dtypes, errors, kernel and block graphs, backends, verification, the "
      "superoptimizer.";
  yirage::python::bind_core(m);
  yirage::python::bind_ir(m);
  yirage::python::bind_block(m);
  yirage::python::bind_backend(m);
  yirage::python::bind_verify(m);
  yirage::python::bind_search(m);
  yirage::python::bind_llm_weights(m);
}
