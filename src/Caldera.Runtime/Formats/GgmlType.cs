using Caldera.Runtime.Model;

namespace Caldera.Runtime.Formats;

/// <summary>
/// ggml tensor type ids as GGUF stores them. Only the full-precision ones map to a <see cref="TensorType"/>;
/// the block-quantized ones are named so that an error can say exactly what the file holds.
/// </summary>
internal static class GgmlType
{
    public const uint F32 = 0;
    public const uint F16 = 1;
    public const uint BF16 = 30;

    private static readonly Dictionary<uint, string> Names = new()
    {
        [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [6] = "Q5_0", [7] = "Q5_1", [8] = "Q8_0", [9] = "Q8_1",
        [10] = "Q2_K", [11] = "Q3_K", [12] = "Q4_K", [13] = "Q5_K", [14] = "Q6_K", [15] = "Q8_K",
        [16] = "IQ2_XXS", [17] = "IQ2_XS", [18] = "IQ3_XXS", [19] = "IQ1_S", [20] = "IQ4_NL", [21] = "IQ3_S",
        [22] = "IQ2_S", [23] = "IQ4_XS", [24] = "I8", [25] = "I16", [26] = "I32", [27] = "I64", [28] = "F64",
        [29] = "IQ1_M", [30] = "BF16", [34] = "TQ1_0", [35] = "TQ2_0", [39] = "MXFP4",
    };

    /// <summary>"Q4_K (12)", or "unknown type 77" for an id ggml does not define.</summary>
    public static string Describe(uint id) => Names.TryGetValue(id, out var name) ? $"{name} ({id})" : $"unknown type {id}";

    public static bool TryGetTensorType(uint id, out TensorType type)
    {
        (bool ok, type) = id switch
        {
            F32 => (true, TensorType.F32),
            F16 => (true, TensorType.F16),
            BF16 => (true, TensorType.BF16),
            _ => (false, default),
        };
        return ok;
    }
}
