using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Training.Model;

namespace Caldera.Compiler.Calibration;

/// <summary>
/// How much loss an error at each matrix's output costs, measured on the full-precision model over calibration text:
/// per matrix, F = E_t‖∂ℓ_t/∂y_t‖² / m, the mean diagonal of the output gradient's second moment G_y = E[g·gᵀ], with the
/// loss's labels drawn from the model's own next-token distribution (so G_y is the Fisher information at y, sampled).
/// </summary>
/// <remarks>
/// Why it prices an error: with the model at its own labels the loss has no gradient, and the KL divergence a change ΔW
/// of one matrix causes is ≈ ½·E_t[(g_tᵀ·ΔW·x_t)²] ≈ ½·tr(ΔW·H_x·ΔWᵀ·G_y) (K-FAC's independence of inputs and output
/// gradients), H_x = E[x·xᵀ]. The randomized Hadamard transform on each matrix's output spreads the decomposition's error
/// evenly over the outputs, so G_y may be taken as (tr G_y / m)·I, and the KLD a matrix's error costs is ≈ ½·F·tr(ΔW·H_x·ΔWᵀ):
/// F turns the error the decomposition minimises into loss. One forward for the logits (to draw the labels) and one
/// forward and backward (with each block's forward run again, the training pass's checkpointing) per sequence.
/// </remarks>
internal static class OutputFisher
{
    /// <summary>The labels' generator seed: a rerun measures the same figures.</summary>
    private const int Seed = 0x5eed;

    /// <summary>
    /// F of every block matrix and of the classifier (<see cref="TensorNames.Output"/>, whose output gradient is p − e_y,
    /// so F = E[1 − 2·p_y + Σ p²] / vocab), by tensor name, over the sequences of <paramref name="set"/>.
    /// </summary>
    /// <remarks>Holds the model's weights in fp32 (<see cref="TrainableModel.Dense"/>) and one window's activations.</remarks>
    public static Dictionary<string, double> Measure(ModelCheckpoint checkpoint, CalibrationSet set, int threads, CancellationToken cancellation = default)
    {
        var c = checkpoint.Config;
        if (set.SequenceLength > c.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(set), $"calibration sequences of {set.SequenceLength} tokens exceed the model's context of {c.ContextLength}; use a shorter --seq-len");
        var model = TrainableModel.Dense(checkpoint);
        using var pool = new WorkerPool(threads);
        var pass = new WindowPass(model, pool, set.SequenceLength);
        var random = new Random(Seed);
        var labels = new int[set.SequenceLength];
        var probabilities = new double[c.VocabSize];
        double classifier = 0;
        for (int i = 0; i < set.Samples; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            var inputs = set.Sequence(i);
            var logits = pass.Logits(inputs);
            for (int t = 0; t < labels.Length; t++)
            {
                Softmax(logits.AsSpan(t * c.VocabSize, c.VocabSize), probabilities);
                labels[t] = Draw(probabilities, random.NextDouble());
                double squares = 0;
                foreach (double p in probabilities) squares += p * p;
                classifier += 1 - 2 * probabilities[labels[t]] + squares;
            }
            pass.Accumulate(inputs, labels, weight: 1f);
        }
        long tokens = (long)set.Samples * set.SequenceLength;
        var fisher = model.Linears.ToDictionary(l => l.Name, l => l.OutputGradientSquares / tokens / l.Rows, StringComparer.Ordinal);
        fisher[TensorNames.Output] = classifier / tokens / c.VocabSize;
        return fisher;
    }

    private static void Softmax(ReadOnlySpan<float> logits, Span<double> p)
    {
        float max = float.NegativeInfinity;
        foreach (float z in logits) max = Math.Max(max, z);
        double sum = 0;
        for (int v = 0; v < p.Length; v++) sum += p[v] = Math.Exp(logits[v] - max);
        for (int v = 0; v < p.Length; v++) p[v] /= sum;
    }

    /// <summary>The token whose cumulative probability first exceeds <paramref name="u"/> ∈ [0, 1).</summary>
    private static int Draw(ReadOnlySpan<double> p, double u)
    {
        double cumulative = 0;
        for (int v = 0; v < p.Length; v++)
            if ((cumulative += p[v]) > u) return v;
        return p.Length - 1;
    }
}
