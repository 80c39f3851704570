using Caldera.Runtime.Kernels;
using Caldera.CompilerServices;

namespace Caldera.Runtime.Inference;

/// <summary>The row kernels for any shape: <see cref="CodedRows"/> on one <see cref="KernelPath"/>.</summary>
internal sealed class GenericRowKernels : ICompressedRowKernels
{
    private readonly KernelPath _path;

    private GenericRowKernels(KernelPath path) => _path = path;

    /// <summary>The widest path this machine accelerates.</summary>
    public static GenericRowKernels Best { get; } = new(KernelPaths.Best);

    internal static GenericRowKernels On(KernelPath path) => path == KernelPaths.Best ? Best : new(path);

    public float DotQ(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u) => CodedRows.DotE8P(words, u, _path);

    public void DotQRows(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, Span<float> y) => CodedRows.DotE8PRows(words, u, y, _path);

    public void DotQRowsInt8(ReadOnlySpan<ushort> words, ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scales, Span<float> y) =>
        Int8CodedRows.DotE8PRows(words, q, scales, y, _path == KernelPath.Scalar ? Int8CodedRows.Path.Scalar : Int8CodedRows.Best);

    public void DotRRowsInt8(ReadOnlySpan<ushort> words, ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scales, Span<float> t) =>
        Int8ResidualRows.DotRows(words, q, scales, t, _path == KernelPath.Scalar ? Int8CodedRows.Path.Scalar : Int8CodedRows.Best);

    public float DotR(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u) => CodedRows.DotResidual(words, u, _path);

    public void AddL(ReadOnlySpan<ushort> words, float a, Span<float> z) => CodedRows.AddResidual(words, a, z, _path);

    public void AddLRanks(ReadOnlySpan<ushort> words, int rowStride, ReadOnlySpan<float> a, Span<float> z) =>
        ResidualRanks.Add(words, rowStride, a, z, _path);
}
