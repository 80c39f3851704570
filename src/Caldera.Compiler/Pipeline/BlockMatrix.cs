using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Pipeline;

/// <summary>One of the seven matrices of a decoder block: its tensor name and the input its Hessian is taken of.</summary>
internal sealed record BlockMatrix(string Short, Func<int, string> Name, LinearInput Input)
{
    /// <summary>q, k, v, o, gate, up, down: the order of a block's matrices in the compressed content.</summary>
    public static IReadOnlyList<BlockMatrix> All { get; } =
    [
        new("q", TensorNames.Query, LinearInput.Attention),
        new("k", TensorNames.Key, LinearInput.Attention),
        new("v", TensorNames.Value, LinearInput.Attention),
        new("o", TensorNames.AttentionOutput, LinearInput.AttentionOutput),
        new("gate", TensorNames.Gate, LinearInput.Ffn),
        new("up", TensorNames.Up, LinearInput.Ffn),
        new("down", TensorNames.Down, LinearInput.Down),
    ];
}
