// A masked autoregressive flow trained on two moons, evaluated, saved and loaded. We draw 3000
// points of the two-moons target (data/datasets.hpp), build a MAF (flows/builders.hpp: MAF layers
// with reversals between them on a standard normal base) and fit it by maximum likelihood with
// early stopping (flows/training/train.hpp), printing the validation loss curve. On 5000 fresh points we
// compare its average log-likelihood E_p[log q] with the best any model can do, E_p[log p] = −H(p),
// the target's negative entropy from its normalised density (data/targets.hpp) at the same points:
// the gap is KL(p‖q) ≥ 0. We also estimate KL(q‖p) from the flow's own samples as eq. (16) of the
// piecewise-flows paper (flows/training/metrics.hpp). The program checks that KL(p‖q) < 0.1 and
// KL(q‖p) < 0.3 nats (an untrained flow is off by more than 2 nats) and neither is significantly
// negative, and that a saved and reloaded model (flows/model_file.hpp) gives bit-identical log q.
// Returns 1 otherwise. (KL(q‖p) is the larger: q puts some mass in the gaps between the moons.)
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <unistd.h>

#include "data/datasets.hpp"
#include "flows/builders.hpp"
#include "flows/training/metrics.hpp"
#include "flows/model_file.hpp"
#include "flows/training/train.hpp"

using namespace flowtape;

int main() {
    Rng rng(1);
    const Array train = make_dataset("two-moons", 3000, rng).x;
    const Array fresh = make_dataset("two-moons", 5000, rng).x;  // never seen in training

    FlowSpec spec;
    spec.dim = 2;
    spec.layers = 8;
    spec.hidden = {64, 64};
    DistributionPtr flow = make_maf_flow(spec, rng);

    FitOptions options;
    options.epochs = 200;
    options.batch = 128;
    options.lr = 3e-3;
    options.schedule = "cosine";  // the rate decays to 0 over the 200 epochs: a steadier end
    options.patience = 30;        // the paper's 2% of the epochs would be 4: too eager for so few
    options.seed = 1;
    options.quiet = true;  // we print the curve ourselves
    const FitReport report = fit(*flow, train, options);
    std::printf("validation loss (−mean log q on the 20%% held out):\n");
    for (std::size_t e = 0; e < report.val_loss.size(); e += 10)
        std::printf("  epoch %3zu  %.4f\n", e + 1, report.val_loss[e]);
    std::printf("%s (%.1f s)\n\n", report.message.c_str(), report.seconds);

    // KL(p‖q) = E_p[log p − log q]: the same fresh points in both terms, so the difference is precise.
    const Estimate ll = average_log_likelihood(*flow, fresh);
    const Array lp = normalised_log_density("two-moons", fresh);
    const Array gap = lp - log_prob_rows(*flow, fresh);
    const real kl_pq = xt::mean(gap)(), kl_pq_error = xt::stddev(gap)() / std::sqrt(real(gap.size()));
    std::printf("average log-likelihood  %.4f ± %.4f   (the target's −H(p) = %.4f)\n", ll.mean, ll.error, xt::mean(lp)());
    std::printf("KL(p‖q) = %.4f ± %.4f\n", kl_pq, kl_pq_error);

    // KL(q‖p) from 5000 samples of the flow, against the normalised target and self-normalised.
    const auto target = [](const Array& x) { return normalised_log_density("two-moons", x); };
    const KlEstimate kl = kl_divergence(*flow, target, 5000, rng, false);
    const KlEstimate kl_self = kl_divergence(*flow, target, 5000, rng, true);
    std::printf("KL(q‖p) = %.4f ± %.4f (eq. 16), %.4f ± %.4f self-normalised\n", kl.kl.mean, kl.kl.error,
                kl_self.kl.mean, kl_self.kl.error);

    // Save, load, and compare log q bit for bit.
    const std::string name = "flowtape_maf_two_moons_" + std::to_string(::getpid()) + ".json";
    const std::string path = (std::filesystem::temp_directory_path() / name).string();
    save_model(*flow, path);
    DistributionPtr loaded = load_model(path);
    std::filesystem::remove(path);
    const bool identical = log_prob_rows(*flow, fresh) == log_prob_rows(*loaded, fresh);
    std::printf("saved to and loaded from %s: log q %s\n", path.c_str(), identical ? "bit-identical" : "DIFFERS");

    const bool ok = identical && kl_pq < 0.1 && kl_pq > -3 * kl_pq_error && kl.kl.mean < 0.3 &&
                    kl.kl.mean > -3 * kl.kl.error;
    std::printf(ok ? "the MAF is close to the target both ways\n" : "FAILED\n");
    return ok ? 0 : 1;
}
