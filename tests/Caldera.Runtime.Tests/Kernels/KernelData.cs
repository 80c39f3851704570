using System.Runtime.InteropServices;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Kernels;

/// <summary>Seeded random inputs and the shapes kernels are tested at.</summary>
internal static class KernelData
{
    /// <summary>Odd and edge lengths around every vector width, and the real model widths (stories260K 64/172, tinystories-256d 256/768, Llama 2048/5632).</summary>
    public static readonly int[] Lengths = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 172, 256, 768, 2048, 5632];

    public static readonly TensorType[] Types = [TensorType.F32, TensorType.F16, TensorType.BF16];

    /// <summary>
    /// Every vector path runs everywhere: where a width is not accelerated, .NET emulates its vectors in software. Vector128
    /// is the portable path 64-bit Arm runs (NEON); here it runs as SSE, the same code.
    /// </summary>
    public static readonly KernelPath[] VectorPaths = [KernelPath.Vector128, KernelPath.Vector256, KernelPath.Vector512];

    /// <summary>
    /// The integer kernels' vector paths this machine runs (each falls back where its shape does not fit). The portable
    /// Vector128 path runs everywhere; Arm's dot-product path only on Arm (or qemu-aarch64: the linux-arm64 publish test).
    /// </summary>
    public static readonly Int8CodedRows.Path[] Int8VectorPaths =
    [
        Int8CodedRows.Path.Vector128,
        .. System.Runtime.Intrinsics.Arm.Dp.IsSupported ? [Int8CodedRows.Path.ArmDotProduct] : Array.Empty<Int8CodedRows.Path>(),
        .. System.Runtime.Intrinsics.X86.Avx2.IsSupported ? [Int8CodedRows.Path.Avx2] : Array.Empty<Int8CodedRows.Path>(),
        .. System.Runtime.Intrinsics.X86.AvxVnni.IsSupported ? [Int8CodedRows.Path.AvxVnni] : Array.Empty<Int8CodedRows.Path>(),
        .. E8PNibbleDecode.IsSupported ? [Int8CodedRows.Path.Avx512Vbmi] : Array.Empty<Int8CodedRows.Path>(),
    ];

    public static float[] Floats(int count, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        var result = new float[count];
        for (int i = 0; i < count; i++) result[i] = (float)(random.NextDouble() * 2 - 1) * scale;
        return result;
    }

    /// <summary>Random weights stored as <paramref name="type"/>, and their exact F32 values.</summary>
    public static (byte[] Stored, float[] Values) Weights(int count, TensorType type, int seed)
    {
        var values = Floats(count, seed, 0.5f);
        byte[] stored;
        switch (type)
        {
            case TensorType.F16:
                var halves = Array.ConvertAll(values, v => (Half)v);
                stored = MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
                break;
            case TensorType.BF16:
                var bf16 = Array.ConvertAll(values, v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16));
                stored = MemoryMarshal.AsBytes(bf16.AsSpan()).ToArray();
                break;
            default:
                stored = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
                break;
        }
        TensorView.Convert(stored, type, values);
        return (stored, values);
    }
}
