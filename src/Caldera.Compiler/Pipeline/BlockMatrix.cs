using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Pipeline;

/// <summary>
/// One of the seven matrices of a decoder block: its tensor name, the input its Hessian is taken of, and its
/// <paramref name="Sensitivity"/>: how much mean KLD a unit of its squared relative error costs, what
/// <see cref="RankBudget.Allocate"/> weighs each rank's error reduction by.
/// </summary>
/// <param name="Sensitivity">
/// Measured once on tinystories-256d (fast preset, 6 layers): one kind's rank raised from 16 to 32 in every block, the
/// others kept at 16; the fall in mean KLD on the held-out text over the fall in the six matrices' Σ (relative error)²
/// (<c>docs/quality.md</c>, "A bits budget"). An error in the FFN costs five to ten times what the same relative error in
/// W_q or W_k does. Other models are weighed with these figures too (only their ratios matter), and they do not hold for
/// every model: on stories260K (head size 8) they leave W_q and W_k a rank or two, and its KLD nearly doubles.
/// </param>
internal sealed record BlockMatrix(string Short, Func<int, string> Name, LinearInput Input, double Sensitivity)
{
    /// <summary>
    /// The classifier's <see cref="Sensitivity"/>, from the same table's classifier rows (compressed at rank 16 and 64,
    /// everything else alike): mean KLD 0.06624 → 0.05289 as its relative error fell from 0.0349 to 0.0160. Its error goes
    /// straight into the logits: a hundred times any block matrix's.
    /// </summary>
    public const double ClassifierSensitivity = (0.06624 - 0.05289) / (0.0349 * 0.0349 - 0.0160 * 0.0160);

    /// <summary>q, k, v, o, gate, up, down: the order of a block's matrices in the compressed content.</summary>
    public static IReadOnlyList<BlockMatrix> All { get; } =
    [
        new("q", TensorNames.Query, LinearInput.Attention, 0.0111),
        new("k", TensorNames.Key, LinearInput.Attention, 0.0106),
        new("v", TensorNames.Value, LinearInput.Attention, 0.0204),
        new("o", TensorNames.AttentionOutput, LinearInput.AttentionOutput, 0.0577),
        new("gate", TensorNames.Gate, LinearInput.Ffn, 0.1203),
        new("up", TensorNames.Up, LinearInput.Ffn, 0.0851),
        new("down", TensorNames.Down, LinearInput.Down, 0.1359),
    ];
}
