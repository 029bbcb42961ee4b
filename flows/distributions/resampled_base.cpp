// ResampledGaussian: the truncated LARS density in log space, the Monte Carlo estimate of Z with
// its running average, and the truncated rejection sampler (see resampled_base.hpp).
#include "flows/distributions/resampled_base.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {
namespace {

const real kLogTwoPi = std::log(2 * std::numbers::pi);
// Z is kept inside [kMinZ, 1 − kMinZ] so that log Z and log1p(−Z) stay finite.
constexpr real kMinZ = 1e-12;
// Proposals for a first estimate of Z in evaluation mode, and the chunk size of such estimates.
constexpr std::size_t kInitialZSamples = std::size_t(1) << 14;
constexpr std::size_t kChunk = 4096;

const ResampledGaussianConfig& checked(const ResampledGaussianConfig& c) {
    if (c.dim == 0) throw ValueError("ResampledGaussian: dimension must be positive");
    for (std::size_t h : c.hidden)
        if (h == 0) throw ValueError("ResampledGaussian: hidden sizes must be positive (got a 0)");
    if (c.truncation == 0) throw ValueError("ResampledGaussian: T (truncation) must be at least 1, got 0");
    if (!(c.eps > 0 && c.eps <= 1))
        throw ValueError("ResampledGaussian: eps must be in (0, 1], got " + std::to_string(c.eps));
    return c;
}

MlpConfig acceptance_mlp(const ResampledGaussianConfig& c) {
    MlpConfig m;
    m.inputs = c.dim;
    m.hidden = c.hidden;
    m.outputs = 1;
    m.activation = c.activation;
    return m;
}

real clamp_z(real z) { return std::clamp(z, kMinZ, 1 - kMinZ); }

// log N(x; 0, I) per row.
Var standard_normal_log_density(Var x) {
    return add_scalar(mul_scalar(sum(square(x), 1), -0.5), -0.5 * static_cast<real>(x.cols()) * kLogTwoPi);
}

}  // namespace

real truncation_weight(real z, std::size_t truncation) {
    if (!(z >= 0 && z <= 1)) throw ValueError("truncation_weight: Z must be in [0, 1], got " + std::to_string(z));
    if (truncation == 0) throw ValueError("truncation_weight: T must be at least 1, got 0");
    return std::pow(1 - z, static_cast<real>(truncation - 1));
}

Var resampled_log_prob(Var log_pi, Var log_a, Var z, std::size_t truncation) {
    if (truncation < 2)
        throw ValueError("resampled_log_prob: T must be at least 2 (T = 1 is the proposal itself), got " +
                         std::to_string(truncation));
    if (z.rows() != 1 || z.cols() != 1 || log_pi.cols() != 1 || log_a.shape() != log_pi.shape())
        throw ShapeError("resampled_log_prob: expected log_pi and log_a N\u00d71 and Z 1\u00d71, got " +
                         shape_string(log_pi.shape()) + ", " + shape_string(log_a.shape()) + " and " +
                         shape_string(z.shape()));
    const Var log_alpha = mul_scalar(log1p(neg(z)), static_cast<real>(truncation - 1));  // log α_T
    const Var log_one_minus_alpha = log1p(neg(exp(log_alpha)));                         // log(1 − α_T)
    const Var accepted = sub(add(log_a, log_one_minus_alpha), log(z));                  // log((1 − α_T) a / Z)
    // logsumexp(u, v) = v + softplus(u − v): stable, and v = log α_T (1×1) broadcasts over the rows.
    return add(log_pi, add(softplus(sub(accepted, log_alpha)), log_alpha));
}

ResampledGaussian::ResampledGaussian(const ResampledGaussianConfig& config, Rng& rng)
    : config_(checked(config)),
      net_(acceptance_mlp(config_), rng),
      z_estimate_("z_estimate", xt::xtensor<real, 2>{{-1.0}}),
      rng_(config_.seed) {
    // a ≡ σ(0) = ½ at the start: the base starts as the standard normal itself.
    ParameterList params = net_.parameters();
    params.find("layers." + std::to_string(net_.layers().size() - 1) + ".weight").value().fill(0);
}

std::unique_ptr<ResampledGaussian> ResampledGaussian::from_config(const nlohmann::json& j, Rng& rng) {
    ResampledGaussianConfig c;
    c.dim = j.at("dim").get<std::size_t>();
    c.hidden = j.at("hidden").get<std::vector<std::size_t>>();
    c.activation = activation_from_name(j.at("activation").get<std::string>());
    c.truncation = j.at("T").get<std::size_t>();
    c.eps = j.at("eps").get<real>();
    c.n_z_samples = j.at("n_z_samples").get<std::size_t>();
    c.seed = j.at("seed").get<std::uint64_t>();
    return std::make_unique<ResampledGaussian>(c, rng);
}

nlohmann::json ResampledGaussian::config() const {
    return {{"kind", kind()},
            {"dim", config_.dim},
            {"hidden", config_.hidden},
            {"activation", activation_name(config_.activation)},
            {"T", config_.truncation},
            {"eps", config_.eps},
            {"n_z_samples", config_.n_z_samples},
            {"seed", config_.seed}};
}

void ResampledGaussian::set_normaliser(real z) {
    if (!(z > 0 && z <= 1))
        throw ValueError("ResampledGaussian::set_normaliser: Z must be in (0, 1], got " + std::to_string(z));
    z_estimate_.value()(0, 0) = z;
}

Var ResampledGaussian::log_prob_given_z(Var x, Var z) {
    const Var log_pi = standard_normal_log_density(x);
    if (config_.truncation == 1) return log_pi;  // the first proposal is always taken: p = π
    const Var log_a = log_sigmoid(net_.forward(x));
    return resampled_log_prob(log_pi, log_a, z, config_.truncation);
}

Var ResampledGaussian::log_prob_with_proposals(Var x, const Array& proposals) {
    check_input_width("ResampledGaussian::log_prob", x, config_.dim);
    if (proposals.shape()[0] == 0 || proposals.shape()[1] != config_.dim)
        throw ShapeError("ResampledGaussian::log_prob_with_proposals: proposals must be m\u00d7" +
                         std::to_string(config_.dim) + " with m \u2265 1, got " + shape_string(shape_of(proposals)));
    Tape& t = x.tape();
    // Ẑ from the batch, on the tape; the running average takes its value.
    const Var z_hat = mean(sigmoid(net_.forward(t.constant(proposals))));
    const real batch = z_hat.item();
    const real before = normaliser();
    set_normaliser(clamp_z(before < 0 ? batch : (1 - config_.eps) * before + config_.eps * batch));
    // Value Z̄, gradient of Ẑ.
    const Var z = clamp(add_scalar(sub(z_hat, stop_gradient(z_hat)), normaliser()), kMinZ, 1 - kMinZ);
    return log_prob_given_z(x, z);
}

Var ResampledGaussian::log_prob(Var x, Var) {
    check_input_width("ResampledGaussian::log_prob", x, config_.dim);
    if (training_) {
        const std::size_t m = config_.n_z_samples > 0 ? config_.n_z_samples : x.rows();
        return log_prob_with_proposals(x, rng_.normal_array(std::max<std::size_t>(m, 1), config_.dim));
    }
    if (normaliser() < 0) set_normaliser(clamp_z(mean_acceptance(x.tape(), kInitialZSamples, rng_)));
    return log_prob_given_z(x, x.tape().constant(clamp_z(normaliser())));
}

real ResampledGaussian::mean_acceptance(Tape& tape, std::size_t n, Rng& rng) {
    NoGrad no_grad(tape);
    const Mark start = tape.mark();
    real total = 0;
    for (std::size_t done = 0; done < n; done += kChunk) {
        const std::size_t k = std::min(kChunk, n - done);
        total += sum(sigmoid(net_.forward(tape.constant(rng.normal_array(k, config_.dim))))).item();
        tape.rewind(start);
    }
    return total / static_cast<real>(n);
}

void ResampledGaussian::estimate_normaliser(std::size_t n, Rng& rng) {
    if (n == 0) throw ValueError("ResampledGaussian::estimate_normaliser: needs at least 1 proposal, got 0");
    Tape tape;
    set_normaliser(clamp_z(mean_acceptance(tape, n, rng)));
}

Array ResampledGaussian::acceptance(const Array& z) {
    if (z.shape()[1] != config_.dim)
        throw ShapeError("ResampledGaussian::acceptance: expected " + std::to_string(config_.dim) + " columns, got " +
                         shape_string(shape_of(z)));
    Tape tape;
    NoGrad no_grad(tape);
    return sigmoid(net_.forward(tape.constant(z))).value();
}

Var ResampledGaussian::sample(Tape& tape, std::size_t n, Rng& rng, Var) {
    const std::size_t d = config_.dim;
    Array out = xt::zeros<real>({n, d});
    std::vector<std::size_t> pending(n), rejections(n, 0), still;
    for (std::size_t i = 0; i < n; ++i) pending[i] = i;
    {
        NoGrad no_grad(tape);
        const Mark start = tape.mark();
        while (!pending.empty()) {
            // One proposal for every pending row; a(z) only matters before the T-th trial.
            const Array proposals = rng.normal_array(pending.size(), d);
            Array a;
            if (config_.truncation > 1) {
                a = sigmoid(net_.forward(tape.constant(proposals))).value();
                tape.rewind(start);
            }
            still.clear();
            for (std::size_t j = 0; j < pending.size(); ++j) {
                const std::size_t i = pending[j];
                const bool last_trial = rejections[i] + 1 >= config_.truncation;
                if (last_trial || rng.uniform() < a(j, 0)) {
                    for (std::size_t c = 0; c < d; ++c) out(i, c) = proposals(j, c);
                } else {
                    ++rejections[i];
                    still.push_back(i);
                }
            }
            pending.swap(still);
        }
    }
    return tape.constant(out);
}

void ResampledGaussian::collect_parameters(ParameterList& out, const std::string& prefix) {
    net_.collect_parameters(out, qualified_name(prefix, "accept"));
}

void ResampledGaussian::collect_buffers(ParameterList& out, const std::string& prefix) {
    out.add(qualified_name(prefix, "z_estimate"), z_estimate_);
}

}  // namespace flowtape
