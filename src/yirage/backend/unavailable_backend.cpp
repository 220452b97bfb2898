#include "yirage/backend/unavailable_backend.h"

#include "yirage/core/error.h"

namespace yirage::backend {

namespace {

class UnavailableBackend final : public Backend {
 public:
  UnavailableBackend(std::string name, std::string description, std::string reason)
      : name_(std::move(name)), description_(std::move(description)), reason_(std::move(reason)) {}

  std::string_view name() const override { return name_; }
  std::string_view description() const override { return description_; }
  Availability available() const override { return {false, reason_}; }
  DeviceInfo device_info() const override { return {"none", {}}; }
  bool supports(ir::OpKind) const override { return false; }
  std::vector<core::Tensor> run(const ir::KernelGraph&, const std::vector<core::Tensor>&) override {
    YR_USER_ERROR("backend '" << name_ << "' is not available: " << reason_);
  }

 private:
  std::string name_;
  std::string description_;
  std::string reason_;
};

}  // namespace

std::unique_ptr<Backend> make_unavailable_backend(std::string name, std::string description,
                                                  std::string reason) {
  return std::make_unique<UnavailableBackend>(std::move(name), std::move(description),
                                              std::move(reason));
}

}  // namespace yirage::backend
