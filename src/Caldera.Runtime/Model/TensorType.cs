namespace Caldera.Runtime.Model;

/// <summary>Element types of full-precision weights the runtime computes with directly.</summary>
internal enum TensorType
{
    F32,
    F16,
    BF16,
}

internal static class TensorTypeExtensions
{
    public static int ElementSize(this TensorType type) => type switch
    {
        TensorType.F32 => 4,
        TensorType.F16 or TensorType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}
