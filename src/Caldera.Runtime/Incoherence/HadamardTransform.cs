using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Caldera.Runtime.Incoherence;

/// <summary>
/// An orthonormal n×n transform U_n = A ⊗ (H_P/√P), n = K·P, P a power of two, applied in O(n·(K + log₂P))
/// without ever forming U_n. A is H_K/√K when a Hadamard matrix of order K = m·2ᵗ exists (m the odd part of
/// n; the smallest such K up to <see cref="MaxHadamardBlock"/>), so every entry of U is ±1/√n; otherwise A is
/// a seeded random m×m orthogonal block (e.g. n = 172 = 43·4, or odd n).
/// </summary>
/// <remarks>
/// Index i = a·P + b views x as a K×P row-major matrix X, and (A ⊗ B)·x = A·X·Bᵀ with B = H_P/√P
/// symmetric: a fast Walsh–Hadamard transform of each row of X, then each column mixed by A (Uᵀ uses Aᵀ).
/// Preferring a Hadamard block over the cheaper m×m fallback costs K/m more mixing (344 vs 43 for 11008) but
/// keeps every entry of U at exactly ±1/√n, needs no stored block, and does not depend on the seed.
/// For odd n the block is all of U (P = 1), an O(n²) product, which no real model dimension needs.
/// Examples: 4096 → K = 1; 5632 → 44 (Paley I, q = 43); 11008 = 43·256 → 344 (Paley I over GF(7³)), since
/// 172 and 86 have no construction here; 172 → random 43×43 block.
/// </remarks>
internal sealed class HadamardTransform
{
    /// <summary>The largest Hadamard block used; larger ones would make the O(n·K) mixing dominate.</summary>
    public const int MaxHadamardBlock = 1024;

    /// <summary>The largest odd part the dense fallback block accepts (K² floats are stored twice).</summary>
    public const int MaxFallbackBlock = 4096;

    private readonly float[] block;
    private readonly float[] blockTransposed;

    private HadamardTransform(int length, int blockOrder, float[] block, bool isHadamard)
    {
        Length = length;
        BlockOrder = blockOrder;
        WalshLength = length / blockOrder;
        IsHadamard = isHadamard;
        this.block = block;
        blockTransposed = new float[block.Length];
        for (int i = 0; i < blockOrder; i++)
            for (int j = 0; j < blockOrder; j++)
                blockTransposed[j * blockOrder + i] = block[i * blockOrder + j];
    }

    /// <summary>n.</summary>
    public int Length { get; }

    /// <summary>K, the order of the mixing block A.</summary>
    public int BlockOrder { get; }

    /// <summary>P = n/K, the Walsh–Hadamard length.</summary>
    public int WalshLength { get; }

    /// <summary>Whether A = H_K/√K (true) or the seeded orthogonal fallback (false).</summary>
    public bool IsHadamard { get; }

    /// <summary>A, row-major K×K, orthonormal. The fallback block must be stored with a compiled model.</summary>
    public ReadOnlySpan<float> Block => block;

    /// <summary>U_n for dimension <paramref name="n"/>; <paramref name="seed"/> matters only for the fallback block.</summary>
    public static HadamardTransform Create(int n, ulong seed)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "the transform dimension must be positive.");
        int twos = BitOperations.TrailingZeroCount(n);
        int odd = n >> twos;
        for (int t = 0; t <= twos && (long)odd << t <= MaxHadamardBlock; t++)
        {
            int order = odd << t;
            sbyte[]? h = HadamardMatrices.TryCreate(order);
            if (h is null) continue;
            return new HadamardTransform(n, order, ScaledHadamard(h, order), isHadamard: true);
        }
        if (odd > MaxFallbackBlock)
            throw new ArgumentOutOfRangeException(nameof(n), n,
                $"dimension {n} has odd part {odd} > {MaxFallbackBlock} and no Hadamard factor; no fast orthogonal transform exists for it. Pad the dimension to a multiple of a larger power of two.");
        return new HadamardTransform(n, odd, RandomOrthogonal.Create(odd, new SeededRandom(seed)), isHadamard: false);
    }

    /// <summary>
    /// Rebuilds a stored U_n: a Hadamard block from its order K (its ±1 entries are exact, so it needs no
    /// storage), or the fallback block <paramref name="fallbackBlock"/> (row-major K×K) exactly as stored.
    /// Throws <see cref="ArgumentException"/> when the description is inconsistent.
    /// </summary>
    public static HadamardTransform FromBlock(int n, int blockOrder, bool isHadamard, ReadOnlySpan<float> fallbackBlock)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "the transform dimension must be positive.");
        if (blockOrder <= 0 || n % blockOrder != 0 || !BitOperations.IsPow2(n / blockOrder))
            throw new ArgumentException($"block order {blockOrder} does not divide dimension {n} into a power of two.", nameof(blockOrder));
        if (isHadamard)
        {
            if (!fallbackBlock.IsEmpty)
                throw new ArgumentException("a Hadamard block is rebuilt from its order; no block values may be given.", nameof(fallbackBlock));
            sbyte[] h = (blockOrder <= MaxHadamardBlock ? HadamardMatrices.TryCreate(blockOrder) : null)
                ?? throw new ArgumentException($"no Hadamard matrix of order {blockOrder} is constructed here (limit {MaxHadamardBlock}).", nameof(blockOrder));
            return new HadamardTransform(n, blockOrder, ScaledHadamard(h, blockOrder), isHadamard: true);
        }
        if (blockOrder > MaxFallbackBlock)
            throw new ArgumentException($"a fallback block of order {blockOrder} exceeds the limit of {MaxFallbackBlock}.", nameof(blockOrder));
        if (fallbackBlock.Length != (long)blockOrder * blockOrder)
            throw new ArgumentException($"a fallback block of order {blockOrder} needs {(long)blockOrder * blockOrder} values, got {fallbackBlock.Length}.", nameof(fallbackBlock));
        foreach (float a in fallbackBlock)
            if (!float.IsFinite(a)) throw new ArgumentException($"the fallback block holds {a}; its entries must be finite.", nameof(fallbackBlock));
        return new HadamardTransform(n, blockOrder, fallbackBlock.ToArray(), isHadamard: false);
    }

    /// <summary>y = U·x. <paramref name="y"/> may be <paramref name="x"/> itself.</summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y) => Run(x, y, block);

    /// <summary>y = Uᵀ·x. <paramref name="y"/> may be <paramref name="x"/> itself.</summary>
    public void ApplyTranspose(ReadOnlySpan<float> x, Span<float> y) => Run(x, y, blockTransposed);

    /// <summary>H_K/√K, row-major.</summary>
    private static float[] ScaledHadamard(sbyte[] h, int order)
    {
        float entry = 1f / MathF.Sqrt(order);
        var a = new float[h.Length];
        for (int i = 0; i < h.Length; i++) a[i] = h[i] * entry;
        return a;
    }

    // y = (M ⊗ H_P)·x / √P,  x viewed as K×P:  Y = M·(X·H_P) / √P.
    private void Run(ReadOnlySpan<float> x, Span<float> y, float[] mixing)
    {
        if (x.Length != Length || y.Length != Length)
            throw new ArgumentException($"the transform has dimension {Length}; got x of {x.Length} and y of {y.Length}.", nameof(x));
        x.CopyTo(y);
        int k = BlockOrder, p = WalshLength;
        if (p > 1)
            for (int a = 0; a < k; a++) WalshHadamard.Transform(y.Slice(a * p, p));
        if (k > 1)
        {
            float[] rented = ArrayPool<float>.Shared.Rent(Length);
            Span<float> walshRows = rented.AsSpan(0, Length);
            y.CopyTo(walshRows);
            BlockMixing.Multiply(mixing, k, walshRows, p, y);
            ArrayPool<float>.Shared.Return(rented);
        }
        if (p > 1) TensorPrimitives.Multiply(y, 1f / MathF.Sqrt(p), y);
    }
}
