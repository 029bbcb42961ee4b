#include "autodiff/parameter.hpp"

#include "autodiff/tape.hpp"

namespace flowtape {

Parameter::Parameter(std::string name, Array value) : slot_(std::make_unique<Slot>()) {
    slot_->name = std::move(name);
    slot_->value = std::move(value);
    slot_->grad = xt::zeros<real>(slot_->value.shape());
}

Parameter::~Parameter() { unbind(); }

Parameter& Parameter::operator=(Parameter&& other) noexcept {
    if (this != &other) {
        unbind();
        slot_ = std::move(other.slot_);
    }
    return *this;
}

Parameter::Parameter(const Parameter& other) : slot_(std::make_unique<Slot>()) {
    slot_->name = other.slot_->name;
    slot_->value = other.slot_->value;
    slot_->grad = other.slot_->grad;
    slot_->frozen = other.slot_->frozen;
}

Parameter& Parameter::operator=(const Parameter& other) {
    if (this != &other) {
        unbind();
        slot_->name = other.slot_->name;
        slot_->value = other.slot_->value;
        slot_->grad = other.slot_->grad;
        slot_->frozen = other.slot_->frozen;
    }
    return *this;
}

void Parameter::zero_grad() {
    if (slot_->grad.shape() != slot_->value.shape()) slot_->grad.resize(slot_->value.shape());
    slot_->grad.fill(0);
}

void Parameter::unbind() {
    if (slot_ && slot_->tape) slot_->tape->forget_parameter(slot_.get());
}

}  // namespace flowtape
