// Parameter: a trainable array that lives outside the tape (value, gradient, name).
//
// Using a parameter in a step (`tape.param(p)`) creates one leaf node that refers to it; the
// backward sweep adds into `grad()`, and the optimizer reads and clears it. The data sits behind a
// unique_ptr so that its address is stable while a tape refers to it, even when the Parameter
// object itself moves (layers are kept in std::vector and may be moved at any time).
#pragma once

#include <memory>
#include <string>

#include "core/types.hpp"

namespace flowtape {

class Tape;

class Parameter {
public:
    Parameter() : Parameter("", Array::from_shape({0, 0})) {}
    Parameter(std::string name, Array value);
    ~Parameter();
    Parameter(Parameter&&) noexcept = default;
    Parameter& operator=(Parameter&&) noexcept;
    // Copies take the name and value (and gradient) but not the tape binding.
    Parameter(const Parameter& other);
    Parameter& operator=(const Parameter& other);

    const std::string& name() const { return slot_->name; }
    void set_name(std::string name) { slot_->name = std::move(name); }
    Array& value() { return slot_->value; }
    const Array& value() const { return slot_->value; }
    Array& grad() { return slot_->grad; }
    const Array& grad() const { return slot_->grad; }
    Shape shape() const { return shape_of(slot_->value); }
    std::size_t size() const { return slot_->value.size(); }
    void zero_grad();

    // A frozen parameter is a constant to every tape: its leaf needs no gradient, so backward
    // computes none for it (nor for ops that depend on frozen parameters and constants alone) and
    // never writes its grad(). It takes effect for leaves made after the change (a tape that holds
    // the parameter's leaf this epoch keeps it as it was until reset).
    void set_frozen(bool frozen) { slot_->frozen = frozen; }
    bool frozen() const { return slot_->frozen; }

    // What a tape knows about the parameter: the leaf node it created for it in its current
    // epoch. Internal to Tape.
    struct Slot {
        std::string name;
        Array value;
        Array grad;
        Tape* tape = nullptr;
        std::uint32_t node = 0;
        bool frozen = false;
    };
    Slot& slot() { return *slot_; }

private:
    void unbind();
    std::unique_ptr<Slot> slot_;
};

}  // namespace flowtape
