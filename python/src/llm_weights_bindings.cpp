// Python bindings of the llm weights layer: writing demo checkpoints.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>

#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bindings.h"
#include "yirage/core/error.h"
#include "yirage/llm/checkpoint.h"

namespace yirage::python {

namespace {

// The tokenizer files beside the installed package (yirage/qwen3-tokenizer) or above the module
// in a source-tree build (models/qwen3-tokenizer).
std::string default_tokenizer() {
  std::vector<std::string> anchors;
  try {
    const nb::object module = nb::module_::import_("yirage._core");
    const std::string file = nb::cast<std::string>(module.attr("__file__"));
    anchors.push_back(std::filesystem::path(file).parent_path().string());
  } catch (const nb::python_error&) {
    // No __file__ (an embedded interpreter): the source tree is still searched.
  }
  return llm::default_tokenizer_dir(anchors);
}

core::DType demo_dtype(const std::variant<core::DType, std::string>& dtype) {
  if (const auto* given = std::get_if<core::DType>(&dtype)) return *given;
  const std::string& name = std::get<std::string>(dtype);
  if (name == "bf16") return core::DType::BF16;
  if (name == "f16") return core::DType::F16;
  if (name == "f32") return core::DType::F32;
  return core::parse_dtype(name);
}

}  // namespace

void bind_llm_weights(nb::module_& m) {
  m.def(
      "make_demo_model",
      [](const std::string& dir, const std::string& preset,
         const std::variant<core::DType, std::string>& dtype,
         const std::optional<std::string>& tokenizer_dir) {
        const llm::DemoPreset which = llm::parse_demo_preset(preset);
        const core::DType weights = demo_dtype(dtype);
        const std::string tokenizer = tokenizer_dir ? *tokenizer_dir : default_tokenizer();
        nb::gil_scoped_release release;
        llm::write_demo_model(dir, which, tokenizer, weights);
        return dir;
      },
      nb::arg("dir"), nb::arg("preset") = "tiny", nb::arg("dtype") = "bfloat16",
      nb::arg("tokenizer_dir") = nb::none(),
      "Writes a Qwen3-architecture checkpoint to `dir`: config.json, generation_config.json, "
      "model.safetensors with deterministic pseudo-random weights (the same bytes on every "
      "machine) and the Qwen3 tokenizer files. `preset` is \"tiny\" (2 layers, hidden 64) or "
      "\"qwen3-0.6b-shape\"; `dtype` is \"bfloat16\", \"float16\" or \"float32\" (or a yr "
      "dtype). Returns `dir`. Generated text is noise; real checkpoints load the same way.");
}

}  // namespace yirage::python
