using System.Runtime.InteropServices;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Kernels;

public unsafe class MatVecTests
{
    /// <summary>
    /// Vector and scalar dot products add the same products in different orders. Float rounding then
    /// differs by about √n·2⁻²⁴ of Σ|w·x| (≈5e-6 at n = 5632); 2e-5 of Σ|w·x| leaves headroom while a
    /// dropped or doubled element (≥ 1/n of the sum for these inputs) would still fail.
    /// </summary>
    internal const double RelativeTolerance = 2e-5;

    /// <summary>Both vector paths run everywhere: where a width is not accelerated, .NET emulates its vectors in software.</summary>
    public static TheoryData<string, string> TypesAndPaths()
    {
        var data = new TheoryData<string, string>();
        foreach (var type in KernelData.Types)
            foreach (var path in KernelData.VectorPaths)
                data.Add(type.ToString(), path.ToString());
        return data;
    }

    [Theory]
    [MemberData(nameof(TypesAndPaths))]
    public void Vector_path_matches_the_scalar_path_at_every_length(string typeName, string pathName)
    {
        var type = Enum.Parse<TensorType>(typeName);
        var path = Enum.Parse<KernelPath>(pathName);
        foreach (int columns in KernelData.Lengths)
            foreach (int rows in new[] { 1, 3, 4, 5, 9 })
            {
                var (w, values) = KernelData.Weights(rows * columns, type, seed: rows * 7919 + columns);
                var x = KernelData.Floats(columns, seed: columns);
                var expected = new float[rows];
                var actual = new float[rows];
                MatVec.Multiply(w, type, x, expected, KernelPath.Scalar);
                MatVec.Multiply(w, type, x, actual, path);
                for (int r = 0; r < rows; r++)
                {
                    double magnitude = 0;
                    for (int c = 0; c < columns; c++) magnitude += Math.Abs(values[r * columns + c] * x[c]);
                    Assert.True(Math.Abs(expected[r] - actual[r]) <= RelativeTolerance * magnitude + 1e-30,
                        $"{type} {path} {rows}×{columns} row {r}: scalar {expected[r]}, vector {actual[r]}");
                }
            }
    }

    [Fact]
    public void F16_pair_kernel_falls_back_when_x_could_overflow_its_prescale()
    {
        // The AVX-512 F16 kernel scales x by 2^64; an activation of 1e30 would overflow it, so the kernel
        // must hand over to the widening path and still agree with the scalar reference.
        var (w, _) = KernelData.Weights(4 * 64, TensorType.F16, seed: 1);
        var x = KernelData.Floats(64, seed: 2);
        x[5] = 1e30f;
        var expected = new float[4];
        var actual = new float[4];
        MatVec.Multiply(w, TensorType.F16, x, expected, KernelPath.Scalar);
        MatVec.Multiply(w, TensorType.F16, x, actual, KernelPath.Vector512);
        for (int r = 0; r < 4; r++)
        {
            Assert.True(float.IsFinite(actual[r]), $"row {r}: {actual[r]}");
            Assert.Equal(expected[r], actual[r], Math.Abs(expected[r]) * 1e-5f);
        }
    }

    [Fact]
    public void Scalar_path_computes_the_product()
    {
        // [[1, 2, 3], [−4, 0.5, 2]]·[1, −1, 2] = [5, −0.5]
        float[] w = [1, 2, 3, -4, 0.5f, 2];
        float[] y = new float[2];
        MatVec.Multiply(MemoryMarshal.AsBytes(w.AsSpan()), TensorType.F32, [1, -1, 2], y, KernelPath.Scalar);
        Assert.Equal([5f, -0.5f], y);
    }

    [Fact]
    public void Wrong_sizes_are_rejected()
    {
        var w = new byte[4 * 3 * 2];
        Assert.Throws<ArgumentException>(() => MatVec.Multiply(w, TensorType.F16, new float[3], new float[5]));
        Assert.Throws<ArgumentException>(() => MatVec.Multiply(w, TensorType.F32, new float[3], new float[4]));
    }

    [Fact]
    public void F16_vector_widening_is_exact_for_every_finite_bit_pattern()
    {
        // All 63488 finite halves (zeros, subnormals, normals, both signs); Inf/NaN (exponent 31) are
        // excluded by the widener's contract, which ModelCheckpoint.Validate enforces at load.
        var bits = new ushort[1 << 16];
        for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        fixed (ushort* p = bits)
            for (int i = 0; i < bits.Length; i += 16)
            {
                var wide512 = F16Widener.Widen512((byte*)(p + i));
                var wide256 = F16Widener.Widen256((byte*)(p + i));
                for (int j = 0; j < 16; j++)
                {
                    float expected = (float)BitConverter.UInt16BitsToHalf(bits[i + j]);
                    AssertSameFloat(expected, F16Widener.Widen((byte*)(p + i + j)), bits[i + j]);
                    if (!float.IsFinite(expected)) continue;
                    AssertSameFloat(expected, wide512[j], bits[i + j]);
                    if (j < 8) AssertSameFloat(expected, wide256[j], bits[i + j]);
                }
            }
    }

    [Fact]
    public void BF16_vector_widening_is_exact_for_every_bit_pattern()
    {
        var bits = new ushort[1 << 16];
        for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        fixed (ushort* p = bits)
            for (int i = 0; i < bits.Length; i += 16)
            {
                var wide512 = BF16Widener.Widen512((byte*)(p + i));
                var wide256 = BF16Widener.Widen256((byte*)(p + i));
                for (int j = 0; j < 16; j++)
                {
                    float expected = BitConverter.UInt32BitsToSingle((uint)bits[i + j] << 16);
                    AssertSameFloat(expected, wide512[j], bits[i + j]);
                    if (j < 8) AssertSameFloat(expected, wide256[j], bits[i + j]);
                }
            }
    }

    private static void AssertSameFloat(float expected, float actual, ushort bits)
    {
        if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"0x{bits:X4}: expected NaN, got {actual}");
        else Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual), $"0x{bits:X4}: expected {expected}, got {actual}");
    }
}
