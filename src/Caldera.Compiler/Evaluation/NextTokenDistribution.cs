using System.Numerics.Tensors;

namespace Caldera.Compiler.Evaluation;

/// <summary>
/// The softmax of one position's logits, in fp64: log p(v) = z_v − log Σ_u e^(z_u). The log-normaliser is taken
/// around max z so that no exponential overflows.
/// </summary>
internal static class NextTokenDistribution
{
    /// <summary>log Σ_u e^(z_u).</summary>
    public static double LogNormalizer(ReadOnlySpan<float> logits)
    {
        double max = TensorPrimitives.Max(logits);
        double sum = 0;
        foreach (float z in logits) sum += Math.Exp(z - max);
        return max + Math.Log(sum);
    }

    /// <summary>KL(P ‖ Q) = Σ_v p_v·(log p_v − log q_v) from the logits of P (<paramref name="reference"/>) and Q.</summary>
    public static double KlDivergence(ReadOnlySpan<float> reference, double referenceLogZ, ReadOnlySpan<float> model, double modelLogZ)
    {
        double kl = 0;
        for (int v = 0; v < reference.Length; v++)
        {
            double logP = reference[v] - referenceLogZ;
            kl += Math.Exp(logP) * (logP - (model[v] - modelLogZ));
        }
        // Rounding can leave a tiny negative sum when P = Q; KL is never negative.
        return Math.Max(kl, 0);
    }
}
